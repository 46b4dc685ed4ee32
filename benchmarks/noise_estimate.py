"""How well ``--noise auto`` (restore/cli/noise_level.py) estimates σ_y on each task's input.

    python benchmarks/noise_estimate.py [--out benchmarks/NOISE.md]

Test images (Set3C + CBSD68 101085, 101087; 8-bit), each degraded as the CLI's task would see it —
deblur: Gaussian 25×25 std 3 and a seeded 25×25 camera-shake kernel (reflect boundary); sr: ×4 bicubic
(central crop to a multiple of 4); inpaint: 70 % of the pixels missing (the estimate sees the mask);
denoise: identity — plus white noise σ ∈ {0, 0.01, 0.025, 0.05, 0.1} (seeded), quantised to 8 bits.
Reports the mean estimate and its mean relative error per level; σ = 0 is the 8-bit quantisation
noise (0.0011) plus whatever the source files carry.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import operators as ops  # noqa: E402
from restore.cli.noise_level import estimate_sigma  # noqa: E402
from restore.io import read_image  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "test"
IMAGES = [DATA / "Set3C" / n for n in ("butterfly.png", "leaves.png", "starfish.png")] + \
         [DATA / "CBSD68" / n for n in ("101085.png", "101087.png")]
LEVELS = (0.0, 0.01, 0.025, 0.05, 0.1)


def operators_for(x):
    h, w = (s - s % 4 for s in x.shape[-2:])
    mask = (torch.rand(1, 1, *x.shape[-2:], generator=torch.Generator().manual_seed(0)) > 0.7).double()
    return {
        "deblur (gauss 3)": (ops.GaussianBlur(25, 3.0, boundary="reflect"), x, None),
        "deblur (motion)": (ops.MotionBlur(25, 0.5, seed=1, boundary="reflect"), x, None),
        "sr ×4": (ops.Downsample(4, "bicubic"), x[..., :h, :w], None),
        "inpaint 70 %": (ops.Inpainting(mask), x, mask),
        "denoise": (ops.Identity(), x, None),
    }


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "NOISE.md"))
    a = ap.parse_args(argv)
    rows = {}
    for k, f in enumerate(IMAGES):
        x, _ = read_image(f)
        x = x.double()
        for task, (A, xc, valid) in operators_for(x).items():
            ax = A(xc)
            for s in LEVELS:
                y = (ax + s * ops.randn(ax.shape, 100 * k + int(s * 1000), dtype=torch.float64)).clamp(0, 1)
                y = (y * 255).round() / 255
                if valid is not None:
                    y = y * valid
                rows.setdefault((task, s), []).append(estimate_sigma(y, valid))
    lines = ["# `--noise auto`: estimated against true σ_y", "", "Command: `python benchmarks/noise_estimate.py`"
             " (no network; seconds).  " + __doc__.split("\n\n")[2].replace("\n", " "), "",
             "| task input | " + " | ".join(f"σ = {s:g}" for s in LEVELS) + " |",
             "|---|" + "---:|" * len(LEVELS)]
    for task in operators_for(torch.zeros(1, 3, 8, 8)):
        cells = []
        for s in LEVELS:
            est = rows[(task, s)]
            mean = sum(est) / len(est)
            rel = "" if s == 0 else f" ({100 * sum(abs(e - s) / s for e in est) / len(est):.0f} %)"
            cells.append(f"{mean:.4f}{rel}")
        lines.append(f"| {task} | " + " | ".join(cells) + " |")
    lines += ["", "Cells: mean estimate over the 5 images (mean relative error).  The CLI floors the estimate "
              "at 0.001.  Blurred inputs are read within 6–9 % at every level, so `--noise auto` is the default "
              "of deblur (and denoise).  Sharp, textured inputs (a ×4 low-resolution image, an image with 70 % "
              "of its pixels missing, an unblurred photo) are over-estimated at low noise — texture passes the "
              "Laplacian-difference filter even on the flattest fifth of the pixels — so sr, inpaint and "
              "colorize keep the fixed default σ_y = 0.01; pass `--noise auto` or a value there."]
    Path(a.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
