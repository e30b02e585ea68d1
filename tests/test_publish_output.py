"""Output for people: numeric rows that say what was compared (never a false inequality), fdiv
reports in LaTeX (never a SymPy string; an unsolved set as a sentence), progress on stderr."""
from __future__ import annotations

import re

import pytest
import sympy as sp

from derivations.publish import tags


def row(estimate, expected, relation, passed, kind="bound", tolerance=0.037, stderr=0.0):
    return {"id": "x", "name": "m", "kind": kind, "estimate": estimate, "expected": expected, "stderr": stderr,
            "z": 0.0, "k_se": 3.89, "relation": relation, "tolerance": tolerance, "samples": 0, "passed": passed}


def test_one_sided_close_to_row_reads_true_and_says_pass():
    """The row that printed as '0.387853 <= 0.379285 ±0.037 yes'."""
    text = tags.comparison(row(0.387853, 0.379285, "<=", True))
    assert text == "estimate 0.387853 exceeds the bound 0.379285 by 0.00857, within the allowed 0.037 (tolerance)"
    assert "<=" not in text and tags.outcome(row(0.387853, 0.379285, "<=", True)) == "pass"


@pytest.mark.parametrize("r, words", [
    (row(0.30, 0.379285, "<=", True), "does not exceed the bound 0.379285 (below it by 0.0793)"),
    (row(0.50, 0.379285, "<=", False), "exceeds the bound 0.379285 by 0.121, more than the allowed 0.037"),
    (row(0.40, 0.379285, ">=", True), "is not below the bound 0.379285 (above it by 0.0207)"),
    (row(0.37, 0.379285, ">=", True, "monte-carlo", 0.0, 0.01), "falls short of the bound 0.379285 by 0.00928, "
                                                                  "within the allowed 0.0389 (3.89 SE)"),
    (row(0.30, 0.379285, ">=", False, "monte-carlo", 0.0, 0.01), "more than the allowed 0.0389 (3.89 SE)"),
    (row(1.02, 1.0, "=", False, "monte-carlo", 0.0, 0.001), "is 0.02 above the expected value 1, more than the "
                                                             "allowed 0.00389 (3.89 SE)"),
    (row(0.99, 1.0, "=", True, "quadrature", 0.05), "is 0.01 below the expected value 1, within the allowed 0.05"),
    (row(1, 1, ">=", True, "exact", 0.0), "estimate 1 equals the bound 1"),
])
def test_every_row_states_what_holds(r, words):
    text = tags.comparison(r)
    assert words in text
    assert ("more than the allowed" in text) == (not r["passed"])       # the wording follows the verdict
    assert not re.search(r"\d\s*(<=|>=|<|>)\s*\d", text)               # no inequality between numbers


def test_wording_follows_the_verdict_it_is_given():
    """The verdict is never recomputed: the same numbers with the other verdict read otherwise."""
    assert "within" in tags.comparison(row(1.1, 1.0, "=", True, "exact", 0.05))
    assert "more than" in tags.comparison(row(1.1, 1.0, "=", False, "exact", 0.05))


_SYMPY = re.compile(r"\b(Min|Max|Abs|Piecewise|ConditionSet|Interval|sqrt|exp|log)\(|\*\*|\boo\b")


@pytest.mark.parametrize("loss", ["hinge", "zero_one", "logistic", "constant"])
def test_fdiv_report_is_latex_never_sympy(loss):
    from derivations.fdiv import alpha as a, analyse

    expr = {"hinge": sp.Max(0, 1 - a), "zero_one": sp.Piecewise((1, a <= 0), (0, True)),
            "logistic": sp.log(1 + sp.exp(-a)), "constant": sp.S(3)}[loss]
    text = analyse(expr, prove=False).describe()
    assert not _SYMPY.search(text), _SYMPY.search(text)
    assert r"l(\alpha) = " in text and "f(t) = " in text
    if loss == "hinge":
        assert r"f(t) = - 2 \min\left(1, t\right)" in text and r"-1 \le D \le 1" in text
        assert r"\mathrm{TV}" in text


def test_an_unsolved_minimiser_set_reads_as_a_sentence():
    from derivations.fdiv import set_latex, set_text

    d = sp.Symbol("x", real=True)
    unsolved = sp.ConditionSet(d, sp.Eq(d ** 5 + d - 3, 0), sp.Reals)
    for words in (set_text(unsolved), set_latex(unsolved)):
        assert words == "the D with D^{5} + D - 3 = 0 (no closed form was found)"
    assert set_latex(sp.Interval(-1, 1)) == r"-1 \le D \le 1" and set_latex(sp.FiniteSet(-1)) == "D = -1"


def test_no_closed_form_message_names_no_sympy_object():
    from derivations.fdiv import AnalysisError, alpha as a, analyse

    with pytest.raises(AnalysisError) as info:
        analyse(sp.log(1 + (1 - a) ** 2), prove=False)
    message = str(info.value)
    assert "no closed-form solution" in message and "ConditionSet" not in message and "Interval" not in message
    assert r"\alpha^{3}" in message


def test_grade_progress_goes_to_stderr():
    """The bar is drawn on a stderr console, so `grade ... | tee log` still shows it."""
    import inspect

    from derivations.classroom import runner

    source = inspect.getsource(runner.Run._progress)
    assert "Console(stderr=True)" in source and "self.console" not in source


def test_latex_command_shows_progress_on_stderr_and_proves_through_verify(monkeypatch, tmp_path):
    """``latex`` calls verify.run_all (verify's entry point) with verify's proof cache and a
    progress callback, and its bar is on stderr."""
    from derivations import verify
    from derivations.publish import commands, document, plots

    calls = []

    def fake_run_all(selectors=(), seconds=30.0, progress=None, jobs=1, cache=None):
        calls.append((tuple(selectors), progress is not None))
        seen_cache.append(cache)
        return []

    seen_cache = []
    sentinel = object()
    monkeypatch.setattr(commands, "_proof_cache", lambda: sentinel)

    monkeypatch.setattr(verify, "run_all", fake_run_all)
    monkeypatch.setattr(plots, "make_all", lambda folder, ids, log, progress=None: ([], []))
    monkeypatch.setattr(document, "write", lambda path, *a, **k: path)
    assert commands.latex_command(["ddim.gamma"], tmp_path, log=lambda m: None) == 0
    assert calls == [(("ddim.gamma",), True)] and seen_cache == [sentinel]    # verify's own cache
    assert commands.progress_bar().console.stderr
