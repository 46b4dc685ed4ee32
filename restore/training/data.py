"""Training patches: random crops of a folder of images, flips and 90° rotations.

All images are decoded once into memory as uint8 (CBSD432 is ~200 MB); a batch is drawn from a
seeded generator, so a resumed run continues the same stream of patches.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"}


def list_images(folder) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"training data folder not found: {folder}")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTS)
    if not files:
        raise ValueError(f"no images in {folder}")
    return files


def load_rgb_uint8(path: Path) -> torch.Tensor:
    """(3, H, W) uint8 RGB."""
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError(f"cannot read image {path}")
    return torch.from_numpy(np.ascontiguousarray(img[:, :, ::-1].transpose(2, 0, 1)))


class PatchSampler:
    """Draws batches of (B, 3, p, p) float patches in [-1, 1] from in-memory images.

    ``gray_prob``: fraction of patches converted to grey (R = G = B) so the prior also models
    grayscale images.
    """

    def __init__(self, files, gray_prob: float = 0.1):
        self.images = [load_rgb_uint8(f) for f in files]
        self.gray_prob = gray_prob

    def batch(self, size: int, patch: int, gen: torch.Generator) -> torch.Tensor:
        out = torch.empty(size, 3, patch, patch)
        idx = torch.randint(len(self.images), (size,), generator=gen)
        ops = torch.randint(8, (size,), generator=gen)
        gray = torch.rand(size, generator=gen) < self.gray_prob
        for b in range(size):
            img = self.images[idx[b]]
            _, H, W = img.shape
            i = int(torch.randint(H - patch + 1, (1,), generator=gen))
            j = int(torch.randint(W - patch + 1, (1,), generator=gen))
            crop = img[:, i:i + patch, j:j + patch].float() / 255.0
            k = int(ops[b])
            if k & 4:
                crop = crop.flip(-1)
            crop = torch.rot90(crop, k & 3, dims=(-2, -1))
            if gray[b]:
                crop = (0.299 * crop[0] + 0.587 * crop[1] + 0.114 * crop[2]).expand(3, -1, -1)
            out[b] = crop
        return out * 2 - 1
