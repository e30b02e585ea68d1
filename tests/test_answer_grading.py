"""Grading one answer: verdicts come from the equivalence mechanism, the mistake from mutations
of the reference; each test includes answers that must be refuted, so the grader is shown
able to say "wrong"."""
from __future__ import annotations

import pytest
import sympy as sp

from derivations import registry
from derivations import symbols as symtab
from derivations.evidence import Kind, Status
from derivations.grading import grade_answer
from derivations.grading.equivalence import compare


def grade(slot, latex):
    return grade_answer(slot, latex, sandbox=False)


def test_issue_examples():
    r = grade("gan.square.f", r"f(t) = \frac{-4t}{1+t}")
    assert r.verdict == "correct" and r.evidence_kind == "symbolic"
    r = grade("ddim.objective", r"\frac{\gamma_t}{2\sigma_t^2 \bar\alpha_t}")
    assert r.verdict == "wrong" and r.mistake == "dropped-factor"
    assert r"1 - \bar\alpha_t" in r.message
    assert {"answer", "reference"} <= set(r.counterexample)
    assert r.counterexample["answer"] != r.counterexample["reference"]


def test_json_shape():
    d = grade("ddim.x0_pred", r"\frac{x_t - \sqrt{1-\bar\alpha_t}\,\epsilon_\theta(x_t)}{\sqrt{\bar\alpha_t}}").as_dict()
    assert set(d) == {"slot", "verdict", "evidence", "mistake", "message", "counterexample",
                      "parsed_latex", "seconds"}
    assert set(d["evidence"]) == {"kind", "detail"} and d["verdict"] == "correct"


def test_assumptions_are_used():
    # sqrt(abar^2) = abar only because 0 < abar < 1: proved, not merely sampled
    r = grade("ddim.marginal_var", r"1 - \sqrt{\bar\alpha_{t-1}^2}")
    assert r.verdict == "correct"
    r = grade("ddim.marginal_var", r"1 + \sqrt{\bar\alpha_{t-1}^2}")
    assert r.verdict == "wrong"


def test_equivalence_mechanism_can_fail_and_prove():
    x = symtab.declare("x_grading_test", "x", 0, 1)
    assert compare((x + 1) ** 2, x**2 + 2 * x + 1).status is Status.PROVED
    assert compare(sp.sqrt(x**2), x).status is Status.PROVED
    bad = compare(sp.sqrt(x**2), -x)
    assert bad.status is Status.REFUTED and bad.counterexample
    numeric_only = compare(sp.log(x * (1 + x)), sp.log(x) + sp.log(1 + x), symbolic_seconds=0.01)
    assert numeric_only.status is Status.PROVED and numeric_only.kind in (Kind.EXACT_NUMERIC, Kind.SYMBOLIC)


@pytest.mark.parametrize("latex", [
    r"1 - \Delta/2",
    r"\frac12\int\frac{4p_dp_g}{p_d+p_g}dx",
    r"\frac12\int\frac{4p_d(x)p_g(x)}{p_d(x)+p_g(x)}\,dx",
    r"1 - \frac{1}{2}\int \frac{(p_d(x) - p_g(x))^2}{p_d(x) + p_g(x)}\, dx",
])
def test_integrals_over_densities_and_named_divergences(latex):
    assert grade("gan.square.risk", latex).verdict == "correct"


def test_wrong_normalisation_of_a_risk_is_refuted_on_finite_supports():
    r = grade("gan.square.risk", r"1 - \Delta")
    assert r.verdict == "wrong" and r.counterexample


@pytest.mark.parametrize("slot, latex, tag", [
    ("ddim.marginal_var", r"1 - \bar\alpha_t", "index-swap"),
    ("ddim.objective", r"\frac{\gamma_t (1-\bar\alpha_t)}{\sigma_t^2\bar\alpha_t}", "missing-half"),
    ("ddim.x0_pred", r"\frac{x_t - \sqrt{1-\bar\alpha_t}\epsilon_\theta(x_t)}{\bar\alpha_t}", "dropped-sqrt"),
    ("gan.square.f", r"\frac{4t}{1+t}", "sign"),
    ("ddim.objective", r"\frac{\gamma_t (1-\bar\alpha_t)}{2\sigma_t\bar\alpha_t}", "sigma-vs-sigma2"),
    ("lemma.marginal_cov", r"L^{-1} + A^\top\Lambda^{-1}A", "misplaced-transpose"),
])
def test_mistakes_are_named_from_mutations(slot, latex, tag):
    r = grade(slot, latex)
    assert r.verdict == "wrong" and r.mistake == tag, r.message


def test_matrices():
    assert grade("lemma.marginal_cov", r"A\Lambda^{-1}A^T + L^{-1}").verdict == "correct"
    assert grade("lemma.posterior_cov", r"\left(\Lambda + A^\top L A\right)^{-1}").verdict == "correct"
    r = grade("lemma.marginal_mean", r"\mu A + b")
    assert r.verdict == "wrong" and "dimension" in r.message


def test_named_matrices_are_expanded_and_a_bare_name_says_nothing():
    # lemma.*: definitions={"Sigma": (Lambda + A^T L A)^{-1}} -- \Sigma reads as a matrix, expanded
    assert grade("lemma.posterior_mean", r"\Sigma(A^T L (y-b) + \Lambda\mu)").verdict == "correct"
    assert grade("lemma.posterior_mean", r"\Sigma A^\top L (y-b) + \Sigma\Lambda\mu").verdict == "correct"
    assert grade("lemma.posterior_mean", r"\Sigma(A^T L y + \Lambda\mu)").verdict == "wrong"
    assert grade("lemma.posterior_mean", r"\Sigma^{-1}(A^T L (y-b) + \Lambda\mu)").verdict == "wrong"
    r = grade("lemma.posterior_cov", r"\Sigma")
    assert r.verdict == "unchecked" and "only names" in r.message


def test_matrix_kinds_decide_what_random_matrices_are_drawn():
    from derivations.grading import matrices
    from derivations.latex import build, parse_expression
    from derivations.registry import Slot
    n = sp.Symbol("n", integer=True, positive=True)
    A, v = sp.MatrixSymbol("A", n, n), sp.MatrixSymbol("v", n, 1)
    answer = A * v                                   # equals A^T v exactly when A is symmetric
    sym = Slot("t.kinds", "", reference=A.T * v, symbols=(A, v), kind="matrix", matrix_kinds={"A": "symmetric"})
    assert matrices.compare(sym, answer).status is Status.PROVED
    general = Slot("t.kinds", "", reference=A.T * v, symbols=(A, v), kind="matrix", matrix_kinds={"A": "any"})
    assert matrices.compare(general, answer).status is Status.REFUTED
    with pytest.raises(ValueError, match="kinds"):
        matrices.compare(Slot("t.kinds", "", reference=A.T * v, symbols=(A, v), kind="matrix",
                              matrix_kinds={"A": "orthogonal"}), answer)
    # a named matrix in an unregistered slot: its definitions expand it too
    named = Slot("t.named", "", reference=(A + A.T) * v, symbols=(A, v), kind="matrix",
                 matrix_kinds={"A": "any"}, definitions={"S": A + A.T})
    scope = build(named.symbols, definitions=named.definitions, reference=named.reference, matrix=True)
    s_v = parse_expression(r"S v", scope)
    assert isinstance(s_v, sp.MatrixExpr) and matrices.compare(named, s_v).status is Status.PROVED
    assert matrices.compare(named, parse_expression(r"S^{-1} v", scope)).status is Status.REFUTED


def test_marginal_is_graded_as_densities_and_its_closed_form_separately():
    assert grade("vae.marginal", r"\mathbb{E}_{Z \sim p_\theta(Z)}[p_\theta(X|Z)]").verdict == "correct"
    assert grade("vae.marginal", r"\mathbb{E}_{q(Z)}[p_\theta(X|Z)]").verdict == "wrong"
    assert grade("vae.lg_log_evidence", r"-\frac12\log(2\pi(\sigma_z^2+\psi)) - \frac{(X - W\mu_z - b)^2}"
                 r"{2(\sigma_z^2+\psi)}").verdict == "wrong"


def test_sets_use_the_slots_acceptance():
    assert grade("gan.zero_one.dstar", r"\operatorname{sign}(p_d(x) - p_g(x))").verdict == "correct"
    assert grade("gan.zero_one.dstar", r"\frac{p_d - p_g}{p_d + p_g}").verdict == "correct"
    assert grade("gan.zero_one.dstar", r"p_g - p_d").verdict == "wrong"


def test_invalid_and_unknown_slot():
    assert grade("gan.square.f", r"f(t) = ").verdict == "invalid"
    assert grade("gan.square.f", r"the answer is 4").verdict == "invalid"
    r = grade("gan.square.f", r"\frac{-4u}{1+u}")
    assert r.verdict == "invalid" and "unknown symbol u" in r.message
    with pytest.raises(KeyError) as info:
        grade_answer("gan.sqare.f", "t")
    assert "gan.square.f" in str(info.value)


def test_chain_members_are_all_checked():
    assert grade("gan.square.f", r"f(t) = -\frac{4t}{t+1} = \frac{-4t}{1+t}").verdict == "correct"
    r = grade("gan.square.f", r"f(t) = \frac{4t}{t+1} = \frac{-4t}{1+t}")
    assert r.verdict == "wrong" and "member 1" in r.message


def test_terms_too_small_for_numerics_are_still_refuted():
    # e^{-1000 t} and 10^{-40} vanish at 50 digits at the sampled points; the assumptions prove them nonzero
    for answer in (r"\frac{-4t}{t+1} + e^{-1000 t}", r"\frac{-4t}{t+1} + 10^{-40}"):
        assert grade("gan.square.f", answer).verdict == "wrong", answer
