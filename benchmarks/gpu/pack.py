"""Pack what a GPU training run needs beside the code into one folder (≤ a size budget).

    python benchmarks/gpu/pack.py [--out gpu_pack] [--max-mb 34] [--init DIR]

* ``data/CBSD432``: the BSDS training photos, original JPEG bytes (32 MB; validation is held out of it);
* ``data/imagenet``: ImageNet sample images area-downscaled by 2 (hides their 8×8 JPEG blocks) and
  re-encoded as JPEG quality 92, in a seeded order, until the budget is reached;
* ``init/``: with ``--init DIR``, the weights a previous GPU run returned (``MODEL*.safetensors`` +
  ``MODEL.json``), so the next run continues from them;
* ``pack.json``: the sources as ``restore train --data`` takes them, and the byte count.

The code (tracked files, ~10 MB) travels with the working tree; keep code + pack under ~45 MB.
``gpu_pack/`` is git-ignored: the images are never committed.
"""
from __future__ import annotations

import argparse
import json
import random
import shutil
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "data" / "train"


def _size(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def pack(out: Path, max_mb: float, cbsd: Path, imagenet: Path | None, init: Path | None, seed: int = 0) -> dict:
    if out.exists():
        shutil.rmtree(out)
    budget = int(max_mb * 2**20)
    base = out / "data" / "CBSD432"
    base.mkdir(parents=True)
    for f in sorted(cbsd.iterdir()):
        if f.suffix.lower() in (".jpg", ".jpeg", ".png"):
            shutil.copyfile(f, base / f.name)
    if init is not None:
        (out / "init").mkdir()
        for f in sorted(init.iterdir()):
            if f.suffix in (".safetensors", ".json"):
                shutil.copyfile(f, out / "init" / f.name)
    used = _size(out)
    sources = ["data/CBSD432"]
    if imagenet is not None and used < budget:
        extra = out / "data" / "imagenet"
        extra.mkdir()
        files = sorted(p for p in imagenet.iterdir() if p.suffix.lower() in (".jpeg", ".jpg", ".png"))
        random.Random(seed).shuffle(files)
        for f in files:
            img = cv2.imdecode(np.fromfile(str(f), dtype=np.uint8), cv2.IMREAD_COLOR)
            if img is None or min(img.shape[:2]) < 2 * 128:  # keep images that still give 128² patches
                continue
            small = cv2.resize(img, (img.shape[1] // 2, img.shape[0] // 2), interpolation=cv2.INTER_AREA)
            ok, buf = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 92])
            if not ok or used + buf.size > budget:
                break
            (extra / (f.stem + ".jpg")).write_bytes(buf.tobytes())
            used += buf.size
        if any(extra.iterdir()):
            sources.append("data/imagenet")
    manifest = {"sources": sources, "bytes": _size(out), "images": {s: len(list((out / s).iterdir())) for s in sources}}
    (out / "pack.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "gpu_pack"))
    ap.add_argument("--max-mb", type=float, default=34.0)
    ap.add_argument("--cbsd", default=str(SHARED / "CBSD432"))
    ap.add_argument("--imagenet", default=str(SHARED / "ImageNet1k-sample"))
    ap.add_argument("--init", default=None, help="folder with a previous run's returned MODEL weights")
    a = ap.parse_args(argv)
    m = pack(Path(a.out), a.max_mb, Path(a.cbsd), Path(a.imagenet) if a.imagenet else None,
             Path(a.init) if a.init else None)
    print(f"packed {m['images']} into {a.out}: {m['bytes'] / 2**20:.1f} MB")


if __name__ == "__main__":
    main()
