"""Blind deblurring: estimate the blur kernel from the image itself, then restore with the prior.

    x̂, k̂ = restore.solve_blind(y, prior, kernel_size=31, method=None, sigma_y=0.01,
                                boundary="reflect", steps=None, seed=0, **options)

Model: y = k ⊛ x + σ_y z with x and k unknown, k ≥ 0, Σk = 1, supported on N×N.  The split is the
one of expectation–maximisation (Laroche et al. 2024, "Fast diffusion EM"): a kernel fit (M-step)
alternating with an image estimate (E-step), here as

1. **Kernel** (`restore.blind.estimate`): coarse to fine on the grey (BT.601 luma) image, alternate
   the sharp-edged latent image of an L0 gradient prior (`restore.blind.latent`)

       x ← argmin ‖k ⊛ x − y‖² + λ‖∇x‖₀

   with the support-constrained, projected least-squares kernel on gradients (`operators.kernel_fit`)

       k ← P_N( argmin_{supp k ⊂ N×N} Σ_d ‖∂_d y − k ⊛ ∂_d x‖² + γ‖k‖² ).

   The L0 latent, not the prior's posterior mean, drives the kernel: an MMSE image is smooth where
   it is unsure, and the kernel fitted to it drifts toward the delta (Levin et al. 2009); the L0
   image keeps only steps, whose blurred profiles pin the kernel down.

   The alternation is non-convex and its end point swings with its start, so it runs from several
   starts (`START_ORDER`: the 2-px bar of Pan et al., a 3×3 box, the vertical bar, a 2.5× stronger L0
   weight) and keeps the kernel whose sharp latent explains y best, the smallest
   `restore.blind.estimate.fit_score` = ‖k ⊛ x_k − y‖² with x_k the L0 latent at λ = 10⁻³.  Each start
   costs a whole estimate, so the count follows a budget (`budget_starts`: window pixels × starts ≤
   512²): four on a 255² image, one on the CLI's 512² window of a photo.  Chosen on training crops
   (session 10, benchmarks/BLIND.md): with the reliability checks, circular 255² noise-free (CBSD432,
   8 images × the 8 Levin kernels) 27.99 → 28.50 dB, valid 160² at σ_y 0.01 24.34 → 24.56 dB; picking
   by the E-step's residual instead did not beat one start.  The pick is then checked (`checked_blur`).
   For noise-free inputs the kept kernel is refined by ``REFINE_CLEAN`` (3) more alternations at λ = 10⁻⁴.
2. **Image** (the E-step, with the diffusion prior).  Default (``method=None``,
   `restore.blind.deconv`): a gradient-regularised deconvolution with k̂, then one posterior-mean
   step of the prior,

       x_α = argmin ‖k̂ ⊛ x − y‖² + α‖∇x‖²,    x̂ = D(x_α, σ_e) = E[x₀ | x₀ + σ_e z = x_α],

   robust to the kernel's error.  ``method="diffpir"`` (or any guidance method of `restore.solve`):
   x̂ = restore.solve(y, Blur(k̂, boundary), prior, method, σ̃_y) at the method's tuned deblurring
   defaults, with σ̃_y² = σ_y² + σ_k² (``kernel_noise`` σ_k = 0.005): the non-blind posterior with the
   estimated kernel.  Those methods fit y down to σ̃_y with the wrong kernel and pay for every bit of
   kernel error (benchmarks/BLIND.md measures both).

Denoise first: when σ_y > 0 the kernel is estimated on the prior's denoised grey image D(y, 2σ_y)
instead of y (the L0 latent otherwise fits the noise).  On a 128² CBSD68 crop at σ_y = 0.01 with 3 Levin
kernels it moved the mean gain over the input from −0.9 to +1.4 dB (circular blur) and from −2.0 to
−0.4 dB (valid blur, reflect model); the factor 2 beat 1 there, and 3 (−0.8 dB) on training crops in
session 9.  Denoising clean inputs too (a floor of 0.02) helped small valid-blur training crops (160²,
E-step 25.09 → 25.89 dB) but cost 1.0 dB on noise-free circular ones (255²: 30.28 → 29.27), and 2.4 dB on
Levin's set (31.71 → 29.29), so clean inputs are not denoised.

Photos (valid convolution: y is k ⊛ x cropped, x extends beyond y's border): the latent x lives on a grid
padded by N, and both steps compare k ⊛ x with y only on y's own pixels (``valid``, the default of
`estimate_kernel`).  On 4 training crops (CBSD432, 160², Levin kernels 2, 4, 6 and a 15-px motion
kernel, σ_y = 0.01) this moved the blind result from 20.91 to 22.75 dB (input 21.45, true kernel 25.81);
the tapered periodic extension alone, with every padded pixel in the fit, had pinned the kernel near
the delta (kernel error 0.88 → 0.73).

Never silently worse (``check``, `checked_blur`, `restore.blind.reliability`): an estimate from a too
noisy input (σ_y > 0.02) or a scattered kernel
is replaced by the delta, with one warning (``FALLBACK_WARNING``) naming the reason.

No blur: a kernel estimate with at least ``SUBPIXEL_MASS`` (80 %) of its mass on the central 3×3
pixels is a blur below a pixel (a Gaussian of std ≲ 0.75 px), within the estimate's own error on a
sharp image; it is replaced by the delta, and the image comes back as the E-step at k = δ gives
it: y lightly denoised (within 2σ_y of y in the tests).

Kernels are estimated per image (each image of a batch its own k̂), and image b is solved with the
seed ``image_seeds(seed, B)[b]``, so the batch does not change the result.  Returns a
``BlindResult(image, kernel)``: image (B, C, H, W) like y, kernel (B, N, N) float64, each kernel
non-negative, Σ = 1, centred on its centre of mass.

Refused with one ValueError: an even or non-positive ``kernel_size``, a kernel larger than the
image, a flat image (no edge to estimate a blur from).
"""
from __future__ import annotations

import math
import warnings
from contextlib import contextmanager
from typing import NamedTuple

import torch
from torch import Tensor

import operators as ops
from operators.grayscale import BT601
from operators.kernel_fit import delta_kernel, fit_gaussian_std

from .estimate import ESTIMATE_DEFAULTS, estimate_kernel, pyramid_sizes
from .polish import polished_deconvolution
from .reliability import NOISE_LIMIT, kernel_problem

__all__ = ["solve_blind", "estimate_blur", "checked_blur", "kernel_problem", "FALLBACK_WARNING", "fallback_warning", "estimate_gaussian_std", "default_support", "salient_window", "ESTIMATE_SIDE", "estimate_kernel", "luma", "BlindResult", "ESTIMATE_DEFAULTS", "KERNEL_NOISE", "SUBPIXEL_MASS",
           "pyramid_sizes", "check_blind_input", "budget_starts", "ESTIMATE_PIXELS", "START_ORDER", "REFINE_CLEAN"]

#: σ_k: the kernel error counted as measurement noise in the final solve (module docstring)
KERNEL_NOISE = 0.005

#: noisy inputs: the kernel is estimated on D(y, PREDENOISE·σ_y) (module docstring)
PREDENOISE = 2.0

#: kernels with at least this mass on the central 3×3 pixels are treated as no blur (module docstring)
SUBPIXEL_MASS = 0.8

#: an image whose grey values span less than this (two 8-bit levels) has nothing to estimate a blur from
FLAT_RANGE = 2.0 / 255.0


class BlindResult(NamedTuple):
    image: Tensor   # (B, C, H, W)
    kernel: Tensor  # (B, N, N) float64


def luma(y: Tensor) -> Tensor:
    """(C, H, W) → (H, W) grey: BT.601 luma for 3 channels, the mean otherwise (float64)."""
    y = y.to(torch.float64)
    if y.shape[0] == 3:
        w = torch.tensor(BT601, dtype=torch.float64, device=y.device).view(3, 1, 1)
        return (w * y).sum(0)
    return y.mean(0)


def _denoise(prior, g: Tensor, sigma: float) -> Tensor:
    denoise = prior.denoise if hasattr(prior, "denoise") else prior
    with torch.no_grad():
        return denoise(g[None, None].float(), sigma)[0, 0].to(torch.float64)


def check_blind_input(y: Tensor, kernel_size) -> int:
    """Validate (y, N) for blind deblurring; returns N.  One ValueError per problem."""
    if not isinstance(y, Tensor) or y.ndim != 4:
        raise ValueError(f"y must be a (B, C, H, W) tensor, got {getattr(y, 'shape', type(y))}")
    try:
        n = int(kernel_size)
        whole = not isinstance(kernel_size, bool) and float(kernel_size) == n
    except (TypeError, ValueError):
        whole = False
    if not whole or n < 1 or n % 2 == 0:
        raise ValueError(f"kernel size must be an odd whole number ≥ 1, got {kernel_size!r}")
    h, w = y.shape[-2:]
    if n > min(h, w):
        raise ValueError(f"kernel size {n} is larger than the image {h}x{w}")
    if not bool(torch.isfinite(y).all()):
        raise ValueError("the image contains NaN or infinite values")
    for b in range(y.shape[0]):
        g = luma(y[b])
        if float(g.max() - g.min()) < FLAT_RANGE:
            raise ValueError("the image is flat (no edges), so its blur cannot be estimated; "
                             "pass a kernel instead")
    return n


@contextmanager
def one_thread():
    """Run the kernel estimate on one intra-op thread: its thousands of small FFTs (≤ 512²) gain nothing
    from a second thread, and on a busy machine each multi-threaded call waits for a free core (measured:
    a 64² estimate took 1.7 s on one thread, 83 s on two threads beside other jobs).  The thread count is
    torch's process-wide setting: `estimate_blur` instead runs its starts in as many Python threads as the
    caller had intra-op threads, each single-threaded (a 256² estimate: 23 → 13 s on 2 cores)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def salient_window(g: Tensor, side: int) -> tuple[int, int]:
    """(top, left) of the side×side window of the grey image g with the most gradient energy Σ|∇g|²,
    among a 3×3 grid of windows (corners, edge midpoints, centre): the kernel is estimated where the
    image has edges to pin it down, not on a flat sky."""
    h, w = g.shape
    if h <= side and w <= side:
        return 0, 0
    dy, dx = torch.diff(g, dim=0), torch.diff(g, dim=1)
    best, where = -1.0, (0, 0)
    for top in sorted({0, max(0, (h - side) // 2), max(0, h - side)}):
        for left in sorted({0, max(0, (w - side) // 2), max(0, w - side)}):
            e = float((dy[top:top + side - 1, left:left + side] ** 2).sum()
                      + (dx[top:top + side, left:left + side - 1] ** 2).sum())
            if e > best:
                best, where = e, (top, left)
    return where


#: the CLI estimates the kernel on at most this window of a large photo (`salient_window`)
ESTIMATE_SIDE = 512

#: the estimate's budget in window pixels × starts: a 512² window gets one start, a 255² image four
ESTIMATE_PIXELS = 512 * 512

#: the starts of the multi-start estimate, in the order the budget adds them (`restore.blind.estimate.STARTS`)
START_ORDER = ("bar", "box", "bar-v", "strong")


#: noise-free inputs: alternations at λ = 10⁻⁴ refining the kept kernel (`estimate_kernel`'s ``refine``).  Chosen
#: on the first 4 circular training sets of BLIND.md session 10 (3 or 8 at 10⁻⁴: +0.23 / +0.25 dB; at 10⁻³ −0.7;
#: a sparsity-reweighted ridge, p = 0.5 / 1: −1.7 / −0.3) and checked on 4 others (+0.28 dB, 32 crops); on
#: noisy valid crops it cost 0.05 dB (λ = 10⁻⁴ lets the denoised image's residue in), so noisy inputs skip it.
REFINE_CLEAN = 3


def budget_starts(h: int, w: int) -> tuple[str, ...]:
    """As many starts of ``START_ORDER`` as ``ESTIMATE_PIXELS`` pays for on an h×w window (at least one):
    each start costs one whole estimate, so a small image gets the variance reduction of several
    restarts for the time one start takes on a large window."""
    m = max(1, min(len(START_ORDER), ESTIMATE_PIXELS // max(1, h * w)))
    return START_ORDER[:m]


def _window(y: Tensor, n: int, max_side: int | None) -> Tensor:
    """The grey image the kernel is estimated on: luma of y, its most textured window when ``max_side``."""
    g = luma(y)
    if max_side is not None:
        side = max(int(max_side), 4 * n)  # room for the kernel to be seen at work
        top, left = salient_window(g, side)
        g = g[top:top + side, left:left + side]
    return g


def estimate_blur(y: Tensor, prior, kernel_size: int, sigma_y: float = 0.0, boundary: str = "reflect",
                  estimate: dict | None = None, max_side: int | None = None) -> Tensor:
    """The blur kernel k̂ (N×N, float64, ≥ 0, Σ = 1) of one image y (C, H, W) — step 1 of the module
    docstring: estimated on the luma (on D(y, 2σ_y) when σ_y > 0), replaced by the delta when it is
    below a pixel (``SUBPIXEL_MASS``).  ``max_side``: estimate on the most textured max_side² window
    (`salient_window`) of a larger image; the blur of a photo is the same everywhere."""
    n = check_blind_input(y[None], kernel_size)
    g = _window(y, n, max_side)
    if sigma_y > 0:  # noisy y: estimate on the prior's denoised image (the blur survives)
        g = _denoise(prior, g, PREDENOISE * sigma_y)
    options = {**ESTIMATE_DEFAULTS, "starts": budget_starts(*g.shape), "refine": REFINE_CLEAN if sigma_y <= 0 else 0,
               "workers": torch.get_num_threads(), **(estimate or {})}
    with one_thread():
        k = estimate_kernel(g, n, boundary=boundary, **options)
    c = n // 2
    if float(k[max(0, c - 1):c + 2, max(0, c - 1):c + 2].sum()) >= SUBPIXEL_MASS:
        k = delta_kernel(n, k.dtype, k.device)
    return k


def checked_blur(y: Tensor, prior, kernel_size: int, sigma_y: float = 0.0, boundary: str = "reflect",
                 estimate: dict | None = None, max_side: int | None = None) -> tuple[Tensor, str | None]:
    """(k, problem): `estimate_blur`, then the reliability checks of `restore.blind.reliability` on the same
    window; when one fails, k is the delta (the image is then only lightly denoised) and ``problem`` says why."""
    n = check_blind_input(y[None], kernel_size)
    if float(sigma_y) > NOISE_LIMIT:  # too noisy: do not spend the estimate
        return delta_kernel(n), kernel_problem(None, None, prior, sigma_y, boundary)
    k = estimate_blur(y, prior, kernel_size, sigma_y, boundary, estimate, max_side)
    with one_thread():
        problem = kernel_problem(_window(y, k.shape[-1], max_side), k, prior, sigma_y, boundary)
    if problem is not None:
        k = delta_kernel(k.shape[-1], k.dtype, k.device)
    return k, problem


#: the one warning line of a rejected kernel estimate (`checked_blur`, via `fallback_warning`): CLI and
#: `solve_blind` alike
FALLBACK_WARNING = ("the blur could not be estimated reliably ({problem}); restored without deblurring "
                    "(lightly denoised) — {hint}give the blur with --kernel gauss [--kernel-std S] or --kernel PATH")

#: added when an estimate was made and rejected: a sharp photo's estimate (a blur found in its detail or its
#: noise) is rejected the same way, and then nothing is wrong with the photo
SHARP_HINT = "right for a photo without blur; if yours is blurred, "


def fallback_warning(problem: str) -> str:
    """The warning line for a rejected estimate: ``FALLBACK_WARNING`` with the reason, and ``SHARP_HINT``
    unless the input was too noisy for an estimate to be made at all."""
    hint = "" if problem.startswith("the noise") else SHARP_HINT
    return FALLBACK_WARNING.format(problem=problem, hint=hint)


def default_support(h: int, w: int, largest: int = 31) -> int:
    """The kernel support searched when none is given: ``largest`` (31, typical camera shake), but at most
    the largest odd size ≤ min(H, W)/4 (at least 3): a support as large as the image cannot be pinned down
    (on a 64² scene a 31² support smeared a Gaussian of std 1.5 into one of std 4.1; 15² recovered 1.47)."""
    side = min(h, w) // 4
    side = side if side % 2 else side - 1
    return max(3, min(int(largest), side))


#: the first support of `estimate_gaussian_std` (a Gaussian of std ≤ 2 fits in it)
GAUSS_START = 15


def estimate_gaussian_std(y: Tensor, prior, sigma_y: float = 0.0, boundary: str = "reflect",
                          size: int | None = None, max_side: int | None = None) -> float:
    """The std of a Gaussian blur of one image y (C, H, W): the free-form estimate k̂ (`estimate_blur`)
    fitted by the closest isotropic Gaussian (`operators.kernel_fit.fit_gaussian_std`).  Without a given
    ``size`` the support starts at 15² and grows to 2⌈3.5 s⌉ + 1 while the fit needs more (at most
    `default_support`); a support much larger than the blur lets noise into the fit."""
    cap = default_support(*y.shape[-2:])
    n = int(size) if size is not None else min(GAUSS_START, cap)
    while True:
        s = fit_gaussian_std(estimate_blur(y, prior, n, sigma_y, boundary, max_side=max_side))
        need = 2 * math.ceil(3.5 * s) + 1
        if size is not None or need <= n or n >= cap:
            return s
        n = min(cap, need)


def solve_blind(y: Tensor, prior, kernel_size: int = 31, method: str | None = None, sigma_y: float = 0.0,
                boundary: str = "reflect", steps=None, seed=0, kernel_noise: float = KERNEL_NOISE,
                estimate: dict | None = None, callback=None, check: bool = True, polish: bool = False,
                **options) -> BlindResult:
    """Blind deblurring of y (B, C, H, W) in [0, 1]: (image, kernel) — module docstring.

    ``estimate``: options of `estimate_kernel` (iters, lam, lam_min, gamma, threshold, min_piece,
    salient, polish, valid); ``check``: reject an unreliable estimate (`checked_blur`: the delta instead,
    with a RuntimeWarning naming the reason); ``method`` None = the one-step posterior of `restore.blind.deconv`
    (``polish``: refined by DAPS warm-started from it, `restore.blind.polish` — off by default: with an
    estimated kernel it gained on some training crops and lost on others, benchmarks/BLIND.md session 13),
    else a `restore.solve` method started from noise, to which ``steps``/``options``/``callback`` go."""
    from ..guidance import image_seeds, solve

    if boundary not in ops.BOUNDARIES:
        raise ValueError(f"unknown blur boundary {boundary!r} (choose from {ops.BOUNDARIES})")
    n = check_blind_input(y, kernel_size)
    sigma = torch.as_tensor(sigma_y, dtype=torch.float64).reshape(-1)
    if sigma.numel() not in (1, y.shape[0]) or not bool(torch.isfinite(sigma).all()) or bool((sigma < 0).any()):
        raise ValueError(f"sigma_y must be ≥ 0, a float or one value per image, got {sigma_y!r}")
    sigma = sigma.expand(y.shape[0])
    seeds = image_seeds(seed, y.shape[0])
    images, kernels = [], []
    for b in range(y.shape[0]):
        if check:
            k, problem = checked_blur(y[b], prior, n, float(sigma[b]), boundary, estimate)
            if problem is not None:
                warnings.warn(f"image {b}: " + fallback_warning(problem), RuntimeWarning, stacklevel=2)
        else:
            k = estimate_blur(y[b], prior, n, float(sigma[b]), boundary, estimate)
        if method is None:
            images.append(polished_deconvolution(y[b], k, prior, float(sigma[b]), boundary=boundary, seed=[seeds[b]],
                                                 polish=polish)[None])
            kernels.append(k)
            continue
        s = float(torch.sqrt(sigma[b] ** 2 + kernel_noise ** 2))
        x = solve(y[b:b + 1], ops.Blur(k, boundary=boundary), prior, method=method, sigma_y=s, steps=steps,
                  seed=[seeds[b]], callback=callback, **options)
        images.append(x)
        kernels.append(k)
    return BlindResult(torch.cat(images), torch.stack(kernels))
