"""Measure the peak memory of one restoration, per method and image size: the factors of
`restore.cli.memory`.

Each (method, size) runs in a fresh process: load the default prior, build y, note the resident set
size (RSS), run 2 solver steps with one chain, and read the process's peak RSS (ru_maxrss).  The
increment over the RSS before the solve is fitted, over the sizes, as  peak = c + f·H·W  (least
squares): f is the method's bytes per pixel of one chain, c a fixed cost (workspace, allocator).

    python benchmarks/memory.py                 # CPU, 64², 128², 256²
    python benchmarks/memory.py --device cuda   # torch.cuda.max_memory_allocated instead of RSS
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys

from restore.cli import memory

METHODS = ("ddrm", "ddnm", "pigdm", "projection", "diffpir", "dps", "daps")
SIZES = (64, 128, 256)

CHILD = r"""
import json, os, resource, sys, torch
import operators as ops
from restore.guidance import solve
from restore.models.registry import load_prior
method, n, device = sys.argv[1], int(sys.argv[2]), torch.device(sys.argv[3])
if sys.argv[4] == "keep":
    from restore.allocator import keep_freed_memory
    assert keep_freed_memory()
torch.set_num_threads(1)
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
base0 = rss()
prior = load_prior("default", device=device)
model = rss() - base0
g = torch.Generator().manual_seed(0)
x = torch.rand(1, 3, n, n, generator=g)
A = ops.GaussianBlur(9, 2.0) if method == "diffpir" else ops.Identity()
if method == "diffpir":
    A.cg_max_iter, A.cg_warn = 25, False
y = A(x).to(device)
if device.type == "cuda":
    torch.cuda.synchronize(); torch.cuda.reset_peak_memory_stats(); before = torch.cuda.memory_allocated()
before_rss = rss()
solve(y, A, prior, method=method, sigma_y=0.05, steps=2, seed=0, average=1)
if device.type == "cuda":
    torch.cuda.synchronize(); peak = torch.cuda.max_memory_allocated() - before
else:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before_rss
print(json.dumps({"method": method, "n": n, "peak": peak, "model": model}))
"""


def measure(method: str, n: int, device: str, allocator: str = "system") -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, method, str(n), device, allocator], capture_output=True,
                         text=True,
                         check=True, env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--sizes", default=",".join(map(str, SIZES)))
    ap.add_argument("--allocator", choices=("system", "keep"), default="system",
                    help="keep: as the CLI runs (restore.allocator.keep_freed_memory); system: glibc's defaults")
    a = ap.parse_args()
    sizes = [int(s) for s in a.sizes.split(",")]
    print("| method | " + " | ".join(f"{n}² (MB)" for n in sizes) + " | f (bytes/pixel) | c (MB) | "
          "estimate (restore.cli.memory, MB) |")
    print("|---|" + "---:|" * (len(sizes) + 3))
    for m in a.methods.split(","):
        rows = [measure(m, n, a.device, a.allocator) for n in sizes]
        px = [r["n"] ** 2 for r in rows]
        fit = "– | –"
        if len(set(px)) > 1:
            mp, mr = sum(px) / len(px), sum(r["peak"] for r in rows) / len(rows)
            f = sum((p - mp) * (r["peak"] - mr) for p, r in zip(px, rows)) / sum((p - mp) ** 2 for p in px)
            fit = f"{f:.0f} | {(mr - f * mp) / 2**20:.0f}"
        est = [memory.SAFETY * (memory.FIXED + memory.BYTES_PER_PIXEL[m] * p) / 2**20 for p in px]
        print(f"| {m} | " + " | ".join(f"{r['peak'] / 2**20:.0f}" for r in rows) + f" | {fit} | "
              + ", ".join(f"{e:.0f}" for e in est) + " |", flush=True)


if __name__ == "__main__":
    main()
