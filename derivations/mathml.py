"""LaTeX to MathML for web pages, without network: ``latex_to_mathml(latex) -> str``.

The conversion is latex2mathml's; its output is *not* trusted. latex2mathml copies ``\\text{..}``
verbatim (``\\text{<script>..</script>}`` comes out as a script element), turns ``\\href`` into an
``href="javascript:.."`` attribute and ``\\color{..}`` into a free attribute value. So the output
is tokenised again and rebuilt from an allow-list: only MathML presentation elements, only
presentation attributes whose values are short plain tokens, all text re-escaped. Anything else
(an HTML tag, a comment, a declaration) is shown as the literal text it was, escaped. The result
is a single ``<math>`` element that is safe to put into HTML as is (Chromium and Firefox render
MathML Core).

Students' text is hostile: the input is bounded in length and the converter's failures
(including deep nesting) give a ``<merror>`` that shows the text, never an exception.
"""
from __future__ import annotations

import html
import re
from html.parser import HTMLParser

__all__ = ["latex_to_mathml", "sanitize_mathml", "MAX_CHARS"]

MAX_CHARS = 4000
NAMESPACE = "http://www.w3.org/1998/Math/MathML"

ELEMENTS = frozenset("""
    math mrow mi mn mo ms mtext mspace mfrac msqrt mroot mstyle merror mpadded mphantom mfenced
    msub msup msubsup munder mover munderover mmultiscripts mprescripts none
    mtable mtr mtd mlabeledtr menclose semantics
""".split())
VOID = frozenset({"mspace", "none", "mprescripts"})
ATTRIBUTES = frozenset("""
    mathvariant display displaystyle scriptlevel stretchy fence form separator accent accentunder
    lspace rspace minsize maxsize movablelimits largeop symmetric columnalign rowalign
    rowspacing columnspacing columnlines rowlines frame framespacing equalrows equalcolumns
    linethickness width height depth voffset notation open close separators mathcolor
    mathbackground columnspan rowspan
""".split())
_VALUE = re.compile(r"[A-Za-z0-9 #.%+\-]{0,64}\Z")
_MAX_DEPTH = 200


class _Rebuild(HTMLParser):
    """Re-emits an allow-listed MathML tree; everything else becomes escaped text."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.stack: list[str] = []

    def _text(self, raw: str) -> None:
        if raw:
            self.out.append(html.escape(raw, quote=False))

    def _open(self, tag: str, attrs) -> None:
        kept = []
        for name, value in attrs:
            name = (name or "").lower()
            value = "" if value is None else value
            if name in ATTRIBUTES and _VALUE.match(value):
                kept.append(f' {name}="{html.escape(value, quote=True)}"')
        if tag == "math":
            kept.insert(0, f' xmlns="{NAMESPACE}"')
        self.out.append(f"<{tag}{''.join(kept)}>")

    def handle_starttag(self, tag, attrs):
        if tag not in ELEMENTS or len(self.stack) >= _MAX_DEPTH:
            self._text(self.get_starttag_text() or "")
            return
        self._open(tag, attrs)
        if tag in VOID:
            self.out.append(f"</{tag}>")
        else:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        if tag not in ELEMENTS:
            self._text(self.get_starttag_text() or "")
            return
        self._open(tag, attrs)
        self.out.append(f"</{tag}>")

    def handle_endtag(self, tag):
        if tag in ELEMENTS and self.stack and self.stack[-1] == tag:
            self.stack.pop()
            self.out.append(f"</{tag}>")
        elif tag not in ELEMENTS:
            self._text(f"</{tag}>")
        # a stray end tag of an allowed element that does not close the open one is dropped

    def handle_data(self, data):
        self._text(data)

    def handle_comment(self, data):
        self._text(html.unescape(f"<!--{data}-->"))

    def handle_decl(self, decl):
        self._text(html.unescape(f"<!{decl}>"))

    def unknown_decl(self, data):
        self._text(html.unescape(f"<![{data}]>"))

    def handle_pi(self, data):
        self._text(html.unescape(f"<?{data}>"))

    def result(self) -> str:
        self.close()
        while self.stack:
            self.out.append(f"</{self.stack.pop()}>")
        return "".join(self.out)


def sanitize_mathml(markup: str) -> str:
    """Rebuild MathML markup from the allow-list (elements, attributes, escaped text)."""
    parser = _Rebuild()
    parser.feed(markup)
    body = parser.result()
    if not body.startswith("<math"):
        body = f'<math xmlns="{NAMESPACE}">{body}</math>'
    return body


def _error(latex: str, display: str) -> str:
    shown = latex if len(latex) <= 200 else latex[:200] + "\u2026"
    return (f'<math xmlns="{NAMESPACE}" display="{display}"><merror><mtext>'
            f"{html.escape(shown, quote=False)}</mtext></merror></math>")


def latex_to_mathml(latex: str, display: str = "inline") -> str:
    """Safe MathML markup for ``latex`` (a ``<math>`` element; ``display`` "inline" or "block").

    Never raises for any string: text that cannot be converted (or is longer than ``MAX_CHARS``)
    is shown verbatim, escaped, inside ``<merror>``."""
    display = "block" if display == "block" else "inline"
    if not isinstance(latex, str):
        latex = str(latex)
    if len(latex) > MAX_CHARS:
        return _error(latex, display)
    try:
        from latex2mathml.converter import convert
        raw = convert(latex, display=display)
    except ImportError:
        return _error(latex, display)
    except (Exception, RecursionError):   # the converter's own failures on malformed input
        return _error(latex, display)
    try:
        return sanitize_mathml(raw)
    except (Exception, RecursionError):
        return _error(latex, display)
