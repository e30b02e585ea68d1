"""Numeric cross-checks of Q1 (``vae.*``) in a linear-Gaussian VAE, torch, float64.

Mirrors ``derivations/catalogue/vae.py``: the expected values (log p(X), the closed-form ELBO,
KL(q || p(Z|X)) and the exact ELBO gradient) are the symbolic side's closed forms
(``LinearGaussianVAE(2, 2)``, expectations by moments) at the numbers below; the estimates
come from independent torch code (``torch.distributions``, autograd).

Model: Z in R^2, X in R^2, p(Z) = N(mu_z, sigma_z^2 I), p(X|Z) = N(W Z + b, diag(psi)); the
proposal q(Z) = N(mu, diag(sigma^2)) is deliberately not the posterior, so the gap is > 0.

* ``vae.elbo_gap``: the MC ELBO and the MC gap log p(X) - log w match their closed forms; the
  gap equals log q(Z) - log p(Z|X) sample by sample (exact replay, posterior from torch's own
  linear algebra).
* ``vae.jensen``: IWAE_K for K = 1, 5, 50 from the same draws (the first K of 50 weights):
  IWAE_1 = ELBO, ELBO <= IWAE_5 <= IWAE_50 <= log p(X), each within K_SE standard errors. The
  one-sided bounds are backed by two-sided measurements of both ends: the Jensen gap
  log p(X) - IWAE_1 equals KL(q || p(Z|X)) (closed form), and E_q[w] / p(X) = 1 (the
  importance-sampling identity) tests the closed form log p(X) itself. IWAE_1 averages all 50
  log weights of a group (each is an ELBO draw).
* ``vae.reparam``: pathwise and score-function estimators of d ELBO / d(mu, log sigma) agree
  with the exact gradient; ``extra`` gives their raw variances and the ratio Var(score) /
  Var(pathwise). Both are measured with variance reduction that keeps them unbiased: each
  gradient coordinate minus b times the score of q in that same parameter (eps_c / sigma_c or
  eps_c^2 - 1, mean 0; b fitted on an independent pilot stream: for the score-function
  estimator this is the optimal per-coordinate baseline), and the score-function estimator
  on antithetic pairs (eps, -eps). d ELBO / d log sigma_1 is -0.045, near a stationary point,
  so its relative error needs ~10^7 draws: the score-function stream runs at 200x ``samples``
  (about 5 s of CPU), the pathwise one at 10x.

Two torch implementations, one checking the other: ``LinearGaussian`` evaluates densities with
``torch.distributions`` and gradients with autograd; ``Streams`` writes the same log weight and
per-sample gradients out coordinate by coordinate (a few fused element-wise passes per random
number, the Monte Carlo hot loop). Each check replays 4096 draws through both and requires them
to agree to 1e-10, so the fast path is trusted only as far as the slow one confirms it.
"""
from __future__ import annotations

import functools
import math

import sympy as sp
import torch

from derivations.symbols import as_expr

from derivations.catalogue import vae as sym
from derivations.expectation import E_exp

from .core import Measurement, affine_columns, default_chunk, fit_controls, numeric_check, stream_mean

DTYPE = torch.float64
R = sp.Rational
MODEL = {"W": [[R(6, 5), R(-1, 2)], [R(3, 10), R(4, 5)]], "b": [R(1, 10), R(-1, 5)], "psi": [R(1, 2), R(3, 10)],
         "mu_z": [0, R(1, 2)], "sigma_z": 1, "X": [R(3, 2), R(-7, 10)]}
PROPOSAL = {"mu": [R(3, 5), R(-1, 10)], "sigma": [R(1, 2), R(7, 10)]}
IWAE_K = (1, 5, 50)
GROUPS_PER_SAMPLE = 10           # IWAE: samples // 10 groups of 50 weights each
ELBO_SAMPLES = 4                 # vae.elbo_gap draws 4 x samples (the KL gap's SE: 0.3% of its value)
PATHWISE_SAMPLES = 10            # vae.reparam: pathwise (and raw) stream at 10 x samples
SCORE_SAMPLES = 200              # vae.reparam: antithetic score-function stream at 200 x samples
PILOT = 1 << 16                  # draws that fit the control-variate coefficients (own seed)


# --------------------------------------------------------------------------- symbolic side
@functools.cache
def closed_forms() -> dict:
    """log p(X), ELBO, KL(q || p(Z|X)) and d ELBO / d(mu, log sigma) from the derivation's family."""
    fam = sym.LinearGaussianVAE(2, 2)
    model = {fam.sigma_z: MODEL["sigma_z"]}
    for r in range(2):
        model.update({fam.X[r]: MODEL["X"][r], fam.b[r]: MODEL["b"][r], fam.psi[r]: MODEL["psi"][r],
                      fam.mu_z[r]: MODEL["mu_z"][r]})
        model.update({fam.W[r, c]: MODEL["W"][r][c] for c in range(2)})
    proposal = {**dict(zip(fam.mu, PROPOSAL["mu"])), **dict(zip(fam.sigma, PROPOSAL["sigma"]))}
    elbo = E_exp(fam.log_weight.xreplace(model), *fam.q)
    kl = E_exp((fam.logq - fam.logpost).xreplace(model), *fam.q)
    # d/d log sigma = sigma d/d sigma
    grad = [sp.diff(elbo, m) for m in fam.mu] + [s * sp.diff(elbo, s) for s in fam.sigma]
    value = lambda e: float(sp.N(as_expr(e).xreplace(proposal), 30))  # noqa: E731
    return {"log_evidence": value(fam.log_evidence.xreplace(model)), "elbo": value(elbo), "kl": value(kl),
            "grad": [value(gk) for gk in grad]}


# --------------------------------------------------------------------------- torch side
def _t(values, device):
    return torch.tensor([[float(v) for v in row] for row in values] if isinstance(values[0], list)
                        else [float(v) for v in values], dtype=DTYPE, device=device)


class LinearGaussian:
    """The model and proposal as tensors; every density through ``torch.distributions``."""

    def __init__(self, device: str):
        self.W, self.b, self.psi = _t(MODEL["W"], device), _t(MODEL["b"], device), _t(MODEL["psi"], device)
        self.mu_z, self.sigma_z = _t(MODEL["mu_z"], device), float(MODEL["sigma_z"])
        self.X = _t(MODEL["X"], device)
        self.mu, self.log_sigma = _t(PROPOSAL["mu"], device), _t(PROPOSAL["sigma"], device).log()

    def log_joint(self, z):
        lik = torch.distributions.Normal(z @ self.W.T + self.b, self.psi.sqrt()).log_prob(self.X).sum(-1)
        return lik + torch.distributions.Normal(self.mu_z, self.sigma_z).log_prob(z).sum(-1)

    def log_q(self, z, mu=None, log_sigma=None):
        mu = self.mu if mu is None else mu
        log_sigma = self.log_sigma if log_sigma is None else log_sigma
        return torch.distributions.Normal(mu, log_sigma.exp()).log_prob(z).sum(-1)

    def sample_q(self, n, gen):
        eps = torch.randn(n, 2, generator=gen, dtype=DTYPE, device=self.X.device)
        return self.mu + self.log_sigma.exp() * eps, eps

    def log_evidence(self):
        cov = self.sigma_z**2 * self.W @ self.W.T + torch.diag(self.psi)
        return torch.distributions.MultivariateNormal(self.W @ self.mu_z + self.b, cov).log_prob(self.X)

    def posterior(self):
        precision = torch.eye(2, dtype=DTYPE, device=self.X.device) / self.sigma_z**2 \
            + self.W.T @ torch.diag(1 / self.psi) @ self.W
        cov = torch.linalg.inv(precision)
        mean = cov @ (self.W.T @ ((self.X - self.b) / self.psi) + self.mu_z / self.sigma_z**2)
        return torch.distributions.MultivariateNormal(mean, cov)


class Streams:
    """The log weight log p(X, Z) - log q(Z) and its gradients, written out for the MC streams.

    Coordinates are separate contiguous rows (eps is drawn as [m, n]), so every operation is an
    element-wise pass over n numbers and nothing is broadcast, stacked or matrix-multiplied.
    With z = mu + sigma eps: log w = c - 1/2 sum_r (X_r - (W z + b)_r)^2 / psi_r
    - 1/2 |z - mu_z|^2 / sigma_z^2 + 1/2 |eps|^2, and the gradient of log p(X, z) in z is
    g = W^T Psi^{-1} (X - W z - b) - (z - mu_z) / sigma_z^2.
    """

    def __init__(self, model: LinearGaussian):
        f = lambda t: t.tolist()  # noqa: E731
        self.W, self.b, self.psi, self.X = f(model.W), f(model.b), f(model.psi), f(model.X)
        self.mu_z, self.sz2 = f(model.mu_z), model.sigma_z ** 2
        self.mu, self.sigma = f(model.mu), f(model.log_sigma.exp())
        self.device = model.X.device
        m, k = len(self.mu), len(self.X)
        self.const = (-0.5 * sum(math.log(2 * math.pi * p) for p in self.psi)
                      - 0.5 * m * math.log(2 * math.pi * self.sz2) + sum(math.log(s) for s in self.sigma)
                      + 0.5 * m * math.log(2 * math.pi))
        self.rows = range(k)

    def eps(self, n: int, gen: torch.Generator) -> torch.Tensor:
        return torch.randn(len(self.mu), n, generator=gen, dtype=DTYPE, device=self.device)

    def z(self, eps: torch.Tensor) -> list[torch.Tensor]:
        return [(e * s).add_(mu) for mu, s, e in zip(self.mu, self.sigma, eps)]

    def residuals(self, z: list[torch.Tensor]) -> list[torch.Tensor]:
        """(X - W z - b)_r / psi_r for each data coordinate r."""
        scaled = [[-w / p for w in row] for row, p in zip(self.W, self.psi)]
        return affine_columns(scaled, z, [(x - b) / p for x, b, p in zip(self.X, self.b, self.psi)])

    def log_w(self, eps: torch.Tensor, z=None, res=None) -> torch.Tensor:
        z = self.z(eps) if z is None else z
        res = self.residuals(z) if res is None else res
        total = torch.full_like(eps[0], self.const)
        for r in self.rows:
            total.addcmul_(res[r], res[r], value=-0.5 * self.psi[r])
        for c, zc in enumerate(z):
            total.addcmul_(zc - self.mu_z[c], zc - self.mu_z[c], value=-0.5 / self.sz2)
            total.addcmul_(eps[c], eps[c], value=0.5)
        return total

    def grad_log_joint(self, z, res) -> list[torch.Tensor]:
        m = len(z)
        rows = [[-(c == j) / self.sz2 for j in range(m)] + [self.W[r][c] for r in self.rows] for c in range(m)]
        return affine_columns(rows, z + res, [mu / self.sz2 for mu in self.mu_z])

    def gradients(self, eps: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Per-sample pathwise and score-function estimates of d ELBO / d(mu, log sigma).

        Pathwise: d/d mu_c = g_c and d/d log sigma_c = g_c sigma_c eps_c + 1 (log q along the
        path is -sum log sigma - |eps|^2/2 + const). Score function: log w times d log q(z)/d(mu, log sigma)
        at the fixed draw, eps_c / sigma_c and eps_c^2 - 1.
        """
        z = self.z(eps)
        res = self.residuals(z)
        f = self.log_w(eps, z, res)
        g = self.grad_log_joint(z, res)
        pathwise = g + [(gc * e).mul_(s).add_(1.0) for gc, s, e in zip(g, self.sigma, eps)]
        score = [(f * e).mul_(1 / s) for s, e in zip(self.sigma, eps)] + [(e * e).sub_(1.0).mul_(f) for e in eps]
        return pathwise, score

    def q_scores(self, eps: torch.Tensor) -> list[torch.Tensor]:
        """d log q(z) / d(mu, log sigma) at a fixed draw: eps_c / sigma_c, then eps_c^2 - 1 (mean 0)."""
        return [e * (1 / s) for s, e in zip(self.sigma, eps)] + [(e * e).sub_(1.0) for e in eps]

    def score_antithetic(self, eps: torch.Tensor) -> list[torch.Tensor]:
        """The score-function estimator averaged over the antithetic pair (eps, -eps).

        The score in mu_c is odd in eps and the one in log sigma_c even, so the pair's average is
        (f(eps) - f(-eps))/2 eps_c / sigma_c and (f(eps) + f(-eps))/2 (eps_c^2 - 1).
        """
        plus, minus = self.log_w(eps), self.log_w(-eps)
        odd, even = (plus - minus).mul_(0.5), plus.add_(minus).mul_(0.5)
        return [(odd * e).mul_(1 / s) for s, e in zip(self.sigma, eps)] + [(e * e).sub_(1.0).mul_(even) for e in eps]


@numeric_check("vae.elbo_gap", seed=501)
def elbo_gap(samples, device, seed):
    m, exact = LinearGaussian(device), closed_forms()
    fast = Streams(m)
    log_px = float(m.log_evidence())

    def draw(n, gen):
        log_w = fast.log_w(fast.eps(n, gen))
        return [log_w, log_px - log_w]

    samples *= ELBO_SAMPLES
    (elbo, gap), (se_elbo, se_gap) = stream_mean(draw, samples, device, seed)
    z, _ = m.sample_q(4096, torch.Generator(device=device).manual_seed(seed))
    replay = ((log_px - (m.log_joint(z) - m.log_q(z))) - (m.log_q(z) - m.posterior().log_prob(z))).abs().max()
    return [replay_log_w(m, fast, seed),
        Measurement("log p(X): torch MultivariateNormal vs the lemma's closed form", log_px, exact["log_evidence"],
                    kind="exact", tolerance=1e-12),
        Measurement("ELBO = E_q[log p(X,Z) - log q(Z)]", elbo, exact["elbo"], se_elbo, samples),
        Measurement("log p(X) - ELBO (MC) vs KL(q || p(Z|X)) (closed form)", gap, exact["kl"], se_gap, samples,
                    extra={"kl": exact["kl"]}),
        Measurement("max |(log p(X) - log w) - (log q - log p(Z|X))| over 4096 draws", float(replay), 0.0,
                    kind="exact", tolerance=1e-10),
    ]


def replay_log_w(m: LinearGaussian, fast: Streams, seed: int) -> Measurement:
    """The written-out log weight against torch.distributions on the same 4096 draws."""
    eps = fast.eps(4096, torch.Generator(device=m.X.device).manual_seed(seed))
    z = m.mu + m.log_sigma.exp() * eps.T
    slow = m.log_joint(z) - m.log_q(z)
    return Measurement("max |written-out - torch.distributions| log p(X,Z) - log q(Z) over 4096 draws",
                       float((fast.log_w(eps) - slow).abs().max()), 0.0, kind="exact", tolerance=1e-10)


def _log_mean_exp(log_w):
    return torch.logsumexp(log_w, dim=-1) - math.log(log_w.shape[-1])


@numeric_check("vae.jensen", seed=502)
def iwae_bounds(samples, device, seed):
    m, exact = LinearGaussian(device), closed_forms()
    k_max, groups = max(IWAE_K), max(samples // GROUPS_PER_SAMPLE, 100)
    log_p = exact["log_evidence"]

    fast = Streams(m)

    def draw(n, gen):
        log_w = fast.log_w(fast.eps(n * k_max, gen)).reshape(n, k_max)
        bounds = [_log_mean_exp(log_w[:, :k]) if k > 1 else log_w[:, 0] for k in IWAE_K]
        return (bounds + [hi - lo for lo, hi in zip(bounds, bounds[1:])]
                + [log_w.mean(1), (log_w - log_p).exp_().mean(1)])

    means, ses = stream_mean(draw, groups, device, seed, chunk=default_chunk(device, per_sample=k_max))
    elbo, ratio = len(means) - 2, len(means) - 1
    found = [replay_log_w(m, fast, seed),
             Measurement(f"IWAE_1 = ELBO (all {k_max} log weights of a group)", means[elbo], exact["elbo"],
                         ses[elbo], groups * k_max),
             Measurement("Jensen gap log p(X) - IWAE_1 vs KL(q || p(Z|X)) (closed forms)", log_p - means[elbo],
                         exact["kl"], ses[elbo], groups * k_max),
             # E_q[w] = p(X): the upper end of the bounds, two-sided. A relative error delta of the
             # closed form log p(X) moves this mean to exp(-delta log p(X)) ~ 1 - delta log p(X).
             Measurement("E_q[w] / p(X) = 1 (w = p(X, Z)/q(Z); tests the closed form log p(X))", means[ratio], 1.0,
                         ses[ratio], groups * k_max, scale=abs(log_p))]
    for i, k in enumerate(IWAE_K):
        if k > 1:
            found.append(Measurement(f"IWAE_{k} >= ELBO", means[i], exact["elbo"], ses[i], groups, relation=">="))
        found.append(Measurement(f"IWAE_{k} <= log p(X)", means[i], log_p, ses[i], groups,
                                 relation="<=", extra={"gap_to_log_p": log_p - means[i]}))
    for j, (lo, hi) in enumerate(zip(IWAE_K, IWAE_K[1:])):
        v = len(IWAE_K) + j
        found.append(Measurement(f"IWAE_{hi} - IWAE_{lo} >= 0 (same draws)", means[v], 0.0, ses[v], groups,
                                 relation=">="))
    return found


def _per_sample_grads(m: LinearGaussian, eps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Pathwise and score-function estimates of d ELBO / d(mu, log sigma), one row per draw."""
    n = len(eps)
    mu = m.mu.expand(n, 2).clone().requires_grad_(True)
    log_sigma = m.log_sigma.expand(n, 2).clone().requires_grad_(True)
    z = mu + log_sigma.exp() * eps                       # pathwise: z moves with (mu, log sigma)
    (m.log_joint(z) - m.log_q(z, mu, log_sigma)).sum().backward()
    pathwise = torch.cat([mu.grad, log_sigma.grad], 1)
    mu2 = m.mu.expand(n, 2).clone().requires_grad_(True)
    log_sigma2 = m.log_sigma.expand(n, 2).clone().requires_grad_(True)
    z = z.detach()                                      # score function: z is a fixed draw
    f = (m.log_joint(z) - m.log_q(z)).detach()
    m.log_q(z, mu2, log_sigma2).sum().backward()
    score = f[:, None] * torch.cat([mu2.grad, log_sigma2.grad], 1)
    return pathwise, score


@numeric_check("vae.reparam", seed=503)
def gradient_estimators(samples, device, seed):
    m, exact = LinearGaussian(device), closed_forms()
    fast = Streams(m)

    def pilot_pathwise(n, gen):
        eps = fast.eps(n, gen)
        return fast.gradients(eps)[0], fast.q_scores(eps)

    def pilot_score(n, gen):
        eps = fast.eps(n, gen)
        return fast.score_antithetic(eps), fast.q_scores(eps)

    b_path = fit_controls(pilot_pathwise, PILOT, device, seed + 1)
    b_score = fit_controls(pilot_score, PILOT, device, seed + 2)

    def reduced(columns, scores, b):
        return [y.sub_(h, alpha=bk) for y, h, bk in zip(columns, scores, b)]

    def draw_pathwise(n, gen):
        eps = fast.eps(n, gen)
        pathwise, score = fast.gradients(eps)
        return reduced([p.clone() for p in pathwise], fast.q_scores(eps), b_path) + pathwise + score

    def draw_score(n, gen):
        eps = fast.eps(n, gen)
        return reduced(fast.score_antithetic(eps), fast.q_scores(eps), b_score)

    n_path, n_score = PATHWISE_SAMPLES * samples, SCORE_SAMPLES * samples
    width = 3 * 2 * len(fast.mu)            # (reduced pathwise, raw pathwise, raw score) x (mu, log sigma)
    means, ses = stream_mean(draw_pathwise, n_path, device, seed, chunk=default_chunk(device, per_sample=width))
    s_means, s_ses = stream_mean(draw_score, n_score, device, seed + 3,
                                 chunk=default_chunk(device, per_sample=2 * len(fast.mu)))
    eps = fast.eps(4096, torch.Generator(device=device).manual_seed(seed))
    with torch.enable_grad():
        auto = torch.cat(_per_sample_grads(m, eps.T.contiguous()), 1)
    written = torch.stack(sum(fast.gradients(eps), []), 1)
    replay = Measurement("max |written-out - autograd| per-sample gradients over 4096 draws",
                         float((written - auto).abs().max()), 0.0, kind="exact", tolerance=1e-10)
    names = ["mu_1", "mu_2", "log sigma_1", "log sigma_2"]
    var = [se ** 2 * n_path for se in ses]           # the stream's sample variance of each column
    var_score = [se ** 2 * n_score for se in s_ses]
    found = [replay]
    for i, name in enumerate(names):
        raw_path, raw_score = var[4 + i], var[8 + i]
        extra = {"var_pathwise": raw_path, "var_score": raw_score, "var_ratio_score_over_pathwise": raw_score / raw_path,
                 "var_pathwise_reduced": var[i], "var_score_reduced": var_score[i],
                 "cv_coefficient_pathwise": b_path[i], "cv_coefficient_score": b_score[i],
                 "raw_pathwise": means[4 + i], "raw_score": means[8 + i],
                 "variance_reduction": "control: the score of q in the same parameter, coefficient from a "
                                       f"{PILOT}-draw pilot; score function also on antithetic pairs (eps, -eps)"}
        found.append(Measurement(f"pathwise d ELBO / d {name}", means[i], exact["grad"][i], ses[i], n_path,
                                 extra=extra))
        found.append(Measurement(f"score-function d ELBO / d {name}", s_means[i], exact["grad"][i], s_ses[i],
                                 n_score, extra=extra))
    return found
