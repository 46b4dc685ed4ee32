"""The identity operator 𝒜x = x (denoising): 𝒜ᵀ = 𝒜† = I, s = 1, prox = (y/σ² + ρz)/(1/σ² + ρ)."""
from __future__ import annotations

import torch

from .base import LinearOperator, per_image
from .svd import SVD


class IdentitySVD(SVD):
    """U = V = I, s = 1."""

    def Vt(self, x):
        return x

    def V(self, c):
        return c

    def Ut(self, y):
        return y

    def U(self, c):
        return c

    def singular_values(self, shape, device=None, dtype=torch.float32):
        return torch.ones((1,) * len(shape), device=device, dtype=dtype)


class Identity(LinearOperator):
    """𝒜x = x."""

    task = "denoise"
    is_identity = True

    def forward(self, x):
        return x

    def adjoint(self, y):
        return y

    def pinv(self, y):
        return y

    def normal(self, x):
        return x

    @property
    def svd(self):
        return IdentitySVD()

    def prox(self, z, y, sigma, rho):
        """x = (y + λz)/(1 + λ), λ = ρσ² (σ = 0 gives y)."""
        lam = per_image(rho, z) * per_image(sigma, z) ** 2
        return (y + lam * z) / (1 + lam)
