"""The E-step polished by DAPS warm-started from it (`restore.blind.polish`) against DAPS from noise and the
E-step alone, on training crops (issue 14, session 13; benchmarks/BLIND.md).

    OMP_NUM_THREADS=1 python benchmarks/deblur_polish.py --crops 104055,105019 --kernels levin-k1,levin-k8,levin-k4 \
        --noise 0,0.01 --starts 0.05,0.1,0.2 --out rows.jsonl
    OMP_NUM_THREADS=1 python benchmarks/deblur_polish.py --kernel-from estimate --crops 104055 --noise 0 ...
    python benchmarks/deblur_polish.py --report rows.jsonl

Crops: 160² valid blur of CBSD432 training images (blind_starts.py's ``valid`` crops; ``gauss2`` = the 13×13
Gaussian of std 2 of benchmarks/defaults.py), 8-bit, + σ z; the solver is given σ_y = max(σ, 0.002) (the CLI's
``--noise auto`` floor on a clean 8-bit photo).  ``--kernel-from true`` (default): the true kernel;
``estimate``: `restore.solve_blind`'s checked estimate (the true support).  Per crop: input, DAPS from noise
(the deblurring default before session 13: restore.solve, tuned), the E-step, and the polish at each start f.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cv2
import torch

import operators as ops
import restore
from blind import DATA, crop_kernels, psnr_upto_shift
from blind_starts import crop_pair, measured
from restore.blind import polish
from restore.blind.deconv import denoised_deconvolution


def kernels() -> dict:
    return {**dict(crop_kernels()), "gauss2": ops.GaussianBlur(13, 2.0).kernel.double()}


def run(args) -> None:
    torch.set_num_threads(1)
    prior = restore.load_prior("default")
    table = kernels()
    starts = [float(v) for v in args.starts.split(",")]
    for cid in args.crops.split(","):
        img = torch.from_numpy(cv2.imread(str(next((DATA / "train" / "CBSD432").glob(f"{cid}.*"))),
                                          cv2.IMREAD_GRAYSCALE) / 255.0)
        for name in args.kernels.split(","):
            k = table[name]
            for noise in (float(v) for v in args.noise.split(",")):
                x, yv, boundary, size = crop_pair(img, k, "valid")
                y = measured(yv, noise, cid, name)
                sigma = max(noise, 0.002)
                kk = k.double() if args.kernel_from == "true" else restore.solve_blind(
                    y, prior, kernel_size=size, sigma_y=sigma, boundary=boundary)[1][0]
                A = ops.Blur(kk, boundary=boundary)
                row = {"img": cid, "k": name, "noise": noise, "kernel": args.kernel_from, "input": psnr_upto_shift(y, x),
                       "cold": psnr_upto_shift(restore.solve(y, A, prior, method="daps", sigma_y=sigma, seed=0), x)}
                xe = denoised_deconvolution(y[0], kk, prior, sigma, boundary=boundary)[None]
                row["estep"] = psnr_upto_shift(xe, x)
                for f in starts:
                    xp = restore.solve(y, A.started_at(xe), prior, method="daps", sigma_y=sigma, seed=0, start=f)
                    row[f"polish{f:g}"] = psnr_upto_shift(xp, x)
                print(json.dumps(row), flush=True)
                with open(args.out, "a") as fh:
                    fh.write(json.dumps(row) + "\n")


def report(paths) -> None:
    """Per noise level and start f: the mean over the crops measured at that f of DAPS from noise, the E-step
    and the polish, and the polish's gain over DAPS from noise (its worst crop in brackets)."""
    rows = [json.loads(line) for p in paths for line in open(p)]
    starts = sorted({k for r in rows for k in r if k.startswith("polish")}, key=lambda k: float(k[6:]))
    for noise in sorted({r["noise"] for r in rows}):
        for key in starts:
            part = [r for r in rows if r["noise"] == noise and key in r]
            if not part:
                continue
            gain = [r[key] - r["cold"] for r in part]
            print(f"σ {noise:g}, f {key[6:]}: {len(part)} crops, input {statistics.mean(r['input'] for r in part):.2f}, "
                  f"from noise {statistics.mean(r['cold'] for r in part):.2f}, E-step "
                  f"{statistics.mean(r['estep'] for r in part):.2f}, polish {statistics.mean(r[key] for r in part):.2f} "
                  f"({statistics.mean(gain):+.2f}; worst {min(gain):+.2f})")
    print(f"shipped start f = {polish.POLISH_START:g}")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--crops", default="104055,105019")
    ap.add_argument("--kernels", default="levin-k1,levin-k8,levin-k4")
    ap.add_argument("--noise", default="0,0.01")
    ap.add_argument("--starts", default="0.05,0.1,0.2")
    ap.add_argument("--kernel-from", choices=("true", "estimate"), default="true")
    ap.add_argument("--out", default="deblur_polish.jsonl")
    ap.add_argument("--report", nargs="+", default=None)
    args = ap.parse_args(argv)
    return report(args.report) if args.report else run(args)


if __name__ == "__main__":
    main()
