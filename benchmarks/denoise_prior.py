"""One-step (Tweedie) denoising with a prior: PSNR of D(x₀ + σz, σ) against x₀.

    python benchmarks/denoise_prior.py [--prior default|PATH] [--data DIR] [--sigmas 15,25,50] [--limit N]

Noise levels are given on the 0–255 scale (σ/255 in [0, 1] units); the noise of image i is drawn
from seed i, so every prior is measured on the same noisy images. PSNR on clipped outputs, 8-bit
reference images, full size. Published anchors on CBSD68 (DPIR README): σ=15/25/50 — CBM3D
33.52/30.71/27.38, DnCNN 33.90/31.24/27.95, FFDNet 33.87/31.21/27.96, DRUNet 34.30/31.69/28.51.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from restore import load_prior  # noqa: E402
from restore.io import read_image  # noqa: E402
from restore.metrics import psnr  # noqa: E402


def evaluate(prior, files, sigmas255, device="cpu") -> dict:
    """{σ255: [psnr per image]} for the one-step denoiser."""
    out = {s: [] for s in sigmas255}
    for i, f in enumerate(files):
        x0, _ = read_image(f)
        x0 = x0.to(device)
        for s in sigmas255:
            gen = torch.Generator().manual_seed(i)
            noisy = x0 + (s / 255) * torch.randn(x0.shape, generator=gen).to(device)
            with torch.no_grad():
                den = prior.denoise(noisy, s / 255).clamp(0, 1)
            out[s].append(float(psnr(den, x0)[0]))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prior", default="default")
    ap.add_argument("--data", default=str(ROOT.parent / "shared/data/test/CBSD68"))
    ap.add_argument("--sigmas", default="15,25,50")
    ap.add_argument("--limit", type=int, default=0, help="first N images only (0: all)")
    ap.add_argument("--json", default="", help="also write the figures to this JSON file")
    args = ap.parse_args()
    files = sorted(p for p in Path(args.data).iterdir() if p.suffix.lower() in {".png", ".jpg", ".bmp", ".tif"})
    if args.limit:
        files = files[: args.limit]
    sigmas = [float(s) for s in args.sigmas.split(",")]
    prior = load_prior(args.prior)
    t0 = time.time()
    res = evaluate(prior, files, sigmas)
    dt = time.time() - t0
    print(f"prior={args.prior}  data={args.data}  images={len(files)}  ({dt:.0f} s)")
    print("| σ (/255) | PSNR (dB) mean | std |")
    print("|---|---|---|")
    summary = {}
    for s, v in res.items():
        t = torch.tensor(v)
        summary[s] = {"mean": t.mean().item(), "std": t.std().item() if len(v) > 1 else 0.0}
        print(f"| {s:g} | {summary[s]['mean']:.2f} | {summary[s]['std']:.2f} |")
    if args.json:
        Path(args.json).write_text(json.dumps({"prior": args.prior, "images": len(files), "psnr": summary}, indent=2))


if __name__ == "__main__":
    main()
