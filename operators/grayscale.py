"""Colour to grey: y = Σ_c w_c x_c with ITU-R BT.601 weights w = (0.299, 0.587, 0.114).

Per pixel 𝒜 is the 1×3 row wᵀ, so 𝒜ᵀy = w·y, 𝒜† y = w·y/‖w‖², 𝒜ᵀ𝒜x = w (wᵀx), the SVD has one
singular value ‖w‖ per pixel (V = an orthonormal basis of R³ starting with w/‖w‖), and the prox is
Sherman–Morrison: (wwᵀ + λI)⁻¹ b = (b − w (wᵀb)/(λ + ‖w‖²))/λ, with b = w·y + λz, λ = ρσ²
(λ = 0: the projection z + w (y − wᵀz)/‖w‖²).
"""
from __future__ import annotations

import torch

from .base import LinearOperator, per_image
from .svd import SVD

BT601 = (0.299, 0.587, 0.114)


class GrayscaleSVD(SVD):
    """Per pixel: V = Q (3×3, Q[:, 0] = w/‖w‖), s = (‖w‖, 0, 0), U = 1 on channel 0."""

    def __init__(self, op: "Grayscale"):
        self.op = op

    def _q(self, like):
        dtype = like.real.dtype if like.is_complex() else like.dtype
        return self.op.basis.to(device=like.device, dtype=dtype)

    def Vt(self, x):
        self.op._check(x)
        return torch.einsum("ck,bc...->bk...", self._q(x), x)

    def V(self, c):
        return torch.einsum("ck,bk...->bc...", self._q(c), c)

    def Ut(self, y):
        return torch.cat([y, y.new_zeros(y.shape[0], 2, *y.shape[2:])], dim=1)

    def U(self, c):
        return c[:, :1]

    def singular_values(self, shape, device=None, dtype=torch.float32):
        s = torch.zeros(1, 3, *([1] * (len(shape) - 2)), device=device, dtype=dtype)
        s[0, 0] = float(self.op.weights.norm())
        return s


class Grayscale(LinearOperator):
    """𝒜x = Σ_c w_c x_c: (B, 3, H, W) → (B, 1, H, W)."""

    task = "colorize"

    def __init__(self, weights=BT601):
        w = torch.as_tensor(weights, dtype=torch.float64).reshape(-1)
        if w.numel() != 3 or not bool(torch.isfinite(w).all()) or float(w.norm()) == 0:
            raise ValueError(f"grayscale weights must be 3 finite numbers, not all zero, got {weights}")
        self.weights = w
        q, _ = torch.linalg.qr(torch.stack([w, torch.tensor([0.0, 1, 0]), torch.tensor([0.0, 0, 1])], 1))
        self.basis = q * torch.sign(q[:, :1].T @ w)  # Q[:, 0] = +w/‖w‖ (other columns keep orthonormality)

    def _w(self, x):
        return self.weights.to(device=x.device, dtype=x.dtype).view(1, 3, *([1] * (x.ndim - 2)))

    def _check(self, x):
        if x.ndim < 2 or x.shape[1] != 3:
            raise ValueError(f"grayscale expects 3-channel images (B, 3, H, W), got shape {tuple(x.shape)}")

    def out_shape(self, shape):
        return (shape[0], 1, *shape[2:])

    def forward(self, x):
        self._check(x)
        return (x * self._w(x)).sum(dim=1, keepdim=True)

    def adjoint(self, y):
        return y * self._w(y)

    def pinv(self, y):
        w = self._w(y)
        return y * w / (w * w).sum()

    def warm_start(self, y):
        """The grey picture x_c = y/Σw on every channel (𝒜x = y exactly), not 𝒜†y = w·y/‖w‖², whose
        channels are tinted by the weights."""
        w = self._w(y)
        return (y / w.sum()).expand(y.shape[0], 3, *y.shape[2:]).contiguous()

    @property
    def svd(self):
        return GrayscaleSVD(self)

    def prox(self, z, y, sigma, rho):
        self._check(z)
        w = self._w(z)
        ww = (w * w).sum()
        lam = per_image(rho, z) * per_image(sigma, z) ** 2
        b = y * w + lam * z
        wb = (w * b).sum(dim=1, keepdim=True)
        proj = z + w * (y - (w * z).sum(dim=1, keepdim=True)) / ww
        safe = torch.where(lam > 0, lam, torch.ones_like(lam))
        return torch.where(lam > 0, (b - w * wb / (safe + ww)) / safe, proj)
