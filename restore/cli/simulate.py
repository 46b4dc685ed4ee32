"""``restore simulate``: degrade a sharp image with the same operators the solvers use.

    y = 𝒜(x) + σ_y z,   z ~ N(0, I) drawn from a seed derived from --seed

(inpainting: the noise only on the known pixels, zeros elsewhere).  Several levels (``--noise
0.01,0.025,0.05``) are points of one seeded Brownian path of the measurement noise, dY = σ_max dW from
Y_0 = 𝒜(x) (`operators.GaussianNoise.path`): level σ is Y_t at t = (σ/σ_max)², so the noise sweep is
nested — each noisier image is the same path run longer — and the σ_max image equals the single-level one.  Writes the measurement y
(clamped to [0, 1] and rounded to the file's bit depth) and, beside it, a JSON sidecar
``OUT.json`` recording the operator spec (kernel/mask parameters and seeds), σ_y and the seeds, so
``restore TASK OUT --from-json`` rebuilds the exact same operator.  Same inputs and seed ⇒ the same
bytes.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import click
from click.core import ParameterSource

import operators as ops

from .. import __version__
from ..io import encode_image, read_image
from . import specs
from .files import default_output
from .outputs import OutputSet
from .pipeline import SIDECAR_FORMAT
from .tasks import (BLUR_NAMES, MASK_NAMES, NOISE_STREAM, SR_NAMES, blur_options, blur_spec_from, mask_options,
                    mask_spec_from, sr_options)

TASK_OPTIONS = {"deblur": BLUR_NAMES, "sr": SR_NAMES, "inpaint": MASK_NAMES, "denoise": (), "colorize": ()}


def _relative(path, folder) -> str:
    try:
        return os.path.relpath(Path(path).resolve(), Path(folder).resolve())
    except ValueError:  # another drive (Windows)
        return str(Path(path).resolve())


def sidecar_path(out) -> Path:
    return Path(out).with_suffix(".json")


@click.command()
@click.argument("sharp", metavar="SHARP", type=click.Path(dir_okay=True))
@click.option("--task", type=click.Choice(specs.TASKS), required=True, help="Which degradation to apply.")
@blur_options
@sr_options
@mask_options
@click.option("--noise", default="0.01", show_default=True, metavar="σ[,σ…]",
              help="Noise std σ_y on the [0, 1] intensity scale (2.55/255 ≈ 0.01); several comma-separated "
                   "levels write one image each (OUT_σ.png), nested along one noise path.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the noise, the motion kernel and the random masks (recorded in the sidecar).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Measurement image; OUT.json is written beside it.  [default: SHARP_<task>.png]")
@click.option("--bit-depth", type=click.Choice(["8", "16"]), default=None,
              help="Bit depth of the measurement file.  [default: that of SHARP]")
@click.option("--json", "as_json", is_flag=True, help="Print the sidecar (with file paths) on stdout.")
@click.option("--overwrite", is_flag=True, help="Replace existing output files (never SHARP).")
@click.option("-q", "--quiet", is_flag=True, help="No messages (errors only).")
@click.pass_context
def simulate(ctx, sharp, task, noise, seed, output, bit_depth, as_json, overwrite, quiet, **kw):
    """Degrade SHARP (blur / downsample / mask / noise / grey) and record how.

    \b
    restore simulate sharp.png --task deblur --kernel motion --noise 0.01 --seed 3 -o blurred.png
    restore deblur blurred.png --from-json --reference sharp.png
    """
    for t, names in TASK_OPTIONS.items():
        if t == task:
            continue
        wrong = [n for n in names if n not in TASK_OPTIONS[task]
                 and ctx.get_parameter_source(n) == ParameterSource.COMMANDLINE]
        if wrong:
            flags = ", ".join("--" + n.rstrip("_").replace("_", "-") for n in wrong)
            raise click.UsageError(f"{flags} applies to --task {t}, not {task}", ctx)
    levels = parse_levels(noise)

    x, info = read_image(sharp)
    if task == "deblur":
        spec = blur_spec_from(kw, seed)
    elif task == "sr":
        spec = specs.downsample_spec(kw["factor"], kw["filter_"])
    elif task == "inpaint":
        spec = mask_spec_from(kw, seed)
    else:
        spec = specs.task_spec(task)
    if task == "colorize" and x.shape[1] != 3:
        raise ValueError(f"--task colorize needs a colour image, {str(sharp)!r} is grey")
    A = specs.build(spec, x.shape)

    base = Path(output) if output else default_output(sharp, f"_{task}", ".png")
    files = [base] if len(levels) == 1 else [base.with_name(f"{base.stem}_{s:g}{base.suffix}") for s in levels]
    outs = OutputSet([sharp, spec.get("path")], overwrite)
    labels = [""] if len(levels) == 1 else [f" for σ {s:g}" for s in levels]  # how messages name each file
    for k, out in enumerate(files):
        outs.add(f"output{labels[k]}", str(out), "image")
        outs.add(f"sidecar{labels[k]}", str(sidecar_path(out)), "json")
    outs.validate()

    if "path" in spec:  # paths in a sidecar are relative to the sidecar's folder (portable)
        spec = {**spec, "path": _relative(spec["path"], base.parent)}
    noise_seed = ops.derive_seed(seed, NOISE_STREAM)
    top = max(levels)
    depth = int(bit_depth) if bit_depth else (16 if info.bit_depth == 16 else 8)
    if base.suffix.lower() in (".jpg", ".jpeg") and depth == 16:
        depth = 8
    records = []
    with outs:  # every measurement and its sidecar appear together or not at all
        for k, (level, out) in enumerate(zip(levels, files)):
            t = (level / top) ** 2 if top > 0 else 1.0  # Y_t = 𝒜x + σ_max W_t has std σ_max √t = σ
            y = ops.measure(x.double(), A, top, noise_seed, t)  # inpainting: noise on measured pixels only
            noise_rec = {"model": "gaussian", "sigma": level, "seed": noise_seed}
            if len(levels) > 1:
                noise_rec["path"] = {"sigma_max": top, "t": t}
            record = {
                "format": SIDECAR_FORMAT, "version": 1, "created_by": f"restore {__version__}",
                "task": task, "source": _relative(sharp, out.parent), "measurement": out.name,
                "seed": seed, "operator": spec, "noise": noise_rec,
                "shape": list(x.shape[1:]), "measurement_shape": list(y.shape[1:]), "bit_depth": depth,
                "clipped_fraction": round(float(((y < 0) | (y > 1)).double().mean()), 6),
            }
            # meas info keeps an alpha channel (resized to the small image for sr)
            outs.write(f"output{labels[k]}", encode_image(out, y.float().clamp(0, 1), info=info, bit_depth=depth))
            outs.write(f"sidecar{labels[k]}", (json.dumps(record, indent=2) + "\n").encode("utf-8"))
            records.append((out, record))
        outs.commit()
    if as_json:
        items = [{**r, "output": str(o), "sidecar": str(sidecar_path(o))} for o, r in records]
        click.echo(json.dumps(items[0] if len(items) == 1 else items, indent=2))
    elif not quiet:
        for out, record in records:
            click.echo(f"wrote {out} and {sidecar_path(out).name}  ({specs.describe(spec)}, "
                       f"σ_y {record['noise']['sigma']:g}, seed {seed})")
        click.echo(f"restore it with:  restore {task} {records[0][0]} --from-json")
    return 0


def parse_levels(text) -> list[float]:
    """``--noise``: one level or several comma-separated, each σ_y in [0, 1]."""
    try:
        levels = [float(v) for v in str(text).split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"--noise must be a number or comma-separated numbers in [0, 1], got {text!r}") from None
    if not levels or any(not (0 <= v <= 1) for v in levels):
        raise ValueError(f"--noise must be in [0, 1] (σ_y on the [0, 1] scale), got {text!r}")
    if len(set(levels)) < len(levels):
        raise ValueError(f"--noise lists a level twice: {text!r}")
    return levels
