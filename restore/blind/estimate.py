"""Coarse-to-fine kernel estimation: alternate the x-step and the k-step on an image pyramid.

For kernel size N the pyramid has levels l = L … 0 with kernel sizes N_l (odd, N_l ≈ N·2^(−l/2),
the coarsest 3–5 px) and images y_l = y resized by N_l/N (area-antialiased bilinear).  At each
level, starting from the previous level's kernel resized to N_l × N_l (a 3×3 two-pixel bar at the
coarsest, as in Pan et al. 2014):

    repeat ``iters`` times:
        x ← argmin ‖k ⊛ x − y_l‖² + λ‖∇x‖₀                     (`restore.blind.latent.l0_latent`)
        k ← P_{N_l}( argmin Σ_d ‖∂_d y_l − k ⊛ ∂_d x‖² + γ‖k‖² )  (`operators.kernel_fit.fit_kernel`)
        λ ← max(λ/1.1, λ_min)            (λ carries over to the next level: coarse levels see a strong
                                          L0 prior that escapes the no-blur solution, fine levels a weak one
                                          that leaves the true kernel nearly a fixed point)

The k-step starts each time from the uniform kernel and runs ``cg_iters`` (20) CG steps, k-step
gradients are the salient ones of x (`salient_gradients`).  After the finest level, ``polish``
further iterations halve λ down to ``polish_min`` (1e-5): from a kernel already near the truth, a
weaker L0 prior gives a latent image closer to the real one and a less biased fit.

Photos (``boundary`` other than "circular") are extended periodically first (`restore.blind.taper`,
by N_l pixels, and a few more at the bottom and right to an FFT-fast grid); with ``valid`` (default) that margin is unknown, not data: the x-step fits k ⊛ x to y
only on y's pixels (the margin filled by the current prediction, `l0_latent`'s ``mask``) and the
k-step fits only y's own gradients (`fit_kernel`'s ``mask``), so x extends beyond y as the scene
did (valid convolution) and the padded margin cannot pull the kernel toward the delta.
Several starts (``starts``, names of `STARTS`: the coarsest kernel and a factor on λ) each run the whole
pyramid; the kernel with the smallest `fit_score` (the mean squared residual ‖M(k ⊛ x − y)‖² of its own
L0 latent at λ = ``SCORE_LAM`` on the finest level) is kept.  The score ranks the true kernel above the
delta (whose latent must flatten y's small gradients) and above wrong blurs.

Every step is a handful of FFTs on the level's grid, so the whole estimate costs a few seconds at
256² — far less than one diffusion solve.
"""
from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import torch
import torch.nn.functional as F
from torch import Tensor

from operators.kernel_fit import fit_kernel, gradients, otf, resize_kernel

from .latent import l0_latent
from .taper import frame_mask, taper_pad

__all__ = ["pyramid_sizes", "estimate_kernel", "fit_score", "ESTIMATE_DEFAULTS", "STARTS", "SCORE_LAM"]

#: λ and γ: chosen on training crops (session 9; CBSD432 104055, 105019, 105027, 105053, the 8 Levin kernels,
#: 8-bit; judged by the blind E-step's PSNR).  Valid convolution, 160², clean / σ_y 0.01 (inputs 24.76 / 24.63
#: dB): λ 1e-2, γ 1e-2 (before) 23.97 / 24.29; λ 4e-3 25.09 / 25.23; λ 2e-3 (noisy) 25.11; γ 3e-2 (noisy, with
#: λ 4e-3) 25.44, γ 0.1 24.95.  Circular blur, 255², clean (input 25.79): 29.62 before → 30.28.  Salient
#: gradients off and 12 polish steps changed the mean by ≤ 0.03 dB.  Threshold and polish: Levin image 1.
ESTIMATE_DEFAULTS = {"iters": 5, "lam": 4e-3, "lam_min": 1e-4, "gamma": 3e-2, "threshold": 0.02, "polish": 6,
                     "min_piece": 0.1, "salient": 2.0, "valid": True, "starts": ("bar",), "refine": 0}


def salient_gradients(x: Tensor, n: int, r: float) -> tuple[Tensor, Tensor]:
    """(∂_v x, ∂_h x) kept only where |∇x| ≥ t (Cho & Lee 2009): t is the largest threshold that keeps
    at least r·√(P_x·N²) pixels in each of 4 orientation bins (P_x pixels, N×N kernel); r ≤ 0 keeps all."""
    gv, gh = gradients(x)
    if r <= 0:
        return gv, gh
    mag = torch.sqrt(gv ** 2 + gh ** 2)
    want = int(r * math.sqrt(mag.numel() * n * n))
    ang = torch.remainder(torch.atan2(gv, gh), math.pi)
    bins = torch.clamp((ang / (math.pi / 4) + 0.5).long() % 4, 0, 3)
    t = float("inf")
    for b in range(4):
        m = mag[bins == b]
        if m.numel() == 0:
            continue
        t = min(t, float(torch.topk(m, min(want, m.numel())).values[-1]))
    keep = mag >= t
    return gv * keep, gh * keep


def _odd(v: float) -> int:
    n = int(round(v))
    return n if n % 2 == 1 else n + 1 if n + 1 - v <= v - (n - 1) else n - 1


def pyramid_sizes(size: int) -> list[int]:
    """Kernel sizes from coarse to fine: N, N/√2, N/2, … (odd) down to 3–5 px, reversed."""
    sizes = [int(size)]
    while sizes[-1] > 5:
        nxt = max(3, _odd(sizes[-1] / math.sqrt(2)))
        if nxt >= sizes[-1]:
            break
        sizes.append(nxt)
    return sizes[::-1]


def _resize(y: Tensor, h: int, w: int) -> Tensor:
    if (h, w) == tuple(y.shape):
        return y
    return F.interpolate(y[None, None], size=(h, w), mode="bilinear", align_corners=False, antialias=True)[0, 0]


def _initial_kernel(n: int, dtype, device) -> Tensor:
    """A two-pixel horizontal bar (Pan et al. 2014); the 1×1 delta for n = 1."""
    k = torch.zeros(n, n, dtype=dtype, device=device)
    c = n // 2
    k[c, c] = k[c, c + 1] = 0.5 if n > 1 else 1.0
    return k if n > 1 else k.fill_(1.0)


def _vertical_bar(n: int, dtype, device) -> Tensor:
    return _initial_kernel(n, dtype, device).T.contiguous()


def _box(n: int, dtype, device) -> Tensor:
    """The 3×3 box (the delta for n = 1)."""
    if n < 3:
        return _initial_kernel(n, dtype, device)
    k = torch.zeros(n, n, dtype=dtype, device=device)
    c = n // 2
    k[c - 1:c + 2, c - 1:c + 2] = 1.0 / 9
    return k


#: the starts of the multi-start estimate: name → (initial coarsest kernel, factor on λ)
STARTS = {"bar": (_initial_kernel, 1.0), "bar-v": (_vertical_bar, 1.0), "box": (_box, 1.0),
          "strong": (_initial_kernel, 2.5)}

#: λ of the L0 latent that scores a finished estimate (`fit_score`)
SCORE_LAM = 1e-3

#: λ of the refinement of the kept kernel (``refine`` alternations at this fixed weight)
REFINE_LAM = 1e-4


def fit_score(y: Tensor, k: Tensor, mask: Tensor | None = None, lam: float = SCORE_LAM) -> float:
    """How well k explains y through a sharp latent: the mean squared residual ‖M(k ⊛ x − y)‖²/ΣM of
    x = argmin ‖M(k ⊛ x − y)‖² + λ‖∇x‖₀ (`l0_latent`, λ = ``SCORE_LAM``) on y's measured pixels M."""
    x = l0_latent(y, k, lam, mask=mask)
    h, w = y.shape
    r = torch.fft.irfft2(otf(k.to(y.dtype), h, w, onesided=True) * torch.fft.rfft2(x), s=(h, w)) - y
    if mask is None:
        return float((r ** 2).mean())
    return float((mask * r ** 2).sum() / mask.sum())


def estimate_kernel(y: Tensor, size: int, boundary: str = "reflect", iters: int = ESTIMATE_DEFAULTS["iters"],
                    lam: float = ESTIMATE_DEFAULTS["lam"], lam_min: float = ESTIMATE_DEFAULTS["lam_min"],
                    gamma: float = ESTIMATE_DEFAULTS["gamma"], threshold: float = ESTIMATE_DEFAULTS["threshold"],
                    min_piece: float = ESTIMATE_DEFAULTS["min_piece"], salient: float = ESTIMATE_DEFAULTS["salient"],
                    polish: int = ESTIMATE_DEFAULTS["polish"], polish_min: float = 1e-5, cg_iters: int = 20,
                    valid: bool = ESTIMATE_DEFAULTS["valid"], starts=ESTIMATE_DEFAULTS["starts"],
                    refine: int = ESTIMATE_DEFAULTS["refine"], callback=None, scores: list | None = None,
                    workers: int = 1) -> Tensor:
    """The N×N kernel of a 2-D grey image y (float64), coarse to fine (module docstring): one estimate per
    start (`STARTS`), the one with the smallest `fit_score` on the finest level kept, then ``refine``
    alternations at λ = ``REFINE_LAM``.

    ``callback(level, size, k)`` after each level; ``scores`` (a list) receives (start, score, k) per start
    (k before the refinement).  ``workers`` > 1 runs the starts in that many threads at once (each start
    is a pure function of y; the kept kernel does not depend on ``workers``; ``callback`` is then called
    from those threads).  Each thread gets the caller's intra-op thread count, so call it inside
    `restore.blind.one_thread` as `estimate_blur` does: more busy threads than cores spin and slow down."""
    unknown = [s for s in starts if s not in STARTS]
    if not starts or unknown:
        raise ValueError(f"starts must name one or more of {sorted(STARTS)}, got {starts!r}")
    if int(workers) != workers or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    scored = len(starts) > 1 or scores is not None

    def one(name):
        init, factor = STARTS[name]
        k, yl, mask = _estimate_from(y, size, boundary, init, lam * factor, iters, lam_min, gamma, threshold,
                                     min_piece, salient, polish, polish_min, cg_iters, valid, callback)
        return (fit_score(yl, k, mask) if scored else 0.0), k, yl, mask

    if workers > 1 and len(starts) > 1:
        threads = torch.get_num_threads()  # a new thread starts with OpenMP's default: give it the caller's

        def in_thread(name):
            torch.set_num_threads(threads)
            return one(name)

        with ThreadPoolExecutor(max_workers=min(int(workers), len(starts))) as pool:
            done = list(pool.map(in_thread, starts))
    else:
        done = [one(name) for name in starts]
    best = None
    for name, (score, k, yl, mask) in zip(starts, done):  # in the order of ``starts``: ties keep the first
        if scores is not None:
            scores.append((name, score, k))
        if best is None or score < best[0]:
            best = (score, k, yl, mask)
    _, k, yl, mask = best
    fit = {"gamma": gamma, "threshold": threshold, "min_piece": min_piece, "mask": mask}
    for _ in range(int(refine)):
        k = _alternate(yl, k, REFINE_LAM, size, salient, fit, init=k)
    return k


def _alternate(yl: Tensor, k: Tensor, lam: float, n: int, salient: float, fit: dict, **more) -> Tensor:
    """One x-step and k-step: x = `l0_latent`(y_l, k, λ), then the `fit_kernel` of x's salient gradients
    (``fit``: gamma, threshold, min_piece, mask; ``more``: iters, init)."""
    x = l0_latent(yl, k, lam, mask=fit["mask"])
    return fit_kernel(x, yl, n, grads=salient_gradients(x, n, salient), **fit, **more)


def _estimate_from(y, size, boundary, init, lam, iters, lam_min, gamma, threshold, min_piece, salient, polish,
                   polish_min, cg_iters, valid, callback):
    """One coarse-to-fine estimate from the coarsest kernel ``init(n, dtype, device)``: (k, finest y_l, mask)."""
    y = y.to(torch.float64)
    h, w = y.shape
    k = None
    lam_l = lam
    for level, n in enumerate(pyramid_sizes(size)):
        s = n / size
        hl, wl = max(n, round(h * s)), max(n, round(w * s))
        yl, mask = level_grid(_resize(y, hl, wl), n, boundary, valid)
        k = init(n, y.dtype, y.device) if k is None else resize_kernel(k, n)
        fit = {"gamma": gamma, "threshold": threshold, "min_piece": min_piece, "mask": mask}
        for _ in range(iters):
            k = _alternate(yl, k, lam_l, n, salient, fit, iters=cg_iters)
            lam_l = max(lam_l / 1.1, lam_min)
        if callback is not None:
            callback(level, n, k)
    for _ in range(int(polish)):  # finest level: λ halves down to polish_min
        lam_l = max(lam_l / 2, polish_min)
        k = _alternate(yl, k, lam_l, n, salient, fit, init=k)
    return k, yl, mask


def level_grid(yl: Tensor, n: int, boundary: str, valid: bool = True) -> tuple[Tensor, Tensor | None]:
    """(grid, mask) a level's image y_l is estimated on for an n×n kernel: y_l itself on a circular grid (no
    mask); for photos y_l tapered to an FFT-fast grid (`taper_pad`) with, when ``valid``, the mask of y_l's
    own pixels (`restore.blind.taper.frame_mask`; None otherwise)."""
    if boundary == "circular":
        return yl, None
    h, w = yl.shape
    grid = taper_pad(yl, n, smooth=True)
    return grid, (frame_mask(grid.shape, h, w, min(n, h - 1, w - 1), yl.dtype, yl.device) if valid else None)

