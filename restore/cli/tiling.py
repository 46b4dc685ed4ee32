"""Overlapping tiles for large images (local operators only: blur and identity).

Restoring a large image in one piece needs memory proportional to H·W (and to the number of
samples K, and more again for gradient-based methods).  Above a threshold the measurement y is cut
into square tiles of side T that overlap by O pixels; each tile is restored on its own with the
same operator (a blur is shift-invariant, so the tile of y is the blur of the matching tile of x up
to a band of the kernel's half-width at the tile's edges, which the overlap absorbs), and the tiles
are blended with weights that rise as a raised cosine across the overlap,

    w(i) = ½ − ½·cos(π (i + ½) / O)   for the first / last O pixels of an interior tile edge, else 1,

so x = Σ_t w_t x_t / Σ_t w_t has no seams.  Tile t gets its own sampler seed, derived from the run's
seed and t (`operators.derive_seed`), so the result is reproducible.  Only operators whose output
pixel depends on a small neighbourhood of input pixels may be tiled (blur, identity); masks and
downsampling are not tiled.

Memory: the device holds y and one tile's solve (K·3·T² pixels plus the network's activations);
the blended result is accumulated in host memory (K + 1 float32 images).  So the image size is
limited by host RAM (≈ 12·(K + 2) bytes per pixel), not by the GPU.
"""
from __future__ import annotations

import math

import torch

from operators import derive_seed

#: tile when K·H·W exceeds this many pixels (K = samples)
AUTO_PIXELS = 1024 * 1024
AUTO_TILE = 512
#: tile sides tried, largest first, when the run would not fit in memory (`pipeline.fit_memory`)
FALLBACK_TILES = (384, 256, 192, 128, 96, 64)


def starts(n: int, tile: int, overlap: int) -> list[int]:
    """Tile origins along an axis of length n: stride tile − overlap, the last tile flush with the end."""
    if n <= tile:
        return [0]
    stride = tile - overlap
    out = list(range(0, n - tile, stride))
    out.append(n - tile)
    return out


def ramp(length: int, lead: int, trail: int, device, dtype) -> torch.Tensor:
    """1-D blending weights: raised-cosine rise over ``lead`` pixels, fall over ``trail``, 1 between."""
    w = torch.ones(length, device=device, dtype=dtype)
    for n, flip in ((lead, False), (trail, True)):
        if n > 0:
            i = torch.arange(n, device=device, dtype=dtype)
            r = 0.5 - 0.5 * torch.cos(math.pi * (i + 0.5) / n)
            if flip:
                w[length - n:] = w[length - n:] * r.flip(0)
            else:
                w[:n] = w[:n] * r
    return w


def plan(shape, tile: int, overlap: int) -> list[tuple[int, int, int, int]]:
    """(top, left, height, width) of every tile of an image of ``shape`` (..., H, W)."""
    h, w = shape[-2:]
    th, tw = min(tile, h), min(tile, w)
    return [(t, l, th, tw) for t in starts(h, th, overlap) for l in starts(w, tw, overlap)]


def solve_tiled(y: torch.Tensor, solve_one, tile: int, overlap: int, seed: int) -> torch.Tensor:
    """Restore y (1, C, H, W) tile by tile: ``solve_one(y_tile, seed_t) -> (K, C, h, w)``; returns (K, C, H, W)."""
    if overlap * 2 >= tile:
        raise ValueError(f"tile size {tile} must be more than twice the overlap {overlap}")
    tiles = plan(y.shape, tile, overlap)
    acc = wsum = None
    H, W = y.shape[-2:]
    for i, (t, l, th, tw) in enumerate(tiles):
        xt = solve_one(y[..., t:t + th, l:l + tw], derive_seed(seed, i) if len(tiles) > 1 else seed)
        xt = xt.to("cpu", torch.float32)  # the blend lives in host memory: the device holds one tile at a time
        if acc is None:
            acc = torch.zeros(xt.shape[0], xt.shape[1], H, W, device=xt.device, dtype=xt.dtype)
            wsum = torch.zeros(1, 1, H, W, device=xt.device, dtype=xt.dtype)
        wy = ramp(th, overlap if t > 0 else 0, overlap if t + th < H else 0, xt.device, xt.dtype)
        wx = ramp(tw, overlap if l > 0 else 0, overlap if l + tw < W else 0, xt.device, xt.dtype)
        wt = wy[:, None] * wx[None, :]
        acc[..., t:t + th, l:l + tw] += xt * wt
        wsum[..., t:t + th, l:l + tw] += wt
    return acc / wsum
