"""Differential test: diffusers' DDIMScheduler.step (an independent implementation of DDIM's
eqs. (12) and (16)) against derivcheck's registry references on random inputs."""
import numpy as np
import pytest
import sympy as sp
import torch

from derivations import registry
from derivations.catalogue import ddim

diffusers = pytest.importorskip("diffusers", reason="diffusers is a test-only dependency (pip install -e '.[test]')")

EPS_THETA = sp.Symbol("eps_theta_value")


def _fn(slot_id, *args):
    expr = registry.get_slot(slot_id).reference.subs(ddim.eps_theta, EPS_THETA)
    return sp.lambdify(args, expr, "numpy")


X0_PRED = _fn("ddim.x0_pred", ddim.abar_t, ddim.x_t, EPS_THETA)
SIGMA = _fn("ddim.eta", ddim.abar_t, ddim.abar_prev, ddim.eta)
MEAN = sp.lambdify((ddim.abar_t, ddim.abar_prev, ddim.sigma_t, ddim.x_t, ddim.x_0),
                   registry.get_slot("ddim.posterior_mean").reference, "numpy")


@pytest.mark.parametrize("eta", [0.0, 0.5, 1.0])
def test_ddim_step_matches_registry(eta):
    scheduler = diffusers.DDIMScheduler(num_train_timesteps=1000, beta_schedule="linear", clip_sample=False,
                                        set_alpha_to_one=False, prediction_type="epsilon")
    scheduler.set_timesteps(50)
    abar = scheduler.alphas_cumprod.double().numpy()
    step = 1000 // 50
    g = torch.Generator().manual_seed(0)
    checked = 0
    for t in scheduler.timesteps[:-1].tolist():     # every step with a proper t - 1 (prev_t >= 0)
        x_t = torch.randn(64, generator=g, dtype=torch.float64)
        eps = torch.randn(64, generator=g, dtype=torch.float64)
        noise = torch.randn(64, generator=g, dtype=torch.float64)
        out = scheduler.step(eps.float(), t, x_t.float(), eta=eta, variance_noise=noise.float())
        a_t, a_prev = abar[t], abar[t - step]
        f = X0_PRED(a_t, x_t.numpy(), eps.numpy())
        sigma = SIGMA(a_t, a_prev, eta)
        ours = MEAN(a_t, a_prev, sigma, x_t.numpy(), f) + sigma * noise.numpy()
        np.testing.assert_allclose(out.pred_original_sample.double().numpy(), f, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(out.prev_sample.double().numpy(), ours, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(float(scheduler._get_variance(t, t - step)) ** 0.5 * eta, sigma, rtol=1e-4)
        checked += 1
    assert checked == 49
