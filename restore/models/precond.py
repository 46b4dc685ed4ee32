"""Preconditioning: from a raw network F to a denoiser D(x, σ) (Karras et al. 2022, Table 1).

    D(x, σ) = c_skip(σ)·x + c_out(σ)·F(c_in(σ)·x, c_noise(σ))

in the network's data units ([-1, 1] here). Two parameterisations:

- ``edm``:  c_skip = σ_d²/(σ²+σ_d²), c_out = σ·σ_d/√(σ²+σ_d²), c_in = 1/√(σ²+σ_d²), c_noise = ¼ ln σ.
  Training loss  λ(σ)‖D − x₀‖²  with λ = 1/c_out², i.e. ‖F − (x₀ − c_skip x)/c_out‖².
- ``eps`` (DDPM):  c_skip = 1, c_out = −σ, c_in = 1/√(1+σ²), c_noise = ¼ ln σ.  F is the ε-prediction
  of the VP state x_t = x/√(1+σ²) (ᾱ = 1/(1+σ²)), and the loss ‖F − ε‖² is DDPM's simple loss.

Either way the result is a score model: ∇log p_σ(x) = (D(x, σ) − x)/σ², ε̂ = (x − D)/σ.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn


class Preconditioned(nn.Module):
    """D(x, σ) = c_skip x + c_out F(c_in x, c_noise) around a network ``net(x, c_noise)``."""

    def __init__(self, net: nn.Module, kind: str = "edm", sigma_data: float = 0.5):
        super().__init__()
        if kind not in ("edm", "eps"):
            raise ValueError(f"unknown preconditioning {kind!r} (expected 'edm' or 'eps')")
        self.net = net
        self.kind = kind
        self.sigma_data = float(sigma_data)

    def coefficients(self, sigma: Tensor):
        """(c_skip, c_out, c_in, c_noise) for σ of shape (B, 1, 1, 1)."""
        sd = self.sigma_data
        if self.kind == "edm":
            c_skip = sd**2 / (sigma**2 + sd**2)
            c_out = sigma * sd / (sigma**2 + sd**2).sqrt()
            c_in = 1 / (sigma**2 + sd**2).sqrt()
        else:
            c_skip = torch.ones_like(sigma)
            c_out = -sigma
            c_in = 1 / (sigma**2 + 1).sqrt()
        c_noise = sigma.log().reshape(-1) / 4
        return c_skip, c_out, c_in, c_noise

    def forward(self, x: Tensor, sigma: Tensor) -> Tensor:
        c_skip, c_out, c_in, c_noise = self.coefficients(sigma)
        out = self.net((c_in * x).to(x.dtype), c_noise)
        return c_skip * x + c_out * out.to(x.dtype)

    def loss(self, x0: Tensor, sigma: Tensor, noise: Tensor) -> Tensor:
        """Per-image training loss (B,): ‖F − target‖² averaged over pixels.

        edm: target = (x₀ − c_skip·x)/c_out;  eps: target = ε  (x = x₀ + σ ε).
        """
        x = x0 + sigma * noise
        c_skip, c_out, c_in, c_noise = self.coefficients(sigma)
        out = self.net(c_in * x, c_noise).float()
        if self.kind == "edm":
            target = (x0 - c_skip * x) / c_out
        else:
            target = noise
        return ((out - target.float()) ** 2).mean(dim=(1, 2, 3))
