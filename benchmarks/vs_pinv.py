"""Does each method beat the pseudo-inverse?  Mean PSNR gain over ``pinv`` per task × method, and on
how many images it wins, from a benchmark table:

    python benchmarks/vs_pinv.py benchmarks/results/tuned128/results.csv
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from restore.bench.results import read_rows  # noqa: E402


def table(rows) -> str:
    pinv = {(r["task"], r["image"]): r["psnr"] for r in rows if r["method"] == "pinv"}
    tasks = sorted({r["task"] for r in rows})
    methods = sorted({r["method"] for r in rows} - {"pinv"})
    lines = ["| method | " + " | ".join(tasks) + " |", "|---|" + "---:|" * len(tasks)]
    for m in methods:
        cells = []
        for t in tasks:
            d = [r["psnr"] - pinv[(t, r["image"])] for r in rows
                 if r["method"] == m and r["task"] == t and (t, r["image"]) in pinv]
            if not d:
                cells.append("–")
                continue
            wins = sum(v > 0 for v in d)
            mark = "" if wins == len(d) else " ✗"
            cells.append(f"{sum(d) / len(d):+.2f} ({wins}/{len(d)}){mark}")
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(table(read_rows(sys.argv[1])))
