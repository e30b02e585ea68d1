"""Unit tests of the score-matching Monte Carlo machinery (numeric_checks/sm.py).

Each closed form the checks rely on is compared with an independent computation (autograd,
torch.func, the moment-derived constants), and the wrong variants are shown to fail the same
K_SE rule the checks use. Sample sizes are small: these are tests of the mechanism, the full
checks run as plugin items.
"""
import math

import pytest
import torch

from derivations.catalogue import sm as sym
from numeric_checks import sm
from numeric_checks.core import Measurement, generator, stream_mean

DEVICE = "cpu"


def test_mixture_score_is_the_gradient_of_its_log_density():
    data = sm.mixture(DEVICE)
    x = data.sample(500, generator(DEVICE, 1)).requires_grad_(True)
    (auto,) = torch.autograd.grad(data.log_prob(x).sum(), x)
    assert torch.allclose(data.score(x.detach()), auto, rtol=0, atol=1e-12)


def test_noised_mixture_has_the_convolved_moments():
    data, sigma = sm.mixture(DEVICE), sm.SIGMA
    gen = generator(DEVICE, 2)
    x = data.sample(200_000, gen)
    xt = x + sigma * torch.randn(x.shape, generator=gen, dtype=sm.DTYPE)
    noised = data.noised(sigma)
    # second moment of the mixture: sum_k w_k (v_k I + mu_k mu_k^T)
    expected = sum(w * (v * torch.eye(2, dtype=sm.DTYPE) + torch.outer(mu, mu))
                   for w, mu, v in zip(noised.weights, noised.means, noised.variances))
    assert torch.allclose((xt.T @ xt) / len(xt), expected, atol=0.03)


def test_grid_quadrature_reproduces_the_gaussian_constant():
    s = 0.7
    value, err = sm.fisher_constant(sm.gaussian([0.3, -0.2], s, DEVICE), DEVICE)
    assert err < 1e-9
    assert value == pytest.approx(sm._number(sym.C1_REF, d=2, s=s), abs=1e-9)


def test_exact_trace_matches_the_jacobian_and_costs_d_passes():
    d = 5
    f = sm.models(d, 1, DEVICE, 0)[0]
    x = torch.randn(7, d, generator=generator(DEVICE, 3), dtype=sm.DTYPE)
    tr, passes = sm.trace_exact(f, x)
    jac = torch.func.vmap(torch.func.jacrev(lambda v: f(v[None])[0]))(x)
    assert passes == d
    assert torch.allclose(tr, jac.diagonal(dim1=1, dim2=2).sum(1), atol=1e-12)


def test_hutchinson_is_unbiased_with_the_rademacher_variance():
    """For one x: mean of v^T J v over probes is tr J; its variance is 1/2 sum_{i != j} (J_ij + J_ji)^2."""
    d = 6
    f = sm.models(d, 1, DEVICE, 1)[0]
    x = torch.randn(1, d, generator=generator(DEVICE, 4), dtype=sm.DTYPE)
    jac = torch.func.jacrev(lambda v: f(v[None])[0])(x[0])
    sym_part = jac + jac.T
    var_expected = 0.5 * float((sym_part ** 2).sum() - (sym_part.diagonal() ** 2).sum())
    n = 20_000
    estimates, passes = sm.trace_hutchinson(f, x.expand(n, d), generator(DEVICE, 5))
    assert passes == 1
    se = math.sqrt(var_expected / n)
    assert abs(float(estimates.mean()) - float(jac.trace())) <= 4 * se
    assert float(estimates.var()) == pytest.approx(var_expected, rel=0.05)


def _paired_dsm(data, samples, seed):
    score_models = sm.models(data.dim, 2, DEVICE, seed)
    mean, se = stream_mean(sm.dsm_minus_esm(data, sm.SIGMA, score_models), samples, DEVICE, seed)
    return mean, se


def test_dsm_check_fails_with_the_constant_of_the_wrong_sign():
    s = 0.8
    data = sm.gaussian([0.5, -1.0], s, DEVICE)
    C = sm._number(sym.C_REF, d=2, s=s, sigma=sm.SIGMA)
    mean, se = _paired_dsm(data, 20_000, 7)
    assert Measurement("right sign", mean[0], C, se[0], 20_000).passed
    assert not Measurement("C2 - C3", mean[0], -C, se[0], 20_000).passed


def test_half_inside_the_norm_doubles_the_dsm_constant():
    """With 1/2 inside both norms the per-sample difference estimates 2 (C_3 - C_2), not C_3 - C_2."""
    s = 0.8
    data = sm.gaussian([0.5, -1.0], s, DEVICE)
    noised = data.noised(sm.SIGMA)
    f = sm.models(2, 1, DEVICE, 3)[0]
    C = sm._number(sym.C_REF, d=2, s=s, sigma=sm.SIGMA)

    def draw(n, gen):
        x = data.sample(n, gen)
        e = torch.randn(x.shape, generator=gen, dtype=sm.DTYPE)
        xt = x + sm.SIGMA * e
        out = f(xt)
        return ((0.5 * out + e / sm.SIGMA) ** 2).sum(1) - ((0.5 * out - noised.score(xt)) ** 2).sum(1)
    n = 20_000
    mean, se = stream_mean(draw, n, DEVICE, 11)
    assert not Measurement("1/2 inside", mean, C, se, n).passed
    assert Measurement("1/2 inside", mean, 2 * C, se, n).passed


def test_kernel_score_with_the_wrong_sign_fails_the_exact_check():
    ref = sm._kernel_reference()
    x, xt = torch.zeros(3, dtype=sm.DTYPE), torch.ones(3, dtype=sm.DTYPE).requires_grad_(True)
    (auto,) = torch.autograd.grad(torch.distributions.Normal(x, sm.SIGMA).log_prob(xt).sum(), xt)
    assert torch.allclose(auto, ref(x, xt.detach(), sm.SIGMA), atol=1e-12)
    assert not torch.allclose(auto, -ref(x, xt.detach(), sm.SIGMA), atol=1e-3)


def test_small_run_of_each_check_passes():
    for check in (sm.check_dsm_gauss, sm.check_dsm_mixture, sm.check_kernel_score, sm.check_dsm_forms):
        results = check(samples=8_000, device=DEVICE, seed=21)
        assert all(m.passed for m in results), [(m.name, m.z) for m in results if not m.passed]


def test_mlp_on_columns_is_the_same_map_as_on_rows():
    f = sm.models(3, 1, DEVICE, 2)[0]
    x = torch.randn(50, 3, generator=generator(DEVICE, 6), dtype=sm.DTYPE)
    assert torch.allclose(f.columns(x.T.contiguous()).T, f(x), atol=1e-13)
    assert torch.allclose(f.scaled(-0.5)(x), -0.5 * f(x), atol=1e-13)


def test_mixture_score_on_columns_is_the_gradient_of_its_log_density():
    data = sm.mixture(DEVICE)
    x = torch.randn(40, 2, generator=generator(DEVICE, 7), dtype=sm.DTYPE).requires_grad_(True)
    (auto,) = torch.autograd.grad(data.log_prob(x).sum(), x)
    assert torch.allclose(data.score(x.detach()), auto, atol=1e-12)
