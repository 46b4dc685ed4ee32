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

Blurs with a padded boundary (reflect, …) are checked on the interior, half a kernel away from the
border: a real photo is a *valid* convolution of a scene larger than the frame, which the padded
model only approximates within half a kernel of the edge.  Measured on 128² training crops blurred
that way (DAPS 20 levels, clean 8-bit input, σ_y 0.002): the true Levin kernel 3 scored 7.2 / 3.4 on
the whole image and 1.3 / 1.2 on the interior, a wrong Gaussian (std 3) 3.4–4.0 either way.  The test
has little power at high noise (σ_y ≈ 0.025: every kernel scored 1.0–1.1) and is not conclusive for
every kernel (Levin's kernel 8 scored 3.2–3.5 on clean inputs with the true kernel).
"""
from __future__ import annotations

import math

import torch

import operators as ops
from operators.random import randn

from .base import QUANTIZATION_SIGMA

#: ratio above which the command line warns that the model does not explain the measurement
MISFIT_RATIO = 1.5
#: λ of the data-dominated proximal step (gains of 𝒜 below √λ ≈ 0.03 are left unfitted)
FIT_LAMBDA = 1e-3
#: seed of the simulated noise z° (the check is deterministic)
FIT_SEED = 0x5EED


def interior_border(A, shape) -> int:
    """Rows/columns left out at each edge: half the kernel of a padded-boundary blur (at most a quarter of
    the image's side), else 0."""
    kernel, boundary = getattr(A, "kernel", None), getattr(A, "boundary", "circular")
    if kernel is None or boundary == "circular" or kernel.ndim != 2:
        return 0
    return min(max(kernel.shape) // 2, min(shape[-2:]) // 4)


#: CG iterations of the refit (the CLI caps the solver's prox at 25; the check needs it converged)
FIT_CG_ITER = 200


def _refit_rms(y, A, x, sigma: float, measured) -> float:
    if hasattr(A, "with_cg"):  # a converged prox, preconditioned where 𝒜 has one (the solution is the same)
        A = A.with_cg(max(getattr(A, "cg_max_iter", FIT_CG_ITER), FIT_CG_ITER))
        A.cg_precondition = True
    xt = A.prox(x, y, sigma, FIT_LAMBDA / sigma**2)
    r = (y - A(xt)) * measured
    return math.sqrt(float(r.pow(2).sum()) / max(int(measured.sum()), 1)), xt


def residual_ratio(y: torch.Tensor, A, x: torch.Tensor, sigma_y: float) -> dict:
    """{"rms": rms of the refitted residual, "expected": its size under the model, "ratio": their quotient}."""
    with torch.no_grad():
        x = x.to(y.dtype)
        s = max(float(sigma_y), QUANTIZATION_SIGMA)
        measured = ops.measured_entries(A, x.shape, y.dtype, y.device)
        b = interior_border(A, y.shape)
        if b:
            measured[..., :b, :] = 0
            measured[..., -b:, :] = 0
            measured[..., :, :b] = 0
            measured[..., :, -b:] = 0
        rms, xt = _refit_rms(y, A, x, s, measured)
        y0 = A(xt) + s * randn(y.shape, FIT_SEED, y.device, y.dtype) * measured
        expected, _ = _refit_rms(y0, A, xt, s, measured)
    return {"rms": rms, "expected": expected, "ratio": rms / max(expected, 1e-12)}
