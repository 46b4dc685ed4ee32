"""Plot the default prior's training curve (loss and validation PSNR) from a run's history.json.

    python benchmarks/plot_training.py runs/default/history.json docs/prior_training.png
"""
from __future__ import annotations

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(history_path: str, out_png: str) -> None:
    hist = json.loads(open(history_path).read())
    steps = [h["step"] for h in hist]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.5))
    a.plot(steps, [h["loss"] for h in hist])
    a.set_xlabel("step")
    a.set_ylabel("training loss (EDM-weighted, per pixel)")
    a.set_yscale("log")
    b.plot(steps, [h["val_psnr"] for h in hist], color="C1")
    b.set_xlabel("step")
    b.set_ylabel("validation PSNR at σ=25/255 (dB)")
    b.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out_png, dpi=100)


if __name__ == "__main__":
    main(*sys.argv[1:3])
