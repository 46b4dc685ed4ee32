"""Exactness of every guidance method against the closed-form Gaussian posterior.

For an isotropic Gaussian prior N(μ, v I) and y = 𝒜x + σ_y n the posterior is Gaussian,
Σ_post = (𝒜ᵀ𝒜/σ_y² + I/v)⁻¹, m_post = Σ_post(𝒜ᵀy/σ_y² + μ/v) (`restore.guidance.exact`, dense
matrices).  Each method draws many posterior samples of one small image in one batch (analytic
prior, exact denoiser, float64, no clamping) and we report, per method × operator:

    err   = ‖m̂ − m_post‖ / ‖m_post − μ‖      (mean error relative to the prior→posterior shift)
    var   = mean sample variance / mean exact marginal variance     (1 = right spread)

Monte-Carlo floor of err: about √(tr Σ_post / K)/‖m_post − μ‖.

    python benchmarks/exactness.py                      # 2000 samples, σ_y = 0.05, writes nothing
    python benchmarks/exactness.py --out benchmarks/EXACTNESS.md
"""
from __future__ import annotations

import argparse
import math
import time
import warnings

import torch

import operators as O
import restore
from restore.guidance import METHODS
from restore.guidance.exact import compare, gaussian_posterior
from restore.priors import GaussianPrior

VAR = 0.25  # prior variance v: the VP assumption for a [-1, 1] network (data variance ¼ in [0, 1] units)


def problems():
    """name → (operator, image shape (C, H, W))."""
    mask = (torch.rand(8, 8, generator=torch.Generator().manual_seed(3)) < 0.5).double()
    return {
        "inpaint 50%": (O.Inpainting(mask), (1, 8, 8)),
        "blur circ": (O.GaussianBlur(5, 1.0), (1, 8, 8)),
        "box ×2": (O.Downsample(2, "box"), (1, 8, 8)),
        "bicubic ×2": (O.Downsample(2, "bicubic"), (1, 8, 8)),
        "gray 3×4×4": (O.Grayscale(), (3, 4, 4)),
        "blur reflect": (O.GaussianBlur(5, 1.0, boundary="reflect"), (1, 8, 8)),
        "box∘blur": (O.Downsample(2, "box") @ O.GaussianBlur(3, 0.8), (1, 8, 8)),
    }


def prior_mean(shape) -> torch.Tensor:
    c, h, w = shape
    i = torch.arange(h, dtype=torch.float64)[:, None]
    j = torch.arange(w, dtype=torch.float64)[None, :]
    base = 0.5 + 0.15 * torch.sin(2 * math.pi * i / h) * torch.cos(2 * math.pi * j / w)
    return base.expand(c, h, w) + 0.05 * torch.arange(c, dtype=torch.float64)[:, None, None]


def setup(A, shape, sigma_y: float, seed: int = 0):
    """(prior, μ, x, y, m_post, Σ_post) for one problem."""
    mu = prior_mean(shape)
    prior = GaussianPrior(mu, VAR)
    x = prior.sample(1, seed=seed)
    ax = A(x)
    y = ax + sigma_y * O.randn(ax.shape, seed + 1, dtype=torch.float64)
    m_post, cov = gaussian_posterior(A, mu, VAR, y, sigma_y)
    return prior, mu, x, y, m_post, cov


def evaluate(method, A, shape, sigma_y=0.05, samples=2000, seed=0, **options):
    prior, mu, x, y, m_post, cov = setup(A, shape, sigma_y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # the paper's sampler settings (DEFAULTS; one sample per row, no warm start), not the tuned per-task values
        if method in ("pinv", "wiener"):  # deterministic baselines: one point estimate, repeated
            out = restore.solve(y, A, prior, method=method, sigma_y=sigma_y, clamp=False).expand(samples, -1, -1, -1)
        else:
            options = {**restore.guidance.DEFAULTS[method], **options}
            out = restore.sample_posterior(y, A, prior, method=method, sigma_y=sigma_y, seed=seed, samples=samples,
                                           clamp=False, **options)
    return compare(out, m_post, cov, mu)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=2000)
    ap.add_argument("--sigma-y", type=float, nargs="+", default=[0.05])
    ap.add_argument("--methods", nargs="+", default=list(METHODS))
    ap.add_argument("--out", default=None, help="write the markdown tables here")
    args = ap.parse_args(argv)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    probs = problems()
    lines = []
    for sy in args.sigma_y:
        res, floor = {}, {}
        for pname, (A, shape) in probs.items():
            _, mu, _, _, m_post, cov = setup(A, shape, sy)
            floor[pname] = math.sqrt(float(torch.trace(cov)) / args.samples) / float((m_post - mu).norm())
            for m in args.methods:
                t = time.time()
                res[m, pname] = evaluate(m, A, shape, sy, args.samples)
                print(f"σ_y={sy} {pname:12s} {m:10s} err {res[m, pname][0]:.3f}  var {res[m, pname][1]:.3f}"
                      f"  ({time.time() - t:.1f}s)", flush=True)
        head = "| method | " + " | ".join(probs) + " |"
        sep = "|---|" + "---|" * len(probs)
        lines += [f"### σ_y = {sy}: mean error ‖m̂ − m_post‖/‖m_post − μ‖ (K = {args.samples})", "", head, sep]
        for m in args.methods:
            lines.append(f"| {m} | " + " | ".join(f"{res[m, p][0]:.3f}" for p in probs) + " |")
        lines.append("| *MC floor* | " + " | ".join(f"{floor[p]:.3f}" for p in probs) + " |")
        lines += ["", f"### σ_y = {sy}: mean sample variance / exact marginal variance", "", head, sep]
        for m in args.methods:
            lines.append(f"| {m} | " + " | ".join(f"{res[m, p][1]:.2f}" for p in probs) + " |")
        lines.append("")
    text = "\n".join(lines)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
