"""The training objective: which noise levels a batch sees, and the per-image loss as a module.

Loss (per image, see `restore.models.precond`):  E_σ E_{x₀,ε} ‖F_θ(c_in(x₀+σε), c_noise) − target‖².
With ``objective="eps"`` this is DDPM's simple loss ‖ε − ε_θ(x_t, t)‖² with t uniform on the
1000-step linear-β table; with ``objective="edm"`` ln σ ~ N(P_mean, P_std²) (Karras et al. 2022)
mixed with a log-uniform tail on [σ_min, σ_max] so every level is visited.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def sample_sigma(cfg, n: int, gen: torch.Generator, alpha_bar=None) -> Tensor:
    """Noise levels in [-1, 1] units for one batch (drawn on the CPU generator ``gen``)."""
    if cfg.objective == "eps":
        t = torch.randint(len(alpha_bar), (n,), generator=gen)
        ab = alpha_bar[t]
        return ((1 - ab) / ab).sqrt()
    ln = cfg.p_mean + cfg.p_std * torch.randn(n, generator=gen)
    tail = math.log(cfg.sigma_min) + torch.rand(n, generator=gen) * math.log(cfg.sigma_max / cfg.sigma_min)
    use_tail = torch.rand(n, generator=gen) < cfg.tail_prob
    return torch.where(use_tail, tail, ln).exp().clamp(cfg.sigma_min, cfg.sigma_max)


def linear_alpha_bar(T: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02) -> Tensor:
    """ᾱ_t = Π_{s≤t}(1 − β_s) for DDPM's linear β schedule."""
    return torch.cumprod(1 - torch.linspace(beta_start, beta_end, T, dtype=torch.float64), 0).float()


class DenoisingLoss(nn.Module):
    """``forward(x₀, σ, ε)`` = the per-image loss of a `Preconditioned` model, (B,).

    A module of its own so that DistributedDataParallel (whose gradient hooks arm in ``forward``)
    and ``torch.compile`` wrap the training computation, not the denoiser used for validation.
    """

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x0: Tensor, sigma: Tensor, noise: Tensor) -> Tensor:
        return self.model.loss(x0, sigma, noise)
