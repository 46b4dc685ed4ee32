"""Kernel fitting for blind deblurring: the regularised least-squares kernel of a latent image and
the projection onto valid kernels (torch only; the alternation lives in `restore.blind`).

Fit (the M-step of blind deblurring), on image gradients, k supported on the N×N window S_N
(circular convolution on the h×w grid, kernel centre at the origin):

    k̃ = argmin_{supp k ⊂ S_N}  Σ_{d ∈ {v, h}} ‖∂_d y − k ⊛ ∂_d x‖² + γ‖k‖²
      ⇔  (R F⁻¹ diag(Σ_d |X_d|²) F Rᵀ + γ I) k = R F⁻¹(Σ_d conj(X_d)·Y_d),   X_d = F ∂_d x,  Y_d = F ∂_d y,

with R the restriction to S_N, solved by conjugate gradient (two FFTs per step; Pan et al. 2014 do
the same).  γ = ``gamma`` · mean_ω Σ_d |X_d(ω)|² is relative, so it does not depend on the image's
size or contrast.  The support constraint is the strong part of the regulariser: the unconstrained
Fourier solution spreads the texture the latent image lacks over the whole grid.  Gradients, not
intensities: a blur commutes with ∂, and gradients are sparse and zero-mean, so the fit is not
dominated by the low frequencies where every kernel looks alike.
For a noise-free circular blur y = k ⊛ x with k on S_N and γ → 0, k is the exact solution (CG converges to it).

Projection P_N onto valid N×N kernels (``project_kernel``):

1. take the N×N window centred on the origin (k̃ is rolled so that the origin is pixel (N//2, N//2));
2. k ← max(k, 0);  entries below ``threshold``·max k set to 0 (the fit's low-level noise);
3. k ← k / Σk; then every 8-connected piece of the support holding less than ``min_piece`` of the
   mass is dropped (isolated speckles, as in Pan et al. 2014) and k renormalised;
4. centre: shift by the integer rounding of (centre of mass − (N//2, N//2)), zero-filled, then
   renormalise (repeated while the rounding is non-zero, at most 4 times, as mass shifted out of the
   window moves the centre) (a kernel and the image it explains are only defined up to a common shift; fixing
   the kernel's centre of mass keeps the restored image in place).

A kernel with no positive entry left becomes the delta (no blur).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["gradients", "otf", "kernel_from_otf", "onesided_mean", "fit_kernel", "project_kernel", "delta_kernel", "is_delta",
           "center_of_mass", "shift_kernel", "resize_kernel", "connected_pieces", "drop_small_pieces",
           "fit_gaussian_std"]


def delta_kernel(size: int, dtype=torch.float64, device=None) -> Tensor:
    """The N×N identity kernel: 1 at (N//2, N//2)."""
    k = torch.zeros(size, size, dtype=dtype, device=device)
    k[size // 2, size // 2] = 1.0
    return k


def is_delta(k: Tensor) -> bool:
    """Whether a non-negative kernel of sum 1 is the N×N identity: all its mass on the centre pixel."""
    c = k.shape[-1] // 2
    return k.shape[-2] == k.shape[-1] and float(k[..., c, c]) >= 1.0 - 1e-12


def gradients(x: Tensor) -> tuple[Tensor, Tensor]:
    """Circular forward differences (∂_v x, ∂_h x): x[i+1, j] − x[i, j] and x[i, j+1] − x[i, j]."""
    return torch.roll(x, -1, -2) - x, torch.roll(x, -1, -1) - x


def otf(k: Tensor, h: int, w: int, onesided: bool = False) -> Tensor:
    """F of the kernel placed on an h×w grid with its centre pixel (kh//2, kw//2) at the origin
    (``onesided``: the h×(w//2 + 1) half that `torch.fft.rfft2` keeps — a real signal's spectrum is
    Hermitian, so products and quotients of such spectra lose nothing)."""
    kh, kw = k.shape[-2:]
    psf = k.new_zeros(h, w)
    psf[:kh, :kw] = k
    psf = torch.roll(psf, (-(kh // 2), -(kw // 2)), (0, 1))
    return torch.fft.rfft2(psf) if onesided else torch.fft.fft2(psf)


def kernel_from_otf(K: Tensor, size: int, shape: tuple[int, int] | None = None) -> Tensor:
    """The size×size window of F⁻¹K around the origin, the origin at (size//2, size//2); ``shape``: the
    h×w grid of a one-sided K (`otf(..., onesided=True)`)."""
    k = torch.fft.irfft2(K, s=shape) if shape is not None else torch.fft.ifft2(K).real
    c = size // 2
    return torch.roll(k, (c, c), (-2, -1))[..., :size, :size]


def onesided_mean(P: Tensor, w: int) -> float:
    """The mean over the full h×w spectrum of a real, even-symmetric P given by its one-sided half
    h×(w//2 + 1): columns 1 … ⌈w/2⌉ − 1 stand for two columns each."""
    weight = torch.full((P.shape[-1],), 2.0, dtype=P.dtype, device=P.device)
    weight[0] = 1.0
    if w % 2 == 0:
        weight[-1] = 1.0
    return float((P * weight).sum() / (P.shape[-2] * w))


def fit_kernel(x: Tensor, y: Tensor, size: int, gamma: float = 1e-3, project: bool = True,
               threshold: float = 0.05, min_piece: float = 0.0, grads=None, iters: int = 20,
               init: Tensor | None = None, mask: Tensor | None = None) -> Tensor:
    """k = P_N(argmin_{k on N×N} Σ_d ‖∂_d y − k ⊛ ∂_d x‖² + γ‖k‖²) for 2-D x, y of the same shape
    (module docstring), by ``iters`` conjugate-gradient steps from ``init`` (default uniform);
    ``project=False`` returns the unprojected least-squares kernel.  ``grads`` replaces
    (∂_v x, ∂_h x), e.g. by their salient part only.  ``mask`` (0/1, y's shape): fit only the gradients
    of y between two pixels where it is 1, Σ_d ‖M_d(∂_d y − k ⊛ ∂_d x)‖² (a photo's valid region inside
    a padded grid: x extends beyond y, and k ⊛ x is compared with y only where y was measured)."""
    if x.shape != y.shape or x.ndim != 2:
        raise ValueError(f"fit_kernel needs two 2-D images of the same shape, got {tuple(x.shape)} and {tuple(y.shape)}")
    h, w = x.shape
    if size > min(h, w):
        raise ValueError(f"kernel size {size} is larger than the image {h}x{w}")
    # one-sided spectra throughout (every signal here is real): half the FFT work of fft2/ifft2
    num, power, xs, masks = 0, 0, [], []
    for d, (gx, gy) in enumerate(zip(gradients(x) if grads is None else grads, gradients(y))):
        X = torch.fft.rfft2(gx)
        if mask is not None:  # M_d: both pixels of the difference measured
            md = mask * torch.roll(mask, -1, -2 + d)
            gy = md * gy
            xs.append(X)
            masks.append(md)
        Y = torch.fft.rfft2(gy)
        num = num + X.conj() * Y
        power = power + X.abs() ** 2
    g = gamma * onesided_mean(power, w)

    def normal(k: Tensor) -> Tensor:  # (Σ_d C_dᵀ M_d C_d + γ) k restricted to the N×N support
        if mask is None:
            return kernel_from_otf(power * otf(k, h, w, onesided=True), size, (h, w)) + g * k
        Kf = otf(k, h, w, onesided=True)
        acc = 0
        for X, md in zip(xs, masks):
            acc = acc + X.conj() * torch.fft.rfft2(md * torch.fft.irfft2(X * Kf, s=(h, w)))
        return kernel_from_otf(acc, size, (h, w)) + g * k

    b = kernel_from_otf(num, size, (h, w))
    k = torch.full((size, size), 1.0 / size**2, dtype=x.dtype, device=x.device) if init is None else init.to(x.dtype)
    r = b - normal(k)
    p = r.clone()
    rr = float((r * r).sum())
    for _ in range(int(iters)):
        if rr <= 1e-30:
            break
        q = normal(p)
        a = rr / float((p * q).sum())
        k = k + a * p
        r = r - a * q
        rr_new = float((r * r).sum())
        p = r + (rr_new / rr) * p
        rr = rr_new
    return project_kernel(k, size, threshold, min_piece) if project else k


def center_of_mass(k: Tensor) -> tuple[float, float]:
    """(row, col) centre of mass of a non-negative kernel."""
    s = k.sum()
    rows = torch.arange(k.shape[0], dtype=k.dtype, device=k.device)
    cols = torch.arange(k.shape[1], dtype=k.dtype, device=k.device)
    return float((k.sum(1) * rows).sum() / s), float((k.sum(0) * cols).sum() / s)


def shift_kernel(k: Tensor, dr: int, dc: int) -> Tensor:
    """k moved by (dr, dc) pixels inside its window, zero-filled (mass pushed out is dropped)."""
    h, w = k.shape
    out = torch.zeros_like(k)
    r0, r1 = max(0, dr), min(h, h + dr)
    c0, c1 = max(0, dc), min(w, w + dc)
    if r1 > r0 and c1 > c0:
        out[r0:r1, c0:c1] = k[r0 - dr:r1 - dr, c0 - dc:c1 - dc]
    return out


def connected_pieces(mask: Tensor) -> Tensor:
    """8-connected component labels of a boolean 2-D mask (0 outside; each piece labelled by the
    largest flat index + 1 of its pixels), by label propagation with 3×3 max-pooling."""
    n = mask.numel()
    lab = torch.where(mask, torch.arange(1, n + 1, dtype=torch.float64, device=mask.device).view(mask.shape),
                      torch.zeros((), dtype=torch.float64, device=mask.device))
    while True:
        nxt = F.max_pool2d(lab[None, None], 3, stride=1, padding=1)[0, 0] * mask
        if torch.equal(nxt, lab):
            return lab.long()
        lab = nxt


def drop_small_pieces(k: Tensor, min_piece: float) -> Tensor:
    """k with every 8-connected piece of its support holding < ``min_piece``·Σk set to 0."""
    if min_piece <= 0:
        return k
    lab = connected_pieces(k > 0)
    ids = lab.flatten()
    mass = torch.zeros(ids.max() + 1, dtype=k.dtype, device=k.device).index_add_(0, ids, k.flatten())
    keep = mass >= min_piece * k.sum()
    keep[0] = False
    out = k * keep[lab]
    return out if float(out.sum()) > 0 else k


def project_kernel(k: Tensor, size: int | None = None, threshold: float = 0.05, min_piece: float = 0.0) -> Tensor:
    """P_N(k): the nearest valid kernel of the module docstring — N×N (odd N; default k's own size,
    k cropped or zero-padded about its centre), non-negative, small entries zeroed, Σ = 1, centred."""
    k = k.detach()
    if k.ndim != 2:
        raise ValueError(f"kernel must be 2-D, got shape {tuple(k.shape)}")
    n = k.shape[0] if size is None else int(size)
    if n < 1 or n % 2 == 0:
        raise ValueError(f"kernel size must be odd and ≥ 1, got {n}")
    k = _window(k, n)
    k = k.clamp(min=0)
    top = float(k.max())
    if not top > 0:
        return delta_kernel(n, k.dtype, k.device)
    k = torch.where(k >= threshold * top, k, torch.zeros_like(k))
    k = drop_small_pieces(k / k.sum(), min_piece)
    k = k / k.sum()
    for _ in range(4):  # a shift can push mass out of the window and move the centre again
        r, c = center_of_mass(k)
        dr, dc = n // 2 - round(r), n // 2 - round(c)
        if dr == 0 and dc == 0:
            break
        moved = shift_kernel(k, dr, dc)
        if not float(moved.sum()) > 0:
            break
        k = moved / moved.sum()
    return k


def _window(k: Tensor, n: int) -> Tensor:
    """k cropped or zero-padded to n×n about its centre pixel (kh//2, kw//2)."""
    kh, kw = k.shape
    ch, cw, c = kh // 2, kw // 2, n // 2
    out = k.new_zeros(n, n)
    r0, r1 = max(0, ch - c), min(kh, ch - c + n)
    c0, c1 = max(0, cw - c), min(kw, cw - c + n)
    out[r0 - (ch - c):r1 - (ch - c), c0 - (cw - c):c1 - (cw - c)] = k[r0:r1, c0:c1]
    return out


def resize_kernel(k: Tensor, size: int) -> Tensor:
    """k resampled (bilinear) to size×size and projected: the next pyramid level's starting kernel."""
    r = F.interpolate(k[None, None], size=(size, size), mode="bilinear", align_corners=True)[0, 0]
    return project_kernel(r, size, threshold=0.0)


def fit_gaussian_std(k: Tensor, stds: Tensor | None = None) -> float:
    """The std s of the isotropic Gaussian closest to kernel k (N×N, Σ = 1) in least squares:

        s* = argmin_s ‖g_s − k‖²,   g_s = the N×N Gaussian of std s centred on k's centre of mass,

    over a grid of ``stds`` (default 0.2 … N/4 px in steps of 2 %).  A least-squares fit, not the
    second moment: a few stray pixels far from the centre of an estimated kernel would dominate
    Σ r² k but barely move the fit.
    """
    n_r, n_c = k.shape
    k = k.to(torch.float64)
    r0, c0 = center_of_mass(k)
    if stds is None:
        hi = max(n_r, n_c) / 4
        stds = torch.exp(torch.arange(0.0, 1.0 + 1e-9, 1.0 / 256, dtype=torch.float64)
                         * (torch.log(torch.tensor(hi)) - torch.log(torch.tensor(0.2)))) * 0.2
    rows = (torch.arange(n_r, dtype=torch.float64, device=k.device) - r0) ** 2
    cols = (torch.arange(n_c, dtype=torch.float64, device=k.device) - c0) ** 2
    r2 = rows[:, None] + cols[None, :]
    best, best_err = float(stds[0]), float("inf")
    for s in stds.tolist():
        g = torch.exp(-0.5 * r2 / s ** 2)
        g = g / g.sum()
        err = float(((g - k) ** 2).sum())
        if err < best_err:
            best, best_err = s, err
    return best
