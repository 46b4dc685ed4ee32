"""Downsampling by an integer factor f:  y = 𝒜x of shape (H/f, W/f).

Filters:

* ``"box"`` — block average, y[p, q] = mean of the f×f block (p, q).  Exact SVD: inside each block an
  orthonormal basis (the 2-D orthonormal DCT-II of size f) whose first vector is the constant 1/f;
  s = 1/f on it and 0 on the other f² − 1.  Closed forms: 𝒜ᵀy = y replicated / f²,
  𝒜†y = y replicated, and the prox changes only the block means:
  mean(x) = (a·y + ρ·mean(z))/(a + ρ) with a = 1/(f²σ²), x = z + replicate(mean(x) − mean(z)).
* ``"bicubic"`` — antialiased bicubic downscaling as in MATLAB's imresize: Keys cubic (a = −0.5)
  widened by f, centres at (i + ½)·f − ½, mirrored (symmetric) borders, rows normalised to sum 1.
  Separable: y = R_H x R_Wᵀ with small dense 1-D matrices, so 𝒜ᵀy = R_Hᵀ y R_W exactly, and the
  SVD is the Kronecker product of the two 1-D SVDs (s = s_H ⊗ s_W).
* ``"strided"`` — decimation, y[p, q] = x[p·f, q·f] (the top-left sample of each block).  V = I,
  s = 1 on the kept samples; 𝒜† = 𝒜ᵀ = zero-filling.

Images whose height or width is not a multiple of f are rejected with a ValueError naming the sizes
(pad or crop the image first); nothing is cropped silently.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from .base import LinearOperator, per_image
from .svd import SVD

FILTERS = ("box", "bicubic", "strided")


def _check_multiple(shape, factor: int) -> None:
    h, w = shape[-2:]
    if h % factor or w % factor:
        raise ValueError(
            f"image size {h}x{w} is not a multiple of the downsampling factor {factor}; pad or crop it first"
        )


def _replicate(y: Tensor, f: int) -> Tensor:
    return y.repeat_interleave(f, dim=-2).repeat_interleave(f, dim=-1)


def dct_matrix(n: int) -> Tensor:
    """Orthonormal DCT-II matrix D (n×n, float64): D[k, i] = c_k cos(π(2i + 1)k/(2n)); row 0 = 1/√n."""
    i = torch.arange(n, dtype=torch.float64)
    d = torch.cos(math.pi * (2 * i[None, :] + 1) * i[:, None] / (2 * n)) * math.sqrt(2.0 / n)
    d[0] = 1.0 / math.sqrt(n)
    return d


def cubic(t: Tensor, a: float = -0.5) -> Tensor:
    """Keys cubic convolution kernel with parameter a."""
    t = t.abs()
    t2, t3 = t * t, t * t * t
    near = (a + 2) * t3 - (a + 3) * t2 + 1
    far = a * t3 - 5 * a * t2 + 8 * a * t - 4 * a
    return torch.where(t <= 1, near, torch.where(t < 2, far, torch.zeros_like(t)))


def bicubic_matrix(n_in: int, factor: int) -> Tensor:
    """The 1-D antialiased bicubic downscaling matrix R (n_in/f × n_in, float64), rows sum to 1."""
    n_out = n_in // factor
    centre = (torch.arange(n_out, dtype=torch.float64) + 0.5) * factor - 0.5
    reach = 2 * factor
    offsets = torch.arange(-reach, reach + 1, dtype=torch.float64)
    taps = torch.floor(centre)[:, None] + offsets[None, :]  # candidate input samples
    weight = cubic((centre[:, None] - taps) / factor)
    # mirror out-of-range taps (symmetric border: −1 → 0, n → n − 1)
    j = taps.long().remainder(2 * n_in)
    j = torch.where(j >= n_in, 2 * n_in - 1 - j, j)
    R = torch.zeros(n_out, n_in, dtype=torch.float64)
    R.scatter_add_(1, j, weight)
    return R / R.sum(dim=1, keepdim=True)


class BoxSVD(SVD):
    """Per-block DCT basis; s = 1/f on each block's mean direction (the block's top-left coefficient)."""

    def __init__(self, factor: int):
        self.f = factor

    def _blocks(self, x):
        *lead, h, w = x.shape
        return x.reshape(*lead, h // self.f, self.f, w // self.f, self.f)

    def _apply(self, x, D):
        *lead, h, w = x.shape
        c = torch.einsum("ia,jb,...paqb->...piqj", D, D, self._blocks(x))
        return c.reshape(*lead, h, w)

    def Vt(self, x):
        _check_multiple(x.shape, self.f)
        return self._apply(x, dct_matrix(self.f).to(x.device, x.dtype))

    def V(self, c):
        return self._apply(c, dct_matrix(self.f).to(c.device, c.dtype).T)

    def Ut(self, y):
        c = y.new_zeros(*y.shape[:-2], y.shape[-2] * self.f, y.shape[-1] * self.f)
        c[..., :: self.f, :: self.f] = y
        return c

    def U(self, c):
        return c[..., :: self.f, :: self.f]

    def singular_values(self, shape, device=None, dtype=torch.float32):
        s = torch.zeros(shape[-2], shape[-1], device=device, dtype=dtype)
        s[:: self.f, :: self.f] = 1.0 / self.f
        return s


class StridedSVD(BoxSVD):
    """Decimation: V = I, s = 1 on the kept samples (p·f, q·f)."""

    def Vt(self, x):
        return x

    def V(self, c):
        return c

    def singular_values(self, shape, device=None, dtype=torch.float32):
        return super().singular_values(shape, device, dtype) * self.f


class Downsample(LinearOperator):
    """𝒜 = downsampling by ``factor`` with ``filter`` "box" | "bicubic" | "strided" (module docstring)."""

    task = "sr"

    def __init__(self, factor: int = 4, filter: str = "bicubic"):
        if int(factor) != factor or factor < 1:
            raise ValueError(f"downsampling factor must be a positive integer, got {factor}")
        if filter not in FILTERS:
            raise ValueError(f"unknown downsampling filter {filter!r} (choose from {FILTERS})")
        self.factor, self.filter = int(factor), filter
        self._cache = {}

    # -- bicubic matrices and their SVDs ------------------------------------------------------------
    def matrix(self, n_in: int, device=None, dtype=torch.float64) -> Tensor:
        """R for an axis of length n_in (bicubic filter)."""
        key = ("R", n_in, device, dtype)
        if key not in self._cache:
            self._cache[key] = bicubic_matrix(n_in, self.factor).to(device=device, dtype=dtype)
        return self._cache[key]

    def matrix_svd(self, n_in: int, device=None, dtype=torch.float64):
        """(U, s, V) with R = U diag(s) V[:, :n_out]ᵀ, V square (full), computed in float64."""
        key = ("svd", n_in, device, dtype)
        if key not in self._cache:
            U, s, Vh = torch.linalg.svd(bicubic_matrix(n_in, self.factor), full_matrices=True)
            self._cache[key] = tuple(t.to(device=device, dtype=dtype) for t in (U, s, Vh.T))
        return self._cache[key]

    # -- the operator -------------------------------------------------------------------------------
    def out_shape(self, shape):
        _check_multiple(shape, self.factor)
        return (*shape[:-2], shape[-2] // self.factor, shape[-1] // self.factor)

    def forward(self, x):
        _check_multiple(x.shape, self.factor)
        f = self.factor
        if self.filter == "box":
            *lead, h, w = x.shape
            return x.reshape(*lead, h // f, f, w // f, f).mean(dim=(-3, -1))
        if self.filter == "strided":
            return x[..., ::f, ::f]
        Rh = self.matrix(x.shape[-2], x.device, x.dtype)
        Rw = self.matrix(x.shape[-1], x.device, x.dtype)
        return Rh @ x @ Rw.T

    def adjoint(self, y):
        f = self.factor
        if self.filter == "box":
            return _replicate(y, f) / (f * f)
        if self.filter == "strided":
            return StridedSVD(f).Ut(y)
        Rh = self.matrix(y.shape[-2] * f, y.device, y.dtype)
        Rw = self.matrix(y.shape[-1] * f, y.device, y.dtype)
        return Rh.T @ y @ Rw

    @property
    def svd(self):
        if self.filter == "box":
            return BoxSVD(self.factor)
        if self.filter == "strided":
            return StridedSVD(self.factor)
        return BicubicSVD(self)

    def pinv(self, y):
        if self.filter == "box":
            return _replicate(y, self.factor)
        if self.filter == "strided":
            return self.adjoint(y)
        return super().pinv(y)

    def prox(self, z, y, sigma, rho):
        if self.filter != "box":
            return super().prox(z, y, sigma, rho)
        f = self.factor
        sigma, rho = per_image(sigma, z), per_image(rho, z)
        mz = self.forward(z)
        lam = rho * sigma**2 * (f * f)  # ρ / a with a = 1/(f²σ²)
        mx = (y + lam * mz) / (1 + lam)
        return z + _replicate(mx - mz, f)

    def __repr__(self):
        return f"Downsample(factor={self.factor}, filter={self.filter!r})"


class BicubicSVD(SVD):
    """Kronecker SVD of the separable bicubic operator y = R_H x R_Wᵀ.

    With R = U diag(s) V₁ᵀ (V₁ = first n_out columns of the full square V):
    Vt(x) = V_Hᵀ x V_W, V(c) = V_H c V_Wᵀ, s[i, j] = s_H[i]·s_W[j] on the top-left (h×w) corner and
    0 elsewhere, Ut(y) = U_Hᵀ y U_W placed in that corner, U(c) = U_H c[:h, :w] U_Wᵀ.
    """

    def __init__(self, op: Downsample):
        self.op = op

    def _usv(self, n_in, like):
        dtype = like.real.dtype if like.is_complex() else like.dtype
        return self.op.matrix_svd(n_in, like.device, dtype)

    def Vt(self, x):
        _check_multiple(x.shape, self.op.factor)
        Vh, Vw = self._usv(x.shape[-2], x)[2], self._usv(x.shape[-1], x)[2]
        return Vh.T @ x @ Vw

    def V(self, c):
        Vh, Vw = self._usv(c.shape[-2], c)[2], self._usv(c.shape[-1], c)[2]
        return Vh @ c @ Vw.T

    def Ut(self, y):
        f = self.op.factor
        h, w = y.shape[-2:]
        Uh, Uw = self._usv(h * f, y)[0], self._usv(w * f, y)[0]
        c = y.new_zeros(*y.shape[:-2], h * f, w * f)
        c[..., :h, :w] = Uh.T @ y @ Uw
        return c

    def U(self, c):
        f = self.op.factor
        h, w = c.shape[-2] // f, c.shape[-1] // f
        Uh, Uw = self._usv(c.shape[-2], c)[0], self._usv(c.shape[-1], c)[0]
        return Uh @ c[..., :h, :w] @ Uw.T

    def singular_values(self, shape, device=None, dtype=torch.float32):
        H, W = shape[-2], shape[-1]
        f = self.op.factor
        sh = self.op.matrix_svd(H, device, dtype)[1]
        sw = self.op.matrix_svd(W, device, dtype)[1]
        s = torch.zeros(H, W, device=device, dtype=dtype)
        s[: H // f, : W // f] = sh[:, None] * sw[None, :]
        return s
