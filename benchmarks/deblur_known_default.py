"""The known-kernel deblurring default by noise level (session 13): DAPS from noise against the E-step of
`restore.blind.deconv` (valid model) alone and polished (`restore.blind.polish`), on benchmarks/defaults.py's
training crops (128² colour, valid blur by gauss2 / Levin k3 / k8, 8-bit), whole-frame PSNR.

    OMP_NUM_THREADS=1 python benchmarks/deblur_known_default.py --noise 0,0.005 --out rows.jsonl
    python benchmarks/deblur_known_default.py --report rows.jsonl
    OMP_NUM_THREADS=1 python benchmarks/deblur_known_default.py --noise 0,0.01 --levels 20,14,10 --no-daps --out rows.jsonl

``--noise``: σ of the added noise (0: 8-bit quantisation only, the solver given σ_y = 0.002 as the CLI's
``--noise auto`` floor); ``--split test``: the test crops instead (CBSD68 files 1–8).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch

import defaults as D
import restore
from restore.cli.methods import deconv
from restore.metrics import psnr


def run(args) -> None:
    torch.set_num_threads(1)
    prior = restore.load_prior("default")
    images = D.train_images() if args.split == "train" else D.test_images(8)
    for noise in (float(v) for v in args.noise.split(",")):
        D.TRUE_SIGMA["at"], D.CONDITIONS["at"] = noise, max(noise, 0.002)
        for path in images:
            for deg in D.DEGRADATIONS["deblur"]:
                x, y, A, _ = D.measure(path, "deblur", deg, "at")
                sigma = D.CONDITIONS["at"]
                row = {"img": path.stem, "deg": deg, "noise": noise, "split": args.split}
                if not args.no_daps:
                    xd = restore.solve(y, A, prior, method="daps", sigma_y=sigma, seed=0)  # from noise, tuned for deblur
                    row["daps"] = float(psnr(xd.double().clamp(0, 1), x)[0])
                row["estep"] = float(psnr(deconv(y, A, prior, sigma).double().clamp(0, 1), x)[0])
                for levels in (int(v) for v in args.levels.split(",")):
                    xp = deconv(y, A, prior, sigma, steps=levels).double().clamp(0, 1)
                    row["polish" if levels == 20 else f"polish{levels}"] = float(psnr(xp, x)[0])
                print(json.dumps(row), flush=True)
                with open(args.out, "a") as fh:
                    fh.write(json.dumps(row) + "\n")


def report(paths) -> None:
    merged = {}  # rows of the same case from several files (e.g. other --levels) joined
    for line in (line for p in paths for line in open(p)):
        r = json.loads(line)
        merged.setdefault((r["split"], r["img"], r["deg"], r["noise"]), {}).update(r)
    rows = list(merged.values())
    for split in sorted({r["split"] for r in rows}):
        for noise in sorted({r["noise"] for r in rows if r["split"] == split}):
            part = [r for r in rows if r["split"] == split and r["noise"] == noise]
            if all("daps" in r for r in part):
                m = {k: statistics.mean(r[k] for r in part) for k in ("daps", "estep", "polish")}
                worst = {k: min(r[k] - r["daps"] for r in part) for k in ("estep", "polish")}
                print(f"{split} σ {noise:g} ({len(part)}): DAPS {m['daps']:.2f}, E-step {m['estep']:.2f} "
                      f"({m['estep'] - m['daps']:+.2f}, worst {worst['estep']:+.2f}), polished {m['polish']:.2f} "
                      f"({m['polish'] - m['daps']:+.2f}, worst {worst['polish']:+.2f})")
            fewer = sorted({k for r in part for k in r if k.startswith("polish") and k[6:].isdigit()})
            for k in fewer:  # fewer polish levels against the 20 (rows that have both)
                both = [r for r in part if k in r and "polish" in r]
                if not both:
                    continue
                print(f"{split} σ {noise:g} ({len(both)}): {k[6:]} levels {statistics.mean(r[k] for r in both):.2f} against "
                      f"20 levels {statistics.mean(r['polish'] for r in both):.2f} (worst {min(r[k] - r['polish'] for r in both):+.2f}), "
                      f"E-step {statistics.mean(r['estep'] for r in both):.2f}")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--noise", default="0,0.005,0.01,0.025")
    ap.add_argument("--split", choices=("train", "test"), default="train")
    ap.add_argument("--out", default="deblur_known_default.jsonl")
    ap.add_argument("--levels", default="20", help="polish levels, e.g. 20,14,10 (20 → key polish, L → polishL)")
    ap.add_argument("--no-daps", action="store_true", help="skip DAPS from noise")
    ap.add_argument("--report", nargs="+", default=None)
    args = ap.parse_args(argv)
    return report(args.report) if args.report else run(args)


if __name__ == "__main__":
    main()
