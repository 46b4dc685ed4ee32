"""One restoration run: read → measurement → solve (whole or tiled) → write → metrics → report.

Everything that can be checked without running the solver (files, operator, method, every output
path, the memory the run needs) is checked first, so bad input fails in well under a second with
one clear error line.  The outputs are staged while the run finishes and committed together at the
end (`outputs.OutputSet`): a failure or an interrupt leaves no output and no temporary file.
"""
from __future__ import annotations

import json
import math
import os
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import click
import torch

import operators as ops

from ..allocator import keep_freed_memory
from ..io import encode_image, read_image
from . import methods as M
from . import memory, specs, tiling
from .files import default_output
from .noise_level import estimate_sigma
from .outputs import OutputSet
from .progress import Progress, mode

SIDECAR_FORMAT = "restore-measurement"
MIN_AUTO_NOISE = 1e-3
DEFAULT_NOISE = 0.01
#: tasks whose --noise defaults to the estimate (sr keeps 0.01: the estimate made no difference there,
#: benchmarks/tuning/TUNING.md "≤ 25 evaluations"; inpaint and colorize gained up to 0.2 dB from it)
AUTO_NOISE_TASKS = ("deblur", "denoise", "inpaint", "colorize")


@dataclass
class Options:
    """The options every restoration command shares (see `tasks.common_options`)."""

    output: str | None = None
    noise: str | None = None
    method: str | None = None
    steps: int | None = None
    seed: int = 0
    device: str = "auto"
    prior: str = "auto"
    samples: int | None = None
    uncertainty: str | None = None
    compare: str | None = None
    reference: str | None = None
    json: bool = False
    overwrite: bool = False
    quiet: bool = False
    tile: str = "auto"
    from_json: str | None = None
    save_kernel: str | None = None


# ----------------------------------------------------------------------------- small helpers
def parse_noise(value, task: str) -> float | str:
    """'auto' or a float σ_y ≥ 0 on the [0, 1] scale.  Default: 'auto' (estimated from the input) for deblur,
    denoise, inpaint and colorize (benchmarks/NOISE.md; on inpainting and colorization it was never more than
    0.03 dB worse than 0.01 and up to 0.23 dB better, TUNING.md); 0.01 for sr, where it made no difference."""
    if value is None:
        return "auto" if task in AUTO_NOISE_TASKS else DEFAULT_NOISE
    if str(value).strip().lower() == "auto":
        return "auto"
    try:
        s = float(value)
    except ValueError:
        raise ValueError(f"--noise must be a number (σ_y on the [0, 1] scale, e.g. 0.01) or 'auto', "
                         f"got {value!r}") from None
    if not (math.isfinite(s) and s >= 0):
        raise ValueError(f"--noise must be ≥ 0 (σ_y on the [0, 1] scale), got {value!r}")
    if s > 1:
        raise ValueError(f"--noise {s:g} is above 1: σ_y is on the [0, 1] scale (e.g. 2.55/255 ≈ 0.01)")
    return s


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: no CUDA GPU is available here (use --device cpu or auto)")
    return torch.device(name)


PRIOR_FORMS = ("a restore checkpoint is NAME.safetensors + NAME.json; also accepted: a guided-diffusion "
               ".pt/.pth file or a diffusers folder")


def check_prior_path(name: str) -> None:
    """Raise ValueError, naming the path as given, unless ``name`` is an installed shipped prior, 'auto',
    or looks like a loadable checkpoint (cheap checks on file names only; the loader checks contents)."""
    from ..models.registry import SHIPPED, installed

    if name == "auto":
        return
    if name in SHIPPED:
        if not installed(name):
            raise ValueError(f"the {name!r} prior is not installed ({SHIPPED[name]}); pass --prior PATH to a "
                             f"checkpoint")
        return
    p = Path(name)
    if p.is_dir():
        if not ((p / "config.json").is_file() or (p / "unet" / "config.json").is_file()):
            raise ValueError(f"prior {name!r} is a folder but not a diffusers model (no config.json); {PRIOR_FORMS}")
        return
    if p.suffix.lower() in (".pt", ".pth"):
        if not p.is_file():
            raise ValueError(f"prior {name!r} not found")
        return
    if p.is_file() and p.suffix.lower() not in (".safetensors", ".json"):
        raise ValueError(f"prior {name!r} is not a checkpoint ({PRIOR_FORMS})")
    base = p.with_suffix("") if p.suffix.lower() in (".safetensors", ".json") else p
    if base.with_suffix(".json").is_file():
        return  # the config names the weights (one file or shards); the loader checks them
    if base.with_suffix(".safetensors").is_file():
        raise ValueError(f"prior {name!r} is incomplete: {str(base) + '.json'!r} is missing ({PRIOR_FORMS})")
    raise ValueError(f"prior {name!r} not found ({PRIOR_FORMS})")


def load_prior(name: str, device: torch.device):
    """The prior ``name`` on ``device``; any failure to load (a corrupt, truncated, mismatched or
    pickled-code checkpoint, NaN weights) is a ValueError naming ``name`` as given."""
    from ..models.registry import load_prior as _load

    check_prior_path(name)
    try:
        with warnings.catch_warnings(record=True) as caught:  # a failed load prints its error line only
            warnings.simplefilter("always")
            prior = _load(name, device=device)
        for w in caught:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        net = getattr(prior, "model", None) or getattr(prior, "net", None)
        if isinstance(net, torch.nn.Module) and not all(bool(torch.isfinite(p).all()) for p in net.parameters()):
            raise ValueError("its weights contain NaN or Inf values")
        return prior
    except (KeyboardInterrupt, SystemExit):
        raise
    except torch.cuda.OutOfMemoryError:
        raise ValueError(f"out of GPU memory while loading prior {name!r}; use --device cpu") from None
    except Exception as e:  # safetensors, json, torch and the loaders raise many kinds for bad files
        msg = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise ValueError(f"cannot load prior {name!r}: {msg}") from None


MAX_SIDECAR_BYTES = 64 * 2**20


def _no_constant(name):
    raise ValueError(f"{name} is not a number JSON allows")


def read_sidecar(path, task: str) -> dict:
    """The measurement sidecar at ``path`` for ``task``: format checked, the operator rebuilt through
    the validating constructors (`specs.checked`), σ_y a finite number in [0, 1]; a kernel or mask
    path inside it is taken relative to the sidecar's folder (as the user named that folder)."""
    p = str(path)
    what = f"--from-json: {p!r}"
    if not Path(p).is_file():
        raise ValueError(f"{what} does not exist")
    if Path(p).stat().st_size > MAX_SIDECAR_BYTES:
        raise ValueError(f"{what} is larger than {MAX_SIDECAR_BYTES // 2**20} MB: not a measurement sidecar")
    try:
        d = json.loads(Path(p).read_bytes().decode("utf-8"), parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise ValueError(f"{what} is not valid JSON ({str(e).splitlines()[0][:200]})") from None
    if not isinstance(d, dict) or d.get("format") != SIDECAR_FORMAT or "operator" not in d:
        raise ValueError(f"{what} is not a measurement sidecar written by 'restore simulate'")
    if d.get("task") != task:
        raise ValueError(f"{what} describes a {d.get('task')!r} measurement, not {task!r}")
    try:
        sigma = d["noise"]["sigma"]
        if isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or not 0 <= sigma <= 1:
            raise TypeError(f"noise sigma {sigma!r}")
    except (KeyError, TypeError) as e:
        raise ValueError(f"{what}: no valid noise level σ_y in [0, 1] ({str(e)[:100]})") from None
    if not isinstance(d["operator"], dict):
        raise ValueError(f"{what}: the operator description is not an object")
    try:
        op = specs.checked(d["operator"])
    except ValueError as e:
        raise ValueError(f"{what}: {e}") from None
    if "path" in op and op["path"] and not Path(op["path"]).is_absolute():
        op = {**op, "path": os.path.join(os.path.dirname(p), op["path"])}  # relative to the sidecar
    return {**d, "operator": op}


def tile_plan(opt: str, task: str, spec: dict, shape, samples: int) -> tuple[int, int] | None:
    """(tile, overlap) or None.  --tile auto|off|N; only blur and identity operators are tiled."""
    opt = str(opt).strip().lower()
    h, w = shape[-2:]
    local = spec["op"] in ("blur", "identity")
    if opt == "off":
        return None
    if opt == "auto":
        if not local or samples * h * w <= tiling.AUTO_PIXELS:
            return None
        n = tiling.AUTO_TILE if samples <= 4 else tiling.AUTO_TILE // 2
    else:
        try:
            n = int(opt)
        except ValueError:
            raise ValueError(f"--tile must be auto, off or a tile size in pixels, got {opt!r}") from None
        if not local:
            raise ValueError(f"--tile: only deblur and denoise can be tiled, not {task}")
        if n < 8:
            raise ValueError(f"--tile must be at least 8 pixels, got {n}")
    if h <= n and w <= n:
        return None
    k = specs.kernel_side(spec)
    if k >= n:
        raise ValueError(f"--tile {n} must be larger than the blur kernel ({k} px)")
    return n, min(n // 8 + k, (n - 1) // 2)


def fit_memory(tiles, opt: Options, task: str, spec: dict, x_shape, chains: int, method: str, device):
    """The tile plan, made smaller when the run would not fit in memory (`memory`): only with
    ``--tile auto`` and a local operator; otherwise, or when no tile size fits, a ValueError that
    says the estimate and the available memory."""
    g = M.guidance()

    def groups(chains, batch, pixels):  # as the solver will group them on this device
        return g.chain_groups(chains, batch, pixels, device)

    est = memory.estimate(method, x_shape, chains, tiles[0] if tiles else None, opt.prior, groups)
    problem = memory.check(est, device)
    if problem is None:
        return tiles
    local = spec["op"] in ("blur", "identity")
    if local and str(opt.tile).strip().lower() == "auto":
        for n in tiling.FALLBACK_TILES:
            if tiles and n >= tiles[0]:
                continue
            try:
                t = tile_plan(str(n), task, spec, x_shape, chains)
            except ValueError:  # the kernel is larger than this tile
                break
            if t and memory.check(memory.estimate(method, x_shape, chains, n, opt.prior, groups), device) is None:
                return t
    c, h, w = x_shape[1:]
    hint = ("use --tile N with a smaller N, " if local and str(opt.tile).strip().lower() != "auto" else "") + \
        ("fewer --samples, " if chains > 1 else "") + "a smaller image" + \
        (", or --device cpu" if device.type == "cuda" else "")
    raise ValueError(f"not enough memory: restoring this {w}x{h} image with {method} ({chains} chain(s)"
                     f"{f', {tiles[0]}-px tiles' if tiles else ''}) {problem}; use {hint} "
                     f"(estimate: docs/CLI.md, 'Memory')")


def _round(v, nd=4):
    """JSON-safe number: None for missing or non-finite values (e.g. the infinite PSNR of identical images)."""
    return None if v is None or not math.isfinite(float(v)) else round(float(v), nd)


# ----------------------------------------------------------------------------- the run
@dataclass
class Plan:
    """Everything decided before the prior is loaded (`prepare`): inputs read, operator built, method,
    steps and chains chosen, outputs validated, memory checked."""

    task: str
    image: str
    info: object
    y: torch.Tensor
    A: object
    spec: dict
    x_shape: tuple
    sidecar: dict | None
    noise: float
    noise_estimated: bool
    method: str
    posterior: bool
    steps: int | None
    samples: int
    output: str
    outs: OutputSet
    ref: torch.Tensor | None
    tiles: tuple | None
    device: torch.device
    prior: str


def prepare(task: str, image: str, spec: dict | None, opt: Options, show: bool) -> Plan:
    """Read the input, build the operator, choose method/steps/chains/prior, validate every output and
    the memory — every check that needs no network, so bad input fails in well under a second."""
    x_in, info = read_image(image)
    sidecar = None
    if opt.from_json is not None:
        sc_path = opt.from_json or str(Path(image).with_suffix(".json"))
        sidecar = read_sidecar(sc_path, task)
        spec = sidecar["operator"]
    noise = parse_noise(opt.noise if (opt.noise is not None or sidecar is None) else sidecar["noise"]["sigma"], task)

    y = ops.Grayscale()(x_in) if task == "colorize" and x_in.shape[1] == 3 else x_in
    x_shape = specs.image_shape(spec, y.shape)
    if specs.needs_estimate(spec):  # the kernel is estimated once the prior is loaded (`estimate_kernel`)
        from ..blind import check_blind_input
        check_blind_input(y, specs.estimate_size(spec, y.shape))  # a kernel larger than the image, a flat image
        A = None
    else:
        A = specs.build(spec, x_shape)
    if spec["op"] == "downsample" and tuple(A.out_shape(x_shape)) != tuple(y.shape):
        raise ValueError("internal: measurement shape mismatch")
    if spec["op"] == "inpaint":
        y = A(y)  # the known pixels of the input are the measurement

    # --samples K: K posterior samples at the sampling settings (restore.sample_posterior), output = their
    # mean, std = the uncertainty map; without it: the point estimate (restore.solve, tuned, may average)
    posterior = opt.samples is not None
    method = M.check_method(opt.method, task) if opt.method else M.default_method(task, spec=spec,
                                                                                   sampling=posterior)
    if posterior and not M.samples(method):
        raise ValueError(f"--samples draws posterior samples; {method} is a deterministic estimate without them"
                         " (pass --method daps, for instance)")
    if opt.steps is not None and not M.samples(method) and method != M.DECONV:
        raise ValueError(f"--steps: {method} is a deterministic estimate, it has no steps")
    if method == M.DECONV:  # the E-step, polished by `steps` DAPS levels (`restore.blind.polish`); the default
        steps, samples = opt.steps, 1  # levels follow the tile plan below (`deconv_steps`)
    elif not M.samples(method):
        steps, samples = None, 1
    else:
        tuned_for = task if A is None else None  # the kernel is still to be estimated: the task's defaults
        steps = opt.steps if opt.steps is not None else (
            M.guidance().sampling_defaults(method).get("steps") if posterior else
            M.default_steps(method, A, tuned_for))
        samples = opt.samples if posterior else M.default_samples(method, A, tuned_for)  # chains the solver runs
    if steps is not None and steps < 1:
        raise ValueError(f"--steps must be at least 1, got {steps}")
    if samples < 1:
        raise ValueError(f"--samples must be at least 1, got {samples}")
    if opt.uncertainty and (not posterior or samples < 2):
        raise ValueError("--uncertainty needs --samples K with K ≥ 2 (the std over K posterior samples)")
    output = opt.output if opt.output else str(default_output(image, "_restored"))
    inputs = [image, opt.reference, spec.get("path"), opt.from_json or None]
    if sidecar is not None:
        inputs.append(opt.from_json or str(Path(image).with_suffix(".json")))
    outs = OutputSet(inputs, opt.overwrite)
    outs.add("output", output, "image")
    outs.add("--uncertainty", opt.uncertainty, "image")
    outs.add("--compare", opt.compare, "figure")
    outs.add("--save-kernel", opt.save_kernel, "kernel")
    outs.validate()
    device = resolve_device(opt.device)
    prior = resolve_prior(opt.prior, device)
    check_prior_path(prior)
    ref = None
    if opt.reference:
        ref, _ = read_image(opt.reference)
        if tuple(ref.shape[1:]) != tuple(x_shape[1:]):
            c, h, w = x_shape[1:]
            raise ValueError(f"--reference {opt.reference!r} is {ref.shape[3]}x{ref.shape[2]} with {ref.shape[1]} "
                             f"channel(s) but the restoration is {w}x{h} with {c}")
    noise_estimated = noise == "auto"
    if noise_estimated:
        measured = plan_measured(A, x_shape, y)
        noise = max(estimate_sigma(y, measured), MIN_AUTO_NOISE)  # reported with the result, not before
    tiles = tile_plan(opt.tile, task, spec, x_shape, samples)
    tiles = fit_memory(tiles, opt, task, spec, x_shape, samples, method, device)
    if method == M.DECONV and opt.steps is None:  # none when estimated; fewer per tile of a tiled image
        steps = M.deconv_steps(specs.needs_estimate(spec), tiled=tiles is not None)
    return Plan(task, image, info, y, A, spec, tuple(x_shape), sidecar, float(noise), noise_estimated, method,
                posterior, steps, samples, output, outs, ref, tiles, device, prior)


def plan_measured(A, x_shape, y) -> torch.Tensor | None:
    """Where y is measured (inpainting: the mask; None: everywhere), to keep holes out of the noise estimate."""
    if isinstance(A, ops.Inpainting):
        return ops.measured_entries(A, (1, *x_shape[1:]), y.dtype)
    return None


def resolve_prior(name: str, device: torch.device) -> str:
    """``auto``: the GPU prior (``large``) on CUDA when it is installed, else ``default``; a name as given."""
    from ..models.registry import auto_prior

    return auto_prior(device) if name == "auto" else name


def estimate_kernel(plan: Plan, prior, show: bool) -> None:
    """``--kernel auto`` / ``--kernel gauss`` without a std: estimate the kernel from the input
    (`restore.blind.estimate_blur`, on the most textured 512² window of a larger photo), then build the
    operator; ``plan.spec`` records the estimate.  An unreliable free-form estimate (`restore.blind.checked_blur`:
    too noisy or scattered) becomes the delta, with one warning line."""
    from ..blind import ESTIMATE_SIDE, checked_blur, estimate_gaussian_std, fallback_warning

    if show:
        click.echo("estimating the blur kernel from the image ...", err=True)
    t = time.perf_counter()
    y, spec, problem = plan.y[0].to(torch.float64), plan.spec, None
    if spec["kernel"] == specs.AUTO:
        est, problem = checked_blur(y, prior, specs.estimate_size(spec, y.shape), plan.noise, spec["boundary"],
                                    max_side=ESTIMATE_SIDE)
        if problem is not None:  # never silently worse than the input
            click.echo("warning: " + fallback_warning(problem), err=True)
    else:  # --kernel gauss without --kernel-std
        est = estimate_gaussian_std(y, prior, plan.noise, spec["boundary"], spec.get("kernel_size"), ESTIMATE_SIDE)
    plan.spec = specs.with_estimate(spec, est)
    if problem is not None:
        plan.spec["kernel_fallback"] = problem
    plan.A = specs.build(plan.spec, plan.x_shape)
    if show:
        click.echo(f"estimated the kernel in {time.perf_counter() - t:.1f} s: {specs.describe(plan.spec)}", err=True)


def solve_plan(plan: Plan, opt: Options, show: bool) -> tuple[torch.Tensor, float, int]:
    """Load the prior and run the solver (whole or tiled): (K samples or 1 estimate, seconds, tiles)."""
    prior = load_prior(plan.prior, plan.device)
    if specs.needs_estimate(plan.spec):
        estimate_kernel(plan, prior, show)
    g = M.guidance()
    tiles, x_shape, device = plan.tiles, plan.x_shape, plan.device
    n_tiles = len(tiling.plan(x_shape, *tiles)) if tiles else 1
    if show and tiles:
        click.echo(f"large image: restoring in {n_tiles} tiles of {tiles[0]} px (overlap {tiles[1]} px)", err=True)
    t_solve = time.perf_counter()
    pixels = tiles[0] ** 2 if tiles else x_shape[-2] * x_shape[-1]
    groups = len(g.chain_groups(plan.samples, 1, pixels, device))  # the solver runs the K chains in groups
    with Progress(plan.steps * n_tiles * groups if plan.steps else None, f"{plan.task} ({plan.method})",
                  mode(opt.quiet or opt.json)) as bar:
        def solve_one(yt, seed):
            if plan.method == M.DECONV:
                return M.deconv(yt.to(device), plan.A, prior, plan.noise, seed=int(seed), steps=plan.steps,
                                callback=bar.callback)
            common = dict(method=plan.method, sigma_y=plan.noise, steps=plan.steps, seed=int(seed),
                          callback=bar.callback)
            if plan.posterior:
                xs = g.sample_posterior(yt.to(device), plan.A, prior, samples=plan.samples, **common)
            else:
                xs = g.solve(yt.to(device), plan.A, prior, **common)
            return xs.detach()

        try:
            xs = tiling.solve_tiled(plan.y, solve_one, tiles[0], tiles[1], opt.seed) if tiles else \
                solve_one(plan.y, opt.seed)
        except torch.cuda.OutOfMemoryError:
            raise ValueError(f"out of GPU memory for a {x_shape[3]}x{x_shape[2]} image; use --tile 256 "
                             f"(deblur/denoise), fewer --samples, or --device cpu") from None
    xs = xs.float().cpu()
    if not bool(torch.isfinite(xs).all()):
        raise ValueError(f"the solver ({plan.method}) produced NaN/Inf values; try another --method or more --steps")
    return xs, time.perf_counter() - t_solve, n_tiles


def write_outputs(plan: Plan, opt: Options, x: torch.Tensor, std) -> tuple[dict, float | None]:
    """Stage every output beside its target and commit them together: (metrics, uncertainty scale)."""
    outs, y, ref, spec = plan.outs, plan.y, plan.ref, plan.spec
    with outs:
        outs.write("output", encode_image(plan.output, x.clamp(0, 1), info=plan.info))
        unc_scale = None
        if opt.uncertainty:
            s = std.mean(dim=1, keepdim=True)
            unc_scale = max(float(s.max()), 1e-12)
            outs.write("--uncertainty", encode_image(opt.uncertainty, s / unc_scale, bit_depth=16 if Path(
                opt.uncertainty).suffix.lower() in (".png", ".tif", ".tiff") else 8))
        metrics = {}
        if ref is not None:
            from ..metrics import psnr, ssim

            xc = x.clamp(0, 1)
            metrics = {"psnr": float(psnr(xc, ref)[0]), "ssim": float(ssim(xc, ref)[0])}
            if tuple(y.shape) == tuple(ref.shape) and spec["op"] != "inpaint":
                yc = y.clamp(0, 1)
                metrics.update(input_psnr=float(psnr(yc, ref)[0]), input_ssim=float(ssim(yc, ref)[0]))
        if opt.save_kernel:
            outs.write("--save-kernel", encode_kernel(opt.save_kernel, plan.A.kernel))
        if opt.compare:
            from .figure import compare_figure

            titles = {"input": f"input ({specs.describe(spec)})"}
            if metrics:
                titles["restored"] = f"restored ({plan.method}) {metrics['psnr']:.2f} dB / {metrics['ssim']:.3f}"
                if "input_psnr" in metrics:
                    titles["input"] = f"input {metrics['input_psnr']:.2f} dB / {metrics['input_ssim']:.3f}"
            else:
                titles["restored"] = f"restored ({plan.method})"
            outs.write("--compare", compare_figure(
                opt.compare, y.expand(-1, 3, -1, -1) if x.shape[1] == 3 and y.shape[1] == 1 else y,
                x, reference=ref, std=std, titles=titles))
        outs.commit()
    return metrics, unc_scale


def encode_kernel(path: str, k: torch.Tensor) -> bytes:
    """The bytes of kernel k as .npy (float64, exact; Σ = 1) or .png (16-bit grey scaled so the largest
    tap is white; `--kernel PATH` reads it back normalised to Σ = 1)."""
    if Path(path).suffix.lower() == ".npy":
        import io

        import numpy as np
        buf = io.BytesIO()
        np.save(buf, k.detach().to(torch.float64).cpu().numpy())
        return buf.getvalue()
    k = k.detach().to(torch.float64).cpu()
    return encode_image(path, (k / k.max().clamp_min(1e-30))[None, None].float(), bit_depth=16)


#: tasks whose result is flagged when the assumed model does not explain the input
WARN_FIT_TASKS = ("deblur",)


#: side of the window a tiled deblur's fit is checked on (the most textured one: `restore.blind.salient_window`)
FIT_WINDOW = 512


def check_fit(plan: Plan, x: torch.Tensor) -> dict | None:
    """Does the assumed operator and noise level explain the input (`restore.guidance.residual`)?
    A tiled blur is checked on its most textured FIT_WINDOW² window (`fit_window`).  Other tiled runs: None."""
    from ..guidance.residual import residual_ratio
    y, A = plan.y, plan.A
    if plan.tiles:
        if not hasattr(A, "kernel") or tuple(x.shape) != tuple(y.shape):
            return None
        y, A, x = fit_window(y, A, x, FIT_WINDOW)
    return residual_ratio(y.double(), A, x.double(), plan.noise)


def fit_window(y: torch.Tensor, A, x: torch.Tensor, side: int):
    """(y_w, 𝒜_w, x_w): the blur 𝒜x = k ∗ x restricted exactly to the most textured side² window W of y
    (`restore.blind.salient_window`): x on W grown by the kernel's radius r, and

        𝒜_w = M ∘ Blur(k)   with M the mask of the pixels at least r from the grown window's edge,

    so every measured y_w entry is the valid convolution of pixels inside the grown window (the blur is
    the same everywhere; the padded boundary only touches entries M leaves out)."""
    from ..blind import luma, salient_window
    kh, kw = A.kernel.shape
    rh, rw = kh // 2, kw // 2
    H, W = y.shape[-2:]
    top, left = salient_window(luma(y[0]), side)
    t0, l0 = max(top - rh, 0), max(left - rw, 0)
    t1, l1 = min(top + side + rh, H), min(left + side + rw, W)
    win = (..., slice(t0, t1), slice(l0, l1))
    mask = torch.zeros(1, 1, t1 - t0, l1 - l0, dtype=y.dtype)
    mask[..., rh:t1 - t0 - rh, rw:l1 - l0 - rw] = 1
    A_w = ops.Compose(ops.Inpainting(mask), ops.Blur(A.kernel, boundary="reflect"))
    return y[win] * mask, A_w, x[win]


def kernel_record(spec: dict, A) -> dict | None:
    """The blur kernel in the --json record: whether it was estimated, its size and its values
    (an estimated Gaussian also has its std)."""
    if spec.get("op") != "blur" or not hasattr(A, "kernel"):
        return None
    rec = {"estimated": spec.get("kernel") == "estimated" or bool(spec.get("kernel_std_estimated")),
           "size": list(A.kernel.shape), "values": [[round(float(v), 8) for v in row] for row in A.kernel.tolist()]}
    if spec.get("kernel_std_estimated"):
        rec["std"] = spec["kernel_std"]
    return rec


def report(plan: Plan, opt: Options, x, metrics: dict, unc_scale, seconds: float, solve_seconds: float,
           n_tiles: int, fit: dict | None = None) -> None:
    """One line per written file (or the JSON record with --json), and a warning when the model does not
    explain the input."""
    info, spec, output = plan.info, plan.spec, plan.output
    result = {
        "task": plan.task, "input": str(plan.image), "output": str(output),
        "uncertainty": str(opt.uncertainty) if opt.uncertainty else None,
        "uncertainty_scale": _round(unc_scale, 6),
        "compare": str(opt.compare) if opt.compare else None,
        "reference": str(opt.reference) if opt.reference else None,
        "method": plan.method, "seed": opt.seed, "steps": plan.steps, "samples": plan.samples,
        "noise": _round(plan.noise, 6), "noise_estimated": plan.noise_estimated,
        "operator": {k: v for k, v in spec.items() if k != "values"}, "from_json": plan.sidecar is not None,
        "prior": plan.prior, "device": str(plan.device), "tiles": n_tiles,
        "shape": list(x.shape[1:]), "bit_depth": info.bit_depth if info.bit_depth in (8, 16) else 8,
        "alpha": info.has_alpha,
        "seconds": round(seconds, 3), "solve_seconds": round(solve_seconds, 3),
        "psnr": _round(metrics.get("psnr")), "ssim": _round(metrics.get("ssim")),
        "input_psnr": _round(metrics.get("input_psnr")), "input_ssim": _round(metrics.get("input_ssim")),
        "residual": None if fit is None else {k: _round(v, 6) for k, v in fit.items()},
        "kernel": kernel_record(plan.spec, plan.A), "save_kernel": str(opt.save_kernel) if opt.save_kernel else None,
    }
    from ..guidance.residual import MISFIT_RATIO
    # warn where the model is the user's choice (kernel, noise level); SR's bicubic model and inpainting's
    # mask are reported in the JSON but real low-resolution photos are rarely bicubic-downsampled
    if fit is not None and fit["ratio"] > MISFIT_RATIO and not opt.quiet and plan.task in WARN_FIT_TASKS:
        click.echo(f"warning: the assumed model does not explain the input: the residual is {fit['ratio']:.1f}× what "
                   f"{specs.describe(spec)} with noise σ_y {plan.noise:.4g} predicts; the blur kernel or the noise "
                   f"level is probably wrong (check --noise, or try another --kernel or --kernel-size) — do not "
                   f"trust this result",
                   err=True)
    if opt.json:
        click.echo(json.dumps(result, indent=2))
    elif not opt.quiet:
        fits = "" if fit is None else f", residual {fit['ratio']:.2f}× the model's"
        click.echo(f"wrote {output}  ({specs.describe(spec)}; {plan.method}, {plan.steps or 0} steps, seed {opt.seed}, "
                   f"σ_y {plan.noise:.4g}{' (estimated)' if plan.noise_estimated else ''}, prior {plan.prior}{fits}, "
                   f"{seconds:.1f} s on {plan.device})")
        if opt.uncertainty:
            click.echo(f"wrote {opt.uncertainty}  (per-pixel std over {plan.samples} samples; white = {unc_scale:.4f})")
        if opt.compare:
            click.echo(f"wrote {opt.compare}")
        if opt.save_kernel:
            click.echo(f"wrote {opt.save_kernel}  (the {'estimated ' if plan.spec.get('kernel') == 'estimated' else ''}"
                       f"blur kernel)")
        if metrics:
            line = f"PSNR {metrics['psnr']:.2f} dB  SSIM {metrics['ssim']:.4f}"
            if "input_psnr" in metrics:
                line += f"  (input: PSNR {metrics['input_psnr']:.2f} dB  SSIM {metrics['input_ssim']:.4f})"
            click.echo(line)
    sys.stdout.flush()


def run(task: str, image: str, spec: dict | None, opt: Options) -> int:
    """One restoration: prepare (every check) → solve → write (all outputs or none) → report."""
    keep_freed_memory()  # large tensors reused, not re-faulted: ~2x faster on CPU (restore.allocator)
    t0 = time.perf_counter()
    show = not opt.quiet and not opt.json
    plan = prepare(task, image, spec, opt, show)
    xs, solve_seconds, n_tiles = solve_plan(plan, opt, show)
    x = xs.mean(dim=0, keepdim=True) if xs.shape[0] > 1 else xs[:1]
    std = xs.std(dim=0, keepdim=True) if xs.shape[0] > 1 else None
    fit = check_fit(plan, x)
    metrics, unc_scale = write_outputs(plan, opt, x, std)
    report(plan, opt, x, metrics, unc_scale, time.perf_counter() - t0, solve_seconds, n_tiles, fit)
    return 0
