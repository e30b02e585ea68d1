"""derivations.mathml: LaTeX to MathML that is safe to put into a page as is."""
from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

pytest.importorskip("latex2mathml")

from derivations.mathml import ELEMENTS, latex_to_mathml, sanitize_mathml  # noqa: E402


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags, self.attrs, self.text = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.extend(attrs)

    def handle_data(self, data):
        self.text.append(data)


def _parse(markup):
    p = _Tags()
    p.feed(markup)
    p.close()
    return p


HOSTILE = [
    r"\text{<script>alert(1)</script>}",
    r"\text{</mtext></math><img src=x onerror=alert(1)>}",
    r"\href{javascript:alert(1)}{x}",
    r"\color{red"" onmouseover=""alert(1)}{a}",
    r"\operatorname{<svg onload=alert(1)>}",
    r"\text{<!-- --><![CDATA[ <script>x</script> ]]>}",
    r"\mathrm{<a href='javascript:alert(1)'>x</a>}",
    r"\text{<style>*{display:none}</style>}",
]


@pytest.mark.parametrize("latex", HOSTILE)
def test_hostile_input_gives_only_mathml(latex):
    out = latex_to_mathml(latex)
    p = _parse(out)
    assert set(p.tags) <= ELEMENTS, p.tags
    assert p.tags[0] == "math"
    for name, value in p.attrs:
        assert not name.startswith("on") and name not in ("href", "src", "style", "xlink:href")
        assert "javascript" not in (value or "").lower()
    assert "<script" not in out.lower() and "<img" not in out.lower() and "<svg" not in out.lower()


def test_text_is_kept_as_text():
    out = latex_to_mathml(r"\text{<script>alert(1)</script>}")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out
    assert "<mtext>" in out


def test_ordinary_math_is_converted():
    out = latex_to_mathml(r"\frac{\gamma_t}{2\sigma_t^2 \bar\alpha_t}")
    tags = _parse(out).tags
    assert "mfrac" in tags and "msub" in tags and {"msup", "msubsup"} & set(tags)
    assert out.startswith('<math xmlns="http://www.w3.org/1998/Math/MathML"')
    assert 'display="block"' in latex_to_mathml("x", display="block")


@pytest.mark.parametrize("latex", ["{" * 3000, "\\frac{" * 500, "x" * 5000, "\\begin{cases", "\x00\x01"])
def test_malformed_never_raises(latex):
    out = latex_to_mathml(latex)
    assert out.startswith("<math") and out.endswith("</math>")
    assert set(_parse(out).tags) <= ELEMENTS


def test_sanitize_drops_foreign_markup():
    out = sanitize_mathml('<math><mi onclick="x" mathvariant="bold">a</mi><annotation-xml>'
                          '<div>b</div></annotation-xml><maction actiontype="x">c</maction></math>')
    p = _parse(out)
    assert set(p.tags) <= ELEMENTS
    assert ("mathvariant", "bold") in p.attrs and not any(n == "onclick" for n, _ in p.attrs)
    assert re.search(r"&lt;div&gt;b&lt;/div&gt;", out)
