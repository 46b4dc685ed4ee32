"""The fit check's residual against what the estimate is worth (issue 14, session 12; benchmarks/BLIND.md).

Per training case, the shipped estimate (`restore.blind.estimate_blur`, σ_y 0.01), the E-step residual the
check compares with its threshold (`reliability.estep_residual`), the E-step's PSNR with k̂ and with the
delta (the fall-back), and the check's verdict.  Kinds: ``photo`` (400² valid crops of ImageNet training
photos, Levin kernel (i mod 8) + 1, as blind_starts.py --mode photo), ``crop`` (160² CBSD432 crops × the 8
Levin + 4 Lai kernels), ``sharp`` / ``sharpphoto`` (the same crops unblurred: every estimate there is wrong).

    OMP_NUM_THREADS=1 python benchmarks/blind_residual_study.py photo 12,13,14 >> rows.jsonl
    OMP_NUM_THREADS=1 python benchmarks/blind_residual_study.py sharp 106005,106020 >> rows.jsonl

The crops and measurements are blind_starts.py's (`jobs`, `crop_pair`, `measured`); an unblurred case is
the valid crop of a 1×1 kernel, estimated with the CLI's 31² support.
"""
from __future__ import annotations

import json
import sys
from argparse import Namespace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch

import blind_starts as B
import restore
import restore.blind as rb
from blind import psnr_upto_shift
from operators.kernel_fit import delta_kernel, is_delta
from restore.blind.deconv import denoised_deconvolution
from restore.blind.reliability import estep_residual, kernel_problem

SIGMA = 0.01
#: kind → (blind_starts mode, blurred)
KINDS = {"photo": ("photo", True), "crop": ("valid", True), "sharp": ("valid", False), "sharpphoto": ("photo", False)}


def main(kind: str, ids: str) -> None:
    torch.set_num_threads(1)
    prior = restore.load_prior("default")
    mode, blurred = KINDS[kind]
    for cid, img, kernels in B.jobs(Namespace(mode=mode, crops=ids, side=400)):
        for name, k in (kernels if blurred else [("delta", torch.ones(1, 1, dtype=torch.float64))]):
            x, yv, boundary, n = B.crop_pair(img, k, mode, 400 if mode == "photo" else 160)
            n = n if blurred else 31
            y = B.measured(yv, SIGMA, cid, name)
            kb = rb.estimate_blur(y[0], prior, n, SIGMA, boundary)
            g = rb.luma(y[0])
            xo = denoised_deconvolution(y[0], kb, prior, SIGMA, boundary=boundary)
            xd = denoised_deconvolution(y[0], delta_kernel(n), prior, SIGMA, boundary=boundary)
            row = {"kind": kind, "img": cid, "k": name, "side": x.shape[-1], "input": psnr_upto_shift(y, x),
                   "psnr": psnr_upto_shift(xo[None], x), "fallback_psnr": psnr_upto_shift(xd[None], x),
                   "resid": None if is_delta(kb) else estep_residual(g, kb, prior, SIGMA, boundary),
                   "problem": kernel_problem(g, kb, prior, SIGMA, boundary)}
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:3])
