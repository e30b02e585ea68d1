"""More hostile answers: each is refused (or bounded) by a general mechanism before SymPy is
asked for anything expensive, and says why in the student's terms; legitimate student forms
found next to them (math delimiters, Persian digits and remarks, line breaks in one chain)
are read."""
from __future__ import annotations

import time

import pytest
import sympy as sp

from derivations.grading import sandbox
from derivations.grading.core import grade_in_process
from derivations.latex import LatexError, LimitError, for_slot, parse, parse_expression

SQUARE = r"\frac{-4t}{1+t}"
t = sp.Symbol("t", positive=True)


def read(latex, slot="gan.square.f"):
    return parse_expression(latex, for_slot(slot))


def reference_of(latex, slot="gan.square.f"):
    got = read(latex, slot)
    return sp.simplify(got - read(SQUARE, slot)) == 0


# --- refused before any check, with the reason --------------------------------------------------

@pytest.mark.parametrize("latex, fragment", [
    (r"\infty^0", "is not a number"), (r"\frac{1}{\infty}", "is not a number"),
    (SQUARE + r" + e^{-\infty}", "is not a number"), (r"\infty - \infty", "is not a number"),
    (r"\begin{cases} \infty & t > 1 \\ 0 & \text{otherwise}\end{cases}", "is not a number"),
    (r"0^0", "0^0 has no value"), (r"\log 0", "no finite value"), (r"\log(t - t)", "no finite value"),
    (r"\frac{0}{0}", "divides by zero"), (r"\sqrt{999 = t}", "inside brackets"),     # was a TypeError
    (r"\log(\sum_{i=1}^{t = 10^{40}} t)", "inside brackets"),
    ("t" + "\\", "lone backslash"), ("1.5.5", "two decimal points"), (r"1 \\ 2", "breaks the line"),
    (r"\frac{-4t}{1+t} \\ \frac{-4t}{1+t}", "breaks the line"),
    ("\u062c\u0648\u0627\u0628 = " + SQUARE, "outside \\text"),
    ("-t \\text{ \u0627\u06af\u0631 } t<1 \\text{ \u0648 } -1 \\text{ \u062f\u0631 \u063a\u06cc\u0631 \u0627\u06cc\u0646 "
     "\u0635\u0648\u0631\u062a}", "prose"),
])
def test_refused_with_the_reason(latex, fragment):
    with pytest.raises(LatexError, match=fragment.replace("\\", "\\\\").replace("^", "\\^")):
        read(latex)


@pytest.mark.parametrize("latex, fragment", [
    (r"\prod_{i=1}^{10^{12}} t", "range"), (r"\sum_{i=1}^{10^{12}} \frac{t}{i}", "range"),
    (r"\sum_{i=1}^{1001} t", "range"), (r"\prod_{i=1}^{3}" * 12 + " t", "degree"),
    (r"(t^{1000}+1)^{1000}", "degree"), (r"((1+t)^{1000})^{1000}", "degree"),
    (r"t^{1000}(1+t)^{1000}", "degree"),
    ("(1+" * 7 + "(1+t)^{999}" + ")^{999}" * 7, "degree"),
    (r"\left(\frac{t^{999}+1}{t^{999}-1}\right)^{999}", "degree"),
    ("-" * 400 + "t", "nested"), (r"\log " * 90 + "t", "nested"),
    (r"(2^{999}+1)^{999}", "digits"), (r"10^{10^{10}}", "exponent"), (r"9^{9^9}", "exponent"),
])
def test_beyond_the_limits_is_a_limit_error(latex, fragment):
    started = time.perf_counter()
    with pytest.raises(LimitError, match=fragment) as exc:
        read(latex)
    assert time.perf_counter() - started < 3
    assert len(str(exc.value)) < 200                   # no 300-digit number echoed


def test_matrix_powers_are_bounded_by_degree():
    with pytest.raises(LimitError, match="degree"):
        read(r"(A A^T)^{1000}", "lemma.marginal_cov")
    with pytest.raises(LimitError, match="degree"):
        read(r"(L^{-1} + A\Lambda^{-1}A^T)^{1000}", "lemma.marginal_cov")


def test_long_names_and_text_are_clipped_in_messages():
    with pytest.raises(LatexError) as exc:
        read(r"\text{" + "a" * 1900 + "}")
    assert len(str(exc.value)) < 700 and "characters" in str(exc.value)


def test_infinity_is_still_a_limit():
    got = parse_expression(r"\int_0^\infty e^{-x} dx", symbols=(sp.Symbol("x"),))
    assert got.args[1][2] == sp.oo
    assert isinstance(read(r"\sum_{n=0}^{\infty} (-1)^{n+1} 4 t^{n+1}"), sp.Sum)
    got = read(r"\begin{cases} -t & 1 < t < \infty \\ 0 & \text{otherwise}\end{cases}")
    assert got.subs(t, 2) == -2 and got.subs(t, sp.Rational(1, 2)) == 0


# --- legitimate forms next to the hostile ones ------------------------------------------------

@pytest.mark.parametrize("latex", [
    rf"\({SQUARE}\)", rf"\[{SQUARE}\]", rf"$${SQUARE}$$", rf"\begin{{equation}}{SQUARE}\end{{equation}}",
    rf"\begin{{equation*}} f(t) = {SQUARE} \end{{equation*}}",
    rf"{SQUARE} \\", rf"f(t) = \\ {SQUARE}", rf"f(t) \\ = {SQUARE}",
    "\\frac{-\u06f4t}{\u06f1+t}", "\\frac{-\u0664t}{\u0661+t}",                  # Persian, Arabic-Indic digits
    SQUARE + "\\text{ \u0628\u0631\u0627\u06cc } t>0",                           # "for t > 0"
    SQUARE + " \\quad \\text{(\u0628\u0631\u0627\u06cc } t>0)",
    "\\text{\u062c\u0648\u0627\u0628: } " + SQUARE,                              # "Answer:"
    r"\text{Answer:} " + SQUARE,
    "\\begin{cases} -4t/(1+t) & \\text{\u0627\u06af\u0631 } t>0 \\\\ 0 & \\text{\u062f\u0631 \u063a\u06cc\u0631 "
    "\u0627\u06cc\u0646 \u0635\u0648\u0631\u062a}\\end{cases}",                      # "if", "otherwise"
    SQUARE + "\u200b\ufeff",
])
def test_legitimate_forms_are_read(latex):
    assert reference_of(latex)


def test_a_leading_equals_sign_grades_the_value():
    assert grade_in_process("gan.square.f", "= " + SQUARE).verdict == "correct"
    assert grade_in_process("gan.square.f", r"\le " + SQUARE).verdict == "invalid"


def test_a_word_run_is_cheap():
    started = time.perf_counter()
    assert read("t" * 500) == t ** 500
    assert time.perf_counter() - started < 2


# --- grading: bounded in time, never a numeric-only accept of invisible constants --------------

@pytest.mark.parametrize("slot, latex", [
    ("gan.square.f", r"\frac{-4t}{1+t+e^{-1000}}"),
    ("gan.square.f", r"\frac{-4t}{1+t} \cdot e^{10^{-40}}"),
    ("gan.zero_one.dstar", r"\begin{cases} 1 & p_d > p_g + 10^{-40}\\ -1 & \text{otherwise} \end{cases}"),
])
def test_invisible_constants_are_never_accepted_numerically(slot, latex):
    r = grade_in_process(slot, latex, seconds=15)
    assert r.verdict in ("unchecked", "wrong"), r.message


def test_one_deadline_bounds_the_whole_check():
    started = time.perf_counter()
    r = grade_in_process("gan.square.f", r"\log(" * 10 + "t" + ")" * 10, seconds=2)
    assert r.verdict == "unchecked" and time.perf_counter() - started < 6, r.message


def test_a_checker_crash_is_unchecked_without_internals(monkeypatch):
    import derivations.grading.core as core

    def boom(*a, **k):
        raise TypeError("invalid input: <sympy internals>")
    monkeypatch.setattr(core, "grade_in_process", boom)
    d = sandbox._task("gan.square.f", "t", 0, 1.0)
    assert d["verdict"] == "unchecked" and "TypeError" in d["message"] and "internals" not in d["message"]


def test_sandbox_budget_is_below_its_timeout():
    assert sandbox.budget(None) is None
    for timeout in (1.0, 3.0, 20.0, 120.0):
        assert 0 < sandbox.budget(timeout) < timeout


def test_hostile_answers_through_the_sandbox_end_in_time():
    answers = [r"\log(" * 10 + "t" + ")" * 10, r"\infty^0", r"\prod_{i=1}^{10^{12}} t",
               r"(t^{1000}+1)^{1000}", "-" * 400 + "t", "\u067e\u0627\u0633\u062e", SQUARE]
    with sandbox.Grader(jobs=2, timeout=4.0) as g:
        started = time.perf_counter()
        results = g.grade_many([("gan.square.f", a) for a in answers])
        assert time.perf_counter() - started < 20
    verdicts = [r.verdict for r in results]
    assert verdicts[:-1] == ["unchecked", "invalid", "unchecked", "unchecked", "unchecked", "invalid"], verdicts
    assert verdicts[-1] == "correct"
    assert "stopped" not in results[0].message            # decided in the worker, not killed


# --- soundness holes found in review: each must never end `correct` ---------------------------
@pytest.mark.parametrize("latex", [
    r"-\frac{4t}{t+1} \text{ using } + 7",                      # words then more formula: not a remark
    r"-\frac{4t}{t+1} \text{ by } 2",
    r"-\frac{4t}{t+1} \text{ به علاوه } 1",                       # "plus 1" in Persian
    r"\text{منفی} \frac{4t}{t+1}",                              # "minus" in Persian is no label
    r"\max_{t} \left(-\frac{4t}{t+1}\right)",                   # an extremum over the slot's own variable
    r"\arg\min_{t} \left(-\frac{4t}{t+1}\right)",
    r"f(t) = -\frac{4t}{t+1} + \sin(10^{-40} t^{3/2} e^{t}) = -\frac{4t}{t+1}",   # hidden in an earlier member
])
def test_review_findings_are_never_accepted(latex):
    from derivations.grading import grade_answer
    verdict = grade_answer("gan.square.f", latex, sandbox=False).verdict
    # the sin(10^{-40} t^{3/2} e^t) member differs where e^t is large (t is drawn up to 10^6): wrong is right
    allowed = ("invalid", "unchecked", "wrong") if r"\sin" in latex else ("invalid", "unchecked")
    assert verdict in allowed


def test_a_chain_ending_in_an_invisible_constant_is_not_accepted():
    from derivations.classroom.chains import check_chain
    r = check_chain("gan.square.f", [r"f(t) = -\frac{4t}{t+1} + \sin(10^{-40} t^{3/2} e^{t})"])
    assert r["verdict"] != "correct"


@pytest.mark.parametrize("latex", [r"-\frac{4t}{t+1} \text{ for } t > 0", r"-\frac{4t}{t+1} \quad\text{for all } t",
                                   r"\text{پاسخ:} -\frac{4t}{t+1}", r"-\frac{4t}{t+1} \text{ برای } t>0"])
def test_remarks_and_labels_that_change_nothing_still_read(latex):
    from derivations.grading import grade_answer
    assert grade_answer("gan.square.f", latex, sandbox=False).verdict == "correct"


def test_an_unknown_name_keeps_its_message_across_processes():
    import pickle

    from derivations.latex.errors import UnknownName
    e = pickle.loads(pickle.dumps(UnknownName("y", "symbol", (r"\alpha",))))
    assert str(e) == r"unknown symbol y; this slot knows \alpha" and e.name == "y"


@pytest.mark.parametrize("latex", [r"\[-\frac{4t}{1+t}\] \[1\]", r"\begin{equation}-\frac{4t}{t+1}\end{equation} 1"])
def test_math_delimiters_inside_an_answer_are_two_formulas_not_a_product(latex):
    from derivations.grading import grade_answer
    assert grade_answer("gan.square.f", latex, sandbox=False).verdict == "invalid"


def test_a_chain_link_through_an_invisible_constant_is_not_a_valid_step():
    from derivations.grading.link import check_link
    from derivations.latex import parse_expression
    from derivations.grading.core import scope_for
    from derivations import registry
    scope = scope_for(registry.get_slot("gan.square.f"))
    a = parse_expression(r"-\frac{4t}{t+1} + \sin(10^{-40} t^{3/2} e^{t})", scope)
    b = parse_expression(r"-\frac{4t}{t+1}", scope)
    assert check_link("gan.square.f", a, "=", b).status.value != "proved"
