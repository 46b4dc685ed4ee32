"""What every guidance method shares: the problem set-up, per-image seeded noise, the σ grid,
the denoiser (with a vector–Jacobian product for the gradient methods) and the spectral
bookkeeping of an operator with an SVD.

Spectral bookkeeping (DESIGN.md, "the idea in one paragraph"): with 𝒜 = U diag(s) Vᵀ and
y = 𝒜x + σ_y n, the measured coefficient

    ȳ_i = (Uᵀy)_i / s_i = (Vᵀx)_i + (σ_y/s_i) n_i          (s_i > rtol·max s)

is x's i-th spectral component seen at noise level σ_c,i = σ_y/s_i; components with s_i below the
cut-off (`operators.svd.default_rtol`, or the operator's ``pinv_rtol``) are unmeasured (σ_c = ∞).

Seeding: the one random path of `restore.sampling.noise` — image b has the seed s_b =
``image_seeds(seed, B)[b]`` and chain j of image b (posterior sample j) its own CPU generator seeded by
``chain_seed(s_b, j)``; every noise event draws float32 blocks (exact in float64), moved to y's device
and dtype.  Solving a batch equals solving its images one at a time with their per-image seeds, chains
may be run in any grouping (`chain_groups`: memory), on any device, in float32 or float64 (up to
rounding).
"""
from __future__ import annotations

import math
from typing import Callable, Optional, Sequence

import torch
from torch import Tensor

from operators import LinearOperator
from operators.batch import batch_dot, per_image
from operators.svd import default_rtol

from ..sampling import get_sigmas_vp, resolve_schedule
from ..sampling.noise import NoiseSource, chain_seed, image_seeds  # noqa: F401  (re-exported: the one random path)

#: σ_y floor for methods whose update divides by σ_y: the standard deviation of 8-bit quantisation
#: noise, 1/(255·√12) ≈ 1.13e-3 in [0, 1] units (a "noiseless" 8-bit image is at least this noisy).
QUANTIZATION_SIGMA = 1.0 / (255.0 * math.sqrt(12.0))


#: pixels × chains × images one group of chains may hold (`chain_groups`); 2¹⁹ = 8 chains of one
#: 256² image, 2 of 512² — bounds the memory of ``samples``/``average`` (DPS keeps a graph per chain)
CHAIN_BATCH_PIXELS = 2**19
#: the same on a CPU, where a larger batch is slower per image, not faster: one forward of the default
#: prior at 256², 1 thread, cost 0.82 / 0.79 / 1.03 / 1.21 s per image in batches of 1 / 2 / 4 / 8
#: (the activations leave the caches), so groups hold at most 2¹⁷ pixels (2 chains of 256²)
CHAIN_BATCH_PIXELS_CPU = 2**17


def chain_groups(chains: int, batch: int, pixels: int, device=None) -> list[range]:
    """Consecutive groups of chain indices 0 … chains−1 run as one batch each: as many chains as
    keep batch·chains·pixels ≤ ``CHAIN_BATCH_PIXELS`` (``CHAIN_BATCH_PIXELS_CPU`` when ``device`` is a
    CPU; None: the larger, memory bound) (at least one).  Results do not depend on it."""
    budget = CHAIN_BATCH_PIXELS_CPU if device is not None and torch.device(device).type == "cpu" else \
        CHAIN_BATCH_PIXELS
    size = max(1, budget // max(1, int(batch) * int(pixels)))
    return [range(j, min(chains, j + size)) for j in range(0, chains, size)]


class Spectral:
    """ȳ = Ut(y)/s and σ_c = σ_y/s on measured components (module docstring), for 𝒜 with an SVD."""

    def __init__(self, A: LinearOperator, y: Tensor, sigma_y: Tensor, x_shape):
        self.svd = A.svd
        dtype, device = y.dtype, y.device
        s = self.svd.singular_values(tuple(x_shape), device=device, dtype=dtype)
        rtol = default_rtol(dtype) if A.pinv_rtol is None else A.pinv_rtol
        self.measured = s > rtol * s.max()
        s_safe = torch.where(self.measured, s, torch.ones_like(s))
        self.s = s
        cy = self.svd.Ut(y)
        self.ybar = torch.where(self.measured, cy / s_safe, torch.zeros_like(cy))
        inf = torch.full_like(s, math.inf)
        self.sigma_c = torch.where(self.measured, sigma_y / s_safe, inf)  # (N, ...) after broadcasting

    def truncated(self, sigma_y: Tensor, s_min: float):
        """(measured, σ_c) with singular values below ``s_min``·max(s) also treated as unmeasured on
        rows with σ_y > 0 (DDRM's cut-off: such components carry σ_c > σ_y/(s_min·max s) of noise)."""
        if not s_min:
            return self.measured, self.sigma_c
        strong = self.s >= s_min * self.s.max()
        measured = self.measured & (strong | (sigma_y == 0))
        return measured, torch.where(measured, self.sigma_c, torch.full_like(self.sigma_c, math.inf))

    def Vt(self, x: Tensor) -> Tensor:
        return self.svd.Vt(x)

    def V(self, c: Tensor) -> Tensor:
        return self.svd.V(c)


class Problem:
    """The solver's view of one group of chains: y and 𝒜 on the chain-major batch of N = K·B rows
    (K = ``samples`` chains, numbered ``chains``, default 0 … K−1), σ_y per row, the prior's
    denoiser, the noise source, the VP schedule and the user's callback."""

    def __init__(self, y: Tensor, A: LinearOperator, prior, sigma_y, samples: int, seed, schedule=None,
                 callback: Optional[Callable] = None, start: Optional[float] = None,
                 chains: Optional[Sequence[int]] = None):
        if not isinstance(A, LinearOperator):
            raise TypeError(f"A must be an operators.LinearOperator, got {type(A).__name__}")
        if not isinstance(y, Tensor) or y.ndim != 4:
            raise ValueError(f"y must be a tensor of shape (B, C, H, W), got {getattr(y, 'shape', type(y))}")
        if y.dtype not in (torch.float32, torch.float64):
            raise ValueError(f"y must be float32 or float64, got {y.dtype}")
        if not bool(torch.isfinite(y).all()):
            raise ValueError("y contains NaN or infinite values")
        samples = int(samples)
        if samples < 1:
            raise ValueError(f"samples must be ≥ 1, got {samples}")
        chains = range(samples) if chains is None else list(chains)
        if len(chains) != samples:
            raise ValueError(f"got {len(chains)} chain indices for {samples} samples")
        self.B, self.K = y.shape[0], samples
        self.N = self.B * self.K
        self.A0 = A
        sy = per_image(sigma_y, y)
        if bool((sy < 0).any()) or not bool(torch.isfinite(sy).all()):
            raise ValueError(f"sigma_y must be finite and ≥ 0, got {sigma_y}")
        self.x_shape_b = tuple(A.adjoint(y).shape)  # (B, C, H, W)
        self.image_shape = self.x_shape_b[1:]
        channels = getattr(prior, "channels", None)
        if channels is not None and channels != self.image_shape[0]:
            raise ValueError(f"the prior models {channels} channels, the operator's input has {self.image_shape[0]}")
        self.prior = prior
        self._denoise = prior.denoise if hasattr(prior, "denoise") else prior
        if not callable(self._denoise):
            raise TypeError("prior must have a denoise(x, sigma) method or be a callable denoiser")
        self.A = A.repeat(self.K, self.B)
        self.y = y.repeat(self.K, 1, 1, 1)
        self.sigma_y = sy.repeat(self.K, 1, 1, 1)  # (N, 1, 1, 1)
        self.x_shape = (self.N, *self.image_shape)
        self.device, self.dtype = y.device, y.dtype
        self.seeds = image_seeds(seed, self.B)
        self.noise = NoiseSource(self.seeds, chains, self.image_shape, self.device, self.dtype)
        self.schedule = resolve_schedule(prior, schedule)
        self.callback = callback
        self._spectral = None
        if start is not None and not 0 < float(start) <= 1:
            raise ValueError(f"start must be a fraction of the diffusion time in (0, 1], got {start}")
        self.start = None if start is None else float(start)

    # -- grid and initial state -------------------------------------------------------------------
    def sigmas(self, steps: int, sigmas=None) -> Tensor:
        """The σ grid (float64, decreasing, ending in 0): ``sigmas`` if given, else ``steps`` points of
        the prior's VP table (`restore.sampling.get_sigmas_vp`); with a warm ``start`` = f, ``steps``
        points of the first ⌈f·T⌉ entries of the table (at most that many)."""
        if sigmas is None:
            if self.start is None:
                return get_sigmas_vp(self.schedule, int(steps))
            head = max(1, math.ceil(self.start * self.schedule.T))
            return get_sigmas_vp(self.schedule, min(int(steps), head), head=head)
        if self.start is not None:
            raise ValueError("pass either start= (a warm start on the prior's table) or sigmas=, not both")
        g = torch.as_tensor(sigmas, dtype=torch.float64).reshape(-1)
        if g.shape[0] < 2 or g[-1] != 0 or bool((g[1:] >= g[:-1]).any()):
            raise ValueError("sigmas must be a strictly decreasing 1-d grid ending in 0")
        return g

    def initial(self, sigma: float) -> Tensor:
        """x at the first grid level σ: c + √(σ² + s²) z, the VP start N(0, I) in [0, 1] VE units
        (`restore.sampling`); with a warm ``start``, x₀ + σ z with x₀ = ``A.warm_start(y)`` (𝒜†y unless
        the operator has a better classical estimate, e.g. a smooth fill of inpainting's holes) diffused
        to σ (Chung et al. 2022, "Come-closer-diffuse-faster")."""
        if self.start is not None:  # x₀ once per image (rows k·B + b repeat it K times)
            return self.A0.warm_start(self.y[: self.B]).repeat(self.K, 1, 1, 1) + sigma * self.noise.randn()
        scale = math.sqrt(sigma**2 + self.schedule.init_scale**2)
        return self.schedule.init_center + scale * self.noise.randn()

    # -- denoiser -------------------------------------------------------------------------------------
    def denoise(self, x: Tensor, sigma) -> Tensor:
        """D(x, σ) for the whole batch (σ a float, or a tensor of one σ per row), without a graph."""
        if torch.is_tensor(sigma) and sigma.numel() > 1:
            sb = sigma.reshape(-1).to(device=x.device, dtype=x.dtype)
        else:
            sb = torch.full((x.shape[0],), float(sigma), device=x.device, dtype=x.dtype)
        with torch.no_grad():
            return self._denoise(x, sb)

    def denoise_vjp(self, x: Tensor, sigma):
        """(D(x, σ), v ↦ (∂D/∂x)ᵀ v): autograd only around this one denoiser call; the graph is freed
        by the single vjp call (or when the returned closure is dropped)."""
        sb = torch.full((x.shape[0],), float(sigma), device=x.device, dtype=x.dtype)
        xg = x.detach().requires_grad_(True)
        with torch.enable_grad():
            d = self._denoise(xg, sb)

        def vjp(v: Tensor) -> Tensor:
            with torch.enable_grad():
                (g,) = torch.autograd.grad(d, xg, grad_outputs=v)
            return g.detach()

        return d.detach(), vjp

    def report(self, i: int, x: Tensor, denoised: Tensor, sigma) -> None:
        if self.callback is not None:
            self.callback(i, x, denoised, sigma)

    # -- the loop every method shares ---------------------------------------------------------------
    def begin(self, steps: int, sigmas=None) -> tuple[Tensor, list[tuple[int, float, float]]]:
        """The prologue of a guidance loop: (x at σ_0, [(i, σ_i, σ_{i+1}), …]) on the grid
        ``sigmas(steps, sigmas)`` (the last σ_{i+1} is 0)."""
        grid = self.sigmas(steps, sigmas)
        levels = [(i, float(grid[i]), float(grid[i + 1])) for i in range(len(grid) - 1)]
        return self.initial(float(grid[0])), levels

    def estimate(self, i: int, x: Tensor, sigma: float) -> Tensor:
        """D(x, σ) for step i, reported to the callback (one network evaluation)."""
        den = self.denoise(x, sigma)
        self.report(i, x, den, sigma)
        return den

    # -- operator helpers -----------------------------------------------------------------------------
    @property
    def has_svd(self) -> bool:
        return self.A.svd is not None

    def spectral(self) -> Optional[Spectral]:
        if self._spectral is None and self.has_svd:
            self._spectral = Spectral(self.A, self.y, self.sigma_y, self.x_shape)
        return self._spectral

    def operator_norm2(self, iters: int = 30, rtol: float = 1e-3) -> Tensor:
        """‖𝒜‖² per row, (N, 1, 1, 1): max s² from the SVD, else power iteration on 𝒜ᵀ𝒜,

            v ← 𝒜ᵀ𝒜v/‖v‖,   λ_k = ⟨𝒜ᵀ𝒜v, v⟩/‖v‖²   (non-decreasing, → ‖𝒜‖²),

        from a fixed start v = 1 + z (z white, seed 0: half the energy on the constant image, the top
        singular vector of a blur or downsampling, half spread), stopped per image at the first k with
        |λ_k − λ_{k−1}| ≤ rtol·λ_k (blurs: 3 iterations, within 0.5 % of λ_60; 30 from z alone reached
        0.4 % below it) or after ``iters``.  Each image's value depends on its own iterates only (the
        batch never changes it)."""
        spec = self.spectral()
        if spec is not None:
            return (spec.s.max() ** 2).expand(self.N).reshape(-1, 1, 1, 1).to(self.dtype)
        g = torch.Generator().manual_seed(0)
        v = 1 + torch.randn(self.image_shape, generator=g, dtype=torch.float64)
        v = v.to(self.device, self.dtype).expand(self.x_shape).clone()
        lam = torch.zeros(self.N, 1, 1, 1, device=self.device, dtype=self.dtype)
        done = torch.zeros(self.N, 1, 1, 1, device=self.device, dtype=torch.bool)
        for _ in range(iters):
            v = v / per_image(batch_dot(v, v).sqrt().clamp_min(1e-30), v)
            w = self.A.normal(v)
            new = torch.where(done, lam, per_image(batch_dot(w, v), v))
            done = done | ((new - lam).abs() <= rtol * new.abs())
            lam, v = new, w
            if bool(done.all()):
                break
        return lam * 1.05  # small safety margin on the power-iteration estimate
