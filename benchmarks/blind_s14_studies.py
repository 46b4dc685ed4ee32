"""Session 14's studies of the blind path on training crops (issue 14; benchmarks/BLIND.md) — none adopted.

    OMP_NUM_THREADS=1 python benchmarks/blind_s14_studies.py STUDY CROPS ROWS.jsonl [--mode circ|valid] [--sigma S]
        [--sigma-y S] [--kernels levin-k1,...] [--variants a,b]
    python benchmarks/blind_s14_studies.py report ROWS.jsonl

CBSD432 training crops × the 8 Levin kernels (``circ``: 255² circular, 8-bit, noise-free, a 31² support — Levin's
setting; ``valid``: 160² valid blur + σ z, 8-bit, the true support), the shipped estimate k̂ =
`restore.blind.estimate_blur`.  Each row records, per variant, [PSNR (dB; shift-tolerant, 15-px border out),
kernel error, ...].  Studies:

* ``polish``: the E-step (shipped) against the polish with k̂ fixed (`restore.blind.polish`) and the polish with the
  kernel refitted on late levels (``--variants`` of `REFIT`: EM inside DAPS's annealing, `joint_polish`), and the
  polish with the true kernel;
* ``estimate``: options of `restore.blind.estimate.estimate_kernel` (`ESTIMATE`: CG steps of the k-step, more starts);
* ``robust``: the E-step backing off where the starts' kernels disagree (`robust_estep`);
* ``echo``: the E-step and the polish with k̂, and two statistics of where the polish adds edges (`echo_statistics`);
* ``start``: the polish with k̂ from warm starts f = 0.1, 0.05, 0.03, and the mean of the E-step and the f = 0.1 polish;
* ``sharpen``: k̂ against k ⊛ g_s (is the estimate a blurred copy of the truth?) and the E-step with k̂ sharpened
  (`sharpened`).
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

import cv2
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
import operators as ops
import restore
import restore.blind as rb
from blind import DATA, crop_kernels, kernel_error, psnr_upto_shift
from blind_starts import crop_pair, measured
from operators.kernel_fit import fit_kernel, gradients, otf, project_kernel
from restore.blind.deconv import ALPHA, SIGMA_E, denoised_deconvolution
from restore.blind.estimate import STARTS, salient_gradients
from restore.blind.polish import polished_deconvolution
from restore.guidance.base import QUANTIZATION_SIGMA
from restore.guidance.daps import gaussian_map_cg
from restore.sampling import get_sigmas_karras, get_sigmas_vp, resolve_schedule


# -- polish: the kernel refitted inside DAPS's annealing ------------------------------------------------------------

def joint_polish(y, k, prior, sigma_y=0.0, steps=20, start=0.1, cg=4, first=0, gamma=3e-2, salient=0.0,
                 from_hat=False, seed=0):
    """(x, k) for a circular y (1, C, H, W): DAPS's polish (20 levels from x_E + σ_s z, 4 CG steps) with, after each
    level i ≥ ``first``, k ← P_N(argmin Σ_d ‖∂_d y − k ⊛ s_d(x₀)‖² + γ‖k‖²) from the current k (s_d: the salient
    gradients of x₀, or of x̂₀ with ``from_hat``), the next level's likelihood using the new k."""
    sched = resolve_schedule(prior, None)
    smax = float(get_sigmas_vp(sched, 1, head=max(1, math.ceil(start * sched.T)))[0])
    grid = get_sigmas_karras(steps, min(0.005, smax), smax)
    v = sched.init_scale ** 2
    sy2 = max(sigma_y, QUANTIZATION_SIGMA) ** 2
    gen = torch.Generator().manual_seed(seed)
    xe = denoised_deconvolution(y[0], k, prior, sigma_y, boundary="circular")[None].to(y.dtype)
    x, x0, n, gy = xe + float(grid[0]) * torch.randn(xe.shape, generator=gen, dtype=xe.dtype), xe, k.shape[-1], rb.luma(y[0])
    for i in range(len(grid) - 1):
        s, sn = float(grid[i]), float(grid[i + 1])
        A = ops.Blur(k.to(torch.float64), boundary="circular")
        with torch.no_grad():
            x0hat = prior.denoise(x.float(), s).to(y.dtype)
        x0 = gaussian_map_cg(A, x0hat, A.adjoint(y) / sy2, v * s ** 2 / (v + s ** 2), sy2, cg)
        if i >= first:
            g = rb.luma((x0hat if from_hat else x0)[0])
            k = fit_kernel(g, gy, n, gamma=gamma, threshold=0.02, min_piece=0.1, init=k,
                           grads=salient_gradients(g, n, salient) if salient > 0 else None)
        if sn > 0:
            x = x0 + sn * torch.randn(x0.shape, generator=gen, dtype=x0.dtype)
    return x0, k


REFIT = {"j0": {"first": 0}, "j5s2": {"first": 5, "salient": 2.0}, "j10s2": {"first": 10, "salient": 2.0},
         "j14s2": {"first": 14, "salient": 2.0}, "j10s2x": {"first": 10, "salient": 2.0, "from_hat": True}}


def study_polish(case, prior, args):
    y, x, kt, k, bd, sy = case["y"], case["x"], case["kt"], case["k"], case["bd"], case["sy"]
    row = {"estep": [psnr_upto_shift(denoised_deconvolution(y[0], k, prior, sy, boundary=bd)[None], x), case["kerr"]],
           "polish": [psnr_upto_shift(polished_deconvolution(y[0], k, prior, sy, boundary=bd)[None], x), case["kerr"]]}
    for v in args.variants:
        xj, kj = joint_polish(y, k, prior, sy, **REFIT[v.removesuffix("+p")])
        if v.endswith("+p"):  # polished again from the E-step with the refitted kernel
            xj = polished_deconvolution(y[0], kj, prior, sy, boundary=bd)[None]
        row[v] = [psnr_upto_shift(xj, x), kernel_error(kj, kt)]
    row["true"] = [psnr_upto_shift(polished_deconvolution(y[0], kt.double(), prior, sy, boundary=bd)[None], x), 0.0]
    return row


# -- estimate: options of the kernel estimate -----------------------------------------------------------------------

def _diagonal(n, dtype, device, anti=False):
    """A two-pixel diagonal (anti-diagonal) bar on the coarsest level."""
    k = torch.zeros(n, n, dtype=dtype, device=device)
    c = n // 2
    k[c, c] = k[c + 1, c - 1 if anti else c + 1] = 0.5
    return k


EXTRA_STARTS = {"diag": (_diagonal, 1.0), "anti": (lambda n, d, v: _diagonal(n, d, v, True), 1.0),
                "weak": (STARTS["bar"][0], 0.4), "box-strong": (STARTS["box"][0], 2.5)}
FOUR = ("bar", "box", "bar-v", "strong")
ESTIMATE = {"ship": {}, "cg50": {"cg_iters": 50}, "cg100": {"cg_iters": 100},
            "s6": {"starts": FOUR + ("weak", "box-strong")},
            "s8": {"starts": FOUR + ("weak", "box-strong", "diag", "anti")}}


def study_estimate(case, prior, args):
    STARTS.update(EXTRA_STARTS)  # the study's extra starts, for this process only
    row = {}
    for v in args.variants:
        t = time.perf_counter()
        k = rb.estimate_blur(case["y"][0], prior, case["size"], case["sy"], case["bd"], estimate=ESTIMATE[v])
        dt = time.perf_counter() - t
        xe = denoised_deconvolution(case["y"][0], k, prior, case["sy"], boundary=case["bd"])[None]
        row[v] = [psnr_upto_shift(xe, case["x"]), kernel_error(k, case["kt"]), dt]
    return row


# -- robust: the E-step backing off where the starts disagree -------------------------------------------------------

def robust_estep(y, k, ks, prior, c):
    """X = conj(K̂)·Y / (|K̂|² + c·V + α Σ_d |D_d|²), V(ω) = mean_s |K_s(ω) − K̂(ω)|² over the starts' kernels (each
    centred), then D(x, σ_e); c = 0 is the shipped E-step (circular)."""
    h, w = y.shape
    n = k.shape[-1]
    K = otf(project_kernel(k, n, 0.0), h, w)
    V = torch.stack([(otf(project_kernel(kk, n, 0.0), h, w) - K).abs() ** 2 for kk in ks]).mean(0)
    e = torch.zeros(h, w, dtype=torch.float64)
    e[0, 0] = 1.0
    reg = sum(torch.fft.fft2(d).abs() ** 2 for d in gradients(e))
    xa = torch.fft.ifft2(K.conj() * torch.fft.fft2(y) / (K.abs() ** 2 + c * V + ALPHA * reg)).real
    with torch.no_grad():
        return prior.denoise(xa.clamp(-0.25, 1.25)[None, None].float(), SIGMA_E).clamp(0, 1)


def study_robust(case, prior, args):
    scores = []
    k = rb.estimate_blur(case["y"][0], prior, case["size"], case["sy"], case["bd"], estimate={"scores": scores})
    ks = [s[2] for s in scores]
    return {f"c{c:g}": [psnr_upto_shift(robust_estep(case["y"][0, 0].double(), k, ks, prior, c), case["x"]),
                        kernel_error(k, case["kt"])] for c in (0.0, 0.5, 1.0, 2.0, 4.0)}


# -- sharpen: is k̂ a blurred copy of k? ---------------------------------------------------------------------------

def blurred_kernel(k, s):
    """k ⊛ g_s on k's support widened by 3 px."""
    g = ops.gaussian_kernel(7, s).double()
    return F.conv2d(F.pad(k.double()[None, None], (3, 3, 3, 3)), g.flip(-1, -2)[None, None], padding=3)[0, 0]


def sharpened(k, s, eps=1e-3):
    """P(argmin_κ ‖g_s ⊛ κ − k‖² + ε‖κ‖²) on k's grid padded by 3 (FFT), cropped to k's support, ≥ 0, Σ = 1."""
    n, m = k.shape[-1], k.shape[-1] + 6
    G = otf(ops.gaussian_kernel(7, s).double(), m, m)
    Kp = torch.fft.fft2(torch.roll(F.pad(k.double(), (3, 3, 3, 3)), (-(m // 2), -(m // 2)), (0, 1)))
    kk = torch.roll(torch.fft.ifft2(G.conj() * Kp / (G.abs() ** 2 + eps)).real, (m // 2, m // 2), (0, 1))
    kk = kk[3:3 + n, 3:3 + n].clamp(min=0)
    return kk / kk.sum()


def study_sharpen(case, prior, args):
    k, kt = case["k"], case["kt"]
    row = {f"vs_blurred{s:g}": [float("nan"), kernel_error(k, blurred_kernel(kt, s))] for s in (0.5, 0.75)}
    for s in (0.0, 0.3, 0.5, 0.7):
        ks = k if s == 0 else sharpened(k, s)
        xe = denoised_deconvolution(case["y"][0], ks, prior, case["sy"], boundary=case["bd"])[None]
        row[f"s{s:g}"] = [psnr_upto_shift(xe, case["x"]), kernel_error(ks, kt)]
    return row


# -- echo: can the polish's echoes of a wrong kernel be told from its sharpening? --------------------------------------

def _grad_mag(x):
    gv, gh = gradients(x.to(torch.float64))
    return torch.sqrt(gv ** 2 + gh ** 2)


def echo_statistics(xe, xp):
    """Where the polish x_p puts gradient the E-step x_e has none of: ``new`` = Σ (|∇x_p| − 2·B|∇x_e|)₊² / Σ|∇x_p|²
    (B: a 5×5 box), and ``corr``, the correlation of |∇x_p| with |∇x_e| (grey, 2-D)."""
    gp, ge = _grad_mag(xp), _grad_mag(xe)
    gb = F.avg_pool2d(ge[None, None], 5, 1, 2)[0, 0]
    new = float(((gp - 2 * gb).clamp(min=0) ** 2).sum() / (gp ** 2).sum())
    a, b = gp - gp.mean(), ge - ge.mean()
    return new, float((a * b).sum() / (a.norm() * b.norm()))


def study_echo(case, prior, args):
    y, x, k, bd, sy = case["y"], case["x"], case["k"], case["bd"], case["sy"]
    xe = denoised_deconvolution(y[0], k, prior, sy, boundary=bd)
    xp = polished_deconvolution(y[0], k, prior, sy, boundary=bd)
    new, corr = echo_statistics(rb.luma(xe), rb.luma(xp))
    return {"estep": [psnr_upto_shift(xe[None], x), case["kerr"]], "polish": [psnr_upto_shift(xp[None], x), case["kerr"]],
            "new": new, "corr": corr}


def study_start(case, prior, args):
    """The polish with k̂ from other warm starts f (`restore.blind.polish.POLISH_START`), and the mean of the E-step
    and the f = 0.1 polish."""
    import restore.blind.polish as rbp

    y, x, k, bd, sy = case["y"], case["x"], case["k"], case["bd"], case["sy"]
    xe = denoised_deconvolution(y[0], k, prior, sy, boundary=bd)
    row = {"estep": [psnr_upto_shift(xe[None], x), case["kerr"]]}
    shipped = rbp.POLISH_START
    try:
        for f in (0.1, 0.05, 0.03):
            rbp.POLISH_START = f
            xp = polished_deconvolution(y[0], k, prior, sy, boundary=bd)
            row[f"f{f:g}"] = [psnr_upto_shift(xp[None], x), case["kerr"]]
            if f == 0.1:
                row["mean0.1"] = [psnr_upto_shift(((xe + xp) / 2)[None], x), case["kerr"]]
    finally:
        rbp.POLISH_START = shipped
    return row


STUDIES = {"echo": (study_echo, ""), "start": (study_start, ""), "polish": (study_polish, ""), "estimate": (study_estimate, "ship,cg50,cg100"), "robust": (study_robust, ""),
           "sharpen": (study_sharpen, "")}


def cases(args, prior, estimate: bool):
    """The study's training cases: y, the truth x, the true and (``estimate``) the shipped estimated kernel."""
    only = args.kernels.split(",") if args.kernels else None
    kern = [kk for kk in crop_kernels() if kk[0].startswith("levin") and (only is None or kk[0] in only)]
    sy = args.sigma if args.sigma_y is None else args.sigma_y
    for cid in args.crops.split(","):
        img = torch.from_numpy(cv2.imread(str(next((DATA / "train" / "CBSD432").glob(f"{cid}.*"))),
                                          cv2.IMREAD_GRAYSCALE) / 255.0)
        for name, kt in kern:
            x, yv, bd, size = crop_pair(img, kt, args.mode)
            y = measured(yv, args.sigma, cid, name)
            case = {"img": cid, "k_name": name, "x": x, "y": y, "kt": kt, "bd": bd, "size": size, "sy": sy}
            if estimate:
                case["k"] = rb.estimate_blur(y[0], prior, size, sy, bd)
                case["kerr"] = kernel_error(case["k"], kt)
            yield case


def report(path):
    rows = [json.loads(line) for line in open(path)]
    names = list(dict.fromkeys(k for r in rows for k in r if isinstance(r[k], list)))
    print(f"{len(rows)} rows; input {statistics.mean(r['input'] for r in rows):.2f} dB")
    for v in names:
        rr = [r for r in rows if v in r]
        psnr = [r[v][0] for r in rr if r[v][0] == r[v][0]]
        base = [r["polish"][0] if "polish" in r else r[names[0]][0] for r in rr]
        print(f"{v:>12}: {statistics.mean(psnr) if psnr else float('nan'):.2f} dB, kernel error "
              f"{statistics.mean(r[v][1] for r in rr):.3f}  (n={len(rr)}; on these rows {names[0] if 'polish' not in rr[0] else 'polish'} "
              f"{statistics.mean(base):.2f})")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("study", choices=(*STUDIES, "report"))
    ap.add_argument("crops", help="CBSD432 ids (report: the rows file)")
    ap.add_argument("out", nargs="?")
    ap.add_argument("--variants", default=None)
    ap.add_argument("--kernels", default=None, help="e.g. levin-k1,levin-k2 (default: the 8 Levin kernels)")
    ap.add_argument("--mode", default="circ", choices=("circ", "valid"))
    ap.add_argument("--sigma", type=float, default=0.0, help="noise added before 8-bit rounding")
    ap.add_argument("--sigma-y", type=float, default=None, help="σ_y given to the solver (default: --sigma)")
    args = ap.parse_args(argv)
    if args.study == "report":
        return report(args.crops)
    study, variants = STUDIES[args.study]
    args.variants = [v for v in (args.variants if args.variants is not None else variants).split(",") if v]
    torch.set_num_threads(1)
    prior = restore.load_prior("default")
    for case in cases(args, prior, estimate=args.study in ("polish", "sharpen", "echo", "start")):
        row = {"img": case["img"], "k": case["k_name"], "mode": args.mode, "sigma": args.sigma,
               "input": psnr_upto_shift(case["y"], case["x"]), **study(case, prior, args)}
        print(json.dumps(row), flush=True)
        with open(args.out, "a") as f:
            f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
