"""Calibration of the uncertainty maps: how often the truth lies within k posterior standard deviations.

The CLI's ``--samples K --uncertainty STD`` writes the per-pixel std s of K posterior samples
(`restore.sample_posterior`, the method's sampling settings) and the restoration m = their mean.
If x and the K samples are independent draws of the same Gaussian posterior, then
(x − m)/(s·√(1 + 1/K)) follows Student's t with K − 1 degrees of freedom, so the interval

    |x − m| ≤ t_{K−1}(q_k) · s · √(1 + 1/K),      q_k = Φ(k) (k = 1, 2, 3: 68.27 / 95.45 / 99.73 %)

covers a fraction 2q_k − 1 of the pixels exactly — the "k-std" coverage reported here (every
channel value of every pixel counts once).  On the Gaussian problems of benchmarks/exactness.py
(x drawn from the prior, so the model is right) an exact sampler must hit 68.27 / 95.45 / 99.73 %.
On real crops the prior is learned: coverage below nominal means over-confident maps, above
means too wide.  ``scale`` c is fitted on training crops only (CBSD432): the factor on s that puts
the 2-std coverage at 95.45 % there, c = Q_{0.9545}(|x − m| / (s√(1 + 1/K))) / t_{K−1}(0.97725);
the test rows with "×c" use c·s.

Tasks (σ_y = 0.01, the CLI's default operator per task, the CLI's default method per task):
deblur = Gaussian 19×19 std 3, reflecting boundary (diffpir); sr = ×4 bicubic (ddrm);
inpaint = 70 % of the pixels missing, seeded (ddrm).

    OMP_NUM_THREADS=1 python benchmarks/calibration.py --samples 8 --crop 48 --out tables.md   # the tables of CALIBRATION.md
"""
from __future__ import annotations

import argparse
import math
import time
import warnings
from pathlib import Path

import torch
from scipy.stats import norm, t as student_t

import operators as O
import restore
from restore.bench.tasks import center_crop
from restore.io import read_image

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
TEST = [DATA / "test" / "Set3C" / f for f in ("butterfly.png", "leaves.png", "starfish.png")] + \
       [DATA / "test" / "CBSD68" / f for f in ("101085.png", "102061.png", "108005.png")]
TRAIN = [DATA / "train" / "CBSD432" / f for f in ('100007.jpg', '100039.jpg', '100075.jpg',
                                            '100080.jpg', '100098.jpg', '100099.jpg')]
KS = (1, 2, 3)
METHOD = {"deblur": "diffpir", "sr": "ddrm", "inpaint": "ddrm"}  # restore.cli.methods.DEFAULTS


def operator(task: str, side: int, channels: int = 3):
    if task == "deblur":
        return O.GaussianBlur(19, 3.0, boundary="reflect")
    if task == "sr":
        return O.Downsample(4, "bicubic")
    mask = (torch.rand(side, side, generator=torch.Generator().manual_seed(11)) >= 0.7).to(torch.float32)
    return O.Inpainting(mask)


def z_scores(x: torch.Tensor, xs: torch.Tensor, K: int) -> torch.Tensor:
    """|x − m| / (s √(1 + 1/K)) per value, for samples xs (K·B, C, H, W) of truths x (B, C, H, W)."""
    xs = xs.view(K, *x.shape)
    m, s = xs.mean(0), xs.std(0)
    return ((x - m).abs() / (s * math.sqrt(1 + 1 / K)).clamp_min(1e-12)).flatten()


def coverage(z: torch.Tensor, K: int, scale: float = 1.0) -> list[float]:
    """Fraction of values inside the k-std prediction interval (module docstring), k = 1, 2, 3."""
    return [float((z <= scale * student_t.ppf(norm.cdf(k), K - 1)).double().mean()) for k in KS]


def fit_scale(z: torch.Tensor, K: int) -> float:
    """c with coverage(z, K, c)[k = 2] = 95.45 %."""
    q = float(torch.quantile(z.double(), 2 * norm.cdf(2) - 1))
    return q / float(student_t.ppf(norm.cdf(2), K - 1))


def crops(paths, side: int) -> torch.Tensor:
    return torch.cat([center_crop(read_image(str(p))[0], side) for p in paths])


def run_real(task, x, prior, K, steps, sigma_y, seed):
    """(z per value, RMSE of the sample mean, measured-pixel flag per value) for truths x (B, C, H, W)."""
    A = operator(task, x.shape[-1])
    y = A(x) + sigma_y * O.randn(A(x).shape, seed, dtype=x.dtype)
    xs = restore.sample_posterior(y, A, prior, method=METHOD[task], sigma_y=sigma_y, samples=K, seed=seed,
                                  **({"steps": steps} if steps else {}))
    measured = (A.mask.expand_as(x) > 0).flatten() if task == "inpaint" else None
    return z_scores(x, xs, K), float(((xs.view(K, *x.shape).mean(0) - x) ** 2).mean().sqrt()), measured


def run_gaussian(method, A, shape, K, n_images=64, sigma_y=0.05):
    """Coverage on x drawn from the Gaussian prior itself (the model is right): n_images truths."""
    import exactness as ex

    mu = ex.prior_mean(shape)
    prior = restore.priors.GaussianPrior(mu, ex.VAR)
    x = prior.sample(n_images, seed=5)
    y = A(x) + sigma_y * O.randn(A(x).shape, 6, dtype=torch.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        xs = restore.sample_posterior(y, A, prior, method=method, sigma_y=sigma_y, samples=K, seed=0, clamp=False)
    return z_scores(x, xs, K)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=8)
    ap.add_argument("--crop", type=int, default=64)
    ap.add_argument("--sigma-y", type=float, default=0.01)
    ap.add_argument("--steps", type=int, default=None, help="override the sampling steps (default: the method's)")
    ap.add_argument("--tasks", nargs="+", default=["inpaint", "sr", "deblur"])
    ap.add_argument("--images", type=int, default=len(TEST), help="first N test images")
    ap.add_argument("--train-images", type=int, default=len(TRAIN))
    ap.add_argument("--no-gaussian", action="store_true", help="skip the Gaussian problems (quick checks)")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    K = args.samples
    lines = []

    # 1. Gaussian problems: the closed-form model is right, so coverage must be nominal
    import sys
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import exactness as ex
    probs = ex.problems()
    gauss_rows = []
    for pname, methods in () if args.no_gaussian else (
            ("inpaint 50%", ("ddrm", "projection")), ("blur circ", ("diffpir", "projection")),
            ("box ×2", ("ddrm", "projection"))):
        A, shape = probs[pname]
        for m in methods:
            t0 = time.time()
            cov = coverage(run_gaussian(m, A, shape, K), K)
            gauss_rows.append((pname, m, cov))
            print(f"gaussian {pname:12s} {m:10s} " + " ".join(f"{c:.3f}" for c in cov) + f" ({time.time() - t0:.0f}s)",
                  flush=True)

    # 2. real crops: scale fitted on training crops, coverage on test crops
    prior = restore.load_prior("default")
    test_x, train_x = crops(TEST[:args.images], args.crop), crops(TRAIN[:args.train_images], args.crop)
    real_rows, split_rows = [], []
    for task in args.tasks:
        t0 = time.time()
        z_train, _, _ = run_real(task, train_x, prior, K, args.steps, args.sigma_y, seed=100)
        c = fit_scale(z_train, K)
        z_test, rmse, measured = run_real(task, test_x, prior, K, args.steps, args.sigma_y, seed=200)
        row = (task, METHOD[task], coverage(z_test, K), c, coverage(z_test, K, c), coverage(z_train, K), rmse)
        real_rows.append(row)
        if measured is not None:  # inpainting: the missing and the measured pixels apart
            for part, sel in (("missing pixels", ~measured), ("measured pixels", measured)):
                split_rows.append((f"{task}, {part}", METHOD[task], coverage(z_test[sel], K),
                                   float(sel.double().mean())))
        print(f"real {task:8s} {METHOD[task]:8s} test " + " ".join(f"{v:.3f}" for v in row[2]) +
              f" | scale {c:.3f} -> " + " ".join(f"{v:.3f}" for v in row[4]) + f" ({time.time() - t0:.0f}s)",
              flush=True)

    steps = f"{args.steps} steps" if args.steps else "sampling steps"
    lines += [f"### Gaussian problems (8×8×3, σ_y = 0.05, 64 truths drawn from the prior, K = {K})", "",
              "| operator | method | 1 std (68.27 %) | 2 std (95.45 %) | 3 std (99.73 %) |", "|---|---|---|---|---|"]
    for pname, m, cov in gauss_rows:
        lines.append(f"| {pname} | {m} | " + " | ".join(f"{100 * c:.1f} %" for c in cov) + " |")
    lines += ["", f"### Real crops ({args.crop}×{args.crop} central crops, {len(test_x)} test images, σ_y = "
              f"{args.sigma_y}, K = {K}, {steps})", "",
              "| task | method | 1 std | 2 std | 3 std | scale c (train) | 1 std ×c | 2 std ×c | 3 std ×c | "
              "train 2 std | RMSE of the mean |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for task, m, cov, c, cov_c, cov_train, rmse in real_rows:
        lines.append(f"| {task} | {m} | " + " | ".join(f"{100 * v:.1f} %" for v in cov) + f" | {c:.2f} | " +
                     " | ".join(f"{100 * v:.1f} %" for v in cov_c) + f" | {100 * cov_train[1]:.1f} % | {rmse:.4f} |")
    if split_rows:
        lines += ["", "| test pixels | method | share | 1 std | 2 std | 3 std |", "|---|---|---|---|---|---|"]
        for name, m, cov, share in split_rows:
            lines.append(f"| {name} | {m} | {100 * share:.0f} % | " + " | ".join(f"{100 * v:.1f} %" for v in cov) + " |")
    text = "\n".join(lines)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
