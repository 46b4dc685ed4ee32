"""Blur kernels: loading, validation, and the Gaussian / uniform / motion generators.

A kernel k is a 2-D float64 tensor, finite, with Σk > 0, normalised to Σk = 1 (so a blur keeps the
mean brightness).  Files: ``.png`` (and other images OpenCV reads; colour is averaged to grey),
``.npy``, ``.npz`` (the first array, or ``key``), ``.mat`` (``scipy.io.loadmat``: the first
numeric 2-D array, or ``key``).
"""
from __future__ import annotations

import math
import os
from typing import Optional, Sequence, Union

import numpy as np
import torch
from torch import Tensor

from .random import Seed, generator

KernelLike = Union[Tensor, np.ndarray, str, os.PathLike]


def _pair(v, name: str) -> tuple:
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise ValueError(f"{name} must be a number or a pair, got {v!r}")
        return tuple(v)
    return (v, v)


# -- loading --------------------------------------------------------------------------------------
def _load_image(path: str) -> np.ndarray:
    import cv2

    a = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if a is None:
        raise ValueError(f"cannot read kernel image {path!r}")
    if a.ndim == 3:
        a = a[..., :3].astype(np.float64).mean(axis=2)  # grey: mean of B, G, R; alpha dropped
    return a.astype(np.float64)


def _load_npz(path: str, key: Optional[str]) -> np.ndarray:
    with np.load(path, allow_pickle=False) as f:
        names = list(f.files)
        if not names:
            raise ValueError(f"kernel file {path!r} holds no arrays")
        if key is not None:
            if key not in names:
                raise ValueError(f"kernel file {path!r} has no array {key!r} (has {names})")
            return np.asarray(f[key])
        return np.asarray(f[names[0]])


def _load_mat(path: str, key: Optional[str]) -> np.ndarray:
    from scipy.io import loadmat

    try:
        d = loadmat(path)
    except Exception as e:  # scipy raises several types for unreadable files
        raise ValueError(f"cannot read kernel file {path!r}: {e}") from None
    names = [k for k in d if not k.startswith("__")]
    if key is not None:
        if key not in names:
            raise ValueError(f"kernel file {path!r} has no variable {key!r} (has {names})")
        return np.asarray(d[key])
    for k in names:
        v = np.asarray(d[k])
        if v.dtype.kind in "biuf" and np.squeeze(v).ndim == 2:
            return v
    raise ValueError(f"kernel file {path!r} holds no numeric 2-D array (variables: {names})")


def load_kernel(path: Union[str, os.PathLike], key: Optional[str] = None) -> Tensor:
    """Read a kernel file (.png/.jpg/.bmp/.tif, .npy, .npz, .mat), validated and normalised."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"kernel file {path!r} does not exist")
    ext = os.path.splitext(path)[1].lower()
    if ext == ".npy":
        try:
            a = np.load(path, allow_pickle=False)
        except Exception as e:
            raise ValueError(f"cannot read kernel file {path!r}: {e}") from None
    elif ext == ".npz":
        a = _load_npz(path, key)
    elif ext == ".mat":
        a = _load_mat(path, key)
    elif ext in (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"):
        a = _load_image(path)
    else:
        raise ValueError(f"unknown kernel file type {ext!r} for {path!r} (use .png, .npy, .npz or .mat)")
    return normalize_kernel(a)


def as_kernel(kernel: KernelLike, key: Optional[str] = None) -> Tensor:
    """A validated, normalised float64 CPU kernel from a tensor, an array or a file path."""
    if isinstance(kernel, (str, os.PathLike)):
        return load_kernel(kernel, key)
    return normalize_kernel(kernel)


def normalize_kernel(kernel) -> Tensor:
    """Validate a kernel (2-D after dropping leading singleton axes, finite, Σk > 0) and return k/Σk.

    Individual negative entries (e.g. from kernel estimation) are allowed: the blur stays an exact
    linear operator; only a non-positive sum, NaN/inf, or a wrong number of axes is rejected.
    """
    if isinstance(kernel, Tensor):
        k = kernel.detach().to("cpu", torch.float64)
    else:
        a = np.asarray(kernel)
        if a.dtype.kind not in "biuf":
            raise ValueError(f"blur kernel must be numeric, got dtype {a.dtype}")
        k = torch.from_numpy(a.astype(np.float64))
    while k.ndim > 2 and k.shape[0] == 1:
        k = k[0]
    if k.ndim != 2:
        raise ValueError(f"blur kernel must be 2-D, got shape {tuple(k.shape)}")
    if k.numel() == 0:
        raise ValueError("blur kernel is empty")
    if not bool(torch.isfinite(k).all()):
        raise ValueError("blur kernel contains NaN or infinite values")
    total = float(k.sum())
    if not total > 0:
        raise ValueError(f"blur kernel must have a positive sum, got {total:g}")
    return (k / total).contiguous()


def check_kernel_fits(kernel: Tensor, height: int, width: int) -> None:
    """Raise ValueError when the kernel is larger than the image."""
    kh, kw = kernel.shape[-2:]
    if kh > height or kw > width:
        raise ValueError(f"blur kernel {kh}x{kw} is larger than the image {height}x{width}")


# -- generators -----------------------------------------------------------------------------------
def gaussian_kernel(size, std) -> Tensor:
    """k[i, j] ∝ exp(−(i − cᵢ)²/(2σᵢ²) − (j − cⱼ)²/(2σⱼ²)), c = (size − 1)/2, normalised."""
    (h, w), (sy, sx) = _pair(size, "size"), _pair(std, "std")
    if min(h, w) < 1 or min(sy, sx) <= 0:
        raise ValueError(f"Gaussian kernel needs size ≥ 1 and std > 0, got size={size}, std={std}")
    gy = torch.exp(-0.5 * ((torch.arange(h, dtype=torch.float64) - (h - 1) / 2) / sy) ** 2)
    gx = torch.exp(-0.5 * ((torch.arange(w, dtype=torch.float64) - (w - 1) / 2) / sx) ** 2)
    return normalize_kernel(gy[:, None] * gx[None, :])


def uniform_kernel(size) -> Tensor:
    """k = 1/(h·w) on an h×w box."""
    h, w = _pair(size, "size")
    if min(h, w) < 1:
        raise ValueError(f"uniform kernel needs size ≥ 1, got {size}")
    return torch.full((h, w), 1.0 / (h * w), dtype=torch.float64)


def shake_trajectory(steps: int, intensity: float, seed: Seed = None) -> Tensor:
    """A random camera-shake path p_0..p_{n−1} in the plane (n×2, float64, arbitrary scale).

    Unit-speed random walk with momentum on the heading: the turn rate follows
    ω_k = m·ω_{k−1} + intensity·ε_k (m = 0.9, ε_k ~ N(0, 1)·0.35), the heading θ_k = θ_{k−1} + ω_k,
    and the step length is |1 + intensity·η_k/2| (η_k ~ N(0, 1)), so intensity = 0 gives a straight
    line and larger intensities curl and jitter the path.  θ_0 is uniform in [0, 2π).
    """
    if not 0 <= intensity:
        raise ValueError(f"motion intensity must be ≥ 0, got {intensity}")
    g = generator(seed)
    theta0 = float(torch.rand((), generator=g, dtype=torch.float64)) * 2 * math.pi
    eps = torch.randn(steps, generator=g, dtype=torch.float64) * 0.35 * intensity
    eta = torch.randn(steps, generator=g, dtype=torch.float64)
    momentum = 0.9
    omega = torch.zeros(steps, dtype=torch.float64)
    w = 0.0
    for k in range(steps):  # scalar recursion ω_k = m ω_{k−1} + ε_k
        w = momentum * w + float(eps[k])
        omega[k] = w
    theta = theta0 + torch.cumsum(omega, 0)
    speed = (1 + 0.5 * intensity * eta).abs()
    step = torch.stack([speed * torch.sin(theta), speed * torch.cos(theta)], dim=1)  # (row, col)
    return torch.cat([torch.zeros(1, 2, dtype=torch.float64), torch.cumsum(step, 0)], 0)[:-1]


def splat(points: Tensor, size: int, center: Sequence[float]) -> Tensor:
    """Rasterise points (n×2, (row, col) around ``center``) with bilinear sub-pixel splatting."""
    k = torch.zeros(size * size, dtype=torch.float64)
    p = points + torch.as_tensor(center, dtype=torch.float64)
    p = p.clamp(0, size - 1)
    i0 = p.floor().clamp(max=size - 2 if size > 1 else 0)
    f = p - i0
    i0 = i0.long()
    for di in (0, 1):
        for dj in (0, 1):
            wgt = (f[:, 0] if di else 1 - f[:, 0]) * (f[:, 1] if dj else 1 - f[:, 1])
            r = (i0[:, 0] + di).clamp(max=size - 1)
            c = (i0[:, 1] + dj).clamp(max=size - 1)
            k.index_add_(0, r * size + c, wgt)
    return k.view(size, size)


def motion_kernel(size: int, intensity: float = 0.5, seed: Seed = None, steps: Optional[int] = None) -> Tensor:
    """A seeded camera-shake kernel: `shake_trajectory`, centred on its centroid at the kernel's
    centre pixel (size//2), scaled to fill the kernel, splatted bilinearly, normalised to Σk = 1."""
    if int(size) != size or size < 3:
        raise ValueError(f"motion kernel size must be an integer ≥ 3, got {size}")
    size = int(size)
    steps = 16 * size if steps is None else steps
    path = shake_trajectory(steps, intensity, seed)
    path = path - path.mean(0)
    c = size // 2
    reach = min(c, size - 1 - c)
    extent = path.abs().max()
    if extent > 0:
        path = path * (reach / extent)
    return normalize_kernel(splat(path, size, (c, c)))
