"""Every checker reads what it certifies (issue 14, items 2-3).

* A step's printed claim is the relation that is checked: replacing either side of a proved step
  by an unrelated constant (equalities) or a fresh unbounded symbol (inequalities, where a
  constant can make a true claim: 12345 >= 0) must leave it not proved.
* No step is ``X = X`` once built: definitions and base cases are stated as such (evidence kind
  ``definition``) and never count as proofs.
* The Gaussian lemma's n = 3 check and DDIM's x_0-dependence check refute a wrong marginal.
* The nonnegative atoms' formulas agree with torch's KL divergences.

The mutation test checks every step of the registry (a few minutes on 2 cores); select a part
with ``pytest -k 'mutated and ddim'``.
"""
from __future__ import annotations

import dataclasses

import pytest
import sympy as sp

from derivations import nonneg, registry, verify
from derivations.evidence import Kind, Status
from derivations.step import Derivation, Step, define, eq

DERIVATIONS = registry.derivations()
OMEGA = sp.Symbol("omega_unrelated", real=True)        # undeclared: the whole real line


def _mutants(step: Step):
    """(which side, mutated step): a constant for an equality, a fresh symbol for an inequality."""
    fresh = sp.Integer(12345) if step.rel == "=" else OMEGA
    for side in ("lhs", "rhs"):
        yield side, dataclasses.replace(step, **{side: fresh})


@pytest.mark.parametrize("derivation_id", sorted(DERIVATIONS))
def test_mutated_sides_are_not_proved(derivation_id):
    survivors = []
    for k, step in enumerate(DERIVATIONS[derivation_id].steps, 1):
        if verify.check_step(step).status is not Status.PROVED:
            continue
        for side, mutant in _mutants(step):
            ev = verify.check_step(mutant)
            if ev.status is Status.PROVED:
                survivors.append(f"step {k} ({side} replaced): {ev.kind.value}: {ev.detail[:120]}")
    assert not survivors, "\n".join(survivors)


def test_no_step_is_an_identity_once_built():
    identical = []
    for did, d in DERIVATIONS.items():
        for k, step in enumerate(d.steps, 1):
            if step.definition:
                continue
            lhs, rhs = step.sides()
            if lhs == rhs:
                identical.append(f"{did} step {k}: {lhs}")
    assert not identical, "\n".join(identical)


# --- definitions -------------------------------------------------------------------------------
x = sp.Symbol("x_def_test", real=True)


def test_a_definition_neither_proves_nor_fails():
    base = define(x, 2 * x - x, "a definition", establishes=("test.only_defined",))
    ev = verify.check_step(base)
    assert ev.kind is Kind.DEFINITION and ev.status is not Status.PROVED
    only = verify.run(Derivation("test.only", "only a definition", (base,)))
    assert only.status is Status.UNCHECKED            # established only by a definition: not proved
    assert verify.slot_status([only])["test.only_defined"] is not Status.PROVED
    proof = eq((x + 1) ** 2, x ** 2 + 2 * x + 1, "expand", establishes=("test.both",))
    both = verify.run(Derivation("test.both", "a definition and a proof",
                                 (define(x, x, "base case", establishes=("test.both",)), proof)))
    assert both.status is Status.PROVED
    assert verify.slot_status([both])["test.both"] is Status.PROVED
    s = verify.summary([only, both])
    assert s["steps"] == {"definition": 2, "proved": 1}
    assert s["evidence"]["definition"] == 2 and not s["failed"]
    assert verify.StepResult(base, ev).as_dict()["definition"] is True


def test_ddim_base_case_and_side_condition_are_definitions():
    steps = DERIVATIONS["ddim.family"].steps
    defined = [s for s in steps if s.definition]
    assert len(defined) == 3
    assert any("base case" in s.why for s in defined)
    # ddim.marginal_mean still has a proof: the inductive step
    assert any("ddim.marginal_mean" in s.establishes and not s.definition for s in steps)


# --- a wrong marginal is refuted ---------------------------------------------------------------
def test_lemma_n3_check_refutes_a_wrong_marginal():
    from derivations.catalogue import lemma
    step = DERIVATIONS["lemma.linear_gaussian"].steps[-1]
    assert verify.check_step(step).status is Status.PROVED
    wrong = {"marginal covariance 2 C": dict(marginal_cov=2 * lemma.MARGINAL_COV),
             "marginal mean A mu": dict(marginal_mean=lemma.A * lemma.mu),
             "posterior covariance 2 Sigma": dict(posterior_cov=2 * lemma.POSTERIOR_COV)}
    for name, change in wrong.items():
        mutant = dataclasses.replace(step, rhs=lemma.bayes_form(**change))
        assert verify.check_step(mutant).status is Status.REFUTED, name


def test_ddim_x0_dependence_uses_many_points_and_refutes_a_markovian_mean():
    from derivations.catalogue import ddim
    step = DERIVATIONS["ddim.forward"].steps[-1]
    ev = verify.check_step(step)
    assert ev.status is Status.PROVED and ev.extra["points"] >= 20
    # DDPM's sigma makes the forward process Markovian: the mean no longer depends on x_0
    markov = ddim.FORWARD_MEAN.subs(ddim.sigma_t, sp.sqrt(ddim.SIGMA_DDPM_SQ))
    mutant = dataclasses.replace(step, lhs=sp.Derivative(markov, ddim.x_0), rhs=sp.Integer(0), assume=ddim.SCHEDULE)
    assert verify.check_step(mutant).status is Status.REFUTED


# --- the certificates' atoms -------------------------------------------------------------------
def test_nonneg_atoms_agree_with_torch():
    torch = pytest.importorskip("torch", reason="torch (a core dependency) compares the KL formulas with torch.distributions")
    from torch.distributions import Bernoulli, Normal, kl_divergence
    for m1, s1, m2, s2 in [(0.3, 0.7, -1.1, 1.9), (2.0, 3.0, 2.5, 0.4), (-1.0, 1.0, -1.0, 1.0)]:
        ours = float(nonneg.GaussianKL.formula(*map(sp.Float, (m1, s1, m2, s2))))
        ref = float(kl_divergence(Normal(torch.tensor(m1, dtype=torch.float64), torch.tensor(s1, dtype=torch.float64)),
                                  Normal(torch.tensor(m2, dtype=torch.float64), torch.tensor(s2, dtype=torch.float64))))
        assert ours == pytest.approx(ref, rel=1e-12, abs=1e-14)
    for a, b in [(0.2, 0.7), (0.9, 0.1), (0.5, 0.5)]:
        ours = float(nonneg.BernoulliKL.formula(sp.Float(a), sp.Float(b)))
        ref = float(kl_divergence(Bernoulli(probs=torch.tensor(a, dtype=torch.float64)),
                                  Bernoulli(probs=torch.tensor(b, dtype=torch.float64))))
        assert ours == pytest.approx(ref, rel=1e-12, abs=1e-14)
    for v in (-3.0, -0.1, 0.0, 0.5, 4.0):   # e^x - 1 - x, and its sign, independently
        ours = float(nonneg.ExpAboveTangent.formula(sp.Float(v)))
        assert ours == pytest.approx(float(torch.expm1(torch.tensor(v, dtype=torch.float64))) - v, abs=1e-12)
        assert ours >= 0


def test_gan_global_minimum_certificates_prove_logistic_and_exponential():
    for name in ("logistic", "exponential"):
        step = next(s for s in DERIVATIONS[f"gan.{name}"].steps if s.gap is not None)
        ev = verify.check_step(step)
        assert ev.status is Status.PROVED and "certificate" in ev.detail, (name, ev.detail)
