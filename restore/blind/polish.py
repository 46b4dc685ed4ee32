"""The E-step's image refined by the prior: DAPS warm-started from it.

    x_E = D(x_α, σ_e)                                   (`restore.blind.deconv`, one prior call)
    x̂   = DAPS(y, k; σ_y)  from  x_E + σ_s z,  σ_s = σ of the prior's table at ⌈f·T⌉, f = ``POLISH_START``

DAPS (`restore.guidance.daps`, the known-kernel deblurring default: 20 levels, 4 conjugate-gradient steps
on each level's quadratic) anneals from σ_s down to σ_min, so it only redraws the detail x_E left smooth:
at each level x̂₀ = D(x_t, σ_t), then a few CG steps on ‖k ⊛ x₀ − y‖²/σ_y² + ‖x₀ − x̂₀‖²/r_t², then
x_{t+1} = x₀ + σ_{t+1} z, with the measurement's own σ_y (DAPS floors it at the 8-bit quantisation
level).  Started from noise, DAPS's few CG steps per level leave a large blur's deconvolution unfinished;
started from x_E, the coarse structure is already there and the levels spend themselves on detail.

Measured on training crops (benchmarks/BLIND.md, session 13; not a default anywhere).  With the tapered
E-step it was far sharper than DAPS from noise (the known-kernel deblurring default) inside the frame
(CBSD432 160² valid-blur crops, the true kernel, 15-px border left out, f = 0.1: clean 8-bit +3.4 dB with
Levin k1, +1.3 with k8; σ_y 0.01 +0.1 to +1.4) and on Levin's circular set (40.88 dB against 36.90), but
over the whole frame of benchmarks/defaults.py's 128² crops it lost 0.21 dB.  With the valid-model E-step
(`restore.blind.deconv`) the E-step alone is +1.07 dB over DAPS on those crops when clean and −0.57 at
σ_y 0.025, and the polish +0.04 overall: it gains on noisy inputs (+0.21) and loses up to 2.4 dB on clean
ones with a large kernel, its data term (`operators.Blur`, reflect) not being the valid model.  With an
*estimated* kernel it gained on some crops and lost up to 1.9 dB on others.  Hence opt-in: ``--method
deconv --steps N`` and `restore.solve_blind(polish=True)`.  The delta (no blur) is never polished: its
image is D(y, σ_y).
"""
from __future__ import annotations

import torch
from torch import Tensor

import operators as ops
from operators.kernel_fit import is_delta

from .deconv import denoised_deconvolution

__all__ = ["polished_deconvolution", "POLISH_START"]

#: f: the warm start's fraction of the prior's diffusion time (σ_s ≈ 0.17 on the shipped prior's table)
POLISH_START = 0.1


def polished_deconvolution(y: Tensor, k: Tensor, prior, sigma_y: float = 0.0, boundary: str = "reflect",
                           seed=0, polish: bool = True, steps: int | None = None, callback=None) -> Tensor:
    """x̂ for one image y (C, H, W) and kernel k (module docstring); ``polish`` False: the E-step x_E alone.
    ``seed``: the DAPS chain's seed (an int, or a one-element list as `restore.solve` takes); ``steps``: its
    levels (None: DAPS's tuned deblurring count); ``callback``: `restore.solve`'s, once per level."""
    from ..guidance import solve

    x = denoised_deconvolution(y, k, prior, sigma_y, boundary=boundary)
    if not polish or is_delta(k):
        return x
    A = ops.Blur(k.to(torch.float64), boundary=boundary).started_at(x[None])
    seed = seed if isinstance(seed, (list, tuple)) else [int(seed)]
    return solve(y[None], A, prior, method="daps", sigma_y=float(sigma_y), seed=seed,
                 start=POLISH_START, steps=steps, callback=callback)[0]
