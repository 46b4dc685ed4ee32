"""The shipped priors' recipes: architecture and training settings by name.

``default`` is the CPU prior: its 256² forward must stay fast on 2 CPU cores, so its architecture
is fixed whatever device trains it. ``large`` is the GPU prior (11.4 M parameters, 4 levels): trained
with bf16, large batches and large patches on one GPU (`benchmarks/gpu/train.sh`); its float16 weights
(≈ 23 MB) ship as two ≤ 16 MB shards. ``tiny`` exists to rehearse the recipe on CPU in seconds.
"""
from __future__ import annotations

#: name → TrainConfig fields (architecture and the settings of a GPU run)
PRESETS: dict[str, dict] = {
    "default": dict(base=32, mults=(1, 2, 4), blocks=2, batch=64, patch=96, lr=2e-4),
    "large": dict(base=64, mults=(1, 2, 2, 4), blocks=2, batch=96, patch=128, lr=4e-4),
    "tiny": dict(base=8, mults=(1, 2), blocks=1, batch=4, patch=16, lr=5e-4),
}

#: shipped weights are split into files of at most this size (what a device run can return per file)
SHARD_BYTES = 15 * 2**20


def preset(name: str) -> dict:
    if name not in PRESETS:
        raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(PRESETS)}")
    return dict(PRESETS[name])
