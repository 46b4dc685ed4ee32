"""Per-task defaults, tuned on training images only: the options `restore.solve` uses when none are given.

    options(method, A) = {**DEFAULTS[method], **TUNED[method][task_of(A)], **what the caller passed}

``task_of(A)`` is the operator's own ``task`` attribute: `operators.Blur` → "deblur",
`operators.Downsample` → "sr", `operators.Inpainting` → "inpaint", `operators.Identity` → "denoise",
`operators.Grayscale` → "colorize"; anything else (compositions of several factors, user operators
that set none) → None, and the method's own DEFAULTS apply.  A new operator states its task in one line.

**The CLI defaults: ≤ 25 network evaluations on real inputs (issues 14, 19).**  Each task's default
method (`restore.cli.methods.DEFAULTS`) was re-chosen by benchmarks/defaults.py on 128×128 central
crops of CBSD432 training images (files 11–16 by name) under real conditions: 8-bit measurements,
clean (σ_y passed 0.002) and noisy (σ_y = 0.025); deblurring by *valid* convolution (no periodic
border; solved with the reflect boundary and the CLI's 25-iteration CG cap) with a Gaussian (std 2)
and Levin's kernels 3 and 8; ×4 bicubic SR; a 40×40 box and 50 % random inpainting; denoising at
σ = 0.01 and 0.025; grayscale colorization.  Grid: diffpir (λ, ζ), ddrm / ddnm (η), ΠGDM (2
evaluations per step), DAPS (one denoiser call per level, no Langevin noise) at 20 evaluations on
one image, then {10, 25} (×4 SR: steps × average ≤ 25) for the best family.  The chosen rows (mean PSNR over
degradations × conditions, benchmarks/tuning/TUNING.md "≤ 25 evaluations"): deblur DAPS 20 levels,
sr DAPS 25 levels × 1 chain, inpaint DiffPIR λ = 1, ζ = 1, 20 steps, denoise DAPS 20 levels,
colorize DDNM η = 0.85, 20 steps.  Inpainting and colorization then gained a warm start (``start``: the
solve begins at x₀ + σ z on the first fraction of the schedule, x₀ = `LinearOperator.warm_start(y)`: the
push–pull fill of the holes, the grey picture), chosen on CBSD432 training crops 11–13 (128², the same
conditions): inpainting start 0.1 of {none, 0.1, 0.2, 0.3, 0.5, 0.7} — box 40² clean/noisy 29.08/29.85 dB
against 25.68/26.76 without, 50 % random 30.04/29.04 against 27.63/26.92 (the fill alone: box
29.19/28.22, random 29.31/27.80 — the prior adds little on a box of a clean image); colorization start 0.05 of
{none, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7} — 25.79/25.06 against 23.89/23.25 (the grey picture itself:
25.98/24.78).  Later (`defaults.py --stage variants`, 6 training crops, the prior that ships, TUNING.md
"Variants of the defaults"): DAPS's inner gradient loop takes 7 steps at lr 1.4 (deblur) and 8 at lr 1.25
(sr) instead of 20 at 0.5 (the same PSNR, about 1/3 of the operator applications: the time outside the
network drops under 10 %), sr runs 23 levels (the whole solve stays within 25 forward equivalents),
colorization averages 8 chains of 3 steps, and denoising became `tweedie`.  Session 8 (TUNING.md, "DAPS's
inner loop by conjugate gradient"): the deblur inner loop takes 4 conjugate-gradient steps instead
(+0.35 dB, 5 instead of 7 𝒜ᵀ𝒜 per level), SR 20 levels × 3 CG steps (−0.02 dB, half the operator work),
and colorization the mean of 7 chains (−0.005 dB, 21 evaluations).  The older rows below were tuned on
circular blurs at σ_y = 0.025 (benchmarks/tuning/TUNING.md, issue 5) and still serve the methods that are
not a task's default.

How TUNED was chosen (benchmarks/tuning/TUNING.md has every number): grid search by
benchmarks/tuning/run_tuning.sh over each method's step size / stochasticity, on 128×128 central
crops of CBSD432 training images 9–10 (the first 8 are the prior's validation crops), with the
benchmark presets of `restore.bench.tasks` (deblur = Gaussian 61/3.0 and motion 61/0.5, sr = ×4
bicubic, inpaint = 128-box-scaled and 70 % random, all σ_y = 0.025; denoise σ_y = 25/255) and the
default prior.  The value with the highest mean PSNR over the task's presets and images wins.  No
test image was used.  The criterion is PSNR, which favours the posterior mean: where the knob is a
pure variance control the low end won (DAPS without Langevin noise, DDRM η = 0 and DiffPIR ζ = 0 for
denoising), but not everywhere (DDRM η = 1 for SR and inpainting, DiffPIR ζ = 1 outside denoising).
Pass an option explicitly (e.g. ``eta=0.85``) for the paper's setting.

**Averaged estimates for ×4 SR.**  PSNR rewards the posterior mean: for an exact sampler a single
sample x̃ has E‖x − x̃‖² = 2 tr Cov[x | y], twice the error of E[x | y].  On ×4 SR the bicubic
pseudo-inverse is already exact on the measured 1/16 of the spectrum, and single samples of DDRM,
DDNM, ΠGDM, projection and DPS lost to it on the training crops (their extra variance in the missing
high frequencies cost more than the prior's gain).  Every method's SR default therefore returns the
mean of ``average`` = M chains (`restore.solve`), with fewer steps per chain (at a fixed
budget, fewer steps and more chains won; DiffPIR 25 × 4 beat its single 100-step sample at the same
100 network evaluations).  Pass ``average=1`` for one chain.

These values make the *point estimate* (`restore.solve`) and only that: several are low-variance
settings and the SR ones average, so they are not posterior samplers.  `restore.sample_posterior`
never reads this table; it uses the sampling settings of `restore.guidance.posterior`.
"""
from __future__ import annotations

__all__ = ["TUNED", "TASKS", "task_of", "options"]

TASKS = ("deblur", "sr", "inpaint", "denoise", "colorize")
_TUNED_5 = TASKS[:4]  # the tasks of the issue-5 grid (colorize was not in it)

#: method → task → options that differ from the method's DEFAULTS (filled from TUNING.md)
TUNED: dict[str, dict[str, dict]] = {
    # steps are set by budget (the grid was run at these counts), the other options by the grid
    "ddrm": {"deblur": {"eta": 0.5}, "sr": {"eta": 1.0, "steps": 10, "average": 8}, "inpaint": {"eta": 1.0},
             "denoise": {"eta": 0.0}},
    "ddnm": {"sr": {"steps": 25, "average": 8},      # η = 0.85 won everywhere (η = 0 ignores noisy y)
             # the colorize default (≤ 25 evaluations, issue 19), warm-started from the grey picture; the mean
             # of 8 chains of 3 steps (+0.25 dB over one chain of 20 on 12 training measurements: PSNR
             # rewards the posterior mean, and a wrong hue costs more than a faint one); session 8: 7 chains
             # (−0.005 dB), 21 evaluations, so that start-up fits in 25 forward equivalents at 0.25 MP
             "colorize": {"steps": 3, "start": 0.05, "average": 7}},
    "pigdm": {**{t: {"steps": 50} for t in _TUNED_5}, "sr": {"steps": 25, "average": 8}},  # η = 1 won everywhere
    "projection": {"deblur": {"steps": 100, "eta": 0.0}, "sr": {"steps": 25, "eta": 1.0, "average": 8},
                   "inpaint": {"steps": 100, "eta": 1.0}, "denoise": {"steps": 100, "eta": 0.0}},
    # x̂₀ = one denoiser call; the deblur, sr and denoise defaults (≤ 25 evaluations, issue 19)
    # deblur, session 7: 7 gradient steps at lr 1.4 per level instead of 20 at 0.5 — the same result (+0.002 dB, −0.008…
    # +0.014, on 36 training measurements; with noise 0 the inner loop is gradient descent, and (1 − 1.4a)⁷ ≈
    # (1 − 0.5a)²⁰ in the slow directions) at 7/20 of the blur applications (outside the network 18 → ≈ 9 %)
    "daps": {**{t: {"steps": 20, "noise": 0.0, "ode_steps": 1} for t in ("denoise", "colorize")},
             # session 8: 4 conjugate-gradient steps on the same quadratic instead — +0.35 dB on the 36 training
             # measurements (Levin 3 clean +1.3; 3 CG: +0.16, 5: +0.33, 6: +0.21) at 5 instead of 7 𝒜ᵀ𝒜 per level
             "deblur": {"steps": 20, "noise": 0.0, "ode_steps": 1, "inner": "cg", "cg_steps": 4},
             # sr: session 7 took 23 levels × 8 gradient steps at lr 1.25 (25 levels: +0.006 dB on 12 training
             # measurements); session 8: 20 levels × 3 CG steps (−0.026 dB; 3 CG at 23 levels: −0.000), so that a
             # 1 MP image stays within 25 forward equivalents, with 4 instead of 8 𝒜ᵀ𝒜 per level
             "sr": {"steps": 20, "noise": 0.0, "ode_steps": 1, "inner": "cg", "cg_steps": 3},
             "inpaint": {"steps": 25, "noise": 0.0, "ode_steps": 1}},
    "dps": {**{t: {"steps": 200, "zeta": 3.0} for t in _TUNED_5},  # ζ = 3 beat 1 on every preset
            "sr": {"steps": 200, "zeta": 10.0, "average": 8}},
    "diffpir": {"deblur": {"zeta": 1.0}, "sr": {"zeta": 1.0, "lam": 1.0, "steps": 25, "average": 4},
                # the inpaint default (issue 19), warm-started from the push-pull fill of the holes
                "inpaint": {"zeta": 1.0, "lam": 1.0, "steps": 20, "start": 0.1},
                "denoise": {"zeta": 0.0}},
}


def task_of(A) -> str | None:
    """The task whose tuned defaults apply to operator ``A`` (its ``task`` attribute; None: plain defaults)."""
    task = getattr(A, "task", None)
    return task if task in TASKS else None


def options(method: str, A=None, task: str | None = None) -> dict:
    """The default options of ``method`` for operator ``A`` (or an explicit ``task`` name)."""
    from .registry import get
    if task is None and A is not None:
        task = task_of(A)
    if task is not None and task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose one of: {', '.join(TASKS)}")
    return {**get(method).defaults, **TUNED.get(method, {}).get(task, {})}
