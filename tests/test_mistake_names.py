"""Wrong answers get the mistake named by a general mechanism (a mutation of the reference
that agrees with the answer everywhere, or a constant factor / offset), never a per-slot list."""
from __future__ import annotations

import pytest

from derivations.grading import grade_answer

CASES = [
    # one symbol written for another with the same kind of domain
    ("ddim.marginal_mean", r"\sqrt{\bar\alpha_{t-1}}x_t", "wrong-symbol"),
    ("vae.reparam", r"\sigma + \mu\epsilon", "swapped-symbols"),
    ("sm.dsm_equiv", r"l(\theta) + C_2 - C_3", "swapped-symbols"),
    # a probability-like symbol and its complement
    ("ddim.marginal_mean", r"\sqrt{1-\bar\alpha_{t-1}}x_0", "complement"),
    # constant factor (a log base, a factor 2) and constant offset
    ("gan.logistic.f", r"t\log_2 t-(t+1)\log_2(t+1)", "constant-factor"),
    ("gan.hinge.risk", r"2-2\mathrm{TV}", "constant-factor"),
    ("gan.square.f", r"1-\frac{4t}{t+1}", "constant-offset"),
    # matrices: a factor of a product, a term of a sum, an inverse where none belongs
    ("lemma.marginal_mean", r"\mu + b", "dropped-factor"),
    ("lemma.posterior_cov", r"(\Lambda + A^TL^{-1}A)^{-1}", "misplaced-inverse"),
    # densities: one written for another of the same variable
    ("vae.elbo_gap", r"\mathrm{KL}(q(Z)\|p(Z))", "wrong-density"),
    # integrals of unknown functions, decided by quadrature
    ("sm.esm", r"\mathbb{E}_{q(x)}\left[2\|s_\theta(x)-\nabla_x\log q(x)\|^2\right]", "constant-factor"),
    ("sm.dsm", r"\mathbb{E}_{x,\epsilon}\left[\frac12\left\|s_\theta(x+\sigma\epsilon) + \frac{\epsilon}{\sigma^2}"
               r"\right\|^2\right]", "sigma-vs-sigma2"),
    ("sm.dsm", r"\mathbb{E}_{x,\epsilon}\left[\frac{1}{2}\left\|s_\theta(x+\sigma\epsilon)+\frac{\epsilon}{\sigma}"
               r"\right\|\right]", "dropped-square"),
]


@pytest.mark.parametrize("slot, latex, tag", CASES)
def test_the_mistake_is_named(slot, latex, tag):
    r = grade_answer(slot, latex, sandbox=False)
    assert r.verdict == "wrong" and r.mistake == tag, (r.verdict, r.mistake, r.message)


def test_an_unrelated_wrong_answer_gets_no_name():
    r = grade_answer("gan.square.f", r"t^3 - \log t", sandbox=False)
    assert r.verdict == "wrong" and r.mistake is None


def test_a_mutation_that_drops_a_dependence_does_not_redefine_the_model():
    """p(X) for p(X|Z) in the ELBO must be judged in the slot's model (X depends on Z): there
    E_{p(Z)}[log p(X|Z)] is not log p(X), so no mutation may claim this answer."""
    r = grade_answer("vae.elbo_decomp", r"\mathbb{E}_{p(Z)}[\log p(X|Z)] - \mathrm{KL}(q(Z|X)\|p(Z))", sandbox=False)
    assert r.verdict == "wrong" and r.mistake is None, r.message
