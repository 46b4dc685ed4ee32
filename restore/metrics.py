"""Image quality metrics, batched: one value per image, shape (B,).

All functions take ``x`` (the estimate) and ``ref`` (the ground truth) as float tensors of shape
(B, C, H, W) in ``[0, data_range]``; ``ref`` may also have batch size 1 and is then compared with
every element of ``x``.  Reductions are per image (never over the batch), the result follows the
input's device and dtype, and everything is differentiable (PSNR is ``inf`` and has no useful
gradient at ``x == ref``).

The definitions are those of scikit-image so numbers can be compared with published tables:

- ``mse(x, ref)[b]  = mean_{c,h,w} (x - ref)^2``
- ``psnr(x, ref)[b] = 10 log10(data_range^2 / mse[b])``  (``inf`` for identical images), equal to
  ``skimage.metrics.peak_signal_noise_ratio(ref[b], x[b], data_range=data_range)``.
- ``ssim(x, ref)[b]`` equal to ``skimage.metrics.structural_similarity(x[b], ref[b],
  gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=data_range,
  channel_axis=0)``, i.e. Wang et al. (2004).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from operators.batch import per_image

__all__ = ["mse", "psnr", "ssim", "gaussian_window"]

# SSIM constants of Wang et al. (2004), as in scikit-image.
_K1, _K2 = 0.01, 0.03
# scikit-image uses truncate=3.5 when gaussian_weights=True: radius int(3.5*1.5 + 0.5) = 5 → 11 taps.
_TRUNCATE = 3.5


def _check_pair(x: torch.Tensor, ref: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(x, torch.Tensor) or not isinstance(ref, torch.Tensor):
        raise TypeError("x and ref must be torch tensors")
    if x.ndim != 4 or ref.ndim != 4:
        raise ValueError(
            f"expected (B, C, H, W) tensors, got x of shape {tuple(x.shape)} and ref of shape {tuple(ref.shape)}"
        )
    if ref.shape[0] == 1 and x.shape[0] > 1:
        ref = ref.expand(x.shape[0], -1, -1, -1)
    if x.shape != ref.shape:
        raise ValueError(f"x and ref must have the same shape, got {tuple(x.shape)} and {tuple(ref.shape)}")
    # Integer images are promoted to float64; mixed float dtypes to the wider one.
    dtype = torch.promote_types(x.dtype, ref.dtype)
    if not dtype.is_floating_point:
        dtype = torch.float64
    return x.to(dtype), ref.to(device=x.device, dtype=dtype)


def mse(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Mean squared error per image: mean over (C, H, W) of (x - ref)^2, shape (B,)."""
    x, ref = _check_pair(x, ref)
    return (x - ref).square().flatten(1).mean(dim=1)


def psnr(x: torch.Tensor, ref: torch.Tensor, data_range: float | torch.Tensor = 1.0) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB per image: 10·log10(data_range² / mse(x, ref)), shape (B,).

    Identical images give ``inf`` (as scikit-image).  ``data_range`` is a float or a (B,) tensor.
    """
    err = mse(x, ref)
    dr = per_image(data_range, err.unsqueeze(1)).reshape(-1)
    return 10.0 * torch.log10(dr.square() / err)


def gaussian_window(sigma: float = 1.5, truncate: float = _TRUNCATE, *, device=None,
                    dtype=torch.float64) -> torch.Tensor:
    """Normalised 1-D Gaussian taps g[k] ∝ exp(-k²/(2σ²)), k = -r..r, r = int(truncate·σ + 0.5).

    The same taps as ``scipy.ndimage.gaussian_filter`` (which scikit-image's SSIM uses).
    """
    r = int(truncate * sigma + 0.5)
    k = torch.arange(-r, r + 1, device=device, dtype=torch.float64)
    g = torch.exp(-0.5 * (k / sigma) ** 2)
    return (g / g.sum()).to(dtype)


def _valid_filter(x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Separable 2-D filtering of (N, 1, H, W) with taps g, keeping only the 'valid' region."""
    n = g.numel()
    x = F.conv2d(x, g.view(1, 1, n, 1))
    return F.conv2d(x, g.view(1, 1, 1, n))


def ssim(x: torch.Tensor, ref: torch.Tensor, data_range: float | torch.Tensor = 1.0,
         sigma: float = 1.5) -> torch.Tensor:
    """Structural similarity (Wang et al. 2004) per image, shape (B,).

    With Gaussian-weighted local statistics (σ = 1.5, 11×11 window) μ_x, μ_y, σ_x², σ_y², σ_xy
    (population, not sample, covariances),

        S = (2 μ_x μ_y + C1)(2 σ_xy + C2) / ((μ_x² + μ_y² + C1)(σ_x² + σ_y² + C2)),
        C1 = (0.01·L)², C2 = (0.03·L)², L = data_range,

    averaged over the pixels at least r = 5 away from every border (scikit-image filters with
    reflected borders and then crops r pixels, so only windows lying fully inside the image count;
    computing them directly as a 'valid' convolution is exact), then over channels.
    Images must be at least 11×11.
    """
    x, ref = _check_pair(x, ref)
    b, c, h, w = x.shape
    g = gaussian_window(sigma, device=x.device, dtype=x.dtype)
    n = g.numel()
    if h < n or w < n:
        raise ValueError(f"ssim needs images of at least {n}x{n} pixels, got {h}x{w}")

    # Covariances are shift invariant: compute them on per-channel centred data so that
    # E[x²] - E[x]² does not lose float32 precision to cancellation.
    xc = x - x.mean(dim=(2, 3), keepdim=True)
    yc = ref - ref.mean(dim=(2, 3), keepdim=True)
    stack = torch.cat([x, ref, xc, yc, xc * xc, yc * yc, xc * yc], dim=1)  # (B, 7C, H, W)
    f = _valid_filter(stack.reshape(b * 7 * c, 1, h, w), g).reshape(b, 7, c, h - n + 1, w - n + 1)
    mu_x, mu_y, mc_x, mc_y, e_xx, e_yy, e_xy = f.unbind(dim=1)
    var_x = e_xx - mc_x * mc_x
    var_y = e_yy - mc_y * mc_y
    cov_xy = e_xy - mc_x * mc_y

    dr = per_image(data_range, x).view(b, 1, 1, 1)
    c1 = (_K1 * dr) ** 2
    c2 = (_K2 * dr) ** 2
    s = ((2 * mu_x * mu_y + c1) * (2 * cov_xy + c2)) / ((mu_x.square() + mu_y.square() + c1) * (var_x + var_y + c2))
    # Equal number of pixels per channel, so the mean over (C, H, W) is the mean of channel means.
    return s.flatten(1).mean(dim=1)

