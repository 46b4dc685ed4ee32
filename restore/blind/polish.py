"""The E-step's image refined by the prior: DAPS warm-started from it.

    x_E = D(x_α, σ_e)                                   (`restore.blind.deconv`, one prior call)
    x̂   = DAPS(y, k; σ_y)  from  x_E + σ_s z,  σ_s = σ of the prior's table at ⌈f·T⌉, f = ``POLISH_START``

DAPS (`restore.guidance.daps`, the known-kernel deblurring default: 20 levels, 4 conjugate-gradient steps
on each level's quadratic) anneals from σ_s down to σ_min, so it only redraws the detail x_E left smooth:
at each level x̂₀ = D(x_t, σ_t), then a few CG steps on ‖k ⊛ x₀ − y‖²/σ_y² + ‖x₀ − x̂₀‖²/r_t², then
x_{t+1} = x₀ + σ_{t+1} z, with the measurement's own σ_y (DAPS floors it at the 8-bit quantisation
level).  Started from noise, DAPS's few CG steps per level leave a large blur's deconvolution unfinished;
started from x_E, the coarse structure is already there and the levels spend themselves on detail.

Measured in session 13 (benchmarks/BLIND.md, RESULTS.md).  With the true kernel: on Levin et al.'s circular
set 40.88 dB against 36.90 for DAPS from noise (the deblurring default before); on benchmarks/defaults.py's
128² training crops (valid blur, whole frame; the valid-model E-step) +0.23 to +0.30 dB over DAPS from noise
at σ 0.005–0.025 but only +0.14 on clean inputs, where its padded data term (`operators.Blur`, reflect) undoes
the valid E-step's border on large kernels and the E-step alone is +0.96.  So the CLI's deblurring default
(`restore.cli.methods.deconv_steps`) polishes noisy photos and circular blurs, not clean photos.  With an
*estimated* kernel it gained on some crops and lost up to 1.9 dB on others (the kernel's error grows over the
levels): `restore.solve_blind` and ``--kernel auto`` polish only when asked (``polish=True``, ``--steps N``).
The delta (no blur) is never polished: its image is D(y, σ_y).
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
