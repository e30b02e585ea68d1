"""Unit tests of the VAE mechanism (derivations/catalogue/vae.py).

The derivations run as pytest items through the plugin; here the checkers are shown able to
fail: the Gaussian KL with the wrong sign of the -1/2, the ELBO gap with the KL's arguments
swapped, Jensen the wrong way round, an importance-sampling identity with the wrong marginal.
"""
import pytest
import sympy as sp

from derivations import registry
from derivations.catalogue import vae
from derivations.evidence import Kind, Status
from derivations.expectation import E_exp, Normal, log_normal
from derivations.prove import check_relation
from derivations.verify import check_step

S = vae.SCALAR
Q1_SLOTS = ("vae.marginal", "vae.prior_mc", "vae.is_identity", "vae.optimal_proposal", "vae.jensen",
            "vae.elbo_gap", "vae.grad_lambda", "vae.grad_theta", "vae.reparam", "vae.dataset",
            "vae.elbo_decomp", "vae.gauss_kl_1d", "vae.gauss_kl_diag", "vae.gauss_loglik")


def refuted_with_counterexample(ev):
    assert ev.status is Status.REFUTED, ev
    assert {"lhs", "rhs"} <= set(ev.counterexample), ev


def refute(lhs, rel, rhs, family=""):
    """check_relation with a short symbolic attempt: these claims are false, the points decide."""
    refuted_with_counterexample(check_relation(lhs, rel, rhs, family=family, symbolic_seconds=1.0))


def kl_by_moments():
    return E_exp(log_normal(vae.Z, vae.mu, vae.sigma**2) - log_normal(vae.Z, vae.mu_z, vae.sigma_z**2),
                 Normal(vae.Z, vae.mu, vae.sigma**2))


def test_every_q1_slot_is_registered_and_established():
    established = {s for d in registry.derivations().values() for s in d.slots}
    for slot_id in Q1_SLOTS:
        registry.get_slot(slot_id)
        assert slot_id in established, slot_id


def test_gauss_kl_is_derived_and_the_sign_of_the_half_matters():
    assert check_relation(kl_by_moments(), "=", vae.GAUSS_KL_1D).kind is Kind.SYMBOLIC
    refute(kl_by_moments(), "=", vae.GAUSS_KL_1D + 1)   # + 1/2
    # KL is not symmetric: swapping the two Gaussians is wrong
    refute(kl_by_moments(), "=", vae.gauss_kl_1d(vae.mu_z, vae.sigma_z, vae.mu, vae.sigma))


def test_elbo_gap_with_swapped_kl_arguments_is_refuted():
    kl_post_to_q = E_exp(S.logpost - S.logq, *S.posterior_measure())      # KL(p(Z|X) || q)
    assert check_relation(S.log_evidence - S.elbo, "=", S.kl_to_posterior, family=S.name).ok
    refute(S.log_evidence - S.elbo, "=", kl_post_to_q, family=S.name)


def test_jensen_the_wrong_way_round_is_refuted():
    log_of_mean = sp.log(E_exp(sp.exp(S.log_weight), *S.q))
    refute(log_of_mean, "<=", S.elbo, family=S.name)


def test_importance_identity_with_the_wrong_marginal_is_refuted():
    # p(X) = N(W mu_z + b, Psi): forgetting the prior's contribution W^2 sigma_z^2 to the variance
    wrong = sp.exp(log_normal(vae.X, vae.W * vae.mu_z + vae.b, vae.psi))
    step = vae.moment_step(lambda: E_exp(sp.exp(S.log_weight), *S.q), "=", wrong, "wrong marginal", family=S.name)
    refuted_with_counterexample(check_step(step))


def test_positive_forms_comparison_is_not_fooled():
    density = sp.exp(log_normal(vae.X, vae.mu, vae.sigma**2))
    assert vae.positive_forms_equal(density, sp.exp(log_normal(vae.X, vae.mu, vae.sigma**2)))
    assert not vae.positive_forms_equal(density, 2 * density)                   # prefactor differs
    assert not vae.positive_forms_equal(density, sp.exp(log_normal(vae.X, vae.mu, 2 * vae.sigma**2)))
    assert not vae.positive_forms_equal(density, -density)                      # not positive


def test_exact_posterior_is_checked_by_bayes_not_assumed():
    # a posterior with the wrong precision (prior precision forgotten) fails Bayes' rule pointwise
    wrong_var = vae.psi / vae.W**2
    wrong_logpost = log_normal(vae.Z, (vae.X - vae.b) / vae.W, wrong_var)
    refute(S.loglik + S.logprior - wrong_logpost, "=", S.log_evidence, family=S.name)


def test_pathwise_gradient_without_the_chain_rule_factor_is_refuted():
    # d/dsigma f(mu + sigma eps) = eps f'(...): dropping eps gives the mu-gradient again
    pathwise = S.log_weight.xreplace({vae.Z: vae.mu + vae.sigma * vae.eps})
    z_bar = sp.Symbol("z_bar", real=True)
    f_prime = sp.diff(S.log_weight.xreplace({vae.Z: z_bar}), z_bar).xreplace({z_bar: vae.mu + vae.sigma * vae.eps})
    right = E_exp(sp.diff(pathwise, vae.sigma), Normal(vae.eps, 0, 1))
    wrong = E_exp(f_prime + sp.diff(pathwise, vae.sigma) - vae.eps * f_prime, Normal(vae.eps, 0, 1))
    assert check_relation(right, "=", sp.diff(S.elbo, vae.sigma), family=S.name).ok
    refute(wrong, "=", sp.diff(S.elbo, vae.sigma), family=S.name)


@pytest.mark.parametrize("n, m", [(1, 1), (1, 2)])
def test_mean_field_gap_is_positive_somewhere(n, m):
    # the gap is a KL, so it is not identically 0: the checker must refute "gap = 0"
    fam = vae.SCALAR if (n, m) == (1, 1) else vae.LATENT2
    refute(fam.log_evidence - fam.elbo, "=", 0, family=fam.name)
