"""``restore simulate``: degrade a sharp image with the same operators the solvers use.

    y = 𝒜(x) + σ_y z,   z ~ N(0, I) drawn from a seed derived from --seed

(inpainting: the noise only on the known pixels, zeros elsewhere).  Writes the measurement y
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
@click.option("--noise", type=float, default=0.01, show_default=True, metavar="σ",
              help="Noise std σ_y on the [0, 1] intensity scale (2.55/255 ≈ 0.01).")
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
    if not (noise >= 0) or noise > 1:
        raise ValueError(f"--noise must be in [0, 1] (σ_y on the [0, 1] scale), got {noise}")

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

    out = Path(output) if output else default_output(sharp, f"_{task}", ".png")
    side = sidecar_path(out)
    outs = OutputSet([sharp, spec.get("path")], overwrite)
    outs.add("output", str(out), "image")
    outs.add("sidecar", str(side), "json")
    outs.validate()

    if "path" in spec:  # paths in a sidecar are relative to the sidecar's folder (portable)
        spec = {**spec, "path": _relative(spec["path"], out.parent)}
    noise_seed = ops.derive_seed(seed, NOISE_STREAM)
    ax = A(x.double())
    y = ops.GaussianNoise(noise)(ax, seed=noise_seed)
    if spec["op"] == "inpaint":
        y = A(y)
    clipped = float(((y < 0) | (y > 1)).double().mean())
    depth = int(bit_depth) if bit_depth else (16 if info.bit_depth == 16 else 8)
    if out.suffix.lower() in (".jpg", ".jpeg") and depth == 16:
        depth = 8
    meas_info = info  # keeps an alpha channel (resized to the small image for sr)

    record = {
        "format": SIDECAR_FORMAT, "version": 1, "created_by": f"restore {__version__}",
        "task": task, "source": _relative(sharp, out.parent), "measurement": out.name,
        "seed": seed, "operator": spec,
        "noise": {"model": "gaussian", "sigma": noise, "seed": noise_seed},
        "shape": list(x.shape[1:]), "measurement_shape": list(y.shape[1:]), "bit_depth": depth,
        "clipped_fraction": round(clipped, 6),
    }
    with outs:  # the measurement and its sidecar appear together or not at all
        outs.write("output", encode_image(out, y.float().clamp(0, 1), info=meas_info, bit_depth=depth))
        outs.write("sidecar", (json.dumps(record, indent=2) + "\n").encode("utf-8"))
        outs.commit()
    if as_json:
        click.echo(json.dumps({**record, "output": str(out), "sidecar": str(side)}, indent=2))
    elif not quiet:
        click.echo(f"wrote {out} and {side.name}  ({specs.describe(spec)}, σ_y {noise:g}, seed {seed})")
        click.echo(f"restore it with:  restore {task} {out} --from-json")
    return 0
