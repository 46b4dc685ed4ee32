"""Time spent outside the network, per guidance method × operator (issue 5, speed).

For each method and operator we solve one 256×256 RGB problem (σ_y = 0.025) with the default prior
seen through `TimedPrior`, and report

* ``NFE``        — network evaluations = images passed through ``prior.denoise`` (a batch of K chains
                   counts K; a DPS/ΠGDM call with a VJP counts once; DAPS counts every Heun evaluation
                   of its inner ODE);
* ``network s``  — wall time inside ``prior.denoise`` **plus** wall time inside ``torch.autograd.grad``
                   (the vector–Jacobian product through the network that DPS and ΠGDM take once per
                   step, `restore.guidance.base.Problem.denoise_vjp`; the only autograd.grad call in
                   the guidance code, so all of it is attributed to the network; its own column
                   ``backward s`` shows how much of ``network s`` it is);
* ``total s``    — wall time of the whole ``restore.solve`` call, set-up included (a fresh operator is
                   built for every row, so one-time work — kernel FFTs, the bicubic matrices' SVDs —
                   is counted once per solve, as a user would pay it);
* ``outside s``  = total − network: operators, FFTs/SVD bases, noise draws, bookkeeping;
* ``outside/network`` in %, the figure the issue bounds by 5 %.

On CUDA every timed region is bracketed by ``torch.cuda.synchronize()``, so the split stays honest
with asynchronous kernels.  The ratio is per step, so a modest step count (``--steps``, default 10)
suffices; DAPS's ``steps`` are annealing levels (each ``ode_steps`` = 5 Heun steps, 9 NFE, and 20
Langevin steps).

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/speed.py --steps 10 --out benchmarks/SPEED.md
    python benchmarks/speed.py --device cuda                     # the same table on a GPU
    python benchmarks/speed.py --size 64 --methods ddrm,dps      # a quick look
"""
from __future__ import annotations

import argparse
import platform
import sys
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

import torch

import operators as O
import restore
from restore.guidance import defaults
from restore.io import read_image
from restore.metrics import psnr as psnr_of

METHODS = ("dps", "pigdm", "ddrm", "ddnm", "diffpir", "daps", "projection", "pinv", "wiener")
OPERATORS = ("blur", "sr4", "inpaint-box", "denoise")
SIGMA_Y = 0.025


def make_operator(name: str, side: int):
    """A fresh operator (empty caches) for a side×side image."""
    if name == "blur":
        return O.GaussianBlur(min(61, side - 1 if side % 2 == 0 else side), 3.0, boundary="circular")
    if name == "sr4":
        return O.Downsample(4, "bicubic")
    if name == "inpaint-box":
        size, margin = round(128 * side / 256), round(16 * side / 256)
        return O.Inpainting(O.box_mask((side, side), size, margin, seed=0))
    if name == "denoise":
        return O.Identity()
    raise ValueError(f"unknown operator {name!r} (choose from {OPERATORS})")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class TimedPrior:
    """The prior seen through a counter and a stopwatch: ``calls`` denoise calls, ``seconds`` inside them."""

    def __init__(self, prior, device):
        self._prior, self._device = prior, device
        self.calls, self.seconds, self.backward_seconds = 0, 0.0, 0.0

    def reset(self):
        self.calls, self.seconds, self.backward_seconds = 0, 0.0, 0.0

    def denoise(self, x, sigma):
        _sync(self._device)
        t = time.perf_counter()
        out = self._prior.denoise(x, sigma)
        _sync(self._device)
        self.seconds += time.perf_counter() - t
        self.calls += x.shape[0]  # one evaluation per image of the batch (chains run batched)
        return out

    @contextmanager
    def timing_autograd(self):
        """Attribute every ``torch.autograd.grad`` call (the VJP through the network) to the network."""
        original = torch.autograd.grad

        def grad(*args, **kwargs):
            _sync(self._device)
            t = time.perf_counter()
            out = original(*args, **kwargs)
            _sync(self._device)
            dt = time.perf_counter() - t
            self.seconds += dt
            self.backward_seconds += dt
            return out

        torch.autograd.grad = grad
        try:
            yield
        finally:
            torch.autograd.grad = original

    def __getattr__(self, name):  # channels, schedule, data_range, ... of the wrapped prior
        return getattr(self._prior, name)


def test_image(side: int, device) -> torch.Tensor:
    """A CBSD68 image centre-cropped to side×side when the shared data is there, else a smooth random image."""
    path = Path(__file__).resolve().parents[2] / "shared" / "data" / "test" / "CBSD68" / "101085.png"
    if path.is_file():
        x, _ = read_image(path)
        h, w = x.shape[-2:]
        if min(h, w) >= side:
            t, l = (h - side) // 2, (w - side) // 2
            return x[..., t : t + side, l : l + side].to(device=device, dtype=torch.float32)
    g = torch.Generator().manual_seed(0)
    x = torch.nn.functional.interpolate(torch.rand(1, 3, side // 8, side // 8, generator=g), size=(side, side),
                                        mode="bicubic", align_corners=False).clamp(0, 1)
    return x.to(device)


#: ``--defaults``: each CLI task's default method on the operator the CLI builds (reflect blurs with
#: the capped, preconditioned CG of `restore.cli.specs.build`), at the method's tuned steps for it
DEFAULT_CASES = {"deblur-gauss": "deblur", "deblur-motion": "deblur", "sr4": "sr", "inpaint-box": "inpaint",
                 "colorize": "colorize", "denoise": "denoise"}


def cli_operator(case: str, side: int):
    """The operator `restore <task>` builds for ``case`` on a side×side RGB image."""
    from restore.cli import specs

    if case.startswith("deblur-"):
        return specs.build(specs.blur_spec(case.split("-")[1]), (1, 3, side, side))
    return O.Grayscale() if case == "colorize" else make_operator(case, side)


def run_row(method, op_name, x, prior: TimedPrior, steps, seed=0, cli=False):
    A = cli_operator(op_name, x.shape[-1]) if cli else make_operator(op_name, x.shape[-1])
    y = O.GaussianNoise(SIGMA_Y)(A(x), seed=1)
    prior.reset()
    uses_prior = method not in ("pinv", "wiener")
    device = x.device
    with warnings.catch_warnings(), prior.timing_autograd():
        warnings.simplefilter("ignore")
        _sync(device)
        t = time.perf_counter()
        if method == "deconv":  # the CLI's deblurring default: the E-step, polished (restore.cli.methods)
            from restore.cli.methods import deconv, deconv_steps
            steps = steps or deconv_steps(False)
            out = deconv(y, A, prior, SIGMA_Y, seed=seed, steps=steps)
        else:
            out = restore.solve(y, A, prior, method=method, sigma_y=SIGMA_Y, steps=steps if uses_prior else None,
                                seed=seed)
    if cli:
        steps = steps if method == "deconv" else defaults(method, A).get("steps", "–")
        _sync(device)
        total = time.perf_counter() - t
    psnr = float(psnr_of(out, x)[0])
    net = prior.seconds
    return {"method": method, "operator": op_name, "steps": steps if uses_prior else "–", "nfe": prior.calls,
            "network": net, "backward": prior.backward_seconds, "total": total, "outside": total - net,
            "ratio": (total - net) / net if net > 0 else None, "psnr": psnr}


def markdown(rows) -> str:
    lines = ["| method | operator | steps | NFE | network s | backward s | total s | outside s | outside/network | PSNR |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        ratio = "–" if r["ratio"] is None else f"{100 * r['ratio']:.1f} %"
        back = f"{r['backward']:.2f}" if r["backward"] else "–"
        lines.append(f"| {r['method']} | {r['operator']} | {r['steps']} | {r['nfe']} | {r['network']:.2f} | {back} | "
                     f"{r['total']:.2f} | {r['outside']:.3f} | {ratio} | {r['psnr']:.2f} |")
    return "\n".join(lines)


def main(argv=None):
    restore.keep_freed_memory()  # as the CLI does: the network's forward times match the commands'
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="auto", help="auto (cuda when available) | cpu | cuda")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--operators", default=",".join(OPERATORS))
    ap.add_argument("--prior", default="default")
    ap.add_argument("--out", default=None, help="write the table (Markdown) to this file as well")
    ap.add_argument("--defaults", action="store_true",
                    help="each CLI task's default (method, tuned steps, the CLI's operator) instead of "
                         "--methods × --operators")
    args = ap.parse_args(argv)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else torch.device(args.device)
    prior = TimedPrior(restore.load_prior(args.prior, device=device), device)
    x = test_image(args.size, device)
    with torch.no_grad():  # warm-up: first-call allocations and kernel selection are not a method's overhead
        prior.denoise(x, torch.full((1,), 0.5, device=device))
    rows = []
    if args.defaults:
        from restore.cli.methods import default_method

        pairs = [(default_method(task), case) for case, task in DEFAULT_CASES.items()]
    else:
        pairs = [(m, o) for o in args.operators.split(",") for m in args.methods.split(",")]
    for method, op_name in pairs:
        r = run_row(method, op_name, x, prior, None if args.defaults else args.steps, cli=args.defaults)
        rows.append(r)
        ratio = "–" if r["ratio"] is None else f"{100 * r['ratio']:.1f} %"
        print(f"{method:10s} {op_name:12s} nfe {r['nfe']:4d}  net {r['network']:7.2f}s  total {r['total']:7.2f}s  "
              f"outside {r['outside']:6.3f}s  {ratio}", file=sys.stderr, flush=True)
    table = markdown(rows)
    print(table)
    if args.out:
        dev = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU ({platform.processor() or platform.machine()})"
        cmd = "python " + " ".join([Path(sys.argv[0]).as_posix() if argv is None else "benchmarks/speed.py", *(argv or sys.argv[1:])])
        Path(args.out).write_text(f"<!-- generated by benchmarks/speed.py -->\n\n`{cmd}`\n\ndevice {dev}, "
                                  f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
                                  f"{args.size}×{args.size} RGB, σ_y = {SIGMA_Y}\n\n{table}\n")
    return rows


if __name__ == "__main__":
    main()
