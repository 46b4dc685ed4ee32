"""Does the assumed model explain the measurement?  A residual test that a wrong kernel or noise level fails.

A solver's point estimate x̂ need not fit y tightly (the prior pulls it away), so its own residual mixes
solver and model error.  The check asks whether *some image near x̂* explains y through the assumed 𝒜
with noise of the assumed size.  One data-dominated proximal step

    x̃ = prox(x̂; y) = argmin_x ‖𝒜x − y‖² + λ‖x − x̂‖²,   λ = ``FIT_LAMBDA`` (small: data first)

leaves the residual r = y − 𝒜x̃.  Under the model (y = 𝒜x + σ_y z) that residual is noise filtered by
λ/(s² + λ) on each singular direction; its size is measured on a simulated measurement the model
explains exactly, y° = 𝒜x̃ + σ_y z° (z° from a fixed seed), refitted the same way:

    ratio = rms(y − 𝒜 prox(x̂; y)) / rms(y° − 𝒜 prox(x̃; y°))          (rms over the measured entries)

≈ 1 when the model holds; well above 1 when y holds signal no image seen through 𝒜 produces (a
Gaussian assumed for a camera-shake blur) or noise larger than σ_y (a noise level set too low).
``MISFIT_RATIO`` is where the command line warns.  Entries of y that 𝒜 never measures (inpainting's
holes: rows of 𝒜 that are zero) are left out; σ_y is floored at the 8-bit quantisation noise.
"""
from __future__ import annotations

import math

import torch

from operators.random import randn

from .base import QUANTIZATION_SIGMA

#: ratio above which the command line warns that the model does not explain the measurement
MISFIT_RATIO = 1.5
#: λ of the data-dominated proximal step (gains of 𝒜 below √λ ≈ 0.03 are left unfitted)
FIT_LAMBDA = 1e-3
#: seed of the simulated noise z° (the check is deterministic)
FIT_SEED = 0x5EED


def _refit_rms(y, A, x, sigma: float, measured) -> float:
    xt = A.prox(x, y, sigma, FIT_LAMBDA / sigma**2)
    r = (y - A(xt)) * measured
    return math.sqrt(float(r.pow(2).sum()) / max(int(measured.sum()), 1)), xt


def residual_ratio(y: torch.Tensor, A, x: torch.Tensor, sigma_y: float) -> dict:
    """{"rms": rms of the refitted residual, "expected": its size under the model, "ratio": their quotient}."""
    with torch.no_grad():
        x = x.to(y.dtype)
        s = max(float(sigma_y), QUANTIZATION_SIGMA)
        measured = (A(torch.ones_like(x)) != 0).to(y.dtype)
        rms, xt = _refit_rms(y, A, x, s, measured)
        y0 = A(xt) + s * randn(y.shape, FIT_SEED, y.device, y.dtype) * measured
        expected, _ = _refit_rms(y0, A, xt, s, measured)
    return {"rms": rms, "expected": expected, "ratio": rms / max(expected, 1e-12)}
