"""DAPS (Zhang et al. 2025, "Improving diffusion inverse problem solving with decoupled noise
annealing"), in VE [0, 1] units.

Annealing over levels σ_0 > … > σ_{n−1} (a Karras grid from the schedule's σ_max down to
``sigma_min``); at each level:

1. x̂₀ = ODE(x_t): ``ode_steps`` Heun steps of the probability-flow ODE from σ_t to 0
   (`restore.sampling.sample_ode` on a Karras sub-grid);
2. ``langevin_steps`` unadjusted Langevin steps on p(x₀ | x̂₀, y) ∝ N(x₀; x̂₀, r_t² I) N(y; 𝒜x₀, σ_y² I),
   started at x̂₀ (c = ``noise`` = 1: Langevin; c = 0: gradient descent to the Gaussian-approximation
   MAP, lower variance, higher PSNR), with r_t² = v σ_t²/(v + σ_t²) (``r="gaussian"``, default: Var[x₀ | x_t] for data of
   variance v = ``data_var``, ¼ for a [-1, 1] network; it never exceeds the data variance) or the
   paper's r_t = σ_t (``r="sigma"``, which over-disperses: sample variance ×1.7–2.2 on the exactness
   problems):

       x₀ ← x₀ − η_t [(x₀ − x̂₀)/r_t² + 𝒜ᵀ(𝒜x₀ − y)/σ_y²] + c √(2η_t) z,
       η_t = lr / (1/r_t² + ‖𝒜‖²/σ_y²)      (lr < 1 keeps the step stable in the stiffest direction;
                                              ‖𝒜‖² from the SVD or a per-image power iteration)

   With ``inner="cg"`` (requires c = 0) the gradient steps are replaced by ``cg_steps`` conjugate
   gradient iterations from x̂₀ on the same quadratic, i.e. on the normal equations

       (I/r_t² + 𝒜ᵀ𝒜/σ_y²) x₀ = x̂₀/r_t² + 𝒜ᵀy/σ_y²,

   unpreconditioned, for every operator: each iteration costs one 𝒜ᵀ𝒜 as a gradient step does, and
   CG's Krylov polynomial moves the slow directions further than gradient descent's (1 − η_t h)ⁿ with
   fewer steps.  Few steps on purpose: run to convergence (a preconditioner, an SVD) x₀ is the exact
   minimiser, which at a small σ_y amplifies noise where 𝒜 is weak (Gaussian blur on 8-bit data:
   −5 dB, benchmarks/tuning/TUNING.md, "DAPS's inner loop by conjugate gradient").

3. re-noise to the next level: x_{t+1} = x₀ + σ_{t+1} z (the result is x₀ of the last level).

A warm ``start`` = f (`restore.solve`'s common option) tops the Karras grid at the σ of the prior's table at
⌈f·T⌉ (or ``sigma_max`` if lower) and starts from x₀ + σ_0 z, x₀ = 𝒜's warm start (e.g. blind deblurring's
E-step image, `operators.LinearOperator.started_at`): the annealing then only refines x₀'s detail.

σ_y is floored at 1/(255√12) (``sigma_floor``, the likelihood is otherwise degenerate).  Defaults:
50 levels × 5 ODE steps (300 denoiser calls, counting Heun's second evaluations), 20 Langevin steps
at lr = 0.5, σ_min = 0.005.  DAPS is approximate for every prior (few Langevin steps under-disperse
weakly measured directions).
"""
from __future__ import annotations

import math

import torch

from operators.cg import conjugate_gradient

from ..sampling import get_sigmas_karras, sample_ode
from .base import QUANTIZATION_SIGMA, Problem
from .registry import Method, register

DEFAULTS = {"steps": 50, "ode_steps": 5, "langevin_steps": 20, "lr": 0.5, "sigma_min": 0.005, "noise": 1.0,
            "inner": "langevin", "cg_steps": 3}
INNER = ("langevin", "cg")


def gaussian_map_cg(A, x0hat, aty, r2, sy2, steps: int) -> torch.Tensor:
    """``steps`` CG iterations from x̂₀ on (I/r² + 𝒜ᵀ𝒜/σ_y²) x = x̂₀/r² + aty, with aty = 𝒜ᵀy/σ_y²
    (per image; ``sy2`` a float or (N, 1, 1, 1))."""
    return conjugate_gradient(lambda u: u / r2 + A.normal(u) / sy2, x0hat / r2 + aty, x0hat,
                              tol=0.0, max_iter=steps, warn=False)


def run(p: Problem, steps: int = DEFAULTS["steps"], ode_steps: int = DEFAULTS["ode_steps"],
        langevin_steps: int = DEFAULTS["langevin_steps"], lr: float = DEFAULTS["lr"],
        sigma_min: float = DEFAULTS["sigma_min"], sigma_max: float | None = None,
        sigma_floor: float = QUANTIZATION_SIGMA, r: str = "gaussian", data_var: float | None = None,
        noise: float = DEFAULTS["noise"], inner: str = DEFAULTS["inner"], cg_steps: int = DEFAULTS["cg_steps"],
        sigmas=None) -> torch.Tensor:
    if r not in ("gaussian", "sigma"):
        raise ValueError(f"r must be 'gaussian' or 'sigma', got {r!r}")
    if inner not in INNER:
        raise ValueError(f"inner must be one of {INNER}, got {inner!r}")
    if inner == "cg" and noise != 0:
        raise ValueError("inner='cg' minimises the inner loop's quadratic (no Langevin noise): set noise=0")
    if inner == "cg" and (int(cg_steps) != cg_steps or cg_steps < 1):
        raise ValueError(f"cg_steps must be a positive integer, got {cg_steps!r}")
    v = p.schedule.init_scale**2 if data_var is None else float(data_var)
    if sigmas is None:
        smax = p.schedule.sigma_max if sigma_max is None else float(sigma_max)
        smin = float(sigma_min)
        if p.start is not None:  # warm start: the grid tops at the table's σ at ⌈f·T⌉, x from x₀ + σ z
            smax = min(smax, float(p.sigmas(1)[0]))
            smin = min(smin, smax)
        grid = get_sigmas_karras(int(steps), smin, smax)
    else:
        grid = p.sigmas(steps, sigmas)
    sy2 = p.sigma_y.clamp(min=sigma_floor) ** 2
    if inner == "cg":
        aty = p.A.adjoint(p.y) / sy2
    else:
        anorm2 = p.operator_norm2()

    def denoiser(x, sb):
        return p.denoise(x, float(sb.reshape(-1)[0]))

    x = p.initial(float(grid[0]))
    x0 = x
    for i in range(len(grid) - 1):
        s, sn = float(grid[i]), float(grid[i + 1])
        if ode_steps > 1 and s > 1.5 * sigma_min:
            ode_grid = get_sigmas_karras(ode_steps, sigma_min, s)
        else:
            ode_grid = torch.tensor([s, 0.0], dtype=torch.float64)
        x0hat = sample_ode(denoiser, x, ode_grid.to(torch.float64))
        p.report(i, x, x0hat, s)
        r2 = s**2 if r == "sigma" else v * s**2 / (v + s**2)
        if inner == "cg":
            x0 = gaussian_map_cg(p.A, x0hat, aty, r2, sy2, int(cg_steps))
        else:
            eta = lr / (1.0 / r2 + anorm2 / sy2)
            x0 = x0hat
            for _ in range(langevin_steps):
                grad = (x0 - x0hat) / r2 + p.A.adjoint(p.A(x0) - p.y) / sy2
                x0 = x0 - eta * grad
                if noise > 0:
                    x0 = x0 + noise * (2 * eta).sqrt() * p.noise.randn()
        if sn > 0:
            x = x0 + sn * p.noise.randn()
    return x0


METHOD = register(Method("daps", run, "Decoupled annealing: ODE x̂0, Langevin on p(x0 | x̂0, y), re-noise", DEFAULTS))
