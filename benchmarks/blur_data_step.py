"""The data step of DiffPIR on a non-periodic blur: network seconds vs prox seconds (issue 19).

One 256×256 RGB crop (CBSD68 101085, σ_y = 0.025), the CLI deblur set-up (reflect boundary, the
operator as `restore.cli.specs.build` makes it), DiffPIR at its tuned deblur settings for ``--steps``
steps.  For each kernel and each data-step mode we report

* ``network s`` — wall time inside ``prior.denoise``;
* ``prox s``    — wall time inside ``A.prox`` (the whole data step), and per step;
* ``normal``    — applications of 𝒜ᵀ𝒜 inside the prox (= CG / PCG iterations + 1 initial residual);
* ``outside/network`` — (total − network)/network, the figure the issue bounds by 10 %;
* PSNR of the result against the crop.

Modes: ``cg25`` — the previous CLI data step (plain CG warm-started at x̂₀, capped at 25 iterations);
``pcgK`` — CG preconditioned in the cosine basis (`operators.cosine_precond`), capped at K iterations;
``cli`` — the operator exactly as the CLI builds it now; ``exact`` — the prox solved to the default
relative tolerance (preconditioned, no binding cap), the reference.

    OMP_NUM_THREADS=1 nice -n 5 python benchmarks/blur_data_step.py --steps 20
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import operators as O  # noqa: E402
import restore  # noqa: E402
from restore.cli import specs  # noqa: E402
from restore.io import read_image  # noqa: E402
from restore.metrics import psnr as psnr_of  # noqa: E402

from benchmarks.speed import TimedPrior, test_image  # noqa: E402

SIGMA_Y = 0.025
KERNELS = {"motion": {"kernel": "motion", "kernel_size": 31, "intensity": 0.5, "kernel_seed": 0},
           "gauss": {"kernel": "gauss", "kernel_size": 19, "kernel_std": 3.0}}


def make_operator(kernel: str, mode: str):
    """The CLI's operator, with the data step of ``mode``: ``cli`` as built, ``cg25`` plain CG capped at
    25 iterations (the data step before issue 19), ``pcgK`` preconditioned CG capped at K, ``exact`` the
    preconditioned CG to its default tolerance (no cap that binds)."""
    spec = {"op": "blur", "boundary": "reflect", **KERNELS[kernel]}
    A = specs.build(spec, (1, 3, 256, 256))
    if mode.startswith("cg"):
        A.cg_max_iter, A.cg_warn, A.cg_precondition = int(mode[2:]), False, False
    elif mode.startswith("pcg"):
        A.cg_max_iter, A.cg_warn, A.cg_precondition = int(mode[3:]), False, True
    elif mode == "exact":
        A.cg_max_iter, A.cg_tol, A.cg_warn, A.cg_precondition = 2000, None, True, True
    elif mode != "cli":
        raise ValueError(f"unknown data-step mode {mode!r}")
    return A


def run(kernel: str, mode: str, x, prior: TimedPrior, steps: int, seed: int = 0) -> dict:
    A = make_operator(kernel, mode)
    y = O.GaussianNoise(SIGMA_Y)(A(x), seed=1)
    counts = {"normal": 0, "prox": 0.0, "calls": 0}
    normal, prox = A.normal, A.prox

    def counted_normal(v):
        counts["normal"] += 1
        return normal(v)

    def timed_prox(*args, **kw):
        t = time.perf_counter()
        out = prox(*args, **kw)
        counts["prox"] += time.perf_counter() - t
        counts["calls"] += 1
        return out

    A.normal, A.prox = counted_normal, timed_prox
    prior.reset()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = time.perf_counter()
        out = restore.solve(y, A, prior, method="diffpir", sigma_y=SIGMA_Y, steps=steps, seed=seed)
        total = time.perf_counter() - t
    net = prior.seconds
    return {"kernel": kernel, "mode": mode, "steps": steps, "network": net, "prox": counts["prox"],
            "prox_per_step": counts["prox"] / max(counts["calls"], 1),
            "normal_per_step": counts["normal"] / max(counts["calls"], 1),
            "total": total, "ratio": (total - net) / net, "psnr": float(psnr_of(out, x)[0])}


def crop(path: str, side: int = 256) -> torch.Tensor:
    """The central side×side crop of an image file."""
    x, _ = read_image(path)
    h, w = x.shape[-2:]
    t, l = (h - side) // 2, (w - side) // 2
    return x[..., t:t + side, l:l + side].to(torch.float32)


def main(argv=None):
    restore.keep_freed_memory()  # as the CLI does: the network's forward times match the commands'
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--kernels", default="motion,gauss")
    ap.add_argument("--modes", default="cg25,cli,exact")
    ap.add_argument("--seeds", default="0", help="comma-separated sampler seeds")
    ap.add_argument("--images", default="", help="comma-separated image files (central 256² crops); "
                    "default: CBSD68 101085")
    args = ap.parse_args(argv)
    prior = TimedPrior(restore.load_prior("default"), torch.device("cpu"))
    images = [(p, crop(p)) for p in args.images.split(",") if p] or [("101085", test_image(256, torch.device("cpu")))]
    with torch.no_grad():
        prior.denoise(images[0][1], torch.full((1,), 0.5))
    print("| image | seed | kernel | data step | network s | prox s | prox s/step | 𝒜ᵀ𝒜 per step | outside/network | PSNR |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, x in images:
        for seed in (int(v) for v in args.seeds.split(",")):
            for kernel in args.kernels.split(","):
                for mode in args.modes.split(","):
                    r = run(kernel, mode, x, prior, args.steps, seed)
                    print(f"| {Path(name).stem} | {seed} | {r['kernel']} | {r['mode']} | {r['network']:.2f} | {r['prox']:.2f} | "
                          f"{r['prox_per_step']:.3f} | {r['normal_per_step']:.1f} | {100 * r['ratio']:.1f} % | {r['psnr']:.2f} |",
                          flush=True)


if __name__ == "__main__":
    main()
