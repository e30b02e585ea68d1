"""Posterior collapse in a two-level VAE, as code: the statistic that detects it and the two
training objectives that the seed (Q2(c)) proposes against it.

* ``active_units``: Burda et al. (2016, sec. 5.2): a latent coordinate u is active when
  Cov_x(E_{q(u|x)}[u]) > 0.01 -- its posterior mean moves with the data.
* ``kl_weight``: KL annealing (Bowman et al. 2016): the KL term of the ELBO is multiplied by a
  weight that rises linearly from 0 to 1 over a warm-up, so reconstruction is learned first.
* ``free_bits_kl``: free bits (Kingma et al. 2016, eq. 15): the KL of each latent coordinate,
  averaged over the batch, is replaced by max(lambda, KL_j); below lambda nats a coordinate
  is no longer pushed towards the prior.

The functions take torch tensors and know nothing of the model that made them.
"""
from __future__ import annotations

import torch

ACTIVE_THRESHOLD = 0.01


def active_units(posterior_means: torch.Tensor, threshold: float = ACTIVE_THRESHOLD) -> tuple[int, list[float]]:
    """(number of active coordinates, Cov_x of each) from E_{q(u|x)}[u], one row per data point."""
    spread = posterior_means.double().var(dim=0, unbiased=True)
    return int((spread > threshold).sum()), spread.tolist()


def kl_weight(step: int, warmup_steps: int) -> float:
    """Linear KL annealing: 0 at step 0, 1 from ``warmup_steps`` on."""
    if warmup_steps <= 0:
        return 1.0
    return min(1.0, step / warmup_steps)


def free_bits_kl(kl_per_coordinate: torch.Tensor, nats: float) -> torch.Tensor:
    """sum_j max(nats, mean_batch KL_j): the free-bits replacement of the KL term.

    ``kl_per_coordinate`` has shape [batch, coordinates]."""
    return kl_per_coordinate.mean(dim=0).clamp_min(nats).sum()


def gauss_kl_std(mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, exp(log_var)) || N(0, 1)) per coordinate (vae.gauss_kl_1d with mu_z = 0, sigma_z = 1)."""
    return 0.5 * (log_var.exp() + mean**2 - 1 - log_var)
