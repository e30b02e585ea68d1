"""Monte Carlo check of the Gaussian lemma in n = 3 with random matrices.

Joint samples x ~ N(mu, Lambda^{-1}), y = A x + b + noise, noise ~ N(0, L^{-1}). Then
- E[y] and Cov[y] must be the lemma's marginal mean and covariance;
- the residual r = x - m(y), with m the lemma's posterior mean, must have mean 0, covariance
  Sigma, and be uncorrelated with y (x | y ~ N(m(y), Sigma) for every y).
The expected values are the registry's references evaluated on the random matrices.

Power: the stream draws SAMPLES x ``samples`` joint draws (2M at the default), so every
measurement detects a 1.2% relative error of its closed form. Rows whose expected value is 0
(E[x - m(y)], E[(x - m(y)) (y - E y)^T]) state their power against a relative error delta of
the posterior mean m(y): that moves them by -delta E[m(y)] and -delta G Cov[y], with G the
matrix of m(y) (their ``scale``).
"""
from __future__ import annotations

import sympy as sp
import torch

from derivations import registry
from derivations.catalogue import lemma
from .core import Measurement, affine_columns, default_chunk, numeric_check, stream_mean

N = 3
SAMPLES = 10             # joint draws per unit of ``samples``


def random_model(seed: int = 7) -> dict:
    g = torch.Generator().manual_seed(seed)
    def spd():
        M = torch.randn(N, N, generator=g, dtype=torch.float64)
        return M @ M.T + torch.eye(N, dtype=torch.float64)
    return {"A": torch.randn(N, N, generator=g, dtype=torch.float64), "Lambda": spd(), "L": spd(),
            "mu": torch.randn(N, 1, generator=g, dtype=torch.float64),
            "b": torch.randn(N, 1, generator=g, dtype=torch.float64)}


def reference(slot_id: str, model: dict, y=None) -> torch.Tensor:
    """The slot's reference evaluated on ``model`` (exact rational arithmetic, then float64)."""
    expr = registry.get_slot(slot_id).reference
    fam = {sym: sp.Matrix(model[str(sym)].tolist()) for sym in (lemma.A, lemma.Lam, lemma.L, lemma.mu, lemma.b)}
    fam[lemma.y] = sp.Matrix(N, 1, lambda i, _: sp.Symbol(f"y{i}")) if y is None else sp.Matrix(y)
    fam[lemma.n] = N
    return lemma.explicit(expr, fam)


def _chol_cov(precision: torch.Tensor) -> torch.Tensor:
    return torch.linalg.cholesky(torch.linalg.inv(precision))


@numeric_check("lemma.marginal_cov", seed=31)
def marginal_and_posterior(samples: int, device: str, seed: int) -> list[Measurement]:
    model = random_model()
    dev = {k: v.to(device) for k, v in model.items()}
    Cx, Cn = _chol_cov(dev["Lambda"]), _chol_cov(dev["L"])
    marg_mean = torch.tensor(sp.matrix2numpy(reference("lemma.marginal_mean", model), float), device=device)
    marg_cov = torch.tensor(sp.matrix2numpy(reference("lemma.marginal_cov", model), float), device=device)
    post_cov = torch.tensor(sp.matrix2numpy(reference("lemma.posterior_cov", model), float), device=device)
    # m(y) is affine in y: read its matrix and offset off the symbolic reference.
    m_sym = reference("lemma.posterior_mean", model)
    ys = [sp.Symbol(f"y{i}") for i in range(N)]
    gain = torch.tensor(sp.matrix2numpy(m_sym.jacobian(ys), float), device=device)
    offset = torch.tensor(sp.matrix2numpy(m_sym.subs({s: 0 for s in ys}), float), device=device)
    pairs = [(i, j) for i in range(N) for j in range(i, N)]

    def draw(n, gen):
        # x = mu + Cx eps, y = A x + b + Cn eps', one contiguous row per coordinate
        x = affine_columns(Cx, torch.randn(N, n, generator=gen, device=device, dtype=torch.float64), dev["mu"])
        y = affine_columns(dev["A"], x, dev["b"])
        y = [yi.add_(noise) for yi, noise in zip(y, affine_columns(
            Cn, torch.randn(N, n, generator=gen, device=device, dtype=torch.float64)))]
        m = affine_columns(gain, y, offset)
        r = [xi.sub_(mi) for xi, mi in zip(x, m)]
        dy = [yi - c for yi, c in zip(y, marg_mean[:, 0].tolist())]
        return (y + [dy[i] * dy[j] for i, j in pairs] + r + [r[i] * r[j] for i, j in pairs]
                + [r[i] * dy[j] for i in range(N) for j in range(N)])

    width = 3 * N + 2 * len(pairs) + N * N
    samples *= SAMPLES
    est, se = stream_mean(draw, samples, device, seed, chunk=default_chunk(device, per_sample=width))
    # sensitivities of the zero rows to a relative error of m(y): E[m] and E[m (y - E y)^T] = G Cov[y]
    m_mean = gain @ marg_mean + offset
    m_y = gain @ marg_cov
    names, expected, scales = [], [], []
    names += [f"E[y_{i}]" for i in range(N)]; expected += marg_mean[:, 0].tolist(); scales += [None] * N
    names += [f"Cov[y_{i}, y_{j}]" for i, j in pairs]; expected += [float(marg_cov[i, j]) for i, j in pairs]
    scales += [None] * len(pairs)
    names += [f"E[x - m(y)]_{i}" for i in range(N)]; expected += [0.0] * N; scales += m_mean[:, 0].tolist()
    names += [f"Cov[x | y]_{i}{j}" for i, j in pairs]; expected += [float(post_cov[i, j]) for i, j in pairs]
    scales += [None] * len(pairs)
    names += [f"E[(x - m(y))_{i} y_{j}]" for i in range(N) for j in range(N)]; expected += [0.0] * N * N
    scales += [float(m_y[i, j]) for i in range(N) for j in range(N)]
    return [Measurement(name, e, x, s, samples, scale=c) for name, e, x, s, c in zip(names, est, expected, se, scales)]
