"""Baselines through the same call: the pseudo-inverse and a Wiener / Tikhonov estimate (no prior,
deterministic, ``samples`` copies are identical).

pinv:    x = 𝒜†y  (SVD when available, else CG on the normal equations).

wiener:  the MAP/MMSE estimate under a flat-spectrum Gaussian signal model x ~ N(m·1, S I) per image,

    x = argmin ‖𝒜x − y‖²/(2σ_y²) + ‖x − m·1‖²/(2S) = 𝒜.prox(m·1, y, σ_y, 1/S),

for a circular blur exactly the classic Wiener filter X = (H* Y + λ M)/(|H|² + λ), λ = σ_y²/S.
Per image (no statistics across the batch): m = ⟨𝒜1, y⟩/‖𝒜1‖² (least-squares constant) and
S = max(‖y − m𝒜1‖²/n_y − σ_y², 10⁻⁶) / (‖𝒜‖_F²/n_x), the measured signal power divided by the
operator's mean energy gain (‖𝒜‖_F² = Σ s² from the SVD, else a fixed-seed Hutchinson estimate
with 8 Rademacher probes).  Override with ``mean=`` / ``signal_var=`` (floats or (B,) tensors).
σ_y = 0 gives the projection of m·1 onto {𝒜x = y}.
"""
from __future__ import annotations

import torch

from operators.base import per_image

from .base import Problem
from .registry import Method, register

DEFAULTS = {}


def run_pinv(p: Problem) -> torch.Tensor:
    return p.A.pinv(p.y)


def _gain_per_pixel(p: Problem) -> torch.Tensor:
    """‖𝒜‖_F²/n_x per row, (N,): Σ s² from the SVD, else a fixed-seed Hutchinson estimate."""
    n_x = 1
    for d in p.image_shape:
        n_x *= d
    spec = p.spectral()
    if spec is not None:
        return (spec.s**2).expand(p.x_shape).flatten(1).sum(1) / n_x
    g = torch.Generator().manual_seed(0)
    total = torch.zeros(p.N, device=p.device, dtype=p.dtype)
    for _ in range(8):
        probe = (torch.randint(0, 2, p.image_shape, generator=g) * 2 - 1).to(p.device, p.dtype)
        total = total + p.A(probe.expand(p.x_shape).contiguous()).pow(2).flatten(1).sum(1)
    return total / (8 * n_x)


def run_wiener(p: Problem, mean=None, signal_var=None) -> torch.Tensor:
    ones = torch.ones(p.x_shape, device=p.device, dtype=p.dtype)
    a1 = p.A(ones)
    n_y = a1[0].numel()
    if mean is None:
        m = (a1 * p.y).flatten(1).sum(1) / a1.pow(2).flatten(1).sum(1).clamp_min(1e-30)
    else:
        m = per_image(mean, p.y[: p.B]).reshape(-1).repeat(p.K)
    m4 = m.view(-1, 1, 1, 1)
    if signal_var is None:
        power = (p.y - m4 * a1).pow(2).flatten(1).sum(1) / n_y
        S = (power - p.sigma_y.reshape(-1) ** 2).clamp(min=1e-6) / _gain_per_pixel(p).clamp(min=1e-12)
    else:
        S = per_image(signal_var, p.y[: p.B]).reshape(-1).repeat(p.K)
    return p.A.prox(m4 * ones, p.y, p.sigma_y.reshape(-1), 1.0 / S)


PINV = register(Method("pinv", run_pinv, "Baseline: pseudo-inverse A†y (no prior)", noise=False, samples=False))
WIENER = register(Method("wiener", run_wiener,
                         "Baseline: Tikhonov/Wiener with a flat per-image signal spectrum (no prior)", samples=False))
