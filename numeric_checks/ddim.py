"""Monte Carlo check of DDIM's marginals: sample the non-Markovian chain from x_T down and
compare the mean and variance of x_t | x_0 with ``ddim.marginal_mean`` / ``ddim.marginal_var``.

The chain's coefficients come from the registry's own posterior mean (differentiated in x_0
and x_t and evaluated on the schedule), so the check exercises the derived formula, not a copy.
Each schedule's chain runs SAMPLES x ``samples`` times (400k at the default): the weakest row,
E[x_10 | x_0], then detects a 1.25% relative error.
"""
from __future__ import annotations

import sympy as sp
import torch

from derivations import registry
from derivations.catalogue import ddim
from .core import Measurement, numeric_check, stream_mean
from .schedule import linear_abar, sigma_eta

T = 20
X0 = 1.3
ABAR = linear_abar(1000)[::50][:T]     # 20 DDIM steps, a sub-sequence of a 1000-step schedule
WATCH = (T // 2, 1)                    # indices t (1-based) whose marginals are measured
SAMPLES = 2                            # chains per unit of ``samples``, per schedule

_args = (ddim.abar_t, ddim.abar_prev, ddim.sigma_t)
_coef_x0 = sp.lambdify(_args, sp.diff(ddim.POSTERIOR_MEAN, ddim.x_0), "math")
_coef_xt = sp.lambdify(_args, sp.diff(ddim.POSTERIOR_MEAN, ddim.x_t), "math")
# The expected marginals are the registry's references (stated for x_{t-1}; evaluated at any t).
_mean = sp.lambdify((ddim.abar_prev, ddim.x_0), registry.get_slot("ddim.marginal_mean").reference, "math")
_var = sp.lambdify((ddim.abar_prev,), registry.get_slot("ddim.marginal_var").reference, "math")


def schedules(abar: torch.Tensor) -> dict[str, torch.Tensor]:
    """sigma_t for t = 2..T under several choices: eta = 0, 0.5, 1 and a random admissible one."""
    a, a_prev = abar[1:], abar[:-1]
    g = torch.Generator().manual_seed(11)
    random_sigma = torch.rand(len(a), generator=g, dtype=torch.float64) * (1 - a_prev).sqrt()
    return {"eta=0": sigma_eta(a, a_prev, 0.0), "eta=0.5": sigma_eta(a, a_prev, 0.5),
            "eta=1": sigma_eta(a, a_prev, 1.0), "random sigma": random_sigma}


def sample_chain(n: int, gen: torch.Generator, abar: torch.Tensor, sigma: torch.Tensor, device: str,
                 watch=WATCH) -> list[torch.Tensor]:
    """x_T ~ q(x_T | x_0), then x_{t-1} = mean(x_t, x_0) + sigma_t z; returns x_t at each of ``watch``.

    Each step writes into its own fresh normal draw (no other temporaries), so a watched x_t is
    never overwritten.
    """
    a = abar.tolist()
    x = torch.randn(n, generator=gen, device=device).mul_((1 - a[-1]) ** 0.5).add_((a[-1] ** 0.5) * X0)
    out = {}
    for t in range(len(a), 1, -1):            # t = T .. 2 produces x_{t-1}
        s = float(sigma[t - 2])
        c0, c1 = _coef_x0(a[t - 1], a[t - 2], s), _coef_xt(a[t - 1], a[t - 2], s)
        x = torch.randn(n, generator=gen, device=device).mul_(s).add_(x, alpha=c1).add_(c0 * X0)
        if t - 1 in watch:
            out[t - 1] = x
    return [out[t] for t in watch]


@numeric_check("ddim.marginal_var", seed=2024)
def marginals(samples: int, device: str, seed: int) -> list[Measurement]:
    found = []
    samples *= SAMPLES
    for k, (name, sigma) in enumerate(schedules(ABAR).items()):
        def draw(n, gen, sigma=sigma):
            x = sample_chain(n, gen, ABAR, sigma, device)
            return x + [(xt - _mean(float(ABAR[t - 1]), X0)).square_() for xt, t in zip(x, WATCH)]

        means, ses = stream_mean(draw, samples, device, seed + 1000 * k)
        for j, t in enumerate(WATCH):
            abar_t, v = float(ABAR[t - 1]), len(WATCH) + j
            found.append(Measurement(f"{name}: E[x_{t} | x_0]", means[j], _mean(abar_t, X0), ses[j], samples))
            found.append(Measurement(f"{name}: Var[x_{t} | x_0]", means[v], _var(abar_t), ses[v], samples))
    return found
