"""Run under ``torchrun --nproc_per_node 2``: three trainings in one launch (one import of torch per rank).

``a``: 4 steps in one go; ``b``: 2 steps, then resumed to 4.  The script sets up the process group once
(``train`` uses a group it finds and leaves it up); the test compares the folders.
"""
import sys

import torch

from restore.training.loop import TrainConfig, train


def cfg(data: str, out: str, steps: int) -> TrainConfig:
    return TrainConfig(data=data, out=out, steps=steps, batch=2, patch=16, base=8, mults=(1, 2), blocks=1,
                       ckpt_every=2, val_images=1, device="cpu")


if __name__ == "__main__":
    data, root = sys.argv[1], sys.argv[2]
    torch.distributed.init_process_group("gloo")
    train(cfg(data, f"{root}/a", 4), progress=False)
    train(cfg(data, f"{root}/b", 2), progress=False)
    train(cfg(data, f"{root}/b", 4), resume=True, progress=False)
    assert torch.distributed.is_initialized()  # the caller's group was left up
    torch.distributed.destroy_process_group()
