"""Noise schedules in float64, built in one place (as in denoising-diffusion-pytorch)."""
from __future__ import annotations

import torch


def linear_abar(T: int, beta_1: float = 1e-4, beta_T: float = 0.02) -> torch.Tensor:
    """abar_t = prod_{s <= t} (1 - beta_s) for DDPM's linear beta schedule (Ho et al. 2020, Sec. 4)."""
    betas = torch.linspace(beta_1, beta_T, T, dtype=torch.float64)
    return torch.cumprod(1 - betas, 0)


def sigma_eta(abar: torch.Tensor, abar_prev: torch.Tensor, eta: float) -> torch.Tensor:
    """DDIM eq. (16): eta * sqrt((1 - abar_prev)/(1 - abar)) * sqrt(1 - abar/abar_prev)."""
    return eta * ((1 - abar_prev) / (1 - abar)).sqrt() * (1 - abar / abar_prev).sqrt()
