"""The benchmark loop: images × tasks × methods → one row each, resumable, shardable.

Layout of RESULTS/:

    results.csv                     one row per (image, task, method), sorted (`results`)
    summary.md                      mean ± std per task × method (printed too)
    psnr_vs_nfe.png, examples.png   plots (`plots`)
    images/<set>/<image>/<task>/    truth.png, measurement.png, mask.png (inpainting),
                                    <method>_s<steps>_seed<seed>.png and .json (the row + operator spec,
                                    kernel values and every seed; enough to rebuild y exactly)
    shards/rank<r>.csv              per-rank rows while a torchrun job is running (merged, then removed)

Resume: a job whose key (image, task, method, steps, seed) is in results.csv or any shard is skipped;
rows are appended and fsynced one at a time, so an interrupted run loses at most the row in flight.
A row is committed with its image and JSON record in one section that Ctrl-C/SIGTERM cannot split
(`restore.interrupts.deferred_signals`), every file written atomically (temporary + rename): an
interrupted run leaves no temporary file and no image without its row.  One run per folder: rank 0
holds ``RESULTS/.restore-bench.lock`` (`lock`); a second run on the same folder is refused.
"""
from __future__ import annotations

import json
import os
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

from ..interrupts import deferred_signals
from ..io import atomic_write, encode_image, read_image
from ..metrics import psnr, ssim
from .. import distributed
from . import methods as M, plots, results, tasks as T
from .results import image_dir
from .lock import ResultsLock

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
CRASH_ENV = "RESTORE_BENCH_CRASH_AFTER"  # testing: os._exit after this many new rows (simulates a kill)


def list_images(dirs, limit=None) -> list[tuple[str, Path]]:
    """(name, path) for the images of each folder, sorted by file name; name = '<folder>/<stem>'."""
    out = []
    for d in dirs:
        d = Path(d)
        if not d.is_dir():
            raise FileNotFoundError(f"data folder not found: {d}")
        files = sorted(p for p in d.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
        if not files:
            raise ValueError(f"no images in {d}")
        if limit is not None:
            files = files[: int(limit)]
        out += [(f"{d.name}/{p.stem}", p) for p in files]
    return out


class PeakMemory:
    """Peak memory of one row: CUDA → torch.cuda.max_memory_allocated (MiB, 'cuda_alloc');
    CPU → the process's peak resident set size sampled every 5 ms from /proc (MiB, 'cpu_rss')."""

    def __init__(self, device: torch.device):
        self.device = device
        self.peak = 0.0
        self.kind = "cuda_alloc" if device.type == "cuda" else "cpu_rss"

    @staticmethod
    def _rss() -> float:
        try:
            with open("/proc/self/statm") as f:
                return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
        except (OSError, ValueError, IndexError):
            import resource
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def _watch(self):
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self._rss())

    def __enter__(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
        else:
            self.peak = self._rss()
            self._stop = threading.Event()
            self._t = threading.Thread(target=self._watch, daemon=True)
            self._t.start()
        return self

    def __exit__(self, *exc):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.peak = torch.cuda.max_memory_allocated(self.device) / 2**20
        else:
            self._stop.set()
            self._t.join()
            self.peak = max(self.peak, self._rss())
        return False


def _png(path: Path, x: torch.Tensor) -> bytes:
    return encode_image(path, x.detach().float().cpu().clamp(0, 1))


def _commit(files: dict, appender=None, row=None) -> None:
    """Write ``{path: bytes}`` atomically and append ``row``, as one section signals cannot split."""
    with deferred_signals():
        for path, data in files.items():
            atomic_write(path, data)
        if appender is not None:
            appender.append(row)


def _lock(out: Path, dist, dev):
    """Rank 0 locks the folder; every rank learns whether it could (a collective decision)."""
    lock, err = None, None
    if dist.is_main:
        try:
            lock = ResultsLock(out)
        except ValueError as e:
            err = e
    [ok] = distributed.broadcast_flags(dist, [err is None], dev)
    if not ok:
        raise err or ValueError(f"results folder {str(out)!r} is in use by another 'restore bench'")
    return lock


def run_bench(data, task_list, method_list, out, steps=None, limit=None, crop=256, prior="default",
              sigma_y=None, seed=0, device="auto", echo=print, plots_enabled=True, average=None) -> list[dict]:
    """Run (or resume) the benchmark; returns the final sorted rows on rank 0 (the rank's own rows elsewhere).

    ``average`` = M: every diffusion method of ours averages M chains (1: one chain, NFE = steps) instead of
    its tuned value (`restore.guidance.tuned`); recorded in each image's JSON.  Rows are keyed without it,
    so give such a run its own ``out`` folder."""
    if average is not None and int(average) < 1:
        raise ValueError(f"average must be ≥ 1, got {average!r}")
    out = Path(out)
    task_list = T.parse_tasks(task_list)
    method_list = [m.strip().lower() for m in (method_list.split(",") if isinstance(method_list, str) else method_list)
                   if m.strip()]
    M.check_methods(method_list, task_list)
    steps = M.parse_steps(steps)
    M.check_methods([m for m in steps if m != "*"], task_list)
    images = list_images(data.split(",") if isinstance(data, str) else data, limit)
    jobs = [(name, path, task, method) for name, path in images for task in task_list for method in method_list
            if M.applicable(method, task)]

    dist = distributed.from_env()
    dev = distributed.device_for(dist, device)
    dist = distributed.init(dev)
    lock = None
    try:
        out.mkdir(parents=True, exist_ok=True)
        lock = _lock(out, dist, dev)
        table = out / "results.csv"
        shard_dir = out / "shards"
        own_file = table if dist.world == 1 else shard_dir / f"rank{dist.rank}.csv"
        if dist.is_main:
            results.repair(table)
        dist.barrier()
        done = {results.key_of(r) for r in results.read_rows(table)}
        if shard_dir.is_dir():
            for f in sorted(shard_dir.glob("rank*.csv")):
                done |= {results.key_of(r) for r in results.read_rows(f)}

        mine = [j for j in distributed.shard(jobs, dist)
                if (j[0], j[2], j[3], M.effective_steps(j[3], steps, j[2]), int(seed)) not in done]
        skipped = len(distributed.shard(jobs, dist)) - len(mine)
        echo(f"[rank {dist.rank}/{dist.world}] {len(mine)} rows to compute, {skipped} already done "
             f"({len(jobs)} jobs in all, device {dev})")
        new_rows = _compute(mine, out, own_file, steps, crop, prior, sigma_y, int(seed), dev, dist, echo, average)
        dist.barrier()
        if not dist.is_main:
            return new_rows
        rows = results.read_rows(table)
        if shard_dir.is_dir():
            for f in sorted(shard_dir.glob("rank*.csv")):
                rows += results.read_rows(f)
        rows = results.sort_rows(rows)
        results.write_rows(table, rows)
        if shard_dir.is_dir():
            for f in shard_dir.glob("rank*.csv"):
                f.unlink()
            shard_dir.rmdir()
        md = results.summary_markdown(rows)
        atomic_write(out / "summary.md", md.encode("utf-8"))
        echo(md)
        if plots_enabled and rows:
            plots.psnr_vs_nfe(rows, out / "psnr_vs_nfe.png")
            plots.example_grid(rows, out, out / "examples.png")
        return rows
    finally:
        if lock is not None:
            lock.release()
        dist.close()


def _compute(jobs, out, own_file, steps, crop, prior_name, sigma_y, seed, dev, dist, echo, average=None) -> list[dict]:
    if not jobs:
        return []
    prior = None
    if any(M.uses_prior(j[3]) for j in jobs):
        from ..models import load_prior
        prior = load_prior(prior_name, device=dev)
    crash_after = int(os.environ.get(CRASH_ENV, "0") or 0)
    appender = results.Appender(own_file)
    cache_img, cache_meas = {}, {}
    rows = []
    try:
        for n, (name, path, task, method) in enumerate(jobs, 1):
            if name not in cache_img:
                cache_img.clear()
                x, _ = read_image(path)
                cache_img[name] = T.center_crop(x, crop)
            x = cache_img[name]
            js = T.job_seed(seed, name, task)
            if (name, task) not in cache_meas:
                cache_meas.clear()
                cache_meas[(name, task)] = T.build_task(task, x, js, sigma_y)
            m = cache_meas[(name, task)]
            d = image_dir(out, name, task)
            d.mkdir(parents=True, exist_ok=True)
            if not (d / "measurement.png").is_file():  # measurement.png last: it marks the set complete
                files = {d / "truth.png": _png(d / "truth.png", x)}
                if m.mask is not None:
                    files[d / "mask.png"] = _png(d / "mask.png", m.mask.expand(1, 1, *m.mask.shape[-2:]))
                files[d / "measurement.png"] = _png(d / "measurement.png", m.y)
                _commit(files)
            md = T.Measurement(m.task, m.A, m.y.to(dev), m.sigma_y, m.seed, m.spec, m.mask)
            counted = M.CountingPrior(prior) if prior is not None else None
            solver_seed = T.ops.derive_seed(js, T.SOLVER_STREAM)
            n_steps = M.effective_steps(method, steps, m.task)
            with PeakMemory(dev) as mem:
                t0 = time.perf_counter()
                xhat = M.run_method(method, md, counted, M.steps_for(method, steps) if M.uses_prior(method) else None,
                                    solver_seed, average=average)
                if dev.type == "cuda":
                    torch.cuda.synchronize(dev)
                seconds = time.perf_counter() - t0
            xhat = xhat.detach().cpu().double().clamp(0, 1)
            ref = x.double()
            row = {"image": name, "task": task, "method": method, "steps": n_steps, "seed": seed,
                   "psnr": float(psnr(xhat, ref)[0]), "ssim": float(ssim(xhat, ref)[0]),
                   "seconds": round(seconds, 4), "nfe": counted.rows // md.y.shape[0] if counted is not None else 0,
                   "peak_mem_mb": round(mem.peak, 1), "mem_kind": mem.kind, "sigma_y": m.sigma_y,
                   "sigma_y_units": "[0,1]", "job_seed": js, "size": f"{x.shape[-2]}x{x.shape[-1]}",
                   "device": str(dev), "rank": dist.rank,
                   "finished": datetime.now(timezone.utc).isoformat(timespec="microseconds")}
            stem = f"{method}_s{n_steps}_seed{seed}"
            record = {**row, "solver_seed": solver_seed, "prior": str(prior_name), "crop": crop, "average": average,
                      "source": str(path), "operator": m.spec}
            _commit({d / f"{stem}.png": _png(d / f"{stem}.png", xhat),
                     d / f"{stem}.json": json.dumps(record, indent=1).encode("utf-8")}, appender, row)
            rows.append(row)
            echo(f"[rank {dist.rank}] {n}/{len(jobs)} {name} {task} {method}: {row['psnr']:.2f} dB "
                 f"{row['ssim']:.4f} {seconds:.1f}s nfe={row['nfe']}")
            if crash_after and len(rows) >= crash_after:
                appender.close()
                os._exit(3)
    finally:
        appender.close()
    return rows
