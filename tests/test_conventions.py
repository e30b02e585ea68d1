"""A notation convention is declared, never guessed: the DDIM paper's alpha_t is DDPM's abar_t."""
from click.testing import CliRunner

from derivations.cli import main
from derivations.grading import grade_answer

DDIM_PAPER = r"\eta\sqrt{\frac{1-\alpha_{t-1}}{1-\alpha_t}}\sqrt{1-\frac{\alpha_t}{\alpha_{t-1}}}"


def test_the_ddim_papers_alpha_reads_only_under_its_convention():
    assert grade_answer("ddim.eta", DDIM_PAPER, sandbox=False).verdict != "correct"
    r = grade_answer("ddim.eta", DDIM_PAPER, sandbox=False, conventions=(("alpha", "ddim"),))
    assert r.verdict == "correct" and "convention" in r.message
    wrong = DDIM_PAPER.replace(r"1-\frac{\alpha_t}", r"1+\frac{\alpha_t}")
    assert grade_answer("ddim.eta", wrong, sandbox=False, conventions=(("alpha", "ddim"),)).verdict == "wrong"


def test_the_cli_takes_a_convention_and_refuses_an_unknown_one():
    runner = CliRunner()
    ok = runner.invoke(main, ["answer", "ddim.eta", DDIM_PAPER, "--convention", "alpha=ddim"])
    assert ok.exit_code == 0 and ok.output.startswith("correct"), ok.output
    bad = runner.invoke(main, ["answer", "ddim.eta", DDIM_PAPER, "--convention", "alpha=foo"])
    assert bad.exit_code == 2 and "unknown convention" in bad.output
