"""Wall time, network-forward equivalents and peak memory of each CLI default at 0.25, 1, 4 and 12 MP
(issue 19, benchmarks/SPEED.md).

Inputs are one CBSD68 photo (101085, 481×321) resized (bicubic) to each size — no larger photo is in
the data, so the detail is that of the small original — then degraded as a user's photo would be and
saved as 8-bit PNG:

* deblur:   Gaussian blur of std 2 (reflect border) + σ 0.01, restored by ``restore deblur in.png``
            (the default: the kernel is estimated, then the deconvolution E-step per tile);
* deblur-known: the same input, restored with the blur given, ``restore deblur in.png --kernel gauss
            --kernel-std 2`` (the default with a kernel: the valid-model E-step polished by DAPS, 16 levels whole, 8 per tile);
* denoise:  + σ 0.05, ``restore denoise in.png`` (default: tweedie, one network call per tile);
* sr:       the image at ¼ of the size, ``restore sr in.png --factor 4`` (the output has the size);
* inpaint:  a centred box of ⅛ × ⅛ of the image, ``restore inpaint in.png --mask mask.png``;
* colorize: the grey image, ``restore colorize in.png``.

Each command runs in its own process under ``/usr/bin/time -v`` (peak RSS).  One forward of the prior is
timed in this process on a 512² tile (the CLI's tile) and scaled by the pixel count: the network-forward
equivalents are the command's wall time divided by that forward time at the image's size.

    OMP_NUM_THREADS=2 python benchmarks/megapixel.py --tasks denoise,deblur --sizes 0.25,1,4,12
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT.parent / "shared" / "data" / "test" / "CBSD68" / "101085.png"
SIZES = {"0.25": (608, 432), "1": (1216, 864), "4": (2432, 1728), "12": (4000, 3000)}
TILE = 512


def degrade(task: str, x: np.ndarray, rng) -> tuple[np.ndarray, list[str], dict]:
    """(input image, extra CLI arguments, extra files to write) for ``task`` from the sharp image x (uint8)."""
    f = x.astype(np.float64) / 255
    if task in ("deblur", "deblur-known"):
        f = cv2.GaussianBlur(f, (13, 13), 2.0, borderType=cv2.BORDER_REFLECT) + 0.01 * rng.standard_normal(f.shape)
        return f, ([] if task == "deblur" else ["--kernel", "gauss", "--kernel-std", "2"]), {}
    if task == "denoise":
        return f + 0.05 * rng.standard_normal(f.shape), [], {}
    if task == "sr":
        h, w = f.shape[:2]
        return cv2.resize(f, (w // 4, h // 4), interpolation=cv2.INTER_AREA), ["--factor", "4"], {}
    if task == "inpaint":
        h, w = f.shape[:2]
        mask = np.full((h, w), 255, np.uint8)
        mask[h // 2 - h // 16:h // 2 + h // 16, w // 2 - w // 16:w // 2 + w // 16] = 0
        return f, ["--mask", "mask.png"], {"mask.png": mask}
    if task == "colorize":
        g = cv2.cvtColor(x, cv2.COLOR_BGR2GRAY).astype(np.float64) / 255
        return g, [], {}
    raise ValueError(task)


def forward_seconds_per_pixel(reps: int = 3) -> float:
    import restore
    from defaults import forward_seconds  # benchmarks/defaults.py
    restore.keep_freed_memory()  # as the CLI does: the network's forward times match the commands'
    with torch.inference_mode():
        return forward_seconds(restore.load_prior("default"), reps, TILE) / TILE**2


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return round(float(10 * np.log10(255.0**2 / np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))), 2)


def run(task: str, size: str, work: Path, per_pixel: float, keep: Path | None = None) -> dict:
    w, h = SIZES[size]
    x = cv2.resize(cv2.imread(str(SOURCE)), (w, h), interpolation=cv2.INTER_CUBIC)
    y, extra, files = degrade(task, x, np.random.default_rng(0))
    cv2.imwrite(str(work / "in.png"), np.clip(y * 255 + 0.5, 0, 255).astype(np.uint8))
    for name, arr in files.items():
        cv2.imwrite(str(work / name), arr)
    cmd = ["/usr/bin/time", "-v", sys.executable, "-m", "restore.cli", task.removesuffix("-known"), "in.png", *extra, "-o", "out.png",
           "--overwrite", "--json"]
    t = time.perf_counter()
    r = subprocess.run(cmd, cwd=work, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if r.returncode != 0:
        return {"task": task, "size": size, "error": r.stderr.strip().splitlines()[-1:]}
    out = cv2.imread(str(work / "out.png"))
    quality = {}
    if task in ("deblur", "deblur-known", "denoise") and out is not None and out.shape == x.shape:
        quality = {"psnr_in": _psnr(cv2.imread(str(work / "in.png")), x), "psnr_out": _psnr(out, x)}
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        for name in ("in.png", "out.png"):
            (keep / f"{task}_{size}_{name}").write_bytes((work / name).read_bytes())
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr).group(1)) / 2**20
    rec = json.loads(r.stdout[r.stdout.index("{"):])
    return {"task": task, "size": size, "pixels": w * h, "method": rec["method"], "steps": rec.get("steps"),
            "tiles": rec["tiles"],
            "wall_s": round(wall, 1), "solve_s": rec["solve_seconds"], "forward_s": round(per_pixel * w * h, 2),
            "forward_equiv": round(wall / (per_pixel * w * h), 1), "peak_gib": round(rss, 2),
            "threads": torch.get_num_threads(), **quality,
            "warnings": [ln for ln in r.stderr.splitlines() if ln.startswith("warning:")]}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", default="denoise,deblur")
    ap.add_argument("--sizes", default="0.25,1,4,12")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "megapixel.jsonl"))
    ap.add_argument("--keep", default=None, help="a folder to copy each command's in.png and out.png to")
    args = ap.parse_args(argv)
    per_pixel = forward_seconds_per_pixel()
    print(f"one forward of a {TILE}² tile: {per_pixel * TILE**2:.3f} s", flush=True)
    with tempfile.TemporaryDirectory() as tmp, open(args.out, "a") as log:
        for task in args.tasks.split(","):
            for size in args.sizes.split(","):
                rec = run(task, size, Path(tmp), per_pixel, Path(args.keep) if args.keep else None)
                print(json.dumps(rec), flush=True)
                log.write(json.dumps(rec) + "\n")
                log.flush()


if __name__ == "__main__":
    main()
