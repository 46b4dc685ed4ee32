"""Every method the benchmark runs, behind one call:  ``run_method(name, m, prior, steps, seed)``.

* Diffusion methods and the ``pinv`` / ``wiener`` baselines go through `restore.solve` (the same
  operator object that made y, σ_y in [0, 1] units).
* ``rl`` — Richardson–Lucy (`skimage.restoration.richardson_lucy`), blur tasks only, **30 iterations**
  (``RL_ITERATIONS``), per channel, on y clipped to [0, 1].  skimage convolves with zero boundary
  ('same' mode); our blurs are circular, so y is wrap-padded by the kernel size before and cropped
  after, which makes the interior agree with the circular model.  Our `Blur` is a true convolution
  (y[i] = Σ k[a]·x[i − a + c]) like skimage's, so the kernel is passed unflipped (tested).
* ``tv`` — total variation.  denoise: one call of `skimage.restoration.denoise_tv_chambolle`
  (weight λ = σ_y).  Other linear problems: FISTA on ½‖𝒜x − y‖² + λ·TV(x), step τ = 1/‖𝒜‖²
  (power iteration), λ = max(σ_y, 0.005), ``TV_ITERATIONS`` = 50 outer iterations, the TV prox is
  ``denoise_tv_chambolle(·, weight=τλ, max_num_iter=50)``, started from the Wiener estimate.
* ``dinv-dps``, ``dinv-diffpir``, ``dinv-ddrm`` — deepinv's samplers with OUR prior plugged in through
  `DeepinvDenoiser` (x in [0, 1], σ in [0, 1] units, exactly deepinv's denoiser convention) and our
  operator wrapped as a ``deepinv.physics.LinearPhysics`` (``dinv-ddrm``: its SVD as a
  ``DecomposablePhysics``; real SVDs only, so not on the circular blurs; deepinv's σ grid 1 → 0 in
  [0, 1] units); needs the optional extra ``pip install restore[deepinv]`` (deepinv 0.5 needs a
  torchvision that loads beside your torch: benchmarks/README.md).  (Not importable → a clear
  error naming the extra.)

Network evaluations are counted by wrapping the prior in `CountingPrior` (one count per
``denoise`` call on a batch of one image).
"""
from __future__ import annotations

import functools

import numpy as np
import torch

import operators as ops

from .tasks import Measurement

RL_ITERATIONS = 30
TV_ITERATIONS = 50
TV_INNER = 50
TV_MIN_WEIGHT = 0.005

BASELINES = ("pinv", "wiener", "rl", "tv")
DEEPINV = ("dinv-dps", "dinv-diffpir", "dinv-ddrm")
DEEPINV_STEPS = {"dinv-dps": 1000, "dinv-diffpir": 100, "dinv-ddrm": 20}  # deepinv's own defaults (DDRM: ours)


class CountingPrior:
    """The prior seen through a counter: ``rows`` = images evaluated over all ``denoise`` calls
    (network evaluations: a call on a batch of M chains counts M)."""

    def __init__(self, prior):
        self._prior = prior
        self.rows = 0

    def denoise(self, x, sigma):
        self.rows += int(x.shape[0])
        return self._prior.denoise(x, sigma)

    def __getattr__(self, name):  # channels, schedule, data_range, ... of the wrapped prior
        return getattr(self._prior, name)


def all_methods() -> list[str]:
    from ..guidance import METHODS
    return list(METHODS) + ["rl", "tv"] + list(DEEPINV)


def uses_prior(method: str) -> bool:
    return method not in BASELINES


def parse_steps(text) -> dict:
    """``--steps``: None, ``N`` (every diffusion method), or ``N,dps=100,projection=100`` / ``dps=100``
    (per method; methods not named keep ``N`` or their own default) → {"*": N | None, method: N}."""
    spec: dict = {"*": None}
    if text is None:
        return spec
    if isinstance(text, int):
        text = str(text)
    if isinstance(text, dict):
        return {"*": None, **text}
    for part in str(text).split(","):
        part = part.strip()
        if not part:
            continue
        name, eq, value = part.rpartition("=")
        try:
            n = int(value)
        except ValueError:
            raise ValueError(f"--steps expects N or METHOD=N items, got {part!r}") from None
        if n < 1:
            raise ValueError(f"--steps must be ≥ 1, got {part!r}")
        spec[name.strip().lower() if eq else "*"] = n
    return spec


def steps_for(method: str, steps) -> int | None:
    """The steps passed to the method (None → its own default) under a `parse_steps` spec or an int."""
    spec = parse_steps(steps) if not isinstance(steps, dict) else steps
    return spec.get(method, spec.get("*"))


def effective_steps(method: str, steps, task: str | None = None) -> int:
    """Steps recorded with a row: --steps (diffusion), the method's tuned default for the task's
    operator kind, or the fixed iterations."""
    if method in ("pinv", "wiener"):
        return 0
    if method == "rl":
        return RL_ITERATIONS
    if method == "tv":
        return TV_ITERATIONS
    steps = steps_for(method, steps)
    if steps is not None:
        return int(steps)
    if method in DEEPINV:
        return DEEPINV_STEPS[method]
    from ..guidance import defaults
    return int(defaults(method, task=task_kind(task) if task else None).get("steps", 0) or 0)


def task_kind(task: str) -> str | None:
    """The tuned-defaults task of a benchmark task: its operator's own ``task`` attribute
    (`restore.guidance.tuned.task_of`), asked of the operator the task builds (once per task name)."""
    return _task_kind(task)


@functools.lru_cache(maxsize=None)
def _task_kind(task: str) -> str | None:
    from .tasks import task_spec
    return getattr(ops.from_spec(task_spec(task, 128, 0), (1, 1, 128, 128)), "task", None)


def check_methods(methods, tasks) -> None:
    known = all_methods()
    for m in methods:
        if m not in known:
            raise ValueError(f"unknown method {m!r}; choose from {', '.join(known)}")


def applicable(method: str, task: str) -> bool:
    """rl runs on blur tasks only, a registered method with ``tasks`` on those only, dinv-ddrm on the others (it needs a real
    SVD; the circular blur's is the complex DFT); everything else runs everywhere."""
    blur = task_kind(task) == "deblur"
    from ..guidance.registry import REGISTRY
    only = REGISTRY[method].tasks if method in REGISTRY else None  # e.g. tweedie: denoising only
    if only is not None:
        return task_kind(task) in only
    if method == "rl":
        return blur
    if method == "dinv-ddrm":
        return not blur
    return True


# ------------------------------------------------------------------------------------------------
def run_method(method: str, m: Measurement, prior, steps: int | None, seed: int, average: int | None = None) -> torch.Tensor:
    """x̂ (1, C, H, W) in [0, 1] for one measurement; ``average`` overrides the chains our diffusion methods
    average (None: their tuned value)."""
    if method == "rl":
        return richardson_lucy(m)
    if method == "tv":
        return total_variation(m)
    if method in DEEPINV:
        return run_deepinv(method, m, prior, steps, seed)
    from .. import solve
    if prior is None:  # pinv / wiener never call it
        prior = _no_prior
    options = {} if average is None else {"average": int(average)}  # deterministic baselines ignore it
    return solve(m.y, m.A, prior, method=method, sigma_y=m.sigma_y, steps=steps, seed=seed, **options)


def _no_prior(x, sigma):
    raise RuntimeError("this method does not use a prior")


def richardson_lucy(m: Measurement) -> torch.Tensor:
    from skimage.restoration import richardson_lucy as rl

    if not isinstance(m.A, ops.Blur):
        raise ValueError("rl (Richardson–Lucy) applies to blur tasks only")
    k = m.A.kernel.numpy()
    p = max(k.shape)
    y = m.y[0].detach().cpu().double().clamp(0, 1).numpy()
    out = np.empty_like(y)
    for c in range(y.shape[0]):
        yp = np.pad(y[c], p, mode="wrap")
        out[c] = rl(yp, k, num_iter=RL_ITERATIONS, clip=True)[p:-p, p:-p]
    return torch.from_numpy(out).to(m.y.dtype)[None]


def _tv_prox(v: torch.Tensor, weight: float) -> torch.Tensor:
    from skimage.restoration import denoise_tv_chambolle

    arr = v[0].detach().cpu().double().numpy()
    out = denoise_tv_chambolle(arr, weight=weight, max_num_iter=TV_INNER, channel_axis=0)
    return torch.from_numpy(out).to(v.dtype)[None]


def total_variation(m: Measurement) -> torch.Tensor:
    lam = max(m.sigma_y, TV_MIN_WEIGHT)
    if isinstance(m.A, ops.Identity):
        return _tv_prox(m.y, lam).clamp(0, 1)
    from .. import solve

    A, y = m.A, m.y.double()
    x = solve(m.y, A, _no_prior, method="wiener", sigma_y=max(m.sigma_y, 1e-3)).double()
    # ‖A‖² by power iteration from a fixed start
    g = torch.Generator().manual_seed(0)
    v = torch.randn(x.shape, generator=g, dtype=torch.float64)
    L = 1.0
    for _ in range(20):
        v = v / v.norm()
        w = A.normal(v)
        L = float((w * v).sum())
        v = w
    tau = 1.0 / (1.05 * L)
    z, t = x.clone(), 1.0
    for _ in range(TV_ITERATIONS):
        x_new = _tv_prox(z - tau * A.adjoint(A(z) - y), tau * lam)
        t_new = (1 + (1 + 4 * t * t) ** 0.5) / 2
        z = x_new + ((t - 1) / t_new) * (x_new - x)
        x, t = x_new, t_new
    return x.clamp(0, 1).to(m.y.dtype)


# ------------------------------------------------------------------------------------------------
def _import_deepinv():
    try:
        import deepinv  # noqa: F401
    except Exception as err:  # ImportError, or a broken install (e.g. torchvision mismatch)
        raise ValueError(f"method needs the optional extra 'deepinv' (pip install 'restore[deepinv]'): "
                         f"{type(err).__name__}: {err}") from None
    return deepinv


def DeepinvDenoiser(prior):
    """Our prior as a ``deepinv.models.Denoiser``: forward(x, σ) = prior.denoise(x, σ), both in [0, 1] units
    (deepinv's convention: its samplers map [−1, 1] states to [0, 1] before calling the denoiser)."""
    dinv = _import_deepinv()

    class _Adapter(dinv.models.Denoiser):
        def __init__(self):
            super().__init__()
            self.prior = prior

        def forward(self, x, sigma, *args, **kwargs):
            s = torch.as_tensor(sigma, dtype=x.dtype, device=x.device).reshape(-1)
            s = s.expand(x.shape[0]) if s.numel() == 1 else s
            return self.prior.denoise(x, s)

    return _Adapter()


def deepinv_physics(m: Measurement):
    """Our operator as ``deepinv.physics.LinearPhysics`` (A, exact adjoint, Gaussian noise σ_y)."""
    dinv = _import_deepinv()
    return dinv.physics.LinearPhysics(A=m.A.forward, A_adjoint=m.A.adjoint,
                                      noise_model=dinv.physics.GaussianNoise(sigma=m.sigma_y))


def deepinv_decomposable(m: Measurement):
    """Our operator's SVD as ``deepinv.physics.DecomposablePhysics``: 𝒜 = U diag(s) Vᵀ with
    U_adjoint = Ut, V_adjoint = Vt and mask = s on the (1, C, S, S) coefficient grid (real SVDs only)."""
    dinv = _import_deepinv()
    svd = m.A.svd
    if svd is None:
        raise ValueError(f"dinv-ddrm needs an operator with an SVD, {m.A!r} has none")
    side = int(m.spec["side"])
    shape = (1, m.y.shape[1], side, side)
    if svd.Vt(torch.zeros(shape, dtype=m.y.dtype, device=m.y.device)).is_complex():
        raise ValueError(f"dinv-ddrm needs a real SVD; {m.A!r} has a complex (Fourier) one")
    mask = svd.singular_values(shape, device=m.y.device, dtype=m.y.dtype).expand(shape).clone()
    return dinv.physics.DecomposablePhysics(U=svd.U, U_adjoint=svd.Ut, V=svd.V, V_adjoint=svd.Vt, mask=mask,
                                            noise_model=dinv.physics.GaussianNoise(sigma=m.sigma_y))


def run_deepinv(method: str, m: Measurement, prior, steps: int | None, seed: int) -> torch.Tensor:
    dinv = _import_deepinv()
    den = DeepinvDenoiser(prior)
    torch.manual_seed(seed % (2**63))  # deepinv draws from the global generator
    n = effective_steps(method, steps)  # steps: an int or None here
    if method == "dinv-ddrm":
        # deepinv's DDRM walks σ from 1 to 0 in [0, 1] units (its denoisers' convention); σ = 0 is
        # replaced by our smallest trained level so the last call is a real denoising step
        sig = np.linspace(1.0, 0.0, n)
        sig[-1] = min(sig[-2], 2e-3) if n > 1 else sig[-1]
        model = dinv.sampling.DDRM(den, sigmas=sig)
        x = model(m.y, deepinv_decomposable(m))
    elif method == "dinv-diffpir":
        model = dinv.sampling.DiffPIR(den, dinv.optim.data_fidelity.L2(), sigma=max(m.sigma_y, 1e-3),
                                      max_iter=n, device=m.y.device)
        with torch.no_grad():
            x = model(m.y, deepinv_physics(m))
    else:
        rng = torch.Generator(device=m.y.device).manual_seed(seed % (2**63))
        model = dinv.sampling.DPS(den, num_steps=n, device=m.y.device, dtype=m.y.dtype, rng=rng)
        x = model(m.y, deepinv_physics(m))
    return x.detach().clamp(0, 1).to(m.y.dtype)
