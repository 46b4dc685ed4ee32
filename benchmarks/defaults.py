"""Choosing each CLI task's default under ≤ 25 network evaluations on real conditions (issues 14, 19).

    OMP_NUM_THREADS=1 python benchmarks/defaults.py --stage A --tasks deblur      (then B, C; resumable)
    OMP_NUM_THREADS=1 python benchmarks/defaults.py --stage tools                 (classical tools' knobs)
    OMP_NUM_THREADS=1 python benchmarks/defaults.py --stage noise                 (σ_y = 0.01 vs auto)
    OMP_NUM_THREADS=1 python benchmarks/defaults.py --stage test --tasks deblur   (test crops vs tools)
    OMP_NUM_THREADS=1 python benchmarks/defaults.py --stage variants --tasks deblur \
        --variants '[{"langevin_steps": 10, "lr": 1.0}]'                          (the default vs variants of it)
    python benchmarks/defaults.py --report                                        (markdown tables)

Measurements (128×128 central crops; float64 truth in [0, 1]; every y clipped to [0, 1] and
quantised to 8 bits, as a saved photo is):

* deblur: y = the *valid* part of k ∗ (a (128 + n − 1)² crop) — no periodic border — for a Gaussian
  (13×13, std 2) and Levin et al.'s kernels k3 (15×15) and k8 (23×23); solved with
  ``Blur(k, boundary="reflect")`` with the CLI's CG settings (`restore.cli.specs.build`);
* sr: ``Downsample(4, "bicubic")`` (32×32 → 128×128);
* inpaint: a 40×40 box (seeded position, 8 px from the border) and 50 % random missing pixels;
* denoise: identity;  colorize: ``Grayscale()``;

each at two noise conditions: ``clean`` (8-bit quantisation only; σ_y passed = 0.002) and ``noisy``
(σ_y = 0.025, passed exactly).  Noise and masks are seeded by crc32 of (image, degradation,
condition); every solve uses seed 0.

Data: training crops are CBSD432 files 11–16 by sorted name (files 1–10 are the prior's validation and
the earlier tuning crops); test crops are CBSD68 files 1–8.  No test image is used for any choice.

Stages (``--stage``): ``A`` every candidate family (method + knobs) at one representative step
count on training images 1–2 and today's defaults there; ``B`` the top half of the families of A at
the other step counts ({10, 15, 20, 25} evaluations; ×4 SR: steps × average ≤ 25) on the same two
images; ``C`` the best 3 configurations of A ∪ B on training images 3–6; ``tools`` the knobs of the
classical tools on the 6 training crops; ``noise`` the chosen sr/inpaint/colorize defaults with
σ_y = 0.01 and σ_y = the CLI's estimate (``--noise auto``); ``variants`` the default and variants of its options
(``--variants``) on the 6 training crops; ``test`` the chosen defaults and the
classical tools on the test crops, with wall time and network-forward equivalents (wall / one forward
of the prior at 128×128, timed in the same run).  Evaluations: one per denoiser call; ΠGDM counts 2
per step (the vector–Jacobian product).  Rows go to benchmarks/results/defaults_<stage>_<tasks>.csv.
"""
from __future__ import annotations

import argparse
import csv
import functools
import json
import math
import sys
import time
import zlib
from pathlib import Path

import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import operators as ops  # noqa: E402
import restore  # noqa: E402
from restore.metrics import psnr  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results"
SIDE = 128
TASKS = ("deblur", "sr", "inpaint", "denoise", "colorize")
CONDITIONS = {"clean": 0.002, "noisy": 0.025}  # σ_y passed to the solver
TRUE_SIGMA = {"clean": 0.0, "noisy": 0.025}     # σ of the Gaussian noise added before quantising
# denoising a clean 8-bit image is the identity (the truth is 8-bit itself): its "clean" condition is
# light noise instead, σ = 0.01 (2.55/255) — the low end of what a person asks `restore denoise` to fix
DENOISE_LIGHT = 0.01


def conditions(task):
    """condition → (σ of the added noise, σ_y passed to the solver)."""
    if task == "denoise":
        return {"light": (DENOISE_LIGHT, DENOISE_LIGHT), "noisy": (0.025, 0.025)}
    return {c: (TRUE_SIGMA[c], CONDITIONS[c]) for c in CONDITIONS}
FIELDS = ["stage", "task", "deg", "cond", "image", "method", "options", "nfe", "sigma_passed", "psnr",
          "seconds", "fwd_seconds", "prior"]
# rows written before the "prior" column existed were measured with the step-3000 weights (f0cc1ad)
OLD_PRIOR = "step3000"


@functools.lru_cache(maxsize=None)
def prior_tag() -> str:
    """The shipped prior's identity in the rows: ``step<N>`` from restore/weights/default.json."""
    meta = json.loads((ROOT / "restore" / "weights" / "default.json").read_text())
    return f"step{meta['step']}"


def prior_of(r) -> str:
    return r.get("prior") or OLD_PRIOR

# ---------------------------------------------------------------------------------------------- data


def train_images(n=6):
    return sorted((DATA / "train" / "CBSD432").glob("*.jpg"))[10:10 + n]


def test_images(n=8):
    return sorted((DATA / "test" / "CBSD68").glob("*.png"))[:n]


def read_rgb(path) -> torch.Tensor:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)[..., ::-1] / 255.0
    return torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None]  # (1, 3, H, W) float64


def central(img, side):
    h, w = img.shape[-2:]
    top, left = (h - side) // 2, (w - side) // 2
    return img[..., top:top + side, left:left + side]


def kernels():
    levin = np.load(DATA / "kernels" / "Levin09_kernels_rowcol.npz")
    return {"gauss2": ops.GaussianBlur(13, 2.0).kernel.double(),
            "levin3": torch.from_numpy(levin["k3"]), "levin8": torch.from_numpy(levin["k8"])}


DEGRADATIONS = {"deblur": ("gauss2", "levin3", "levin8"), "sr": ("x4",), "inpaint": ("box40", "random50"),
                "denoise": ("identity",), "colorize": ("gray",)}


def seed_of(*parts) -> int:
    return zlib.crc32("/".join(map(str, parts)).encode())


def quantise(y):
    return torch.round(y.clamp(0, 1) * 255) / 255


def measure(path, task, deg, cond):
    """(x, y, A, mask) — truth (1, 3, 128, 128) float64, measurement float32, the solver's operator."""
    img = read_rgb(path)
    name = Path(path).stem
    seed = seed_of(name, deg, cond)
    mask = None
    if task == "deblur":
        k = kernels()[deg]
        m = k.shape[0] // 2
        big = central(img, SIDE + 2 * m)
        x = big[..., m:m + SIDE, m:m + SIDE]
        ax = ops.Blur(k, boundary="circular")(big)[..., m:m + SIDE, m:m + SIDE]  # valid part: no wrap reaches it
        from restore.cli.specs import CG_MAX_ITER, PCG_MAX_ITER
        A = ops.Blur(k, boundary="reflect")  # CG as `restore.cli.specs.build` sets it:
        A.cg_precondition = A.cosine_diagonal  # cosine-preconditioned for a mirror-symmetric kernel
        A.cg_max_iter, A.cg_warn = (PCG_MAX_ITER if A.cg_precondition else CG_MAX_ITER), False
    else:
        x = central(img, SIDE)
        if task == "sr":
            A = ops.Downsample(4, "bicubic")
        elif task == "inpaint":
            mask = (ops.box_mask((SIDE, SIDE), 40, margin=8, seed=seed) if deg == "box40"
                    else ops.random_mask((SIDE, SIDE), 0.5, seed=seed)).double()
            A = ops.Inpainting(mask)
        elif task == "denoise":
            A = ops.Identity()
        else:
            A = ops.Grayscale()
        ax = A(x)
    true = conditions(task)[cond][0]
    if true > 0:
        ax = ax + true * ops.random.randn(ax.shape, seed + 1, dtype=torch.float64)
    y = quantise(ax)
    if mask is not None:
        y = y * mask
    return x, y.float(), A, mask


# ------------------------------------------------------------------------------------------ the grid

TODAY = {"deblur": ("diffpir", {"steps": 100, "lam": 7.0, "zeta": 1.0}),
         "sr": ("ddrm", {"steps": 10, "average": 8, "eta": 1.0}),
         "inpaint": ("ddrm", {"steps": 20, "eta": 1.0}),
         "denoise": ("ddrm", {"steps": 20, "eta": 0.0}),
         "colorize": ("ddnm", {"steps": 100, "eta": 0.85})}

DAPS = {"ode_steps": 1, "noise": 0.0}
FAMILIES = {  # pruned to what fits the session (2 busy CPU cores): see TUNING.md
    "deblur": [("diffpir", {"lam": 7.0, "zeta": 1.0}), ("diffpir", {"lam": 1.0, "zeta": 1.0}),
               ("pigdm", {"eta": 1.0}), ("daps", DAPS)],
    "sr": [("ddrm", {"eta": 1.0}), ("diffpir", {"lam": 1.0, "zeta": 1.0}), ("daps", DAPS)],
    "inpaint": [("ddrm", {"eta": 1.0}), ("diffpir", {"lam": 7.0, "zeta": 1.0}), ("diffpir", {"lam": 1.0, "zeta": 1.0}),
                ("pigdm", {"eta": 1.0}), ("daps", DAPS)],
    "denoise": [("ddrm", {"eta": 0.0}), ("diffpir", {"lam": 7.0, "zeta": 0.0}), ("ddnm", {"eta": 0.85}), ("daps", DAPS),
                ("tweedie", {})],
    "colorize": [("ddnm", {"eta": 0.85}), ("ddrm", {"eta": 0.85}), ("diffpir", {"lam": 1.0, "zeta": 1.0}),
                 ("daps", DAPS)],
}


def per_step(method):
    return 2 if method == "pigdm" else 1


def budgets(task, method, stage):
    """(steps, average) pairs: stage A's representative and the others of stage B (≤ 25 evaluations)."""
    k = per_step(method)
    if method == "tweedie":  # one denoiser call, no steps
        return [(None, 1)] if stage == "A" else []
    if task == "sr":
        pairs = [(25, 1), (6, 4)] if stage == "A" else [(12, 2), (8, 3), (5, 5), (3, 8)]
    else:
        pairs = [(20, 1)] if stage == "A" else [(10, 1), (25, 1)]
    return [(max(1, s // k), a) for s, a in pairs]


def nfe(method, opts):
    if method == "deconv":  # the E-step's denoiser call, then the DAPS levels of its polish (restore.blind.polish)
        return 1 + (opts.get("steps") or 0)
    return (opts.get("steps") or 1) * opts.get("average", 1) * per_step(method)


def key_options(opts):
    return json.dumps({k: v for k, v in sorted(opts.items())}, sort_keys=True)


def run_method(y, A, prior, method, opts, sigma):
    if method == "deconv":  # the blind default (restore.cli.methods.deconv): the E-step; "steps": its polish
        from restore.cli.methods import deconv
        return deconv(y, A, prior, sigma, steps=opts.get("steps"))
    from restore.guidance.registry import REGISTRY
    full = {**REGISTRY[method].defaults, "average": 1, **opts}  # explicit: no tuned leftovers
    steps = full.pop("steps", None)
    return restore.solve(y, A, prior, method=method, sigma_y=sigma, steps=steps, seed=0, **full)


# ------------------------------------------------------------------------------------- simple tools


def to_np(t):
    return t[0].permute(1, 2, 0).double().numpy()


def from_np(a):
    return torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1)[None].double()


TOOLS = {"deblur": {"input": [None], "wiener": [0.003, 0.01, 0.03, 0.1, 0.3, 1.0],
                    "rl": [3, 5, 10, 20, 40]},
         "sr": {"bicubic": [None], "lanczos": [None]},
         "inpaint": {"telea": [None], "ns": [None]},
         "denoise": {"input": [None], "tv": [0.002, 0.003, 0.005, 0.01, 0.02, 0.04],
                     "nlm": [0.2, 0.3, 0.4, 0.5, 0.8, 1.2]},
         "colorize": {"grey": [None]}}


def tool(name, knob, y, A, deg, cond, mask):
    from skimage import restoration as R
    yn = to_np(y.double())
    if name in ("wiener", "rl"):
        k = kernels()[deg].numpy()
        n = k.shape[0]  # reflect-pad so the tools' periodic / zero borders fall outside the crop
        yp = np.pad(yn, ((n, n), (n, n), (0, 0)), mode="reflect")
        out = [R.wiener(yp[..., c], k, balance=knob, clip=False) if name == "wiener"
               else R.richardson_lucy(yp[..., c], k, num_iter=int(knob), clip=False) for c in range(3)]
        return from_np(np.stack(out, -1)[n:-n, n:-n]).clamp(0, 1)
    if name in ("bicubic", "lanczos"):
        interp = cv2.INTER_CUBIC if name == "bicubic" else cv2.INTER_LANCZOS4
        return from_np(cv2.resize(yn, (SIDE, SIDE), interpolation=interp)).clamp(0, 1)
    if name in ("telea", "ns"):
        u8 = np.round(yn[..., ::-1] * 255).astype(np.uint8)
        hole = (mask[0, 0].numpy() == 0).astype(np.uint8)
        out = cv2.inpaint(u8, hole, 3, cv2.INPAINT_TELEA if name == "telea" else cv2.INPAINT_NS)
        return from_np(out[..., ::-1] / 255.0)
    if name == "input":
        return y.double()
    if name == "tv":
        return from_np(R.denoise_tv_chambolle(yn, weight=knob, channel_axis=-1))
    if name == "nlm":
        h = knob * conditions("denoise")[cond][1] * 255
        u8 = np.round(yn[..., ::-1] * 255).astype(np.uint8)
        out = cv2.fastNlMeansDenoisingColored(u8, None, h, h, 7, 21)
        return from_np(out[..., ::-1] / 255.0)
    if name == "grey":
        return y.double().expand(-1, 3, -1, -1)
    raise ValueError(name)


# --------------------------------------------------------------------------------------- bookkeeping


class Store:
    def __init__(self, path):
        self.path = path
        self.done = set()
        if path.exists():
            with open(path) as f:
                for r in csv.DictReader(f):
                    self.done.add(self.key(r))

    @staticmethod
    def key(r):
        return tuple(str(r[k]) for k in ("stage", "task", "deg", "cond", "image", "method", "options", "sigma_passed"))

    def has(self, **r):
        return self.key({k: str(v) for k, v in r.items()}) in self.done

    def add(self, r):
        new = not self.path.exists()
        with open(self.path, "a", newline="") as f:
            w = csv.DictWriter(f, FIELDS)
            if new:
                w.writeheader()
            w.writerow(r)
        self.done.add(self.key({k: str(v) for k, v in r.items()}))
        print(" ".join(f"{k}={r[k]}" for k in ("task", "deg", "cond", "image", "method", "options", "sigma_passed",
                                                "psnr", "seconds")), flush=True)


def read_all(pattern="defaults_*.csv"):
    rows = []
    for p in sorted(RESULTS.glob(pattern)):
        with open(p) as f:
            rows += list(csv.DictReader(f))
    return rows


def ranked(rows, task, images, exclude_today=True):
    """[(mean PSNR, method, options)] over configs that have every (deg, cond, image) of ``images``."""
    need = {(d, c, i) for d in DEGRADATIONS[task] for c in conditions(task) for i in images}
    acc = {}
    for r in rows:
        if r["task"] != task or r["stage"] not in ("A", "B", "C") or r["image"] not in images:
            continue
        if r["method"] in TOOLS[task] or (exclude_today and '"today": true' in r["options"]):
            continue
        if r["sigma_passed"] != "oracle":
            continue
        acc.setdefault((r["method"], r["options"]), {})[(r["deg"], r["cond"], r["image"])] = float(r["psnr"])
    out = [(np.mean([v[k] for k in need]), m, o) for (m, o), v in acc.items() if need <= set(v)]
    return sorted(out, reverse=True)


# --------------------------------------------------------------------------------------------- main


def main(argv=None):
    restore.keep_freed_memory()  # as the CLI does: the network's forward times match the commands'
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stage", choices=("A", "today", "B", "C", "tools", "noise", "test", "variants"))
    ap.add_argument("--variants", default="[]",
                    help="stage variants: a JSON list of option dicts, each merged over the task's default "
                         "(`chosen`) and run on the 6 training crops")
    ap.add_argument("--tasks", default=",".join(TASKS))
    ap.add_argument("--test-images", type=int, default=8)
    ap.add_argument("--images", type=int, default=1, help="training images for stages A, B and today")
    ap.add_argument("--top", type=int, default=1, help="families of A that stage B extends")
    ap.add_argument("--with-today", type=int, default=0, metavar="N",
                    help="stage test: also run the pre-issue-19 default (TODAY) on the first N test crops")
    ap.add_argument("--report", action="store_true")
    args = ap.parse_args(argv)
    torch.set_grad_enabled(False)
    if args.report:
        print(report())
        return
    tasks = args.tasks.split(",")
    RESULTS.mkdir(parents=True, exist_ok=True)
    # one file per (stage, tasks, prior): the default's rows are only compared under the prior that ships
    tag = "" if args.stage == "tools" else f"_{prior_tag()}"
    store = Store(RESULTS / f"defaults_{args.stage}_{'-'.join(tasks)}{tag}.csv")
    prior = None if args.stage == "tools" else restore.load_prior("default")
    train = [p.stem for p in train_images()]
    paths = {p.stem: p for p in train_images() + test_images(args.test_images)}
    fwd = forward_seconds(prior) if args.stage == "test" else ""

    def job(task, img, method, opts, stage, sigma_mode="oracle", label=None, only=None):
        for deg in DEGRADATIONS[task]:
            for cond in conditions(task):
                if only is not None and cond != only:
                    continue
                okey = label or key_options(opts)
                if store.has(stage=stage, task=task, deg=deg, cond=cond, image=img, method=method, options=okey,
                             sigma_passed=sigma_mode):
                    continue
                x, y, A, mask = measure(paths[img], task, deg, cond)
                if method in TOOLS[task]:
                    t = time.perf_counter()
                    xh = tool(method, opts.get("knob"), y, A, deg, cond, mask)
                    sec, n = time.perf_counter() - t, 0
                else:
                    sigma = conditions(task)[cond][1] if sigma_mode == "oracle" else (
                        auto_sigma(y, A, x.shape) if sigma_mode == "auto" else float(sigma_mode))
                    t = time.perf_counter()
                    xh = run_method(y, A, prior, method, opts, sigma)
                    sec, n = time.perf_counter() - t, nfe(method, opts)
                    if sigma_mode == "auto":
                        print(f"  auto sigma {sigma:.5f} ({cond})", flush=True)
                store.add({"stage": stage, "task": task, "deg": deg, "cond": cond, "image": img, "method": method,
                           "options": okey, "nfe": n, "sigma_passed": sigma_mode,
                           "psnr": round(float(psnr(xh.double().clamp(0, 1), x)[0]), 4),
                           "seconds": round(sec, 3), "fwd_seconds": fwd, "prior": prior_tag()})

    rows = read_all()
    for task in tasks:
        if args.stage == "A":
            for img in train[:args.images]:
                for method, knobs in FAMILIES[task]:
                    for s, a in budgets(task, method, "A"):
                        job(task, img, method, {**knobs, **({"steps": s} if s else {}),
                                                **({"average": a} if a > 1 else {})}, "A")
        elif args.stage == "today":
            for img in train[:args.images]:
                m, o = TODAY[task]
                job(task, img, m, o, "A", label=key_options({"today": True, **o}))
        elif args.stage == "B":
            fam = {}
            for score, m, o in ranked(rows, task, train[:args.images]):
                knobs = {k: v for k, v in json.loads(o).items() if k not in ("steps", "average")}
                fam.setdefault(key_options({"m": m, **knobs}), (score, m, knobs))
            top = sorted(fam.values(), key=lambda t: -t[0])[:args.top]
            for img in train[:args.images]:
                for _, method, knobs in top:
                    for s, a in budgets(task, method, "B"):
                        job(task, img, method, {**knobs, "steps": s, **({"average": a} if a > 1 else {})}, "B")
        elif args.stage == "C":
            for img in train[args.images:]:
                for _, m, o in ranked(rows, task, train[:args.images])[:args.top]:
                    job(task, img, m, json.loads(o), "C")
        elif args.stage == "tools":
            for img in train:
                for name, knobs in TOOLS[task].items():
                    for knob in knobs:
                        job(task, img, name, {} if knob is None else {"knob": knob}, "tools")
        elif args.stage == "noise":
            m, o = chosen(task)
            for img in train[:args.images]:
                for mode in ("0.01", "auto"):
                    job(task, img, m, o, "noise", sigma_mode=mode)
        elif args.stage == "variants":
            m, o = chosen(task)
            for img in train:
                for v in [{}, *json.loads(args.variants)]:
                    job(task, img, m, {**o, **v}, "variants")
        elif args.stage == "test":
            for n, img in enumerate([p.stem for p in test_images(args.test_images)]):
                m, o = chosen(task)
                job(task, img, m, o, "test")
                if n < args.with_today:
                    tm, to = TODAY[task]
                    job(task, img, tm, to, "test", label=key_options({"today": True, **to}))
                for name in TOOLS[task]:
                    for cond in conditions(task):  # the knob chosen on the training crops for this noise level
                        knob = best_knob(rows, task, name, cond)
                        job(task, img, name, {} if knob is None else {"knob": knob}, "test", only=cond)


def auto_sigma(y, A, shape):
    from restore.cli.noise_level import estimate_sigma
    from restore.cli.pipeline import MIN_AUTO_NOISE, plan_measured
    return max(estimate_sigma(y, plan_measured(A, shape, y)), MIN_AUTO_NOISE)


def forward_seconds(prior, reps=5, side=SIDE):
    """Median seconds of one forward of the prior on a side×side RGB image (after one warm-up call)."""
    x = torch.rand(1, 3, side, side)
    prior.denoise(x, 0.1)
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        prior.denoise(x, 0.1)
        ts.append(time.perf_counter() - t)
    return round(float(np.median(ts)), 4)


def chosen(task):
    """The default `restore.solve` now uses for the task's operator (the CLI's default method)."""
    from restore.cli.methods import default_method
    from restore.guidance import defaults
    m = default_method(task)
    if m == "deconv":  # a given kernel: the E-step polished (restore.cli.methods.deconv_steps)
        from restore.cli.methods import deconv_steps
        return m, {"steps": deconv_steps(False)}
    A = {"deblur": ops.Blur(torch.ones(3, 3) / 9), "sr": ops.Downsample(4, "bicubic"),
         "inpaint": ops.Inpainting(torch.ones(1, 1, 4, 4)), "denoise": ops.Identity(), "colorize": ops.Grayscale()}[task]
    o = defaults(m, A)
    if o.get("average", 1) == 1:
        o.pop("average", None)
    return m, o


def best_knob(rows, task, name, cond=None):
    """The knob of a classical tool with the best mean PSNR on the training crops (per tool, all conditions)."""
    knobs = TOOLS[task][name]
    if knobs == [None]:
        return None
    acc = {}
    for r in rows:
        if r["stage"] == "tools" and r["task"] == task and r["method"] == name and (cond is None or r["cond"] == cond):
            acc.setdefault(json.loads(r["options"])["knob"], []).append(float(r["psnr"]))
    return max(acc, key=lambda k: np.mean(acc[k]))


# ------------------------------------------------------------------------------------------- report


def report() -> str:
    rows = read_all()
    train = [p.stem for p in train_images()]
    out = ["### Training crops: ranking (mean PSNR over degradations × conditions)", ""]
    for task in TASKS:
        r2 = ranked(rows, task, train[:1], exclude_today=False)
        r6 = {(m, o): s for s, m, o in ranked(rows, task, train[:3])}
        if not r2:
            continue
        more = any(v is not None for v in r6.values())
        out += [f"**{task}** (training image 1{'; images 1–3 where run' if more else ''})", "",
                "| method | options | NFE | image 1 |" + (" images 1–3 |" if more else ""),
                "|---|---|---:|---:|" + ("---:|" if more else "")]
        for s, m, o in r2:
            oo = json.loads(o)
            today = oo.pop("today", False)
            n = nfe(m, oo)
            six = r6.get((m, o))
            out.append(f"| {m}{' (today)' if today else ''} | `{json.dumps(oo)}` | {n} | {s:.2f} |"
                       + (f" {'' if six is None else f'{six:.2f}'} |" if more else ""))
        out.append("")
    out += test_report(rows)
    return "\n".join(out)


def current(sel, task):
    """One row per (image, degradation, condition, method): a tool's last run, and of the default only the
    rows of the settings and the prior restore uses now (`chosen`, `prior_tag`), so an earlier default's
    rows, and rows measured with earlier weights, drop out."""
    last = {}
    for r in sel:
        own = r["method"] not in TOOLS[task]
        last[(r["image"], r["deg"], r["cond"], r["method"], r["options"] if own else "", prior_of(r) if own else "")] = r
    m_now, o_now, p_now = *chosen(task), prior_tag()
    return [r for r in last.values() if r["method"] in TOOLS[task]
            or (r["method"] == m_now and json.loads(r["options"] or "{}") == o_now and prior_of(r) == p_now)]


def test_by_degradation(rows):
    out = ["Per degradation (mean over test crops and both conditions):", "",
           "| task | degradation | default | best simple tool | Δ |", "|---|---|---:|---:|---:|"]
    for task in TASKS:
        for deg in DEGRADATIONS[task]:
            sel = current([r for r in rows if r["stage"] == "test" and r["task"] == task and r["deg"] == deg], task)
            done = {(r["image"], r["cond"]) for r in sel if r["method"] in TOOLS[task]}
            d = [float(r["psnr"]) for r in sel if r["method"] not in TOOLS[task] and (r["image"], r["cond"]) in done]
            if not d:
                continue
            keys = {(r["image"], r["cond"]) for r in sel if r["method"] not in TOOLS[task]} & done
            tools = {}
            for r in sel:
                if r["method"] in TOOLS[task] and (r["image"], r["cond"]) in keys:
                    tools.setdefault(r["method"], []).append(float(r["psnr"]))
            best = max(tools, key=lambda k: np.mean(tools[k]))
            out.append(f"| {task} | {deg} | {np.mean(d):.2f} | {best} {np.mean(tools[best]):.2f} | "
                       f"{np.mean(d) - np.mean(tools[best]):+.2f} |")
    return out + [""]


def test_report(rows):
    """Test crops: the default against each simple tool, per task and condition (mean PSNR over crops)."""
    out = ["### Test crops (CBSD68, 128×128 central crops): CLI default vs the simple tools", "",
           "| task | condition | n | default | PSNR | s | NFE (wall equiv.) | simple tools (PSNR) | best tool | Δ |",
           "|---|---|---:|---|---:|---:|---:|---|---|---:|"]
    for task in TASKS:
        for cond in conditions(task):
            sel = current([r for r in rows if r["stage"] == "test" and r["task"] == task and r["cond"] == cond], task)
            dflt = [r for r in sel if r["method"] not in TOOLS[task]]
            if not dflt:
                continue
            done = {(r["image"], r["deg"]) for r in sel if r["method"] in TOOLS[task]}
            dflt = [r for r in dflt if (r["image"], r["deg"]) in done]  # pairs whose tools ran too
            if not dflt:
                continue
            keys = {(r["image"], r["deg"]) for r in dflt}
            tools = {}
            for r in sel:
                if r["method"] in TOOLS[task] and (r["image"], r["deg"]) in keys:
                    tools.setdefault(r["method"], []).append(float(r["psnr"]))
            tools = {k: v for k, v in tools.items() if len(v) == len(keys)}
            d = np.mean([float(r["psnr"]) for r in dflt])
            sec = np.mean([float(r["seconds"]) for r in dflt])
            eq = np.mean([float(r["seconds"]) / float(r["fwd_seconds"]) for r in dflt])
            best = max(tools, key=lambda k: np.mean(tools[k])) if tools else None
            tt = ", ".join(f"{k} {np.mean(v):.2f}" for k, v in tools.items())
            out.append(f"| {task} | {cond} | {len(keys)} | {dflt[0]['method']} | {d:.2f} | {sec:.1f} | {int(dflt[0]['nfe'])} ({eq:.0f}) | "
                       f"{tt} | {best} | {d - np.mean(tools[best]):+.2f} |" if best else "")
    return out + [""] + test_by_degradation(rows) + today_report(rows)


def today_report(rows):
    """Test crops: the default against the pre-issue-19 default (TODAY), on the crops where both ran,
    with the prior that ships."""
    out = ["The default against the default before issue 19 (same test crops and measurements, the prior "
           "that ships; mean over degradations × conditions):", "",
           "| task | n | default (NFE) | PSNR | before (NFE) | PSNR | Δ |", "|---|---:|---|---:|---|---:|---:|"]
    for task in TASKS:
        sel = [r for r in rows if r["stage"] == "test" and r["task"] == task and prior_of(r) == prior_tag()]
        tm, to = TODAY[task]
        before = {(r["image"], r["deg"], r["cond"]): float(r["psnr"]) for r in sel
                  if r["method"] == tm and r["options"] == key_options({"today": True, **to})}
        now = {(r["image"], r["deg"], r["cond"]): r for r in current(sel, task) if r["method"] not in TOOLS[task]}
        keys = sorted(set(before) & set(now))
        if not keys:
            continue
        m = now[keys[0]]["method"]
        a, b = np.mean([float(now[k]["psnr"]) for k in keys]), np.mean([before[k] for k in keys])
        out.append(f"| {task} | {len(keys)} | {m} ({now[keys[0]]['nfe']}) | {a:.2f} | {tm} ({nfe(tm, to)}) | {b:.2f} | "
                   f"{a - b:+.2f} |")
    return out + [""]


if __name__ == "__main__":
    main()
