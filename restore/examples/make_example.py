"""Render the bundled example (our own synthetic scene, no third-party image) and degrade it.

    python -m restore.examples.make_example          # rewrites example.png and example_blurred.{png,json}

The scene is drawn with OpenCV from a fixed seed: a sky gradient, a sun, hills with a noise
texture, a house with windows and a roof, a fence, a tree, and text (192×256, 8-bit RGB).  The
blurred version is made by the command line itself, so its sidecar records the exact operator:

    restore simulate example.png --task deblur --kernel gauss --kernel-std 2 --noise 0.01 --seed 2024
        -o example_blurred.png
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SEED = 2024
SIMULATE = ["--task", "deblur", "--kernel", "gauss", "--kernel-std", "2", "--noise", "0.01", "--seed", str(SEED)]


def render(height: int = 192, width: int = 256, seed: int = SEED) -> np.ndarray:
    """The scene as an (H, W, 3) uint8 RGB array."""
    import cv2

    rng = np.random.default_rng(seed)
    H, W = height, width
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    img = np.zeros((H, W, 3), np.float32)
    t = (yy / H)[..., None]  # sky: deep blue to pale near the horizon
    img[:] = (1 - t) * np.array([0.20, 0.42, 0.80]) + t * np.array([0.85, 0.88, 0.95])
    cv2.circle(img, (int(W * 0.8), int(H * 0.18)), 16, (1.0, 0.85, 0.35), -1, cv2.LINE_AA)
    for k, (amp, base, col) in enumerate([(10, 0.55, (0.35, 0.55, 0.35)), (14, 0.68, (0.22, 0.45, 0.20))]):
        phase = rng.uniform(0, 2 * np.pi)
        ridge = base * H + amp * np.sin(xx[0] / W * (3 + k) * np.pi + phase) + 4 * np.sin(xx[0] / 7.0)
        hill = yy > ridge[None, :]
        img[hill] = col
    tex = cv2.GaussianBlur(rng.standard_normal((H, W)).astype(np.float32), (0, 0), 1.2)
    ground = yy > 0.6 * H
    img[ground] += 0.06 * tex[ground, None]
    # house
    x0, y0, hw, hh = int(W * 0.18), int(H * 0.52), 70, 48
    cv2.rectangle(img, (x0, y0), (x0 + hw, y0 + hh), (0.80, 0.72, 0.60), -1)
    roof = np.array([[x0 - 8, y0], [x0 + hw // 2, y0 - 30], [x0 + hw + 8, y0]], np.int32)
    cv2.fillPoly(img, [roof], (0.60, 0.20, 0.15), cv2.LINE_AA)
    for wx in (x0 + 10, x0 + 44):
        cv2.rectangle(img, (wx, y0 + 10), (wx + 16, y0 + 24), (0.25, 0.35, 0.50), -1)
        cv2.line(img, (wx + 8, y0 + 10), (wx + 8, y0 + 24), (0.95, 0.95, 0.95), 1)
        cv2.line(img, (wx, y0 + 17), (wx + 16, y0 + 17), (0.95, 0.95, 0.95), 1)
    cv2.rectangle(img, (x0 + 30, y0 + 26), (x0 + 40, y0 + hh), (0.35, 0.22, 0.12), -1)
    for i in range(0, 14):  # brick rows on the house wall
        cv2.line(img, (x0, y0 + 3 * i + 2), (x0 + hw, y0 + 3 * i + 2), (0.72, 0.64, 0.52), 1)
    # fence
    fy = int(H * 0.86)
    for fx in range(4, W, 9):
        cv2.rectangle(img, (fx, fy - 14), (fx + 4, fy + 10), (0.92, 0.90, 0.85), -1)
    cv2.line(img, (0, fy - 8), (W, fy - 8), (0.92, 0.90, 0.85), 2)
    cv2.line(img, (0, fy + 2), (W, fy + 2), (0.92, 0.90, 0.85), 2)
    # tree
    tx = int(W * 0.72)
    cv2.rectangle(img, (tx - 3, int(H * 0.50)), (tx + 3, int(H * 0.72)), (0.35, 0.25, 0.15), -1)
    for _ in range(60):
        cx, cy = tx + rng.normal(0, 12), H * 0.45 + rng.normal(0, 10)
        g = rng.uniform(0.25, 0.55)
        cv2.circle(img, (int(cx), int(cy)), int(rng.integers(3, 7)), (0.15, g, 0.15), -1, cv2.LINE_AA)
    text = np.zeros((H, W), np.uint8)  # OpenCV draws text on 8-bit images only: use it as a coverage mask
    cv2.putText(text, "restore", (int(W * 0.52), int(H * 0.97)), cv2.FONT_HERSHEY_SIMPLEX, 0.6, 255, 2, cv2.LINE_AA)
    a = (text.astype(np.float32) / 255)[..., None]
    img = (1 - a) * img + a * np.array([0.1, 0.1, 0.1], np.float32)
    img += 0.01 * rng.standard_normal(img.shape).astype(np.float32)  # a little sensor grain
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)


def main() -> None:
    import cv2

    sharp, blurred = HERE / "example.png", HERE / "example_blurred.png"
    cv2.imwrite(str(sharp), render()[:, :, ::-1])
    subprocess.run([sys.executable, "-m", "restore.cli", "simulate", str(sharp), *SIMULATE, "-o", str(blurred),
                    "--overwrite", "--quiet"], check=True)
    print(f"wrote {sharp}, {blurred} and {blurred.with_suffix('.json')}")


if __name__ == "__main__":
    main()
