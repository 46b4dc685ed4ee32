"""A second reliability signal for the blind estimate (issue 14, session 13; benchmarks/BLIND.md): do the kernels
estimated on the two halves of the window agree?  Not adopted.

    OMP_NUM_THREADS=1 python benchmarks/blind_halves_study.py photo 0,1,2 rows.jsonl
    OMP_NUM_THREADS=1 python benchmarks/blind_halves_study.py sharpphoto 24,25 rows.jsonl

Kinds and cases as benchmarks/blind_residual_study.py, plus ``circ`` (255² circular, noise-free).  Per case,
as that study (input, E-step PSNR with k̂ and with the delta, the fit check's residual and verdict) and the
kernels re-estimated (one start, valid model) on the halves split across the longer side: s_ab = their
normalised correlation max over shifts |τ| ≤ 2 (`sim`), s_a / s_b = each half's against k̂.
"""
import json
import sys
from argparse import Namespace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import torch
import blind_starts as B
import restore, restore.blind as rb
from blind import psnr_upto_shift
from operators.kernel_fit import delta_kernel, is_delta
from restore.blind.deconv import denoised_deconvolution
from restore.blind.reliability import estep_residual, kernel_problem
KINDS = {"circ": ("circ", True), "photo": ("photo", True), "crop": ("valid", True), "sharp": ("valid", False), "sharpphoto": ("photo", False)}

def sim(a, b, s=2):
    """max_{|τ| ≤ s} ⟨τ a, b⟩ / (‖a‖ ‖b‖)."""
    best = 0.0
    na, nb = a.norm(), b.norm()
    for dr in range(-s, s + 1):
        for dc in range(-s, s + 1):
            best = max(best, float((torch.roll(a, (dr, dc), (0, 1)) * b).sum() / (na * nb)))
    return best

def halves(y):
    """The two halves of y (…, H, W), split across the longer side."""
    h, w = y.shape[-2:]
    if w >= h:
        return y[..., :w // 2], y[..., w // 2:]
    return y[..., :h // 2, :], y[..., h // 2:, :]

torch.set_num_threads(1)
prior = restore.load_prior("default")
kind, ids, out = sys.argv[1:4]
mode, blurred = KINDS[kind]
for cid, img, kernels in B.jobs(Namespace(mode=mode, crops=ids, side=400)):
    for name, k in (kernels if blurred else [("delta", torch.ones(1, 1, dtype=torch.float64))]):
        x, yv, boundary, n = B.crop_pair(img, k, mode, 400 if mode == "photo" else 160)
        n = n if blurred else 31
        SIGMA = 0.0 if mode == "circ" else 0.01
        y = B.measured(yv, SIGMA, cid, name)
        kb = rb.estimate_blur(y[0], prior, n, SIGMA, boundary)
        g = rb.luma(y[0])
        xo = denoised_deconvolution(y[0], kb, prior, SIGMA, boundary=boundary)
        xd = denoised_deconvolution(y[0], delta_kernel(n), prior, SIGMA, boundary=boundary)
        row = {"kind": kind, "img": cid, "k": name, "input": psnr_upto_shift(y, x),
               "psnr": psnr_upto_shift(xo[None], x), "fallback_psnr": psnr_upto_shift(xd[None], x),
               "resid": None if is_delta(kb) else estep_residual(g, kb, prior, SIGMA, boundary),
               "problem": kernel_problem(g, kb, prior, SIGMA, boundary)}
        a, b = halves(y[0])
        if not is_delta(kb) and min(a.shape[-2:]) >= n:
            ka = rb.estimate_blur(a, prior, n, SIGMA, "reflect", estimate={"starts": ("bar",)})
            kb2 = rb.estimate_blur(b, prior, n, SIGMA, "reflect", estimate={"starts": ("bar",)})
            row.update(s_ab=sim(ka, kb2), s_a=sim(ka, kb), s_b=sim(kb2, kb), da=is_delta(ka), db=is_delta(kb2))
        print(json.dumps(row), flush=True)
        open(out, 'a').write(json.dumps(row) + '\n')
