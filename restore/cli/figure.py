"""The ``--compare`` figure: input | restoration [| reference | error] [| uncertainty], side by side.

Drawn with matplotlib's Agg backend (no display needed) and encoded in memory; the caller stages the
bytes with the command's other outputs (`outputs.OutputSet`).
The input panel shows the measurement at the restoration's size (nearest-neighbour upscaling for
super-resolution, so the pixels stay visible).  The error panel is |restored − reference| averaged
over channels; the uncertainty panel is the per-pixel std over the --samples.
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F


def _rgb(x: torch.Tensor) -> np.ndarray:
    a = x[0].detach().to("cpu", torch.float32).clamp(0, 1).permute(1, 2, 0).numpy()
    return a[..., 0] if a.shape[2] == 1 else a


def _fit(x: torch.Tensor, hw) -> torch.Tensor:
    if tuple(x.shape[-2:]) == tuple(hw):
        return x
    return F.interpolate(x.float(), size=tuple(hw), mode="nearest")


def compare_figure(path, measurement, restored, reference=None, std=None, titles=None) -> bytes:
    """The comparison figure encoded in the format of ``path``'s extension (png, pdf, svg, jpg)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure

    titles = titles or {}
    hw = restored.shape[-2:]
    panels = [("input", _fit(measurement, hw), titles.get("input", "input")),
              ("restored", restored, titles.get("restored", "restored"))]
    if reference is not None:
        err = (restored.float() - reference.float().to(restored.device)).abs().mean(dim=1, keepdim=True)
        panels += [("reference", reference, "reference"), ("error", err, titles.get("error", "|error|"))]
    if std is not None:
        panels.append(("std", std.mean(dim=1, keepdim=True), titles.get("std", "uncertainty (std)")))

    h, w = int(hw[0]), int(hw[1])
    scale = max(2.2 / h, min(4.0 / h, 4.0 / w, 1 / 60))  # inches per pixel: readable for tiny and big images
    fig = Figure(figsize=(len(panels) * w * scale + 0.4, h * scale + 0.6), dpi=max(100, int(1 / scale)))
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (kind, img, title) in zip(axes, panels):
        a = _rgb(img)
        if kind in ("error", "std"):
            im = ax.imshow(a, cmap="magma", vmin=0, vmax=max(float(a.max()), 1e-6), interpolation="nearest")
            fig.colorbar(im, ax=ax, fraction=0.046, pad=0.02)
        else:
            ax.imshow(a, cmap="gray" if a.ndim == 2 else None, vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.set_axis_off()
    fig.tight_layout()
    path = Path(path)
    fmt = (path.suffix.lstrip(".") or "png").lower()
    fmt = {"jpeg": "jpg", "tif": "tiff"}.get(fmt, fmt)
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt)
    return buf.getvalue()
