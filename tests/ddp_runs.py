"""Run under ``torchrun --nproc_per_node 2``: three trainings in one launch (one import of torch per rank).

``a``: 4 steps in one go; ``b``: 2 steps, then resumed to 4.  The script sets up the process group once
(``train`` uses a group it finds and leaves it up); the test compares the folders.
"""
import sys
from pathlib import Path

import torch

from restore.training.loop import train
from test_training import _cfg  # this folder is on the path of a script run from it


def cfg(root: str, data: str, out: str, steps: int):
    """The single-process tests' tiny configuration, on the CPU (a GPU machine would give ranks cuda)."""
    c = _cfg(Path(root), data, out, steps)
    c.device = "cpu"
    return c


if __name__ == "__main__":
    data, root = sys.argv[1], sys.argv[2]
    torch.distributed.init_process_group("gloo")
    train(cfg(root, data, "a", 4), progress=False)
    train(cfg(root, data, "b", 2), progress=False)
    train(cfg(root, data, "b", 4), resume=True, progress=False)
    assert torch.distributed.is_initialized()  # the caller's group was left up
    torch.distributed.destroy_process_group()
