"""Inpainting: 𝒜x = m ⊙ x with a binary mask m (1 = measured pixel, 0 = missing).

y has x's shape with zeros where unmeasured.  m has shape (1|B, 1|C, H, W) and broadcasts over x.
𝒜 is diagonal, so 𝒜ᵀ = 𝒜† = 𝒜, the SVD is trivial (U = V = I, s = m) and the prox is pointwise:
x = (m·y + λz)/(m + λ), λ = ρσ² (x = z where m = 0 and λ = 0 is impossible: there x = z).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from .base import LinearOperator, per_image
from .svd import SVD


class MaskSVD(SVD):
    """U = V = I, s = m (broadcast to the input shape)."""

    def __init__(self, op: "Inpainting"):
        self.op = op

    def Vt(self, x):
        return x

    def V(self, c):
        return c

    def Ut(self, y):
        return self.op.forward(y)

    def U(self, c):
        return self.op.forward(c)

    def singular_values(self, shape, device=None, dtype=torch.float32):
        self.op._check(shape)
        return self.op.mask.to(device=device, dtype=dtype).expand(tuple(shape))


class Inpainting(LinearOperator):
    """𝒜x = m ⊙ x; ``mask`` is a tensor or array of 0/1 (or bool), 2-D (H, W) or 4-D (1|B, 1|C, H, W)."""

    task = "inpaint"

    def __init__(self, mask):
        m = mask if isinstance(mask, Tensor) else torch.from_numpy(np.asarray(mask))
        m = m.detach()
        if m.ndim == 2:
            m = m[None, None]
        if m.ndim != 4:
            raise ValueError(f"mask must have shape (H, W) or (1|B, 1|C, H, W), got {tuple(m.shape)}")
        if m.dtype != torch.bool:
            if m.is_floating_point() and not bool(torch.isfinite(m).all()):
                raise ValueError("mask contains NaN or infinite values")
            if not bool(((m == 0) | (m == 1)).all()):
                raise ValueError("mask must contain only 0 (missing) and 1 (measured)")
        self.mask = m.to(torch.float64)
        self._cache = {}


    def repeat(self, k: int, batch: int) -> "Inpainting":
        """Per-image masks (one per image of a batch of ``batch``) tiled k times for k·batch rows."""
        if k > 1 and self.mask.shape[0] == batch and batch > 1:
            return Inpainting(self.mask.repeat(k, 1, 1, 1))
        return self
    def _check(self, shape) -> None:
        mb, mc, mh, mw = self.mask.shape
        if len(shape) != 4:
            raise ValueError(f"inpainting expects images (B, C, H, W), got shape {tuple(shape)}")
        b, c, h, w = shape
        if (mh, mw) != (h, w):
            raise ValueError(f"mask size {mh}x{mw} does not match the image size {h}x{w}")
        if mb not in (1, b) or mc not in (1, c):
            raise ValueError(f"mask shape {tuple(self.mask.shape)} does not broadcast to the image shape {tuple(shape)}")

    def _m(self, x: Tensor) -> Tensor:
        self._check(x.shape)
        dtype = x.real.dtype if x.is_complex() else x.dtype
        key = (x.device, dtype)
        if key not in self._cache:
            self._cache[key] = self.mask.to(device=x.device, dtype=dtype)
        return self._cache[key]

    def forward(self, x):
        return x * self._m(x)

    def adjoint(self, y):
        return y * self._m(y)

    def normal(self, x):
        return x * self._m(x)

    def pinv(self, y):
        return y * self._m(y)

    def warm_start(self, y):
        """The holes filled smoothly from the known pixels by push–pull (Gortler et al. 1996): average the
        known pixels down a pyramid (mask-weighted 2×2 means), then fill each level's missing pixels from the
        bilinearly upsampled coarser level; known pixels keep y.  Like a harmonic (Laplace) fill, at the cost
        of a few image-sized passes."""
        m = self._m(y).expand_as(y)
        return _push_pull(y * m, m)

    @property
    def svd(self):
        return MaskSVD(self)

    def prox(self, z, y, sigma, rho):
        """x = (m·y + λz)/(m + λ), λ = ρσ²; x = z where m + λ = 0."""
        m = self._m(z)
        lam = per_image(rho, z) * per_image(sigma, z) ** 2
        den = m + lam
        ok = den > 0
        return torch.where(ok, (m * y + lam * z) / torch.where(ok, den, torch.ones_like(den)), z)

    def __repr__(self):
        return f"Inpainting(mask {tuple(self.mask.shape)}, {float(self.mask.mean()):.0%} measured)"


def _push_pull(v: Tensor, m: Tensor) -> Tensor:
    """Fill where m = 0 from the mask-weighted pyramid of v (known values where m = 1 are returned as is)."""
    import torch.nn.functional as F

    h, w = v.shape[-2:]
    if min(h, w) < 2 or bool((m > 0).all()):
        if bool((m > 0).any()) or min(h, w) >= 2:
            mean = (v * m).flatten(2).sum(-1) / m.flatten(2).sum(-1).clamp_min(1e-12)
            return torch.where(m > 0, v, mean[..., None, None].expand_as(v))
        return v
    ph, pw = h % 2, w % 2  # pad to even sides by repeating the last row/column (with its mask)
    vp = F.pad(v, (0, pw, 0, ph), mode="replicate") if ph or pw else v
    mp = F.pad(m, (0, pw, 0, ph), mode="replicate") if ph or pw else m
    num, den = F.avg_pool2d(vp * mp, 2), F.avg_pool2d(mp, 2)
    coarse_m = (den > 0).to(v.dtype)
    coarse = _push_pull(num / den.clamp_min(1e-12), coarse_m)
    up = F.interpolate(coarse, size=vp.shape[-2:], mode="bilinear", align_corners=False)[..., :h, :w]
    return torch.where(m > 0, v, up)
