"""The published document: refuted claims shown with their counterexamples, audits reported as
findings, long claims that fit the page, and a compile with no errors or overfull disasters
where a TeX engine is installed (CI installs one; see README)."""
from __future__ import annotations

import pytest
import sympy as sp

from derivations import verify
from derivations.publish import commands, compile as texc, document
from derivations.step import Derivation, eq, ge
from derivations.symbols import declare

x = declare("x_pubdoc", "x", aliases=())
s = declare("sigma_pubdoc", r"\sigma_{\mathrm{doc}}", 0, sp.oo)
a = declare("abar_pubdoc", r"\bar\alpha_{t-1}", 0, 1)

NO_TEX = "no TeX engine (pdflatex) installed; `apt-get install texlive-latex-base`"


def synthetic():
    """A derivation with a true step, a false step, a refuted claim quoted from a source, a claim too
    long for one line, and a reason full of characters that LaTeX treats specially."""
    long_sum = sum(sp.sqrt(1 - a) * s ** k / (k + a) for k in range(1, 25))
    steps = (
        eq((x + 1) ** 2, x ** 2 + 2 * x + 1, "expand the square", establishes=("test.square",)),
        eq(sp.sqrt(s ** 2), -s, "a wrong sign: sqrt(sigma^2) = -sigma", establishes=("test.wrong",)),
        eq(2 * a, a, "the source's claim 2a = a", audit="seed"),
        ge(x ** 2, 0, "a true claim quoted from the source", audit="seed"),
        eq(long_sum, long_sum.expand(), r"a long identity; 100% of {it} & #1 $ ~ \input{x} _^ ≤ σ"),
    )
    return verify.run(Derivation("test.synthetic", "A synthetic derivation & its 'evidence'", steps))


@pytest.fixture(scope="module")
def rendered():
    result = synthetic()
    return result, document.render([result], None, (), ["plot demo skipped: its source does not exist yet"],
                                   selectors=("ddim.gamma",))


def test_steps_get_the_right_evidence(rendered):
    result, _ = rendered
    assert [r.evidence.status.value for r in result.steps] == ["proved", "refuted", "refuted", "proved", "proved"]
    assert result.status.value == "refuted"            # its own false step makes the derivation fail
    assert len(result.findings) == 1                   # the audit's refutation is a finding


def test_refuted_claims_are_listed_with_counterexamples(rendered):
    _, src = rendered
    start = src.index(r"\section{Refuted claims}")
    refuted = src[start:src.index(r"\section{", start + 10)]
    assert "1 claim(s) quoted from a source are refuted" in refuted
    assert "1 of derivcheck's own steps are refuted" in refuted
    assert "Findings: claims quoted from the seed" in refuted and "Failures: derivcheck's own steps" in refuted
    assert refuted.count("Counterexample:") == 2
    assert r"\sigma_{\mathrm{doc}} = " in refuted      # the point in the field's notation
    assert "claim quoted from the seed" in refuted


def test_hostile_reason_is_escaped_and_skips_are_explained(rendered):
    _, src = rendered
    assert r"{\textbackslash}input\{x\}" in src and r"100\% of \{it\} \& \#1 \$" in src
    assert "plot demo skipped: its source does not exist yet" in src


def test_long_claim_is_split_into_lines(rendered):
    _, src = rendered
    body = src[src.index("a long identity") - 3000:src.index("a long identity")]
    assert body.count(r"\dcline") >= 4


def test_every_question_has_a_section_even_when_empty():
    src = document.render([], None, (), (), ())
    for key in ("Q1", "Q2", "Q3", "Q4", "Q5"):
        assert rf"\section{{{key}:" in src


@pytest.mark.skipif(texc.find_engine() is None, reason=NO_TEX)
def test_synthetic_document_compiles_cleanly(rendered, tmp_path):
    _, src = rendered
    tex_path = tmp_path / "derivcheck.tex"
    tex_path.write_text(src, encoding="utf-8")
    result = texc.compile_pdf(tex_path)
    assert result.errors == [] and result.pdf is not None
    assert result.worst_overfull <= texc.OVERFULL_LIMIT_PT, result.overfull
    assert result.pages >= 2


def test_log_reader_finds_errors_and_overfull_boxes():
    log = ("Overfull \\hbox (45.2pt too wide) in paragraph at lines 3--4\n! Undefined control sequence.\n"
           "l.7 \\foo\n\nOutput written on x.pdf (3 pages, 1234 bytes).")
    errors, overfull, pages = texc.read_log(log)
    assert errors and "Undefined control sequence" in errors[0]
    assert overfull == [(45.2, "in paragraph at lines 3--4")] and pages == 3


@pytest.mark.skipif(texc.find_engine() is None, reason=NO_TEX)
def test_latex_command_writes_and_compiles_a_real_selection(tmp_path):
    messages = []
    code = commands.latex_command(["ddim", "gan.square"], tmp_path, pdf=True, numeric=False, log=messages.append)
    assert code == 0, messages
    src = (tmp_path / "derivcheck.tex").read_text()
    assert r"\bar\alpha_{t-1}" in src and "abar_prev" not in src     # the field's notation
    assert r"\includegraphics" in src and (tmp_path / "figures" / "ddim_variance.pdf").exists()
    assert (tmp_path / "figures" / "gan_losses.png").exists()
    log = (tmp_path / "derivcheck.log").read_text(errors="replace")
    errors, overfull, pages = texc.read_log(log)
    assert not errors and max((pt for pt, _ in overfull), default=0) <= texc.OVERFULL_LIMIT_PT
    assert pages >= 3 and (tmp_path / "derivcheck.pdf").exists()


def test_latex_command_rejects_unknown_ids_and_reports_a_missing_engine(tmp_path, monkeypatch):
    messages = []
    assert commands.latex_command(["ddim.gamma_typo"], tmp_path, log=messages.append) == commands.MISUSE
    assert "unknown slot" in messages[0]
    monkeypatch.setattr(texc, "find_engine", lambda: None)
    messages.clear()
    assert commands.latex_command(["sm.kernel_score"], tmp_path, pdf=True, log=messages.append) == commands.NO_TEX
    assert any("apt-get install" in m for m in messages) and (tmp_path / "derivcheck.tex").exists()


ROWS = [  # a one-sided "close to" row that passes while its estimate is above the bound, and a failure
    {"id": "gan.square.dstar", "name": "held-out risk close to best risk", "kind": "bound", "estimate": 0.387853,
     "expected": 0.379285, "stderr": 0.0, "z": 0.0, "k_se": 3.89, "relation": "<=", "tolerance": 0.037,
     "samples": 0, "passed": True},
    {"id": "ddim.gamma", "name": r"E[x] & 100% of \input{y}", "kind": "monte-carlo", "estimate": 1.2,
     "expected": 1.0, "stderr": 0.01, "z": 20.0, "k_se": 3.89, "relation": "=", "tolerance": 0.0,
     "samples": 1000, "passed": False},
]


def test_latex_templates_escape_every_value_unless_it_is_latex_derivcheck_wrote():
    from derivations.publish.templating import Latex, environment

    env = environment()
    assert env.autoescape is False and env.finalize is not None
    out = env.from_string(r"\VAR{x} \VAR{y} \VAR{z|code}").render(x=r"50% \input{a}", y=Latex(r"\alpha"), z="a_b")
    assert out == r"50\% {\textbackslash}input\{a\} \alpha \texttt{a\_\allowbreak{}b}"
    template = document.template()
    assert template.environment.finalize is env.finalize and template.filename.replace("\\", "/").endswith("derivations/publish/templates/derivcheck.tex")


def test_numeric_table_says_what_was_compared(rendered):
    result, _ = rendered
    src = document.render([result], ROWS, (), (), selectors=("ddim.gamma", "gan.square.dstar"))
    table = src[src.index(r"\section{Numeric checks}"):]
    assert "estimate 0.387853 exceeds the bound 0.379285 by 0.00857, within the allowed 0.037 (tolerance)" in table
    assert "is 0.2 above the expected value 1, more than the allowed 0.0389 (3.89 SE)" in table
    assert r"\textbf{FAIL}" in table and "2 measurements, 1 failed" in table
    assert r"$\le$" not in table and r"\input{y}" not in table and r"{\textbackslash}input\{y\}" in table


@pytest.mark.skipif(texc.find_engine() is None, reason=NO_TEX)
def test_document_with_numeric_rows_compiles(rendered, tmp_path):
    result, _ = rendered
    tex_path = tmp_path / "derivcheck.tex"
    tex_path.write_text(document.render([result], ROWS, (), (), selectors=("ddim.gamma",)), encoding="utf-8")
    compiled = texc.compile_pdf(tex_path)
    assert compiled.errors == [] and compiled.pdf is not None
    assert compiled.worst_overfull <= texc.OVERFULL_LIMIT_PT, compiled.overfull
