"""Blur: per-channel convolution with one kernel,  y = k ∗ x  (the same k on every channel).

Convolution is centred on the kernel pixel c = (kh//2, kw//2):  y[i, j] = Σ_{a,b} k[a, b]·
x[i − a + c₀, j − b + c₁].  The boundary model says what x is outside the image:

* ``"circular"`` — periodic x.  𝒜 = F* diag(H) F with F the unitary 2-D DFT and H the kernel's
  transfer function, so the SVD is exact: V = F*, s = |H|, U = F* diag(H/|H|) (phase 1 where H = 0).
  Pseudo-inverse V(Ut(y)/s) treats |H| < ``pinv_rtol``·max|H| (default √eps of the dtype, see
  `operators.svd.default_rtol`) as zero; the prox is the closed form (conj(H)Ŷ + λẐ)/(|H|² + λ),
  λ = ρσ², in the Fourier domain.
* ``"reflect"`` (the one to use for real photos), ``"symmetric"``, ``"replicate"``, ``"zero"`` — pad x by
  the kernel's half-size with that rule (`operators.padding`), then a "valid" convolution back to
  H×W: 𝒜 = C_valid ∘ P.  The adjoint is exact, Pᵀ ∘ C_validᵀ (a full correlation, then the padding
  folded back).  Kernels with ≥ 64 taps convolve by FFT on the padded grid (exact: no wrap-around
  reaches the kept samples), smaller ones directly.  No cheap SVD: pinv and prox use conjugate gradient
  (`LinearOperator`); for "reflect" and "symmetric" the prox's CG is preconditioned in the cosine basis
  (`operators.cosine_precond`: exact in one step for a mirror-symmetric kernel with "symmetric", a
  preconditioned spectrum in [1, 4] with "reflect"), so it converges in a few steps for any λ.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from .base import LinearOperator
from .cosine import MIRRORS
from .cosine_precond import cosine_preconditioner, edge_weights, even_power_spectrum
from .kernels import KernelLike, as_kernel, check_kernel_fits, gaussian_kernel, motion_kernel, uniform_kernel
from .padding import MODES, pad2d, pad2d_adjoint
from .random import Seed, seed_from
from .svd import SVD

BOUNDARIES = ("circular",) + tuple(m for m in MODES if m != "circular")


def fft_size(n: int) -> int:
    """The smallest even m ≥ n whose prime factors are 2, 3, 5 and 7 (sizes the FFT is fast on; even
    because a real FFT of odd length takes a slower path: a 3-plane rfft2/irfft2 pair on 147² took 1.6×
    the time of one on 150², on 315² 2× that of 320²)."""
    m = max(2, n + (n % 2))
    while True:
        r = m
        for p in (2, 3, 5, 7):
            while r % p == 0:
                r //= p
        if r == 1:
            return m
        m += 2


def _as_planes(x: Tensor) -> Tensor:
    return x.reshape(-1, 1, *x.shape[-2:])


class FourierSVD(SVD):
    """SVD of a circular convolution with transfer function H: V = F*, s = |H|, U = F* diag(phase).

    |H| and the phase factors are computed once per (grid, device, dtype) and kept in ``cache``
    (the operator's own cache when built by `Blur.svd`, so they live as long as the operator).
    """

    def __init__(self, transfer, cache: Optional[dict] = None):
        self.transfer = transfer  # (H, W, device, dtype) -> complex H of shape (H, W)
        self._cache = {} if cache is None else cache

    def _parts(self, h: int, w: int, device, dtype) -> dict:
        """{"abs": |H|, "phase": H/|H| (1 where H = 0), "ut": conj(phase)·[|H| > 0]} for an h×w grid."""
        key = ("svd-parts", h, w, device, dtype)
        if key not in self._cache:
            H = self.transfer(h, w, device, dtype)
            a = H.abs()
            phase = self._phase(H)
            self._cache[key] = {"abs": a, "phase": phase, "ut": phase.conj() * (a > 0)}
        return self._cache[key]

    def _parts_for(self, c: Tensor) -> dict:
        dtype = c.real.dtype if c.is_complex() else c.dtype
        return self._parts(c.shape[-2], c.shape[-1], c.device, dtype)

    def _h(self, c: Tensor) -> Tensor:
        dtype = c.real.dtype if c.is_complex() else c.dtype
        return self.transfer(c.shape[-2], c.shape[-1], c.device, dtype)

    def Vt(self, x):
        return torch.fft.fft2(x, norm="ortho")

    def V(self, c):
        return torch.fft.ifft2(c, norm="ortho").real

    def _phase(self, h):
        a = h.abs()
        return torch.where(a > 0, h / torch.where(a > 0, a, torch.ones_like(a)), torch.ones_like(h))

    def Ut(self, y):
        return torch.fft.fft2(y, norm="ortho") * self._parts_for(y)["ut"]

    def U(self, c):
        return torch.fft.ifft2(c * self._parts_for(c)["phase"], norm="ortho").real

    def singular_values(self, shape, device=None, dtype=torch.float32):
        return self._parts(shape[-2], shape[-1], device, dtype)["abs"]


class Blur(LinearOperator):
    """𝒜x = k ∗ x per channel, with a boundary model (see the module docstring).

    kernel: tensor, array, or a file path (.png, .npy, .npz, .mat; ``key`` picks an array in
    .npz/.mat); it is validated and normalised to Σk = 1.  The kernel must not be larger than the
    image (ValueError otherwise).
    """

    task = "deblur"

    def __init__(self, kernel: KernelLike, boundary: str = "circular", key: Optional[str] = None,
                 pinv_rtol: Optional[float] = None):
        if boundary not in BOUNDARIES:
            raise ValueError(f"unknown blur boundary {boundary!r} (choose from {BOUNDARIES})")
        self.kernel = as_kernel(kernel, key)
        self.boundary = boundary
        self.pinv_rtol = pinv_rtol
        self._cache = {}

    # -- helpers ------------------------------------------------------------------------------------
    def _kernel(self, device, dtype) -> Tensor:
        key = ("k", device, dtype)
        if key not in self._cache:
            self._cache[key] = self.kernel.to(device=device, dtype=dtype)
        return self._cache[key]

    def _pads(self):
        kh, kw = self.kernel.shape
        ch, cw = kh // 2, kw // 2
        return (kh - 1 - ch, ch, kw - 1 - cw, cw)  # top, bottom, left, right

    def transfer(self, h: int, w: int, device=None, dtype=torch.float64, onesided: bool = False) -> Tensor:
        """H = DFT of the kernel placed at the origin of an h×w grid (rfft half when onesided)."""
        key = ("H", h, w, device, dtype, onesided)
        if key not in self._cache:
            check_kernel_fits(self.kernel, h, w)
            kh, kw = self.kernel.shape
            psf = torch.zeros(h, w, dtype=dtype, device=device)
            psf[:kh, :kw] = self._kernel(device, dtype)
            psf = torch.roll(psf, shifts=(-(kh // 2), -(kw // 2)), dims=(0, 1))
            self._cache[key] = torch.fft.rfft2(psf) if onesided else torch.fft.fft2(psf)
        return self._cache[key]

    #: padded boundaries convolve by FFT when the kernel has at least this many taps (direct below)
    fft_min_taps = 64

    def _use_fft(self) -> bool:
        return self.kernel.numel() >= self.fft_min_taps

    def _linear_transfer(self, nh: int, nw: int, device, dtype) -> Tensor:
        """rfft2 of the kernel at the origin of an nh×nw grid (no centring): on a grid at least as large as
        the padded image, (nh, nw) ≥ (H + kh − 1, W + kw − 1) (`fft_size`: the next 2·3·5·7-smooth sizes),
        the circular convolution k ⊛ x_pad equals the "valid" convolution on rows/cols [kh − 1, H + kh − 1),
        and the correlation k ⋆ u of an image u zero except there equals the full correlation on
        [0, H + kh − 1): no wrap-around reaches the kept samples."""
        key = ("Hlin", nh, nw, device, dtype)
        if key not in self._cache:
            kh, kw = self.kernel.shape
            psf = torch.zeros(nh, nw, dtype=dtype, device=device)
            psf[:kh, :kw] = self._kernel(device, dtype)
            self._cache[key] = torch.fft.rfft2(psf)
        return self._cache[key]

    # -- the operator -------------------------------------------------------------------------------
    def forward(self, x):
        h, w = x.shape[-2:]
        check_kernel_fits(self.kernel, h, w)
        if self.boundary == "circular":
            H = self.transfer(h, w, x.device, x.dtype, onesided=True)
            return torch.fft.irfft2(torch.fft.rfft2(x) * H, s=(h, w))
        xp = pad2d(_as_planes(x), self._pads(), self.boundary)
        if self._use_fft():
            kh, kw = self.kernel.shape
            grid = fft_size(xp.shape[-2]), fft_size(xp.shape[-1])
            K = self._linear_transfer(*grid, x.device, x.dtype)
            c = torch.fft.irfft2(torch.fft.rfft2(xp, s=grid) * K, s=grid)
            return c[..., kh - 1:kh - 1 + h, kw - 1:kw - 1 + w].reshape(x.shape)
        k = self._kernel(x.device, x.dtype).flip(0, 1)[None, None]
        return F.conv2d(xp, k).reshape(x.shape)

    def adjoint(self, y):
        h, w = y.shape[-2:]
        check_kernel_fits(self.kernel, h, w)
        if self.boundary == "circular":
            H = self.transfer(h, w, y.device, y.dtype, onesided=True)
            return torch.fft.irfft2(torch.fft.rfft2(y) * H.conj(), s=(h, w))
        if self._use_fft():
            kh, kw = self.kernel.shape
            nh, nw = h + kh - 1, w + kw - 1
            grid = fft_size(nh), fft_size(nw)
            K = self._linear_transfer(*grid, y.device, y.dtype)
            u = F.pad(_as_planes(y), (kw - 1, 0, kh - 1, 0))
            u = torch.fft.irfft2(torch.fft.rfft2(u, s=grid) * K.conj(), s=grid)[..., :nh, :nw]
        else:
            k = self._kernel(y.device, y.dtype).flip(0, 1)[None, None]
            u = F.conv_transpose2d(_as_planes(y), k)
        return pad2d_adjoint(u, self._pads(), self.boundary).reshape(y.shape)

    @property
    def cosine_diagonal(self) -> bool:
        """𝒜 is diagonal in the cosine basis: a mirror boundary ("reflect", "symmetric") and a kernel with
        k(a, b) = k(−a, b) = k(a, −b) about its centre pixel (odd sizes; Gaussian, box).  Then the cosine
        preconditioner is exact ("symmetric") or bounds the preconditioned spectrum in [1, 4] ("reflect")."""
        k = self.kernel
        if self.boundary not in MIRRORS or k.shape[0] % 2 == 0 or k.shape[1] % 2 == 0:
            return False
        tol = 1e-9 * float(k.abs().max())
        return bool((k - k.flip(0)).abs().max() <= tol and (k - k.flip(1)).abs().max() <= tol)

    def preconditioner(self, lam, like):
        """For "reflect" and "symmetric": the cosine-basis Q⁻¹ ≈ (𝒜ᵀ𝒜 + λI)⁻¹ of `operators.cosine_precond`
        (exact for a mirror-symmetric kernel with "symmetric"; spectrum in [1, 4] with "reflect").
        None for the other boundaries (circular has its closed-form prox)."""
        h, w = like.shape[-2:]
        if self.boundary not in MIRRORS or min(h, w) < 2:
            return None
        dtype = like.real.dtype if like.is_complex() else like.dtype
        key = ("precond", h, w, like.device, dtype)
        if key not in self._cache:
            power = even_power_spectrum(self.kernel.to(torch.float64), h, w, self.boundary)
            weights = edge_weights(h, w, self.boundary, dtype=torch.float64)
            self._cache[key] = (power.to(like.device, dtype), weights.to(like.device, dtype))
        power, weights = self._cache[key]
        return cosine_preconditioner(power, weights, lam, self.boundary)

    @property
    def svd(self):
        if self.boundary != "circular":
            return None
        return FourierSVD(lambda h, w, device, dtype: self.transfer(h, w, device, dtype), self._cache)

    def __repr__(self):
        kh, kw = self.kernel.shape
        return f"{type(self).__name__}(kernel {kh}x{kw}, boundary={self.boundary!r})"


class GaussianBlur(Blur):
    """Blur with a normalised Gaussian kernel of ``size`` (int or (h, w)) and ``std`` (float or pair)."""

    def __init__(self, size=25, std=3.0, boundary: str = "circular", pinv_rtol: Optional[float] = None):
        self.size, self.std = size, std
        super().__init__(gaussian_kernel(size, std), boundary=boundary, pinv_rtol=pinv_rtol)


class UniformBlur(Blur):
    """Blur with a box kernel of ``size`` (int or (h, w)), all weights 1/(h·w)."""

    def __init__(self, size=9, boundary: str = "circular", pinv_rtol: Optional[float] = None):
        self.size = size
        super().__init__(uniform_kernel(size), boundary=boundary, pinv_rtol=pinv_rtol)


class MotionBlur(Blur):
    """Blur with a seeded random camera-shake kernel (`operators.kernels.motion_kernel`).

    ``seed=None`` draws a fresh seed and records it in ``self.seed``, so the kernel can be rebuilt.
    """

    def __init__(self, size=25, intensity: float = 0.5, seed: Seed = None, boundary: str = "circular",
                 pinv_rtol: Optional[float] = None):
        self.size, self.intensity, self.seed = size, intensity, seed_from(seed)
        super().__init__(motion_kernel(size, intensity, self.seed), boundary=boundary, pinv_rtol=pinv_rtol)
