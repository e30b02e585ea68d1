"""LaTeX pieces of the published document: escaping, splitting long claims, evidence tags,
counterexamples, and the grouping into questions."""
from __future__ import annotations

import re

import pytest
import sympy as sp

from derivations.evidence import Evidence, Kind, Status
from derivations.publish import compile as texc
from derivations.publish import questions, tags, tex
from derivations.step import Step
from derivations.symbols import declare

a = declare("abar_pubtest", r"\bar\alpha_{\mathrm{pub}}", 0, 1)


def test_text_escapes_every_special_character():
    hostile = r"\input{/etc/passwd} 50% $x$ a_b^c & #1 ~ <tag> |x|"
    out = tex.text(hostile)
    assert "\\input" not in out
    bare = out
    for macro in (r"{\textbackslash}", r"{\textasciicircum}", r"{\textasciitilde}", r"\textbar{}",
                  r"\ensuremath{<}", r"\ensuremath{>}"):
        bare = bare.replace(macro, "")
    for ch in "#$%&_{}":
        assert not re.search(r"(?<!\\)" + re.escape(ch), bare), ch
    assert out.count("{/etc") == out.count("\\{/etc") == 1      # the brace only escaped
    assert r"{\textbackslash}input" in out and r"\%" in out and r"\_" in out and r"\#" in out
    assert "|" not in out                        # OT1 prints a bare | as an em dash


def test_text_maps_unicode_and_replaces_the_unknown():
    assert tex.text("σ ≤ 1") == r"\ensuremath{\sigma} \ensuremath{\leq} 1"
    assert tex.text("Aᵀ") == r"A\ensuremath{^\top}"     # the fallback table: pylatexenc has no LaTeX for it
    assert tex.text("猫") == "?"          # pdflatex would stop at an undefined Unicode character
    assert tex.text("a\x07b") == "a b"


ASCII = "".join(chr(c) for c in range(32, 127))
PROBE = (" ".join(ASCII[k:k + 8] for k in range(0, len(ASCII), 8)) + " σ ≤ ≥ ≠ ≈ 猫 é ü ö ß – — ’ ‘ “ ” … ± ᵀ ² ½ ∞ → ← ⇒ ∇ ∂ ∑ ∫ √ · × − ‖ "
         "∈ " + " ".join("αβγδεζηθικλμνξπρστυφχψωΓΔΘΛΞΠΣΦΨΩ") + " ℓ ∘ ∼ ≡")


@pytest.mark.skipif(texc.find_engine() is None, reason="no TeX engine (pdflatex) installed")
def test_escaped_text_compiles_with_the_base_packages_only(tmp_path):
    """What pylatexenc (and the fallback table) emits needs nothing beyond texlive-latex-base:
    every printable ASCII character and the Unicode that reasons and messages use, as text and
    as a student's answer, and a long counterexample with a name that is not a symbol."""
    long_name = "epsilon_theta(" + " + ".join(f"sqrt(abar_t)*x_{k}" for k in range(12)) + ")"
    doc = "\n".join([r"\documentclass{article}", r"\usepackage{graphicx}", r"\begin{document}", r"\sloppy", tex.text(PROBE), "",
                      tex.verbatim(PROBE), "", tex.counterexample({long_name: 0.98, "lhs": 1.0, "rhs": 2.0}),
                      r"\end{document}"])
    (tmp_path / "probe.tex").write_text(doc, encoding="utf-8")
    result = texc.compile_pdf(tmp_path / "probe.tex", "pdflatex")
    assert result.errors == [] and result.pdf is not None
    assert result.worst_overfull <= texc.OVERFULL_LIMIT_PT, result.overfull


def test_verbatim_allows_breaks_and_stays_inert():
    out = tex.verbatim(r"\frac{a}{b}+\write18{rm}")
    assert "\\write18" not in out and r"{\textbackslash}\allowbreak{}write18" in out


def test_long_sum_is_cut_between_terms_and_keeps_every_term():
    xs = sp.symbols("x0:30", real=True)
    expr = sum(sp.sqrt(1 - a) * x / (1 + a) for x in xs)
    lines = tex.side_lines(expr, budget=120)
    assert len(lines) > 3
    assert all(len(line) <= 120 + 60 for line in lines)     # one term may overrun a line's budget
    joined = " ".join(lines)
    assert all(f"x_{{{i}}}" in joined for i in range(30))
    assert r"\bar\alpha_{\mathrm{pub}}" in joined           # the declared LaTeX, not the SymPy name


def test_short_claim_is_one_line_and_long_claim_puts_the_relation_on_its_own_line():
    short = Step(a, "<=", 1, "bounded")
    assert tex.claim_lines(short) == [(0, r"\bar\alpha_{\mathrm{pub}} \le 1")]
    xs = sp.symbols("y0:40", real=True)
    long = Step(sum(xs), "=", sum(xs), "identity")
    lines = tex.claim_lines(long)
    assert lines[0][0] == 0 and any(m.startswith("= ") for _, m in lines)
    assert tex.display(lines).count(r"\dcline") == len(lines)


def test_claim_latex_override_is_used_verbatim():
    step = Step(a, "=", a, "x", claim_latex=r"\partial_x f \ne 0")
    assert tex.claim_lines(step) == [(0, r"\partial_x f \ne 0")]


def test_tags_name_the_evidence():
    step = Step(a, "=", a, "")
    fam = Step(a, "=", a, "", family="linear-Gaussian, n = 1")
    assert tags.step_label(step, Evidence(Status.PROVED, Kind.SYMBOLIC, "")) == ("symbolic", "symbolic")
    assert tags.step_label(fam, Evidence(Status.PROVED, Kind.SYMBOLIC_FAMILY, ""))[0] == \
        "family: linear-Gaussian, n = 1"
    assert tags.step_label(step, Evidence(Status.PROVED, Kind.EXACT_NUMERIC, ""))[0] == "exact numeric"
    mc = Evidence(Status.PROVED, Kind.MONTE_CARLO, "", extra={"z": 0.5, "stderr": 0.01, "samples": 1000})
    assert tags.step_label(step, mc)[0] == "Monte Carlo, z = +0.50, SE = 0.01, n = 1000"
    assert tags.step_label(step, Evidence(Status.REFUTED, Kind.EXACT_NUMERIC, "")) == \
        ("refuted (exact numeric)", "refuted")
    assert tags.step_label(step, Evidence(Status.UNCHECKED, Kind.NONE, "")) == ("unchecked", "unchecked")


def test_measurement_label_fails_loudly():
    row = {"kind": "monte-carlo", "z": 5.0, "stderr": 0.1, "samples": 10, "passed": False, "tolerance": 0.0}
    label, tone = tags.measurement_label(row)
    assert label.startswith("FAILED Monte Carlo, z = +5.00") and tone == "refuted"


def test_counterexample_uses_declared_latex():
    out = tex.counterexample({"abar_pubtest": 0.25, "lhs": 1.0, "rhs": 2.0})
    assert r"$\bar\alpha_{\mathrm{pub}} = 0.25$" in out and "left side" in out and "right side $2$" in out


def test_counterexample_breaks_a_long_function_application():
    """An unknown function applied to an expression is typeset breakable (CI once failed on a
    94.7 pt overfull box from one unbreakable \\mathrm{epsilon_theta(...)})."""
    out = tex.counterexample({"epsilon_theta(sqrt(abar_t)*x_0 + epsilon*sqrt(1 - abar_t))": 0.98, "lhs": 1.0})
    assert r"\allowbreak" in out and r"\mathrm{epsilon" not in out and r"\_" in out
    assert r"\text{" not in out          # a \text box inside math never breaks: the name is set in text mode


def test_questions_group_by_slot_question_and_prefix():
    assert questions.of_slot("ddim.gamma").key == "Q5"
    assert questions.of_slot("lemma.marginal_cov").key == "Q5"
    assert questions.of_slot("gan.square.f").key == "Q3"
    assert questions.of_slot("sm.dsm").key == "Q4"
    assert questions.of_slot("vae.jensen").key == "Q1"
    assert questions.of_slot("hvae.elbo").key == "Q2"
    assert questions.of_slot("brandnew.result") is questions.OTHER
