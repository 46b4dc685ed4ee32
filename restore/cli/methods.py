"""The guidance methods as the command line sees them (the registry, `restore.guidance.registry`).

Per-task defaults (first one present in the registry wins):

| task     | default   | evaluations | why |
|----------|-----------|---:|-----|
| deblur   | deconv    | 17 | the valid-model E-step (one denoiser call) polished by 16 DAPS levels warm-started from it on its padded grid with the valid model (8 per tile of a tiled image; `deconv_steps`, `restore.blind.polish`; +2.78 dB over DAPS from noise on clean training crops, +1.59 at σ 0.01); DAPS from noise (4 CG steps per level), the best of the ≤ 25-evaluation grid before, stays the sampler (``--samples``) |
| sr       | daps      | 20 | best of the grid (one chain tied with 8 × 3 and 6 × 4 averages); 20 levels × 3 CG steps keep 1 MP within 25 forward equivalents |
| inpaint  | diffpir   | 20 | λ = 1, ζ = 1, warm start 0.1 from the push–pull fill: beats Navier–Stokes (RESULTS.md) |
| denoise  | tweedie   |  1 | the posterior mean D(y, σ_y) itself: 1.4–2.0 dB above DAPS 20 at σ = 0.01–0.1, 20× cheaper |
| colorize | ddnm      | 21 | the mean of 7 chains × 3 steps; exact SVD, the measured luminance kept exactly; warm start 0.05 from the grey picture |

Chosen by benchmarks/defaults.py on training crops under real conditions (8-bit clean and noisy inputs,
non-periodic blurs, Levin kernels) within 25 network evaluations (issues 14, 19); the settings are in
`restore.guidance.tuned` and the numbers in benchmarks/tuning/TUNING.md.

deblur with an estimated kernel (``--kernel auto``, the default without a kernel): ``deconv`` unpolished —
the blind solver's E-step (`restore.blind.deconv`): a gradient-regularised deconvolution with the
kernel, then one denoiser call.  The guidance methods, and the polish, fit y down to σ_y and pay for
every bit of the estimate's error; the E-step tolerates it (benchmarks/BLIND.md).  ``--steps N`` sets the
polish's levels (`restore.blind.polish`) in every case, an estimated kernel included.
"""
from __future__ import annotations

#: the deblurring E-step of `restore.blind` as a CLI method (not a guidance method: blur operators only)
DECONV = "deconv"

#: the polish levels of the deblurring default ``deconv`` (`deconv_steps`): a whole image, and each tile of a tiled one
POLISH_STEPS = 16
POLISH_STEPS_TILED = 8


def deconv_steps(estimated: bool, tiled: bool = False) -> int | None:
    """The polish levels of the deblurring default ``deconv``: ``POLISH_STEPS`` for a given kernel — the
    valid-model E-step polished by DAPS warm-started from it on its padded grid (`restore.blind.polish`;
    session 13, benchmarks/deblur_known_default.py: +2.97 dB over DAPS from noise on clean training crops,
    +1.65 at σ 0.01, +0.91 at 0.025, no crop below it, at 20 levels) — and ``POLISH_STEPS_TILED`` on each tile of
    a tiled (large) image; none for an estimated one (its error grows over the levels).

    The counts keep issue 19's budgets (benchmarks/SPEED.md, session 14): each level is one network call on the
    E-step's padded grid (a 512² tile pads to 540², 1.18× the tile's forward), and tiles overlap (1.5× the
    pixels at 4–12 MP), so 20 levels cost 29 forward equivalents at 0.25 MP and ~45 on tiles (12 MP: ~50 min on
    2 cores).  On the training crops (σ 0 / 0.01; 20 levels 30.14 / 28.04 dB, DAPS from noise 27.17 / 26.39):
    16 levels 29.95 / 27.98, 14 29.84 / 27.94, 10 29.53 / 27.79, 8 29.32 / 27.67, the E-step alone 28.12 / 26.34."""
    if estimated:
        return None
    return POLISH_STEPS_TILED if tiled else POLISH_STEPS


DEFAULTS = {
    "deblur": ("daps", "diffpir", "dps", "pigdm", "ddrm"),
    "sr": ("daps", "ddrm", "ddnm", "diffpir", "pigdm", "dps"),
    "inpaint": ("diffpir", "ddrm", "ddnm", "pigdm", "dps"),
    "denoise": ("tweedie", "daps", "ddrm", "diffpir", "ddnm", "pigdm", "dps"),
    "colorize": ("ddnm", "ddrm", "diffpir", "pigdm", "dps"),
}


def guidance():
    """The `restore.guidance` module (imported on first use: the CLI starts without torch work)."""
    from .. import guidance as g
    return g


def registry() -> dict:
    """name → `restore.guidance.registry.Method`, every registered method."""
    from ..guidance.registry import REGISTRY
    return dict(REGISTRY)


def default_method(task: str, names=None, spec: dict | None = None, sampling: bool = False) -> str:
    """The first of the task's preferred methods that is registered, but ``deconv`` for deblurring
    (`deconv_steps` says whether it is polished); ``sampling``: the first that draws posterior samples
    (``--samples K``)."""
    reg = registry()
    if spec is not None and spec.get("kernel") in ("auto", "estimated"):
        return DECONV  # an estimated kernel: the E-step, whatever is asked (--samples is then refused)
    if task == "deblur" and not sampling:
        return DECONV
    names = list(reg) if names is None else list(names)
    if sampling:
        names = [m for m in names if m in reg and reg[m].samples]
    for m in DEFAULTS[task]:
        if m in names:
            return m
    return names[0]


def samples(method: str) -> bool:
    """Whether ``method`` draws posterior samples (False: a deterministic estimate — deconv, tweedie, pinv)."""
    return method != DECONV and registry()[method].samples


def check_method(name: str, task: str | None = None) -> str:
    """The registered method ``name`` (``deconv`` for deblurring), else one clear ValueError."""
    if str(name).lower() == DECONV:
        if task != "deblur":
            raise ValueError(f"--method {DECONV} is for deblurring only")
        return DECONV
    from ..guidance.registry import get
    return get(name).name


def deconv(y, A, prior, sigma_y: float, seed: int = 0, steps: int | None = None, callback=None):
    """``--method deconv``: per image, the E-step x_E = D(x_α, max(σ_e, 4σ_y, g·σ_y)) with A's kernel and
    boundary (`restore.blind.deconv.denoised_deconvolution`); with ``steps``, polished by that many levels of
    DAPS warm-started from it (`restore.blind.polish`), image b's chain seeded ``image_seeds(seed, B)[b]``
    as in `restore.solve_blind`."""
    import torch

    from ..blind.polish import polished_deconvolution
    from ..guidance import image_seeds
    seeds = image_seeds(seed, y.shape[0])
    return torch.stack([polished_deconvolution(y[b], A.kernel, prior, sigma_y, boundary=A.boundary, seed=[seeds[b]],
                                               polish=steps is not None, steps=steps, callback=callback)
                        for b in range(y.shape[0])])


def default_steps(method: str, A=None, task: str | None = None):
    """The method's default number of steps for operator ``A`` or ``task`` (tuned per task), None without
    steps (pinv)."""
    return guidance().defaults(method, A, task).get("steps")


def default_samples(method: str, A=None, task: str | None = None) -> int:
    """How many chains the CLI's point estimate (no --samples: `restore.solve`) averages: the method's
    tuned ``average`` for operator ``A`` (e.g. several DDRM chains for SR, where their mean beats one
    in PSNR), else 1."""
    return int(guidance().defaults(method, A, task).get("average", 1))


def summary(name: str, m) -> dict:
    """What the registry says about a method, in a fixed shape for printing and --json."""
    steps = default_steps(name)
    info = {"name": name, "description": m.description, "noisy measurements": "yes" if m.noise else "no",
            "needs an SVD": "yes" if m.svd else "no", "default steps": steps if steps is not None else "-"}
    if m.fallback:
        info["falls back to"] = m.fallback
    return info
