"""Seeded inpainting masks: 1 = known (measured) pixel, 0 = missing.

``shape`` is (H, W) — giving a (1, 1, H, W) mask — or a full (B, C, H, W), in which case every
(image, channel) plane is drawn independently (use C = 1 to share a mask across colour channels).
All random choices come from a CPU ``torch.Generator`` made from ``seed`` (`operators.random`).
"""
from __future__ import annotations

import math
import os
from typing import Optional, Sequence

import numpy as np
import torch
from torch import Tensor

from .random import Seed, generator


def _planes(shape: Sequence[int]):
    shape = tuple(int(s) for s in shape)
    if len(shape) == 2:
        return (1, 1) + shape
    if len(shape) == 4:
        return shape
    raise ValueError(f"mask shape must be (H, W) or (B, C, H, W), got {shape}")


def random_mask(shape, fraction_missing: float, seed: Seed = None) -> Tensor:
    """Exactly round(fraction_missing·H·W) pixels of each plane missing, chosen uniformly."""
    if not 0 <= fraction_missing <= 1:
        raise ValueError(f"fraction_missing must be in [0, 1], got {fraction_missing}")
    b, c, h, w = _planes(shape)
    g = generator(seed)
    n_missing = round(fraction_missing * h * w)
    m = torch.ones(b * c, h * w)
    for i in range(b * c):
        m[i, torch.randperm(h * w, generator=g)[:n_missing]] = 0
    return m.view(b, c, h, w)


def box_mask(shape, size, margin=0, seed: Seed = None) -> Tensor:
    """One missing box of ``size`` (int or (h, w)) at a uniformly random position whose distance to
    every border is at least ``margin`` (int or (top/bottom, left/right))."""
    b, c, h, w = _planes(shape)
    bh, bw = size if isinstance(size, (tuple, list)) else (size, size)
    mh, mw = margin if isinstance(margin, (tuple, list)) else (margin, margin)
    if bh + 2 * mh > h or bw + 2 * mw > w or min(bh, bw, mh, mw) < 0:
        raise ValueError(f"a {bh}x{bw} box with margin {mh}x{mw} does not fit in a {h}x{w} image")
    g = generator(seed)
    m = torch.ones(b * c, h, w)
    for i in range(b * c):
        top = mh + int(torch.randint(0, h - 2 * mh - bh + 1, (1,), generator=g))
        left = mw + int(torch.randint(0, w - 2 * mw - bw + 1, (1,), generator=g))
        m[i, top : top + bh, left : left + bw] = 0
    return m.view(b, c, h, w)


def freeform_mask(shape, seed: Seed = None, strokes=(1, 5), vertices=(4, 12), max_width: Optional[int] = None,
                  max_length: Optional[int] = None) -> Tensor:
    """Random brush strokes (missing pixels) in the style of free-form inpainting benchmarks.

    Each plane gets n ~ U{strokes} strokes; a stroke starts at a uniform point and makes
    v ~ U{vertices} segments with random heading (a turn of ±U[0, 2π/5] around a random base
    direction, alternating sides), length U[0, max_length] and width U[max_width/4, max_width]
    (defaults max(H, W)/8 and max(H, W)/4), drawn with round joints by OpenCV.
    """
    import cv2

    b, c, h, w = _planes(shape)
    g = generator(seed)
    size = max(h, w)
    max_width = max(2, size // 8) if max_width is None else int(max_width)
    max_length = max(2, size // 4) if max_length is None else int(max_length)

    def u(lo=0.0, hi=1.0):
        return lo + (hi - lo) * float(torch.rand((), generator=g, dtype=torch.float64))

    def ri(lo, hi):  # integer in [lo, hi]
        return int(torch.randint(lo, hi + 1, (1,), generator=g))

    out = np.ones((b * c, h, w), np.float32)
    for i in range(b * c):
        canvas = np.zeros((h, w), np.uint8)
        for _ in range(ri(*strokes)):
            y, x = u(0, h - 1), u(0, w - 1)
            base = u(0, 2 * math.pi)
            width = max(1, int(round(u(max_width / 4, max_width))))
            for k in range(ri(*vertices)):
                turn = u(0, 2 * math.pi / 5)
                angle = base + (turn if k % 2 else -turn)
                length = u(0, max_length)
                ny = min(max(y + length * math.sin(angle), 0), h - 1)
                nx = min(max(x + length * math.cos(angle), 0), w - 1)
                cv2.line(canvas, (int(round(x)), int(round(y))), (int(round(nx)), int(round(ny))), 1, width)
                cv2.circle(canvas, (int(round(nx)), int(round(ny))), width // 2, 1, -1)
                y, x = ny, nx
        out[i][canvas > 0] = 0
    return torch.from_numpy(out).view(b, c, h, w)


def mask_from_file(path, shape: Optional[Sequence[int]] = None) -> Tensor:
    """Read a mask: **white / nonzero = known pixel (1), black / zero = missing (0)**.

    Images (.png, .jpg, .bmp, .tif): a pixel is known when its grey level (mean of the colour
    channels, alpha ignored) is above half of full scale, so anti-aliased or JPEG edges split
    cleanly.  Arrays (.npy, .npz first array): nonzero = known.  Returns (1, 1, H, W) float32.
    ``shape`` ((H, W) or (..., H, W)) is checked: a size mismatch is a ValueError naming both sizes.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"mask file {path!r} does not exist")
    ext = os.path.splitext(path)[1].lower()
    if ext in (".npy", ".npz"):
        try:
            a = np.load(path, allow_pickle=False)
            if ext == ".npz":
                with a:
                    a = np.asarray(a[a.files[0]])
        except Exception as e:
            raise ValueError(f"cannot read mask file {path!r}: {e}") from None
        a = np.squeeze(np.asarray(a))
        if a.ndim != 2:
            raise ValueError(f"mask array in {path!r} must be 2-D, got shape {a.shape}")
        known = a != 0
    else:
        import cv2

        a = cv2.imread(path, cv2.IMREAD_UNCHANGED)
        if a is None:
            raise ValueError(f"cannot read mask image {path!r}")
        full = float(np.iinfo(a.dtype).max) if a.dtype.kind in "ui" else 1.0
        grey = a[..., :3].astype(np.float64).mean(axis=2) if a.ndim == 3 else a.astype(np.float64)
        known = grey > full / 2
    if shape is not None:
        h, w = tuple(shape)[-2:]
        if known.shape != (h, w):
            raise ValueError(f"mask {path!r} is {known.shape[0]}x{known.shape[1]} but the image is {h}x{w}")
    return torch.from_numpy(known.astype(np.float32))[None, None]
