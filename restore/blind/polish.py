"""The E-step's image refined by the prior: DAPS warm-started from it, with the valid model.

    x_E = D(x_α, σ_e)                                   (`restore.blind.deconv`, one prior call, padded grid)
    x̂   = DAPS(y; 𝒜, σ_y)  from  x_E + σ_s z,  σ_s = σ of the prior's table at ⌈f·T⌉, f = ``POLISH_START``
    𝒜   = M ∘ (k ⊛ ·)   on the E-step's padded grid, M = y's own pixels   (photos; circular blurs: k ⊛ · itself)

DAPS (`restore.guidance.daps`: 20 levels, 4 conjugate-gradient steps on each level's quadratic) anneals from
σ_s down to σ_min, so it only redraws the detail x_E left smooth: at each level x̂₀ = D(x_t, σ_t), then a few
CG steps on ‖𝒜x₀ − y‖²/σ_y² + ‖x₀ − x̂₀‖²/r_t², then x_{t+1} = x₀ + σ_{t+1} z, with the measurement's own
σ_y (DAPS floors it at the 8-bit quantisation level).  Started from noise, DAPS's few CG steps per level
leave a large blur's deconvolution unfinished; started from x_E, the coarse structure is already there.
A photo is a *valid* convolution of a scene larger than its frame: x lives on the E-step's padded grid
(y at `restore.blind.deconv.frame_offset`) and only y's pixels enter the likelihood, 𝒜 = Inpainting(M) ∘
Blur(k, circular); the result is cropped to y.  With `operators.Blur`'s padded model instead (``valid``
False) the polish undid the E-step's border and rang along it.

Measured in session 13 with the true kernel (benchmarks/BLIND.md, RESULTS.md): benchmarks/defaults.py's 128²
training crops (valid blur by gauss2, Levin k3, k8; whole frame) +2.97 / +2.26 / +1.65 / +0.91 dB over DAPS
from noise at σ 0 / 0.005 / 0.01 / 0.025, no crop below it (the padded-model polish: +0.14 to +0.30, crops
to −2.25); Levin et al.'s circular set 40.88 dB against 36.90.  It is the CLI's deblurring default for a given
kernel (`restore.cli.methods.deconv_steps`).  With an *estimated* kernel (the padded-model prototype) it gained
on some crops and lost up to 1.9 dB on others — the kernel's error grows over the levels — so
`restore.solve_blind` and ``--kernel auto`` polish only when asked (``polish=True``, ``--steps N``).  The
delta (no blur) is never polished: its image is D(y, σ_y).
"""
from __future__ import annotations

import torch
from torch import Tensor

import operators as ops
from operators.kernel_fit import is_delta

from .deconv import denoised_deconvolution, frame_offset
from .taper import frame_mask

__all__ = ["polished_deconvolution", "POLISH_START", "VALID_POLISH"]

#: f: the warm start's fraction of the prior's diffusion time (σ_s ≈ 0.17 on the shipped prior's table)
POLISH_START = 0.1

#: photos are polished with the valid model (on the E-step's padded grid)
VALID_POLISH = True


def polished_deconvolution(y: Tensor, k: Tensor, prior, sigma_y: float = 0.0, boundary: str = "reflect",
                           seed=0, polish: bool = True, steps: int | None = None, callback=None,
                           valid: bool | None = None) -> Tensor:
    """x̂ for one image y (C, H, W) and kernel k (module docstring); ``polish`` False: the E-step x_E alone.
    ``seed``: the DAPS chain's seed (an int, or a one-element list as `restore.solve` takes); ``steps``: its
    levels (None: DAPS's tuned deblurring count); ``callback``: `restore.solve`'s, once per level.  ``valid``
    (a padded boundary; None: ``VALID_POLISH``): polish on the E-step's padded grid with the valid model,
    𝒜 = M ∘ (k ⊛) (M: y's own pixels), instead of `operators.Blur`'s padded one."""
    from ..guidance import solve
    from ..guidance.tuned import options

    valid = VALID_POLISH if valid is None else valid
    on_grid = polish and valid and boundary != "circular" and not is_delta(k)
    if not on_grid:
        x = denoised_deconvolution(y, k, prior, sigma_y, boundary=boundary)
        if not polish or is_delta(k):
            return x
    seed = seed if isinstance(seed, (list, tuple)) else [int(seed)]
    daps = {**options("daps", task="deblur"), "start": POLISH_START, **({"steps": steps} if steps else {})}
    k = k.to(torch.float64)
    if not on_grid:
        A = ops.Blur(k, boundary=boundary).started_at(x[None])
        return solve(y[None], A, prior, method="daps", sigma_y=float(sigma_y), seed=seed, callback=callback, **daps)[0]
    h, w = y.shape[-2:]
    o = frame_offset(k, h, w, boundary)
    grid = denoised_deconvolution(y, k, prior, sigma_y, boundary=boundary, on_grid=True)  # (C, Hp, Wp)
    mask = frame_mask((1, 1, *grid.shape[-2:]), h, w, o, y.dtype, y.device)
    yg = torch.zeros(1, *grid.shape, dtype=y.dtype, device=y.device)
    yg[..., o:o + h, o:o + w] = y
    A = (ops.Inpainting(mask) @ ops.Blur(k, boundary="circular")).started_at(grid[None].to(y.dtype))
    xg = solve(yg, A, prior, method="daps", sigma_y=float(sigma_y), seed=seed, callback=callback, **daps)
    return xg[0, :, o:o + h, o:o + w]
