"""The benchmark presets with the old and the new default prior (issue 13, point 4): one markdown table of
mean PSNR / SSIM per task × method from two `restore bench` runs made with the same seeds, methods and steps.

    OUT=benchmarks/results/prior_before128 PRIOR=OLD METHODS=daps,ddrm,tweedie,pinv benchmarks/run_bench.sh
    OUT=benchmarks/results/prior_after128  PRIOR=NEW METHODS=daps,ddrm,tweedie,pinv benchmarks/run_bench.sh
    python benchmarks/prior_before_after.py benchmarks/results/prior_before128 benchmarks/results/prior_after128
"""
from __future__ import annotations

import csv
import sys
from collections import defaultdict
from pathlib import Path


def read(folder: str) -> dict:
    rows = defaultdict(dict)
    with open(Path(folder) / "results.csv") as f:
        for r in csv.DictReader(f):
            rows[(r["task"], r["method"], r["steps"])][r["image"]] = (float(r["psnr"]), float(r["ssim"]))
    return rows


def main(before: str, after: str) -> None:
    b, a = read(before), read(after)
    print("| task | method | steps | n | PSNR before | PSNR after | Δ PSNR | SSIM before | SSIM after |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    deltas = []
    for key in sorted(set(b) & set(a)):
        images = sorted(set(b[key]) & set(a[key]))
        if not images:
            continue
        pb = sum(b[key][i][0] for i in images) / len(images)
        pa = sum(a[key][i][0] for i in images) / len(images)
        sb = sum(b[key][i][1] for i in images) / len(images)
        sa = sum(a[key][i][1] for i in images) / len(images)
        if key[1] != "pinv":
            deltas.append(pa - pb)
        print(f"| {key[0]} | {key[1]} | {key[2]} | {len(images)} | {pb:.2f} | {pa:.2f} | {pa - pb:+.2f} | {sb:.4f} | {sa:.4f} |")
    if deltas:
        print(f"\nmean Δ PSNR over the prior-based rows: {sum(deltas) / len(deltas):+.2f} dB "
              f"({sum(d > 0 for d in deltas)}/{len(deltas)} rows better)")


if __name__ == "__main__":
    main(*sys.argv[1:3])
