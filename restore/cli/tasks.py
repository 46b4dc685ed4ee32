"""The restoration commands: ``deblur``, ``sr``, ``inpaint``, ``denoise``, ``colorize``.

Each command turns its own options into an operator spec (`specs`) and hands over to
`pipeline.run` together with the options they all share (`common_options`).
"""
from __future__ import annotations

import click
from click.core import ParameterSource

from operators import BOUNDARIES, FILTERS, derive_seed

from . import methods as M
from . import specs
from .pipeline import Options, run

IMAGE = click.argument("image", metavar="IMAGE", type=click.Path(dir_okay=True))

# Seeds of the operator's own random parts, derived from --seed (recorded in --json output).
KERNEL_STREAM, MASK_STREAM, NOISE_STREAM = 1, 2, 3


def noise_option(default_text: str):
    return click.option(
        "--noise", "noise", default=None, metavar="σ|auto", show_default=default_text,
        help="Measurement noise std σ_y on the [0, 1] intensity scale (2.55/255 ≈ 0.01; 8-bit rounding "
             "alone is ≈ 0.001), or 'auto' to estimate it from the image.")


#: the commands whose operator is local, so that the image can be restored in tiles (`tiling`)
TILED = ("deblur", "denoise")
_SIDECAR = "the JSON sidecar that 'restore simulate' wrote; alone it reads IMAGE.json.  Put it last."
FROM_JSON_HELP = {
    "deblur": "Rebuild the exact blur (kernel, boundary) and noise level from " + _SIDECAR,
    "sr": "Rebuild the exact downsampling (factor, filter) and noise level from " + _SIDECAR,
    "inpaint": "Rebuild the exact mask and noise level from " + _SIDECAR,
    "denoise": "Take the noise level σ_y from " + _SIDECAR,
    "colorize": "Take the noise level σ_y from " + _SIDECAR,
}


def common_options(task: str):
    """Options shared by every restoration command (``--tile`` only where tiling applies)."""
    default_m = M.DEFAULTS[task][0]

    def deco(f):
        opts = [
            click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
                         help="Output image (.png, .tif, .jpg).  [default: IMAGE_restored.<ext> beside the input]"),
            noise_option("0.01" if task == "sr" else "auto"),
            click.option("--method", default=None, metavar="NAME",
                         help=f"Guidance method (see 'restore methods').  [default: {default_m}]"),
            click.option("--steps", type=int, default=None, metavar="N",
                         help="Sampler steps.  [default: the method's own, e.g. diffpir 100, ddrm 20]"),
            click.option("--seed", type=int, default=0, show_default=True,
                         help="Seed of every random draw; the same seed gives the same output."),
            click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True,
                         help="auto = CUDA when available."),
            click.option("--prior", default="auto", show_default=True, metavar="auto|default|large|PATH",
                         help="auto: the GPU prior (large) on a CUDA device when installed, else the CPU "
                              "prior (default); or a checkpoint (PATH.safetensors + PATH.json)."),
            click.option("--samples", type=int, default=None, metavar="K",
                         help="Draw K posterior samples at the method's sampling settings (checked against "
                              "closed-form posteriors); the output is their mean.  Without it the output is "
                              "the point estimate (PSNR-tuned settings, e.g. the mean of 8 ddrm chains on sr)."),
            click.option("--uncertainty", type=click.Path(dir_okay=False), default=None, metavar="PATH",
                         help="With --samples K ≥ 2: write the per-pixel std of the K posterior samples as a "
                              "grey image, scaled so white = the largest std (the scale is printed and in "
                              "--json; coverage in benchmarks/CALIBRATION.md)."),
            click.option("--compare", type=click.Path(dir_okay=False), default=None, metavar="PATH",
                         help="Write a side-by-side figure (input, restoration; reference and error map with "
                              "--reference) as .png/.pdf/.svg."),
            click.option("--reference", type=click.Path(dir_okay=False), default=None, metavar="GT",
                         help="Ground-truth image: print PSNR and SSIM of the restoration."),
            *([click.option("--tile", default="auto", show_default=True, metavar="auto|off|N",
                            help="Restore in overlapping N-px tiles.  auto = 512-px tiles when samples·H·W > "
                                 "1024² pixels (256-px for K > 4), smaller ones when the run would not fit in "
                                 "memory.")] if task in TILED else []),
            click.option("--from-json", "from_json", is_flag=False, flag_value="", default=None,
                         metavar="[SIDECAR]", help=FROM_JSON_HELP[task]),
            click.option("--json", "as_json", is_flag=True, help="Print a machine-readable result on stdout."),
            click.option("--overwrite", is_flag=True, help="Replace existing output files (never the input)."),
            click.option("-q", "--quiet", is_flag=True, help="No progress bar, no messages (errors only)."),
        ]
        for o in reversed(opts):
            f = o(f)
        return f

    return deco


def _options(kw: dict) -> Options:
    return Options(output=kw.pop("output"), noise=kw.pop("noise"), method=kw.pop("method"), steps=kw.pop("steps"),
                   seed=kw.pop("seed"), device=kw.pop("device"), prior=kw.pop("prior"), samples=kw.pop("samples"),
                   uncertainty=kw.pop("uncertainty"), compare=kw.pop("compare"), reference=kw.pop("reference"),
                   json=kw.pop("as_json"), overwrite=kw.pop("overwrite"), quiet=kw.pop("quiet"),
                   tile=kw.pop("tile", "off"), from_json=kw.pop("from_json"))


def _no_conflict(ctx: click.Context, from_json, names) -> None:
    """Operator options and --from-json are exclusive (the sidecar fixes the operator)."""
    if from_json is None:
        return
    given = [n for n in names if ctx.get_parameter_source(n) == ParameterSource.COMMANDLINE]
    if given:
        flags = ", ".join("--" + n.replace("_", "-") for n in given)
        raise click.UsageError(f"{flags} cannot be combined with --from-json (the sidecar fixes the operator)", ctx)


# ----------------------------------------------------------------------------- blur options (shared with simulate)
def blur_options(f=None, *, estimate: bool = False):
    """The blur options; ``estimate`` (restore deblur): ``--kernel auto`` is the default and a Gaussian's
    std is estimated when not given; otherwise (restore simulate) gauss with std 3."""
    if f is None:
        return lambda g: blur_options(g, estimate=estimate)
    opts = [
        click.option("--kernel", default="auto" if estimate else "gauss", show_default=True,
                     metavar=("auto|" if estimate else "") + "gauss|motion|uniform|PATH",
                     help=("auto: estimate the kernel from the image (blind deblurring, restore.blind).  " if estimate
                           else "") + "Blur kernel: a named kind or a kernel file (.png, .npy, .npz, .mat; "
                                      "normalised to sum 1)."),
        click.option("--kernel-size", type=int, default=None, metavar="N",
                     help=("Kernel side in pixels.  [default: auto 31 (the support searched; large enough for "
                           "typical camera shake), gauss 2·⌈3·std⌉+1, motion 31, uniform 9]" if estimate else
                           "Kernel side in pixels.  [default: gauss 2·⌈3·std⌉+1 (19), motion 31, uniform 9]")),
        click.option("--kernel-std", type=float, default=None, metavar="S",
                     help="Gaussian kernel std in pixels.  [default: " + (
                         "estimated from the image]" if estimate else "3.0]")),
        click.option("--intensity", type=float, default=None, metavar="I",
                     help="Motion kernel: how much the camera path curls (0 = straight line).  [default: 0.5]"),
        click.option("--boundary", type=click.Choice(BOUNDARIES), default=specs.DEFAULT_BOUNDARY, show_default=True,
                     help="What the image is beyond its border in the blur model.  reflect (default) mirrors "
                          "the image, right for real photos: no ringing at the edges.  circular = periodic "
                          "(exact FFT SVD; only for images blurred that way, e.g. synthetic benchmarks)."),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


BLUR_NAMES = ("kernel", "kernel_size", "kernel_std", "intensity", "boundary")


def blur_spec_from(kw: dict, seed: int, estimate: bool = False) -> dict:
    return specs.blur_spec(kw.pop("kernel"), kw.pop("kernel_size"), kw.pop("kernel_std"), kw.pop("intensity"),
                           kw.pop("boundary"), kernel_seed=derive_seed(seed, KERNEL_STREAM), estimate=estimate)


def sr_options(f):
    f = click.option("--filter", "filter_", type=click.Choice(FILTERS), default="bicubic", show_default=True,
                     help="Downsampling model that produced the small image.")(f)
    return click.option("--factor", type=int, default=4, show_default=True, metavar="F",
                        help="Upscaling factor (integer ≥ 1); the output is F times larger.")(f)


SR_NAMES = ("factor", "filter_")


def mask_options(f):
    opts = [
        click.option("--mask", type=click.Path(dir_okay=False), default=None, metavar="PATH",
                     help="Mask image of the same size: white = known pixel, black = fill in."),
        click.option("--mask-random", type=float, default=None, metavar="P",
                     help="Drop a random fraction P of the pixels (a seeded demo mask)."),
        click.option("--mask-box", default=None, metavar="S|HxW",
                     help="Drop one S×S (or H×W) box at a seeded random position."),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


MASK_NAMES = ("mask", "mask_random", "mask_box")


def mask_spec_from(kw: dict, seed: int) -> dict:
    return specs.inpaint_spec(kw.pop("mask"), kw.pop("mask_random"), kw.pop("mask_box"),
                              mask_seed=derive_seed(seed, MASK_STREAM))


# ----------------------------------------------------------------------------- commands
@click.command()
@IMAGE
@blur_options(estimate=True)
@click.option("--save-kernel", "save_kernel", type=click.Path(dir_okay=False), default=None, metavar="PATH",
              help="Write the blur kernel used (the estimate with --kernel auto) as .npy (exact) or .png "
                   "(16-bit, brightest tap white; --kernel PATH reads either back).")
@common_options("deblur")
@click.pass_context
def deblur(ctx, image, save_kernel, **kw):
    """Remove blur from IMAGE; without a kernel, estimate it from the image.

    \b
    restore deblur photo.png                          # blind: kernel and noise estimated
    restore deblur photo.png --save-kernel k.png      # ... and keep the estimated kernel
    restore deblur photo.png --kernel gauss           # a Gaussian blur, its std estimated
    restore deblur photo.png --kernel-std 2 --noise 0.02
    restore deblur photo.png --kernel kernel.png -o sharp.png
    restore deblur blurred.png --from-json            # operator from 'restore simulate'
    """
    opt = _options(kw)
    opt.save_kernel = save_kernel
    _no_conflict(ctx, opt.from_json, BLUR_NAMES)
    if ctx.get_parameter_source("kernel_std") == ParameterSource.COMMANDLINE and \
            ctx.get_parameter_source("kernel") != ParameterSource.COMMANDLINE:
        kw["kernel"] = "gauss"  # --kernel-std S alone means a Gaussian of std S, as before
    spec = None if opt.from_json is not None else blur_spec_from(kw, opt.seed, estimate=True)
    return run("deblur", image, spec, opt)


@click.command()
@IMAGE
@sr_options
@common_options("sr")
@click.pass_context
def sr(ctx, image, **kw):
    """Super-resolve IMAGE by an integer factor.

    \b
    restore sr small.png                  # x4, bicubic model -> small_restored.png
    restore sr small.png --factor 2 --filter box
    """
    opt = _options(kw)
    _no_conflict(ctx, opt.from_json, SR_NAMES)
    spec = None if opt.from_json is not None else specs.downsample_spec(kw.pop("factor"), kw.pop("filter_"))
    return run("sr", image, spec, opt)


@click.command()
@IMAGE
@mask_options
@common_options("inpaint")
@click.pass_context
def inpaint(ctx, image, **kw):
    """Fill in the missing pixels of IMAGE.

    The pixels of IMAGE where the mask is white are the measurement; the rest is filled in.

    \b
    restore inpaint photo.png --mask mask.png
    restore inpaint photo.png --mask-box 64       # demo: drop a 64x64 box, fill it
    restore inpaint photo.png --mask-random 0.7   # demo: drop 70% of the pixels
    """
    opt = _options(kw)
    _no_conflict(ctx, opt.from_json, MASK_NAMES)
    spec = None if opt.from_json is not None else mask_spec_from(kw, opt.seed)
    return run("inpaint", image, spec, opt)


@click.command()
@IMAGE
@common_options("denoise")
@click.pass_context
def denoise(ctx, image, **kw):
    """Remove Gaussian noise from IMAGE (noise level estimated unless --noise σ).

    \b
    restore denoise noisy.png
    restore denoise noisy.png --noise 0.1     # σ_y = 25.5/255
    """
    opt = _options(kw)
    return run("denoise", image, None if opt.from_json is not None else specs.task_spec("denoise"), opt)


@click.command()
@IMAGE
@common_options("colorize")
@click.pass_context
def colorize(ctx, image, **kw):
    """Colorize IMAGE (grey, or colour whose luminance is kept): the output is RGB.

    \b
    restore colorize old_photo.png
    """
    opt = _options(kw)
    return run("colorize", image, None if opt.from_json is not None else specs.task_spec("colorize"), opt)
