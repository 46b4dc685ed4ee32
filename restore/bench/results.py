"""The results table: one CSV row per (image, task, method), appended and flushed one at a time.

Key of a row: (image, task, method, steps, seed).  Reading tolerates a partially written last line
(an interrupted run): it is dropped, and `repair` rewrites the file without it before appending.
The final table is sorted by the key (`sort_rows`), so it does not depend on the order in which
rows were computed (one process or many ranks).
"""
from __future__ import annotations

import csv
import io
import math
import os
import re
import statistics
from pathlib import Path

from ..io import atomic_write

COLUMNS = ["image", "task", "method", "steps", "seed", "psnr", "ssim", "seconds", "nfe", "peak_mem_mb",
           "mem_kind", "sigma_y", "sigma_y_units", "job_seed", "size", "device", "rank", "finished"]
KEY = ("image", "task", "method", "steps", "seed")
NUMERIC = {"steps": int, "seed": int, "psnr": float, "ssim": float, "seconds": float, "nfe": int,
           "peak_mem_mb": float, "sigma_y": float, "job_seed": int, "rank": int}


def key_of(row: dict) -> tuple:
    return (str(row["image"]), str(row["task"]), str(row["method"]), int(row["steps"]), int(row["seed"]))


def _parse(row: dict) -> dict:
    out = dict(row)
    for k, f in NUMERIC.items():
        if out.get(k) not in (None, ""):
            out[k] = f(out[k])
    return out


def read_rows(path) -> list[dict]:
    """Complete rows of a results CSV (missing file → []); a truncated last line is ignored."""
    path = Path(path)
    if not path.is_file():
        return []
    text = path.read_text()
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines = lines[:-1]  # partially written last line
    rows = []
    for raw in csv.DictReader(io.StringIO("".join(lines))):
        if None in raw or any(raw.get(c) is None for c in COLUMNS):
            continue  # malformed (too few / too many fields)
        try:
            rows.append(_parse(raw))
        except (ValueError, TypeError):
            continue
    return rows


def write_rows(path, rows) -> None:
    """Write the whole table atomically (temporary file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO(newline="")
    w = csv.DictWriter(buf, COLUMNS, extrasaction="ignore")
    w.writeheader()
    for r in rows:
        w.writerow(_format(r))
    atomic_write(path, buf.getvalue().encode("utf-8"))  # the temporary goes on any exception or Ctrl-C


def _format(row: dict) -> dict:
    out = dict(row)
    for k in ("psnr", "ssim", "seconds", "peak_mem_mb", "sigma_y"):
        if isinstance(out.get(k), float):
            out[k] = repr(out[k])  # round-trips exactly
    return out


def repair(path) -> list[dict]:
    """Read the complete rows; if the file had a broken tail, rewrite it without; return the rows."""
    path = Path(path)
    rows = read_rows(path)
    if path.is_file():
        text = path.read_text()
        n_lines = len([ln for ln in text.splitlines() if ln.strip()])
        if n_lines != len(rows) + 1 or not text.endswith("\n"):
            write_rows(path, rows)
    return rows


class Appender:
    """Append rows to a CSV one at a time, each flushed and fsynced (the header if the file is new)."""

    def __init__(self, path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        repair(self.path)
        new = not self.path.is_file() or self.path.stat().st_size == 0
        self.f = open(self.path, "a", newline="")
        self.w = csv.DictWriter(self.f, COLUMNS, extrasaction="ignore")
        if new:
            self.w.writeheader()
            self._flush()

    def _flush(self):
        self.f.flush()
        os.fsync(self.f.fileno())

    def append(self, row: dict) -> None:
        self.w.writerow(_format(row))
        self._flush()

    def close(self):
        self.f.close()


def sort_rows(rows) -> list[dict]:
    """Deduplicate by key (first occurrence wins) and sort by (task, method, image, steps, seed)."""
    seen, out = set(), []
    for r in rows:
        k = key_of(r)
        if k not in seen:
            seen.add(k)
            out.append(r)
    return sorted(out, key=lambda r: (r["task"], r["method"], r["image"], int(r["steps"]), int(r["seed"])))


# ----------------------------------------------------------------------------------------- summary
def _mean_std(values) -> tuple[float, float]:
    vals = [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    if not vals:
        return math.nan, math.nan
    return statistics.fmean(vals), (statistics.pstdev(vals) if len(vals) > 1 else 0.0)


def groups(rows) -> dict:
    g: dict = {}
    for r in rows:
        g.setdefault((r["task"], r["method"], int(r["steps"])), []).append(r)
    return g


def summary_markdown(rows, title: str = "Benchmark summary") -> str:
    """Mean ± std (population std over images) per task × method (× steps)."""
    lines = [f"# {title}", "",
             "Images on [0, 1]; σ_y in [0, 1] units (DPS/DAPS's 0.05 on [−1, 1] = 0.025 here).  "
             "PSNR/SSIM as skimage (data range 1).  NFE = network evaluations per image (denoiser calls × chains, so average=M counts M per call).  "
             "Mean ± std over images.", "",
             "| task | method | steps | n | PSNR (dB) | SSIM | NFE | seconds | peak MB | σ_y |",
             "|---|---|---:|---:|---|---|---:|---:|---:|---:|"]
    for (task, method, steps), rs in sorted(groups(rows).items()):
        p, ps = _mean_std([r["psnr"] for r in rs])
        s, ss = _mean_std([r["ssim"] for r in rs])
        n, _ = _mean_std([r["nfe"] for r in rs])
        t, _ = _mean_std([r["seconds"] for r in rs])
        mem, _ = _mean_std([r["peak_mem_mb"] for r in rs])
        sy = rs[0]["sigma_y"]
        lines.append(f"| {task} | {method} | {steps} | {len(rs)} | {p:.2f} ± {ps:.2f} | {s:.4f} ± {ss:.4f} | "
                     f"{n:.0f} | {t:.2f} | {mem:.0f} | {sy:.4g} |")
    # PSNR pivot: methods × tasks
    tasks = sorted({r["task"] for r in rows})
    methods = sorted({(r["method"], int(r["steps"])) for r in rows})
    if tasks and methods:
        lines += ["", "PSNR (dB), mean over images:", "",
                  "| method | " + " | ".join(tasks) + " |", "|---|" + "---:|" * len(tasks)]
        g = groups(rows)
        for method, steps in methods:
            cells = []
            for t in tasks:
                rs = g.get((t, method, steps))
                cells.append(f"{_mean_std([r['psnr'] for r in rs])[0]:.2f}" if rs else "–")
            lines.append(f"| {method} ({steps}) | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._@-]+", "_", text)


def image_dir(results_dir, image: str, task: str) -> Path:
    """Where a row's images live: RESULTS/images/<image path>/<task> (names made filesystem-safe)."""
    return Path(results_dir) / "images" / Path(*[_safe(p) for p in image.split("/")]) / _safe(task)
