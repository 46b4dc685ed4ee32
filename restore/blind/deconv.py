"""The E-step of blind deblurring that tolerates kernel error: a gradient-regularised deconvolution
followed by one posterior-mean step of the diffusion prior.

    x_α = argmin_x ‖k̂ ⊛ x − y‖² + α‖∇x‖²   ⇔   X_α = conj(K̂)·Y / (|K̂|² + α Σ_d |D_d|²)   (per channel, FFT)
    x̂   = D(x_α, σ_e) = E[x₀ | x₀ + σ_e z = x_α]                                       (one prior call)

(k̂ = δ, no blur: x̂ = D(y, σ_y), plain denoising — there is no kernel error to remove.)

The α-term damps only the high frequencies (|D_d|² ≈ 0 near DC), where an estimated kernel is
least reliable; the remaining error of x_α (ringing of the kernel error, amplified noise) is treated
as Gaussian noise of level σ_e and removed by the prior's denoiser.  On Levin et al.'s set this is
far more robust to kernel error than the guidance methods, which fit y down to σ_y with the wrong
kernel (benchmarks/BLIND.md).  Photos (boundary ≠ "circular") are extended periodically first
(`restore.blind.taper`) and, up to ``VALID_PIXELS``, solved by the valid model: x lives on the padded
grid and only y's own pixels M enter the data term,

    x_α = argmin ‖M(k̂ ⊛ x − ỹ)‖² + α‖∇x‖²   ⇔   (K̄ M K + α Σ_d D̄_d D_d) x = K̄ M ỹ,

``VALID_ITERS`` conjugate-gradient steps from the tapered closed form, preconditioned by it (exact for
M = I).  The taper's guess of the scene beyond y's border rings through the whole frame for a large
kernel; the valid model does not guess it (session 13, CBSD432 128² training crops, clean 8-bit, the true
kernel: Levin k8 22.54 → 25.19 and 20.16 → 27.79 dB, DAPS from noise 22.50 and 26.22; benchmarks/BLIND.md).
"""
from __future__ import annotations

import torch
from torch import Tensor

from operators.cg import conjugate_gradient
from operators.kernel_fit import gradients, is_delta, otf

from .taper import crop, frame_mask, taper_pad

__all__ = ["alpha_for", "frame_offset", "gradient_wiener", "denoised_deconvolution", "noise_gain", "valid_iters_for",
           "ALPHA", "SIGMA_E", "ALPHA_PER_NOISE", "LEVEL_PER_NOISE", "VALID_ITERS", "VALID_PIXELS"]

#: α and σ_e of the module docstring for noise-free inputs, chosen on Levin image 1 (kernels 1, 4, 6: α ∈
#: {1e-3, 3e-3, 1e-2}, σ_e ∈ {0, 0.01, 0.03}).  Session 9 re-ran the choice on training crops, the kernels estimated
#: and the residual check on (CBSD432 104055, 105019, 105027, 105053 × the 8 Levin kernels, 8-bit): (1e-3, 0.01)
#: won there (circular blur 255²: 30.28 → 31.52 dB; valid blur 160²: 25.50 → 25.64) but lost 0.67 dB on Levin's
#: 32 images, about 1 dB on images 3 and 4 as well as on image 1, and let an unblurred clean crop keep a
#: spurious blur (24.2 dB; the residual check passes it), so it is not adopted (benchmarks/BLIND.md).
#:
#: Noisy inputs: α = max(ALPHA, ALPHA_PER_NOISE·σ_y) and the denoiser level ≥ LEVEL_PER_NOISE·σ_y, chosen in
#: session 9 together with the residual check's threshold (`restore.blind.reliability`) on noisy training
#: crops, the kernels estimated (CBSD432 104055, 105019, 105027, 105053 × 8 Levin + 4 Lai kernels, valid blur,
#: and 10 unblurred crops; 160², σ_y 0.01; with the check at 1.65): (α, level) = (3e-3, 3σ_y) before: blurred 23.70 dB from 23.17 (9 of 48 below the input),
#: unblurred 35.67 from 39.95 (3 of 10 far below); (4σ_y, 5σ_y): 24.22 (4), 41.33 (0); **(2σ_y, 4σ_y)**:
#: 24.46 (4), 41.33 (0) — the heavier regulariser both deblurs better and lets the check reject the
#: blur an estimate finds in a sharp noisy photo.
ALPHA = 3e-3
SIGMA_E = 0.03

#: the valid model's CG steps (`gradient_wiener`) and the largest photo (pixels) they are spent on
VALID_ITERS = 30
VALID_PIXELS = 2 * 1024 * 1024
ALPHA_PER_NOISE = 2.0
LEVEL_PER_NOISE = 4.0


def alpha_for(sigma_y: float) -> float:
    """The E-step's α for noise σ_y: max(ALPHA, ALPHA_PER_NOISE·σ_y) (module constants above)."""
    return max(ALPHA, ALPHA_PER_NOISE * float(sigma_y))


def frame_offset(k: Tensor, h: int, w: int, boundary: str) -> int:
    """Where an h×w photo sits on the padded grid of `gradient_wiener` (its top-left corner at (o, o)); 0 for
    a circular blur (no padding)."""
    return 0 if boundary == "circular" else min(max(k.shape), h - 1, w - 1)


def gradient_wiener(y: Tensor, k: Tensor, alpha: float = ALPHA, boundary: str = "reflect",
                    valid_iters: int = 0, on_grid: bool = False) -> Tensor:
    """x_α for a 2-D image y (float64) and kernel k (module docstring).  ``valid_iters`` > 0 (photos): then
    that many preconditioned CG steps on the valid model, x on the padded grid and only y's own pixels M
    in the data term, (K̄ M K + α Σ_d D̄_d D_d) x = K̄ M ỹ, from the tapered closed form and preconditioned by
    it (exact for M = I).  ``on_grid``: x on the whole padded grid (y at `frame_offset`), not cropped to y."""
    h, w = y.shape
    m = 0 if boundary == "circular" else max(k.shape)
    yp = taper_pad(y, m, smooth=True) if m else y
    hp, wp = yp.shape
    K = otf(k.to(yp.dtype), hp, wp, onesided=True)  # one-sided spectra: every signal here is real
    e = torch.zeros(hp, wp, dtype=yp.dtype, device=yp.device)
    e[0, 0] = 1.0
    reg = sum(torch.fft.rfft2(d).abs() ** 2 for d in gradients(e))
    denom = K.abs() ** 2 + alpha * reg
    x = torch.fft.irfft2(K.conj() * torch.fft.rfft2(yp) / denom, s=(hp, wp))
    if m and valid_iters > 0:
        mask = frame_mask(yp.shape, h, w, frame_offset(k, h, w, boundary), yp.dtype, yp.device)

        def normal(u):
            U = torch.fft.rfft2(u)
            r = mask * torch.fft.irfft2(K * U, s=(hp, wp))
            return torch.fft.irfft2(K.conj() * torch.fft.rfft2(r) + alpha * reg * U, s=(hp, wp))

        b = torch.fft.irfft2(K.conj() * torch.fft.rfft2(mask * yp), s=(hp, wp))
        x = conjugate_gradient(lambda u: normal(u[0])[None], b[None], x[None], tol=0.0, max_iter=int(valid_iters),
                               warn=False, preconditioner=lambda r: torch.fft.irfft2(
                                   torch.fft.rfft2(r[0]) / denom, s=(hp, wp))[None])[0]
    return crop(x, m, h, w) if m and not on_grid else x


def noise_gain(k: Tensor, h: int, w: int, alpha: float = ALPHA) -> float:
    """g = rms of the filter K̄/(|K|² + αΣ|D|²) over an h×w grid: white noise of std σ_y leaves the
    gradient-regularised deconvolution with std g·σ_y (exactly, for the circular model)."""
    K = otf(k.to(torch.float64), h, w)
    e = torch.zeros(h, w, dtype=torch.float64)
    e[0, 0] = 1.0
    reg = sum(torch.fft.fft2(d).abs() ** 2 for d in gradients(e))
    return float(((K.abs() / (K.abs() ** 2 + alpha * reg)) ** 2).mean().sqrt())


def valid_iters_for(h: int, w: int) -> int:
    """CG steps of the valid model (`gradient_wiener`) for an h×w photo: ``VALID_ITERS`` up to ``VALID_PIXELS``,
    none above (each step is six FFTs of the padded photo per channel: 30 steps took 0.29 s per channel at
    512², 1.3 s at 1 MP, 12 s at 4 MP on 2 cores; the CLI tiles photos above 1 MP into 512² tiles, each a
    valid crop of the blurred photo, so every tile gets them: about +0.9 s per RGB tile)."""
    return VALID_ITERS if h * w <= VALID_PIXELS else 0


def denoised_deconvolution(y: Tensor, k: Tensor, prior, sigma_y: float = 0.0, alpha: float | None = None,
                           sigma_e: float = SIGMA_E, boundary: str = "reflect", valid: bool = True,
                           on_grid: bool = False) -> Tensor:
    """x̂ = D(x_α, max(σ_e, 4σ_y, g·σ_y)) for one image y (C, H, W) in [0, 1], α = max(3e-3, 2σ_y) unless
    given, g = `noise_gain` (the noise the deconvolution leaves is g·σ_y: the denoiser is asked to remove
    at least that); returns (C, H, W) in y's dtype.  ``valid`` (photos, boundary ≠ "circular"): x_α by the
    valid model (`valid_iters_for` CG steps of `gradient_wiener`); False: the tapered closed form alone.
    ``on_grid`` (a blur k ≠ δ): x̂ on `gradient_wiener`'s whole padded grid, y at `frame_offset`.
    For the delta (no blur found) nothing is deconvolved and there is no
    kernel error to remove: x̂ = D(y, σ_y), the posterior mean of denoising (y itself at σ_y = 0), so an
    unblurred photo comes back unchanged within its noise."""
    denoise = prior.denoise if hasattr(prior, "denoise") else prior
    if is_delta(k):
        if float(sigma_y) <= 0:
            return y.clamp(0, 1)
        with torch.no_grad():
            return denoise(y[None], float(sigma_y))[0].clamp(0, 1)
    if alpha is None:
        alpha = alpha_for(sigma_y)
    iters = valid_iters_for(*y.shape[-2:]) if valid else 0
    xa = torch.stack([gradient_wiener(c.to(torch.float64), k, alpha, boundary, iters, on_grid) for c in y])
    s = max(float(sigma_e), LEVEL_PER_NOISE * float(sigma_y), noise_gain(k, *y.shape[-2:], alpha) * float(sigma_y))
    with torch.no_grad():
        x = denoise(xa.clamp(-0.25, 1.25)[None].to(y.dtype), s)[0]
    return x.clamp(0, 1)
