"""Numeric cross-checks of Q2 (``hvae.*``), torch.

* ``hvae.collapse``: a two-level VAE trained for a few seconds on CPU with a fixed seed, three
  times (plain ELBO, KL annealing, free bits); active units and KL(q(z2|z1) || p(z2)) of the top
  latent after training.
* ``hvae.elbo`` / ``hvae.invalid_kl_step``: Monte Carlo in the scalar linear-Gaussian HVAE of
  ``derivations.catalogue.hvae`` -- the ELBO estimate matches its closed form and stays below
  log p(x); at the counterexample that the derivation finds, both sides of the seed's equality
  are estimated by sampling and each matches its own closed form, so the two differ.

Collapse set-up (why it collapses): the data are one Gaussian factor in 8 dimensions and the
lower level (linear encoder q(z1|x) with one global variance, linear decoder p(x|z1)) is
probabilistic PCA, which models such data exactly with a Gaussian p(z1). So the decoder does
not need z2, and every nat that q(z2|z1) spends is a loss: the plain ELBO drives the top KL
to about 0. The top level (q(z2|z1), p(z1|z2)) is a small tanh MLP with per-sample variances.
KL annealing weights the top KL term by ``kl_weight`` (0 -> 1 over the first half of training);
free bits replaces it by ``free_bits_kl`` with FREE_NATS per coordinate. What is asserted:
plain -> 0 active units and top KL <= PLAIN_KL_MAX; annealing and free bits -> at least one
active unit and a top KL of at least ACTIVE_KL_MIN nats. Not asserted: that the remedies give
a better ELBO (here they do not, since z2 is useless at the optimum; the figures are reported).
"""
from __future__ import annotations

import math
import time

import torch

from derivations.collapse import active_units, free_bits_kl, gauss_kl_std, kl_weight

from .core import Measurement, numeric_check

N_DATA, DATA_DIM, Z1_DIM, Z2_DIM, HIDDEN = 256, 8, 1, 2, 16
STEPS, LEARNING_RATE, FREE_NATS = 800, 3e-3, 0.25
EVAL_SAMPLES = 64              # z1 ~ q(z1|x) draws per data point when measuring
PLAIN_KL_MAX = 0.05            # nats: "collapsed"
ACTIVE_KL_MIN = 0.4            # nats: "in use"
OBJECTIVES = ("plain", "annealing", "free_bits")


def one_factor_data(seed: int) -> torch.Tensor:
    """x = s a^T + 0.1 noise, s ~ N(0, 1): Gaussian data of rank one plus isotropic noise."""
    g = torch.Generator().manual_seed(seed)
    s = torch.randn(N_DATA, 1, generator=g, dtype=torch.float64)
    a = torch.randn(1, DATA_DIM, generator=g, dtype=torch.float64)
    return (s @ a + 0.1 * torch.randn(N_DATA, DATA_DIM, generator=g, dtype=torch.float64)).float()


def log_normal(x, mean, log_var):
    return -0.5 * ((x - mean) ** 2 / log_var.exp() + log_var + math.log(2 * math.pi))


class TwoLevelVAE(torch.nn.Module):
    """p(x|z1) p(z1|z2) p(z2) with q(z1|x) q(z2|z1); see the module docstring."""

    def __init__(self):
        super().__init__()
        mlp = lambda i, o: torch.nn.Sequential(torch.nn.Linear(i, HIDDEN), torch.nn.Tanh(),  # noqa: E731
                                               torch.nn.Linear(HIDDEN, o))
        self.q_z1_mean = torch.nn.Linear(DATA_DIM, Z1_DIM)
        self.q_z1_log_var = torch.nn.Parameter(torch.zeros(Z1_DIM))
        self.p_x_mean = torch.nn.Linear(Z1_DIM, DATA_DIM)
        self.p_x_log_var = torch.nn.Parameter(torch.zeros(DATA_DIM))
        self.q_z2 = mlp(Z1_DIM, 2 * Z2_DIM)
        self.p_z1 = mlp(Z2_DIM, 2 * Z1_DIM)

    def terms(self, x):
        """One-sample terms per data point: log p(x|z1), log q(z1|x) - log p(z1|z2), KL_j(q(z2|z1) || p(z2))."""
        m1, lv1 = self.q_z1_mean(x), self.q_z1_log_var.expand(len(x), Z1_DIM)
        z1 = m1 + (0.5 * lv1).exp() * torch.randn_like(m1)
        m2, lv2 = self.q_z2(z1).chunk(2, -1)
        z2 = m2 + (0.5 * lv2).exp() * torch.randn_like(m2)
        pm1, plv1 = self.p_z1(z2).chunk(2, -1)
        reconstruction = log_normal(x, self.p_x_mean(z1), self.p_x_log_var).sum(-1)
        middle = (log_normal(z1, m1, lv1) - log_normal(z1, pm1, plv1)).sum(-1)
        return reconstruction, middle, gauss_kl_std(m2, lv2)


def train(objective: str, x: torch.Tensor, seed: int) -> TwoLevelVAE:
    torch.manual_seed(seed)
    model = TwoLevelVAE()
    opt = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    for step in range(STEPS):
        reconstruction, middle, kl_top = model.terms(x)
        if objective == "plain":
            top = kl_top.sum(-1).mean()
        elif objective == "annealing":
            top = kl_weight(step, STEPS // 2) * kl_top.sum(-1).mean()
        else:
            top = free_bits_kl(kl_top, FREE_NATS)
        loss = -(reconstruction.mean() - middle.mean()) + top
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model


@torch.no_grad()
def measure(model: TwoLevelVAE, x: torch.Tensor, seed: int) -> dict:
    """Active units of z2 (posterior means E_{q(z2|x)}[z2] by averaging over z1 ~ q(z1|x)),
    the top KL E_x E_{q(z1|x)} KL(q(z2|z1) || p(z2)) and the plain ELBO, over EVAL_SAMPLES draws."""
    torch.manual_seed(seed)
    means, kls, elbos = [], [], []
    for _ in range(EVAL_SAMPLES):
        m1, lv1 = model.q_z1_mean(x), model.q_z1_log_var.expand(len(x), Z1_DIM)
        z1 = m1 + (0.5 * lv1).exp() * torch.randn_like(m1)
        means.append(model.q_z2(z1).chunk(2, -1)[0])
        reconstruction, middle, kl_top = model.terms(x)
        kls.append(kl_top.sum(-1))
        elbos.append(reconstruction - middle - kl_top.sum(-1))
    au, spread = active_units(torch.stack(means).mean(0))
    return {"active_units": au, "cov_of_means": [round(v, 5) for v in spread],
            "kl_top": float(torch.stack(kls).mean()), "elbo": float(torch.stack(elbos).mean())}


def run_collapse(seed: int) -> dict[str, dict]:
    """Train with each objective; figures per objective (the same data, initialisation and noise)."""
    x = one_factor_data(seed)
    results = {}
    for objective in OBJECTIVES:
        started = time.process_time()
        model = train(objective, x, seed)
        results[objective] = {**measure(model, x, seed + 1), "cpu_seconds": round(time.process_time() - started, 2)}
    return results


@numeric_check("hvae.collapse", seed=0)
def collapse(samples, device, seed):
    """``samples`` and ``device`` are not used: training is a fixed CPU recipe."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)     # a model this small runs fastest (and reproducibly) on one thread
    try:
        with torch.random.fork_rng():
            figures = run_collapse(seed)
    finally:
        torch.set_num_threads(threads)
    plain, annealing, free_bits = (figures[o] for o in OBJECTIVES)
    extra = {"figures": figures, "steps": STEPS, "free_nats": FREE_NATS, "z2_dim": Z2_DIM}
    return [
        Measurement("plain ELBO: active units of z2", plain["active_units"], 0, kind="exact", extra=extra),
        Measurement("plain ELBO: KL(q(z2|z1) || p(z2)) [nats]", plain["kl_top"], 0.0, kind="exact",
                    tolerance=PLAIN_KL_MAX, relation="<="),
        Measurement("KL annealing: active units of z2", annealing["active_units"], 1, kind="exact", relation=">="),
        Measurement("KL annealing: KL(q(z2|z1) || p(z2)) [nats]", annealing["kl_top"], ACTIVE_KL_MIN,
                    kind="exact", relation=">="),
        Measurement("free bits: active units of z2", free_bits["active_units"], 1, kind="exact", relation=">="),
        Measurement("free bits: KL(q(z2|z1) || p(z2)) [nats]", free_bits["kl_top"], ACTIVE_KL_MIN,
                    kind="exact", relation=">="),
    ]
