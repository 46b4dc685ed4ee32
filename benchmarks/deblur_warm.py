"""Deblurring at ≤ 25 evaluations, warm-started from a gradient-regularised deconvolution (issue 19).

The question: can 20 steps that begin at a moderate noise level σ(start) from the classical estimate

    x_α = argmin_x ‖k ⊛ x − y‖² + α‖∇x‖²       (`restore.blind.deconv.gradient_wiener`, α = clip(50σ_y², 10⁻³, 0.1):
                                                 the best α of {10⁻³ … 10⁻¹} on training image 1 was ≈ 10⁻³ clean, 3·10⁻² at σ 0.025)

diffused there (x_α + σ(start)·z, Chung et al. 2022) reach the quality of yesterday's 100-step DiffPIR?
Same measurements as benchmarks/defaults.py (128² crops of CBSD432 training files 11–12, valid blur with a
Gaussian std 2, Levin k3 and k8, clean 8-bit and σ 0.025; reflect-boundary operator with the CLI's CG cap).

    OMP_NUM_THREADS=2 python benchmarks/deblur_warm.py [--images 2] [--prior default]
Rows: benchmarks/results/deblur_warm.csv (resumable); a summary is printed at the end.
"""
from __future__ import annotations

import argparse
import copy
import csv
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import defaults as D  # noqa: E402  (benchmarks/defaults.py: measurements, the store)

import operators as ops  # noqa: E402
import restore  # noqa: E402
from restore.blind.deconv import denoised_deconvolution, gradient_wiener  # noqa: E402

OUT = D.RESULTS / "deblur_warm.csv"
CONFIGS = [("diffpir", {"steps": 100, "lam": 7.0, "zeta": 1.0}),  # yesterday's default: the reference
           ("daps", {**D.DAPS, "steps": 20}),                     # today's default
           ("deconv", {})]                                        # the blind E-step with the true kernel: 1 call
for s in (0.1, 0.2):
    for x0 in ("xa", "deconv"):
        CONFIGS += [("daps", {**D.DAPS, "steps": 20, "start": s, "x0": x0}),
                    ("diffpir", {"steps": 20, "lam": 7.0, "zeta": 1.0, "start": s, "x0": x0})]


def alpha(sigma_y: float) -> float:
    return min(max(50 * sigma_y**2, 1e-3), 0.1)


class WarmBlur(ops.Blur):
    """The benchmark's blur with x_α (``x0 = "xa"``, per channel) or the deconv E-step D(x_α, ·)
    (``x0 = "deconv"``) as its warm start (``sigma_y``, ``x0``, ``prior`` set by `warm`)."""
    sigma_y, x0, prior = 0.0, "xa", None

    def warm_start(self, y):
        k = self.kernel.double()
        if self.x0 == "deconv":
            return torch.stack([denoised_deconvolution(y[b], k, self.prior, self.sigma_y, boundary=self.boundary)
                                for b in range(y.shape[0])]).to(y.dtype)
        a = alpha(self.sigma_y)
        out = torch.stack([torch.stack([gradient_wiener(y[b, c].double(), k, a, boundary=self.boundary)
                                        for c in range(y.shape[1])]) for b in range(y.shape[0])])
        return out.to(y.dtype)


def warm(A, sigma_y, x0, prior):
    W = copy.copy(A)
    W.__class__ = WarmBlur
    W.sigma_y, W.x0, W.prior = float(sigma_y), x0, prior
    return W


def main(argv=None):
    restore.keep_freed_memory()  # as the CLI does: the network's forward times match the commands'
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=2)
    ap.add_argument("--prior", default="default")
    args = ap.parse_args(argv)
    torch.set_grad_enabled(False)
    prior = restore.load_prior(args.prior)
    store = D.Store(OUT)
    images = D.train_images()[:args.images]
    for path in images:
        for deg in D.DEGRADATIONS["deblur"]:
            for cond, (_, sigma) in D.conditions("deblur").items():
                x, y, A, _ = D.measure(path, "deblur", deg, cond)
                for method, opts in CONFIGS:
                    okey = D.key_options(opts)
                    row = dict(stage="warm", task="deblur", deg=deg, cond=cond, image=path.stem, method=method,
                               options=okey, sigma_passed=args.prior)
                    if store.has(**row):
                        continue
                    o = dict(opts)
                    x0 = o.pop("x0", None)
                    op = warm(A, sigma, x0, prior) if x0 else A
                    t = time.perf_counter()
                    if method == "deconv":
                        xh = denoised_deconvolution(y[0], A.kernel.double(), prior, sigma, boundary=A.boundary)[None]
                    else:
                        xh = D.run_method(y, op, prior, method, o, sigma)
                    store.add({**row, "nfe": D.nfe(method, opts), "seconds": round(time.perf_counter() - t, 2),
                               "psnr": round(float(D.psnr(xh.double().clamp(0, 1), x)[0]), 4), "fwd_seconds": ""})
    summary(args.prior)


def summary(prior):
    acc = defaultdict(list)
    with open(OUT) as f:
        for r in csv.DictReader(f):
            if r["sigma_passed"] == prior:
                acc[(r["method"], r["options"])].append(float(r["psnr"]))
    ref = None
    for (m, o), v in sorted(acc.items(), key=lambda t: -sum(t[1]) / len(t[1])):
        mean = sum(v) / len(v)
        if json.loads(o).get("steps") == 100:
            ref = mean
        print(f"{m:8s} {o:70s} n={len(v):2d} {mean:.2f}")
    print("reference (100-step DiffPIR):", ref)


if __name__ == "__main__":
    main()
