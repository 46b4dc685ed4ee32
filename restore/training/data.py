"""Training patches: random crops of one or more folders of images, drawn on the training device.

Every image is decoded once (optionally downscaled by an integer factor with area averaging, which
hides the 8×8 block artefacts of web JPEGs) into one flat uint8 buffer on the device. A batch is a
single gather: patch b takes pixel (i, j) from image n_b at

    (r_b + u, c_b + v),  (u, v) = g_b(i, j),

where g_b is one of the 8 symmetries of the square (4 rotations × optional flip) and (r_b, c_b) a
uniform corner. Image, corner, symmetry and grey flag are drawn from a seeded CPU generator, so a
resumed run continues the same stream of patches on any device.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"}
LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601 weights of the grey patches


class DataError(ValueError):
    """A training-data problem the user must fix (one clear line, exit 2 from the CLI)."""


@dataclass(frozen=True)
class Source:
    """A folder of training images and the integer factor it is downscaled by before cropping."""

    folder: Path
    downscale: int = 1

    def __str__(self) -> str:
        return f"{self.folder}" + (f":{self.downscale}" if self.downscale > 1 else "")


def parse_source(spec: str) -> Source:
    """``DIR`` or ``DIR:N`` (downscale DIR's images by N, area averaging) → `Source`."""
    text = str(spec)
    head, sep, tail = text.rpartition(":")
    if sep and tail.isdigit() and head:
        factor = int(tail)
        if factor < 1:
            raise DataError(f"--data {text}: the downscale factor must be ≥ 1")
        return Source(Path(head), factor)
    return Source(Path(text))


def list_images(folder) -> list[Path]:
    """The image files under ``folder`` (recursively), sorted; an error if there are none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"training data folder not found: {folder}")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTS and p.is_file())
    if not files:
        raise DataError(f"no images ({', '.join(sorted(IMAGE_EXTS))}) in training data folder {folder}")
    return files


def load_rgb_uint8(path: Path, downscale: int = 1) -> torch.Tensor:
    """(3, H, W) uint8 RGB, area-downscaled by ``downscale``; grey files are replicated to RGB."""
    data = np.fromfile(str(path), dtype=np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if img is None:
        raise DataError(f"cannot read training image {path}")
    if downscale > 1:
        h, w = img.shape[0] // downscale, img.shape[1] // downscale
        if h < 1 or w < 1:
            raise DataError(f"training image {path} is smaller than its downscale factor {downscale}")
        img = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
    return torch.from_numpy(np.ascontiguousarray(img[:, :, ::-1].transpose(2, 0, 1)))


def split_validation(files: list[Path], n_val: int) -> tuple[list[Path], list[Path]]:
    """Hold out ``n_val`` files (every k-th, deterministic) of the first source for validation.

    Fewer files than ``n_val`` + 1 is an error: validation never reuses training images.
    """
    if n_val <= 0:
        return list(files), []
    if len(files) <= n_val:
        raise DataError(f"{len(files)} image(s) in {files[0].parent if files else 'the data'}: validation "
                        f"holds out {n_val}, so at least {n_val + 1} are needed (or lower --val-images)")
    k = len(files) // n_val
    val = files[::k][:n_val]
    held = set(val)
    return [f for f in files if f not in held], val


def load_sources(sources: list[Source], patch: int, n_val: int, skip_small: bool = False):
    """Decode every training image once.

    Returns (train images, validation images, train files): validation images come from the first
    source, as (1, 3, h, w) float crops in [0, 1] of at most 256² around the centre.
    Images smaller than ``patch`` (after downscaling) are an error naming the file, or with
    ``skip_small`` left out (and counted on stderr).
    """
    if not sources:
        raise DataError("no training data: give --data DIR at least once")
    train_files, val_files = [], []
    for i, src in enumerate(sources):
        files = list_images(src.folder)
        if i == 0:
            files, val_files = split_validation(files, n_val)
        train_files += [(f, src.downscale) for f in files]
    images, kept = [], []
    for f, factor in train_files:
        img = load_rgb_uint8(f, factor)
        if min(img.shape[-2:]) < patch:
            if skip_small:
                continue
            raise DataError(f"training image {f} is {img.shape[-1]}×{img.shape[-2]} after downscaling by "
                            f"{factor}, smaller than the {patch}×{patch} patch (remove it, lower --patch "
                            f"or pass --skip-small)")
        images.append(img)
        kept.append(f)
    if len(kept) < len(train_files):
        print(f"skipped {len(train_files) - len(kept)} training image(s) smaller than {patch}×{patch}",
              file=sys.stderr, flush=True)
    if not images:
        raise DataError(f"no training image is at least {patch}×{patch}")
    val = []
    for f in val_files:
        v = load_rgb_uint8(f, sources[0].downscale).float()[None] / 255
        H, W = v.shape[-2:]
        c = min(128, H // 2, W // 2)
        val.append(v[..., H // 2 - c: H // 2 + c, W // 2 - c: W // 2 + c])
    return images, val, kept


def _symmetry(u: torch.Tensor, v: torch.Tensor, op: torch.Tensor, p: int):
    """Source coordinates of the output pixel (u, v) under symmetry ``op`` ∈ 0..7 of the p×p square.

    Bit 2 flips the columns; bits 0–1 rotate by 90°·k (counter-clockwise, as ``torch.rot90``):
    out = rot90(flip(crop), k) ⇔ out[u, v] = flip(crop)[·] with (u, v) rotated back k times.
    """
    k = (op & 3)[:, None, None]
    q = p - 1
    su = torch.where(k == 0, u, torch.where(k == 1, v, torch.where(k == 2, q - u, q - v)))
    sv = torch.where(k == 0, v, torch.where(k == 1, q - u, torch.where(k == 2, q - v, u)))
    flip = ((op & 4) > 0)[:, None, None]
    return su, torch.where(flip, q - sv, sv)


class PatchSampler:
    """Batches of (B, 3, p, p) float patches in [-1, 1] drawn from images held on ``device``.

    ``gray_prob``: fraction of patches converted to grey (R = G = B, BT.601 luma) so the prior also
    models grayscale images.
    """

    def __init__(self, images: list[torch.Tensor], gray_prob: float = 0.1, device="cpu"):
        if not images:
            raise DataError("no training images")
        self.device = torch.device(device)
        self.gray_prob = gray_prob
        self.heights = torch.tensor([im.shape[-2] for im in images])
        self.widths = torch.tensor([im.shape[-1] for im in images])
        sizes = self.heights * self.widths
        self.offsets = torch.cat([torch.zeros(1, dtype=torch.long), sizes.cumsum(0)[:-1]])
        self.flat = torch.cat([im.reshape(3, -1) for im in images], dim=1).to(self.device)
        self.luma = torch.tensor(LUMA, device=self.device).view(1, 3, 1, 1)

    @property
    def pixels(self) -> int:
        return int(self.flat.shape[1])

    def __len__(self) -> int:
        return len(self.heights)

    def batch(self, size: int, patch: int, gen: torch.Generator) -> torch.Tensor:
        n = torch.randint(len(self), (size,), generator=gen)
        op = torch.randint(8, (size,), generator=gen)
        gray = torch.rand(size, generator=gen) < self.gray_prob
        H, W = self.heights[n], self.widths[n]
        r = (torch.rand(size, generator=gen, dtype=torch.float64) * (H - patch + 1)).long()
        c = (torch.rand(size, generator=gen, dtype=torch.float64) * (W - patch + 1)).long()
        dev = self.device  # the B draws above come from the CPU stream; the p² work happens on the device
        start, W, op = (self.offsets[n] + r * W + c).to(dev), W.to(dev), op.to(dev)
        ar = torch.arange(patch, device=dev)
        su, sv = _symmetry(ar.view(1, -1, 1).expand(size, patch, patch),
                           ar.view(1, 1, -1).expand(size, patch, patch), op, patch)
        index = start[:, None, None] + su * W[:, None, None] + sv
        out = self.flat[:, index.reshape(-1)].view(3, size, patch, patch).transpose(0, 1)
        out = out.float() / 255.0
        g = gray.to(dev).view(-1, 1, 1, 1)
        out = torch.where(g, (out * self.luma).sum(1, keepdim=True).expand_as(out), out)
        return out * 2 - 1
