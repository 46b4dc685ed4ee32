"""Tune a method's options per task on TRAINING images only (../shared/data/train), grid search.

    python benchmarks/tune.py --method diffpir --grid "lam=1,7,30 zeta=0.3,1" \
        --tasks gauss-deblur,sr4 --images 2 --crop 128 --out benchmarks/tuning/tuning.csv

Every (task, option combination, image) is one row of the CSV (appended; rows already there are
skipped, so an interrupted run resumes).  Measurements are the benchmark presets of
`restore.bench.tasks` (same operators, σ_y and seeding), on central crops of the first ``--images``
files of the training folder *after* ``--skip`` (the first 8 files of CBSD432 are the prior's
validation crops).  ``--summary`` prints mean PSNR per (task, method, options), best first; the
chosen values go into `restore.guidance.tuned`.
"""
from __future__ import annotations

import argparse
import csv
import itertools
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from restore import solve  # noqa: E402
from restore.bench import tasks as T  # noqa: E402
from restore.bench.methods import task_kind  # noqa: E402
from restore.bench.runner import list_images  # noqa: E402
from restore.io import read_image  # noqa: E402
from restore.metrics import psnr, ssim  # noqa: E402

TRAIN = ROOT.parent / "shared" / "data" / "train" / "CBSD432"
FIELDS = ["task", "method", "options", "image", "psnr", "ssim", "seconds"]


def parse_grid(text: str) -> list[dict]:
    """'lam=1,7 zeta=0.3' → [{'lam': 1.0, 'zeta': 0.3}, {'lam': 7.0, 'zeta': 0.3}] (ints stay ints)."""
    axes = []
    for item in text.split():
        name, _, values = item.partition("=")
        vals = [int(v) if v.lstrip("-").isdigit() else float(v) for v in values.split(",") if v]
        axes.append([(name, v) for v in vals])
    return [dict(c) for c in itertools.product(*axes)] if axes else [{}]


def read_done(path: Path) -> set:
    if not path.is_file():
        return set()
    with path.open() as f:
        return {(r["task"], r["method"], r["options"], r["image"]) for r in csv.DictReader(f)}


def summary(path: Path) -> str:
    with path.open() as f:
        rows = list(csv.DictReader(f))
    groups: dict = {}
    for r in rows:
        groups.setdefault((r["task"], r["method"], r["options"]), []).append(float(r["psnr"]))
    lines = ["| task | method | options | n | mean PSNR (dB) |", "|---|---|---|---:|---:|"]
    for (task, method, opts), v in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1], -sum(kv[1]) / len(kv[1]))):
        lines.append(f"| {task} | {method} | `{opts}` | {len(v)} | {sum(v) / len(v):.2f} |")
    return "\n".join(lines)


#: grid points within this many dB of the best count as tied; the cheapest of them wins
TIE_DB = 0.02


def cost(options_json: str) -> int:
    """Network evaluations of a grid point per image: steps × average (0 where steps is not given)."""
    o = json.loads(options_json)
    return int(o.get("steps", 0)) * int(o.get("average", 1))


def choose(path: Path) -> dict:
    """(method, kind) → (chosen options JSON, its mean PSNR, {options: mean PSNR}); kind = deblur/sr/
    inpaint/denoise, the mean over that kind's presets and images (grid points seen on every one).
    The best mean wins; grid points within ``TIE_DB`` of it are a tie, won by the fewest network
    evaluations (`cost`), then by the higher mean."""
    with path.open() as f:
        rows = list(csv.DictReader(f))
    acc: dict = {}
    for r in rows:
        acc.setdefault((r["method"], task_kind(r["task"])), {}).setdefault(r["options"], []).append(float(r["psnr"]))
    out = {}
    for key, per_opts in acc.items():
        n = max(len(v) for v in per_opts.values())
        means = {o: sum(v) / len(v) for o, v in per_opts.items() if len(v) == n}
        top = max(means.values())
        best = min((o for o in means if means[o] >= top - TIE_DB), key=lambda o: (cost(o), -means[o]))
        out[key] = (best, means[best], means)
    return out


def markdown(path: Path) -> str:
    """TUNING.md body: the choice per method × task kind, then every grid point per preset."""
    ch = choose(path)
    kinds = ["deblur", "sr", "inpaint", "denoise"]
    lines = ["| method | " + " | ".join(kinds) + " |", "|---|" + "---|" * len(kinds)]
    for method in sorted({m for m, _ in ch}):
        cells = []
        for k in kinds:
            if (method, k) not in ch:
                cells.append("–")
                continue
            best, mean, means = ch[(method, k)]
            others = ", ".join(f"{o}: {v:.2f}" for o, v in sorted(means.items(), key=lambda kv: -kv[1]) if o != best)
            cells.append(f"**`{best}` {mean:.2f}**" + (f" (others: {others})" if others else ""))
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n\nEvery grid point, mean PSNR (dB) per benchmark preset:\n\n" + summary(path)


def main(argv=None) -> None:
    import restore
    restore.keep_freed_memory()  # as the CLI does
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--method", default=None)
    ap.add_argument("--grid", default="", help="space-separated NAME=v1,v2 axes (steps=... included)")
    ap.add_argument("--tasks", default="gauss-deblur,motion-deblur,sr4,inpaint-box,inpaint-random,denoise")
    ap.add_argument("--data", type=Path, default=TRAIN)
    ap.add_argument("--images", type=int, default=2)
    ap.add_argument("--skip", type=int, default=8, help="training files skipped first (prior's validation)")
    ap.add_argument("--crop", type=int, default=128)
    ap.add_argument("--prior", default="default")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "tuning" / "tuning.csv")
    ap.add_argument("--summary", action="store_true", help="print the summary of --out and exit")
    ap.add_argument("--markdown", action="store_true", help="print the choice table + summary and exit")
    args = ap.parse_args(argv)
    if args.summary or args.markdown:
        print(markdown(args.out) if args.markdown else summary(args.out))
        return
    if not args.method:
        ap.error("--method is required")
    from restore.models.registry import load_prior
    prior = load_prior(args.prior)
    images = list_images([args.data])[args.skip: args.skip + args.images]
    done = read_done(args.out)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    new = not args.out.is_file()
    with args.out.open("a", newline="") as f:
        w = csv.DictWriter(f, FIELDS)
        if new:
            w.writeheader()
        for task in T.parse_tasks(args.tasks):
            for opts in parse_grid(args.grid):
                key_opts = json.dumps(opts, sort_keys=True)
                for name, path in images:
                    if (task, args.method, key_opts, name) in done:
                        continue
                    x = T.center_crop(read_image(path)[0], args.crop)
                    m = T.build_task(task, x, T.job_seed(0, name, task))
                    t0 = time.perf_counter()
                    xh = solve(m.y, m.A, prior, method=args.method, sigma_y=m.sigma_y,
                               seed=T.job_seed(0, name, task), **opts)
                    row = {"task": task, "method": args.method, "options": key_opts, "image": name,
                           "psnr": f"{float(psnr(xh, x)):.4f}", "ssim": f"{float(ssim(xh, x)):.4f}",
                           "seconds": f"{time.perf_counter() - t0:.2f}"}
                    w.writerow(row)
                    f.flush()
                    print(" ".join(f"{k}={v}" for k, v in row.items()), flush=True)


if __name__ == "__main__":
    torch.set_grad_enabled(True)
    main()
