"""Plots of a results table (matplotlib, Agg backend): PSNR vs network evaluations, example grid."""
from __future__ import annotations

import io
from pathlib import Path

from ..io import atomic_write
from .results import _mean_std, groups, image_dir


def _save(fig, path: Path) -> None:
    """Render to memory, then write atomically (an interrupted run never leaves half a PNG)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    atomic_write(path, buf.getvalue())


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def psnr_vs_nfe(rows, path) -> Path:
    """One panel per task: mean PSNR against mean NFE, one marker per method (NFE 0 drawn at 1)."""
    plt = _plt()
    g = groups(rows)
    tasks = sorted({t for t, _, _ in g})
    methods = sorted({m for _, m, _ in g})
    n = max(len(tasks), 1)
    fig, axes = plt.subplots(1, n, figsize=(4 * n, 3.6), squeeze=False)
    cmap = plt.get_cmap("tab20")
    for ax, task in zip(axes[0], tasks):
        for i, method in enumerate(methods):
            pts = [(max(_mean_std([r["nfe"] for r in rs])[0], 1), _mean_std([r["psnr"] for r in rs])[0])
                   for (t, m, _), rs in g.items() if t == task and m == method]
            if pts:
                xs, ys = zip(*sorted(pts))
                ax.plot(xs, ys, "o-", color=cmap(i % 20), label=method)
        ax.set_xscale("log")
        ax.set_title(task)
        ax.set_xlabel("network evaluations (0 → 1)")
        ax.set_ylabel("PSNR (dB)")
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=7, loc="best")
    fig.tight_layout()
    path = Path(path)
    _save(fig, path)
    plt.close(fig)
    return path


def example_grid(rows, results_dir, path, image: str | None = None) -> Path:
    """Rows: tasks; columns: ground truth, measurement, each method — for one image (the first)."""
    import numpy as np

    from ..io import read_image

    plt = _plt()
    results_dir = Path(results_dir)
    if image is None:
        image = sorted({r["image"] for r in rows})[0] if rows else None
    tasks = sorted({r["task"] for r in rows if r["image"] == image})
    methods = sorted({(r["method"], int(r["steps"]), int(r["seed"])) for r in rows if r["image"] == image})
    cols = 2 + len(methods)
    fig, axes = plt.subplots(max(len(tasks), 1), cols, figsize=(1.8 * cols, 1.9 * max(len(tasks), 1)),
                             squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    psnr = {(r["task"], r["method"], int(r["steps"]), int(r["seed"])): r["psnr"] for r in rows if r["image"] == image}
    for i, task in enumerate(tasks):
        d = image_dir(results_dir, image, task)
        files = [("truth", d / "truth.png"), ("measurement", d / "measurement.png")]
        files += [(f"{m}\n{psnr.get((task, m, s, sd), float('nan')):.2f} dB", d / f"{m}_s{s}_seed{sd}.png")
                  for m, s, sd in methods]
        for j, (label, f) in enumerate(files):
            ax = axes[i][j]
            if not f.is_file():
                continue  # method not applicable to this task (e.g. rl on sr4)
            if f.is_file():
                x, _ = read_image(f)
                arr = x[0].permute(1, 2, 0).numpy()
                ax.imshow(np.clip(arr.squeeze(-1) if arr.shape[-1] == 1 else arr, 0, 1),
                          cmap="gray" if arr.shape[-1] == 1 else None, interpolation="nearest")
            ax.set_title(label, fontsize=6)
        axes[i][0].text(-0.1, 0.5, task, transform=axes[i][0].transAxes, rotation=90, ha="right",
                        va="center", fontsize=7)
    fig.suptitle(f"examples: {image}", fontsize=8)
    fig.tight_layout()
    path = Path(path)
    _save(fig, path)
    plt.close(fig)
    return path
