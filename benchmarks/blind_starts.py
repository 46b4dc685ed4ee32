"""Multi-start kernel estimates on training crops (issue 14, session 10; benchmarks/BLIND.md).

Per crop and per start of `restore.blind.estimate.STARTS`: the start's `fit_score`, the blind E-step's PSNR
with that start's kernel, its kernel error and whether the reliability checks pass it.  ``--report`` then
scores every subset of starts by the rule restore uses (the smallest fit score; with the checks, the pick is
checked and, when rejected, comes back as the input — `restore.blind.checked_blur`) against the oracle (the best start by PSNR).

    OMP_NUM_THREADS=1 python benchmarks/blind_starts.py --mode circ --crops 106005,106020 --out rows.jsonl
    python benchmarks/blind_starts.py --report rows.jsonl [--by fs0.0003]

``--lams 1e-4,3e-4`` also records each start's `fit_score` at those λ (keys ``fs<λ>``, the finest level's tapered
grid and valid mask as the estimate scores it); ``--report --by KEY`` picks by that key instead of the shipped
score (session 11's study of the score's λ, benchmarks/BLIND.md).

``circ``: 255² central crops of CBSD432, circular blur by the 8 Levin kernels, 8-bit, no noise, 31² support
(Levin's setting); ``valid``: 160² crops, valid blur by the 8 Levin + 4 Lai kernels, σ_y 0.01, the true
support (the crops setting of blind.py), the kernel estimated on D(y, 2σ_y) as `restore.solve_blind` does;
``photo``: ``--side``² central crops (default 400) of the ImageNet training photos whose short side is at
least side + 40, ``--crops`` being their indices among those, each blurred (valid) by one Levin kernel in turn
(photo i: k((i mod 8) + 1)), σ_y 0.01 — a photo-sized window, where `budget_starts` pays for one start;
``--starts`` limits the starts run (session 12: is a second start, run in a second thread, worth it there?).
"""
from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cv2
import torch

import operators as ops
import restore
import restore.blind as rb
from blind import DATA, crop_kernels, kernel_error, psnr_upto_shift, valid_crop
from operators.kernel_fit import delta_kernel
from restore.blind.deconv import denoised_deconvolution
from restore.blind.estimate import ESTIMATE_DEFAULTS, STARTS, estimate_kernel, fit_score, level_grid
from restore.blind.reliability import kernel_problem


def crop_pair(img, k, mode, side: int = 160):
    """(sharp x, blurred k ⊛ x, boundary, support) for one training image and kernel; ``side``: the valid
    crop's side (``valid``: 160, ``photo``: --side)."""
    if mode == "circ":
        side = 255
        top, left = (img.shape[0] - side) // 2, (img.shape[1] - side) // 2
        x = img[top:top + side, left:left + side][None, None]
        return x.float(), ops.Blur(k, boundary="circular")(x), "circular", 31
    x, yv = valid_crop(img, k, side)
    return x, yv, "reflect", k.shape[0] | 1


def measured(yv, sigma: float, cid: str, kernel_name: str):
    """The 8-bit measurement of a blurred crop: + σ z (seeded by the crop and kernel names), rounded."""
    if sigma:
        yv = ops.GaussianNoise(sigma)(yv, seed=sum(map(ord, cid + kernel_name)))
    return (torch.round(yv.clamp(0, 1) * 255) / 255).float()


def photos(side: int) -> list:
    """The ImageNet training photos with a short side of at least side + 40, in name order."""
    out = []
    for p in sorted((DATA / "train" / "ImageNet1k-sample").glob("*.JPEG")):
        im = cv2.imread(str(p), cv2.IMREAD_GRAYSCALE)
        if im is not None and min(im.shape) >= side + 40:
            out.append(p)
    return out


def jobs(args):
    """(crop id, grey image, [(kernel name, kernel)]) per crop of ``args.mode``."""
    kernels = [kk for kk in crop_kernels() if args.mode != "circ" or kk[0].startswith("levin")]
    if args.mode == "photo":
        paths = photos(args.side)
        for i in (int(c) for c in args.crops.split(",")):
            img = torch.from_numpy(cv2.imread(str(paths[i]), cv2.IMREAD_GRAYSCALE) / 255.0)
            yield paths[i].stem, img, [kernels[i % 8]]
        return
    for cid in args.crops.split(","):
        img = cv2.imread(str(next((DATA / "train" / "CBSD432").glob(f"{cid}.*"))), cv2.IMREAD_GRAYSCALE) / 255.0
        yield cid, torch.from_numpy(img), kernels


def run(args):
    torch.set_num_threads(1)
    prior = restore.load_prior("default")
    sigma = 0.0 if args.mode == "circ" else 0.01
    lams = [float(v) for v in args.lams.split(",")] if args.lams else []
    starts = tuple(args.starts.split(",")) if args.starts else tuple(STARTS)
    for cid, img, kernels in jobs(args):
        for name, k in kernels:
            x, yv, boundary, size = crop_pair(img, k, args.mode, args.side if args.mode == "photo" else 160)
            y = measured(yv, sigma, cid, name)
            g = rb.luma(y[0])
            if sigma > 0:
                g = rb._denoise(prior, g, rb.PREDENOISE * sigma)
            found = []
            with rb.one_thread():
                estimate_kernel(g, size, boundary=boundary, **{**ESTIMATE_DEFAULTS, "starts": starts},
                                scores=found)
            row = {"img": cid, "k": name, "input": psnr_upto_shift(y, x)}
            if lams:  # the finest level's grid, as estimate_kernel scores it
                yl, mask = level_grid(g.to(torch.float64), size, boundary, ESTIMATE_DEFAULTS["valid"])
            for start, score, kb in found:
                c = kb.shape[0] // 2
                if float(kb[max(0, c - 1):c + 2, max(0, c - 1):c + 2].sum()) >= rb.SUBPIXEL_MASS:
                    kb = delta_kernel(kb.shape[0])
                xo = denoised_deconvolution(y[0], kb, prior, sigma, boundary=boundary)
                row[start] = {"score": score, "psnr": psnr_upto_shift(xo[None], x), "kerr": kernel_error(kb, k),
                              "ok": kernel_problem(rb.luma(y[0]), kb, prior, sigma, boundary) is None,
                              **{f"fs{lam:g}": fit_score(yl, kb, mask, lam) for lam in lams}}
            print(json.dumps(row), flush=True)
            with open(args.out, "a") as f:
                f.write(json.dumps(row) + "\n")


def report(paths, by="score"):
    rows = [json.loads(line) for p in paths for line in open(p)]
    starts = [s for s in STARTS if s in rows[0]]
    print(f"{len(rows)} crops, input {statistics.mean(r['input'] for r in rows):.2f} dB")
    print("| starts | picked by score | with the checks | below input (checked) | oracle |")
    print("|---|---:|---:|---:|---:|")
    for n in range(1, len(starts) + 1):
        for sub in itertools.combinations(starts, n):
            raw, checked = [], []
            for r in rows:
                best = min(sub, key=lambda s: r[s][by])
                raw.append(r[best]["psnr"])
                checked.append(r["input"] if r[best]["ok"] is False else r[best]["psnr"])  # as checked_blur does
            below = sum(c < r["input"] - 0.01 for c, r in zip(checked, rows))
            oracle = statistics.mean(max(r[s]["psnr"] for s in sub) for r in rows)
            unchecked = any(r[s]["ok"] is None for r in rows for s in sub)  # rows recorded without the checks
            print(f"| {', '.join(sub)} | {statistics.mean(raw):.2f} | "
                  + ("– | – |" if unchecked else f"{statistics.mean(checked):.2f} | {below} |") + f" {oracle:.2f} |")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mode", choices=("circ", "valid", "photo"), default="circ")
    ap.add_argument("--side", type=int, default=400, help="--mode photo: the crop side")
    ap.add_argument("--starts", default="", help="the starts to run (comma-separated; default all)")
    ap.add_argument("--crops", default="104055,105019,105027,105053")
    ap.add_argument("--out", default="blind_starts.jsonl")
    ap.add_argument("--report", nargs="+", default=None, help="rows files to score (no estimates run)")
    ap.add_argument("--lams", default="", help="also record fit_score at these λ (comma-separated)")
    ap.add_argument("--by", default="score", help="--report: pick by this per-start key (score, fs<λ>)")
    args = ap.parse_args(argv)
    return report(args.report, args.by) if args.report else run(args)


if __name__ == "__main__":
    main()
