"""Densities, expectations and KL: rewrite rules prove what they can, random finite models
decide the rest, and the HVAE's invalid KL step is refuted (it is not the middle term)."""
from __future__ import annotations

import sympy as sp

from derivations.evidence import Kind, Status
from derivations.grading import rewrite
from derivations.grading.structural import compare_forms
from derivations.latex import build, parse_expression
from derivations.latex.objects import KL, Density, Expectation

x, z1, z2 = sp.symbols("x z_1 z_2", real=True)
P = Density.make
p_x, p_1, p_2 = P("p", [x], [z1]), P("p", [z1], [z2]), P("p", [z2])
q_1, q_2 = P("q", [z1], [x]), P("q", [z2], [z1])
E = Expectation.make
ELBO = E(sp.log(p_x) + sp.log(p_1) + sp.log(p_2) - sp.log(q_1) - sp.log(q_2), [q_1, q_2])
DECOMP = E(sp.log(p_x), [q_1]) - E(sp.log(q_1) - sp.log(p_1), [q_1, q_2]) - E(KL(q_2, p_2), [q_1])
INVALID = E(sp.log(p_x), [q_1]) - E(KL(q_1, p_1), [q_2]) - E(KL(q_2, p_2), [q_1])


def test_hvae_decomposition_is_proved_by_the_rewrite_rules():
    ev = compare_forms(DECOMP, [ELBO])
    assert ev.status is Status.PROVED and ev.kind is Kind.SYMBOLIC


def test_hvae_invalid_kl_step_is_refuted_with_a_model():
    assert not rewrite.equal(INVALID, ELBO, [ELBO])
    ev = compare_forms(INVALID, [ELBO])
    assert ev.status is Status.REFUTED and ev.counterexample
    assert "answer" in ev.counterexample and ev.counterexample["answer"] != ev.counterexample["reference"]


def test_kl_argument_order_matters():
    assert compare_forms(E(sp.log(p_x), [q_1]) - KL(p_1, q_1), [DECOMP]).status is Status.REFUTED


def test_student_latex_for_the_hvae():
    scope = build(reference=ELBO)
    scope.random_variables = True
    answer = parse_expression(
        r"\mathbb{E}_{q(z_1|x)}[\log p(x|z_1)] - \mathbb{E}_{q(z_1|x)q(z_2|z_1)}[\log q(z_1|x) - \log p(z_1|z_2)]"
        r" - \mathbb{E}_{q(z_1|x)}\left[\mathrm{KL}(q(z_2|z_1)\,\|\,p(z_2))\right]", scope)
    assert compare_forms(answer, [ELBO]).ok
    wrong = parse_expression(
        r"\mathbb{E}_{q(z_1|x)}[\log p(x|z_1)] - \mathbb{E}_{q(z_2|z_1)}[\mathrm{KL}(q(z_1|x)\|p(z_1|z_2))]"
        r" - \mathbb{E}_{q(z_1|x)}[\mathrm{KL}(q(z_2|z_1)\|p(z_2))]", scope)
    assert compare_forms(wrong, [ELBO]).status is Status.REFUTED


def test_unsupported_is_unchecked_never_correct():
    ev = compare_forms(E(sp.log(p_x), [x]), [ELBO])
    assert ev.status is Status.UNCHECKED
