"""Scale-out with torch.distributed: the same command under ``torchrun --nproc_per_node N restore bench|train ...``.

RANK / WORLD_SIZE / LOCAL_RANK come from the environment (torchrun sets them; absent → one process).
Backend gloo on CPU, nccl when CUDA is used (each rank on ``cuda:LOCAL_RANK``).  Jobs are dealt
round-robin: rank r runs jobs r, r + N, r + 2N, … of the deterministic job list; each rank appends
to its own shard ``RESULTS/shards/rank{r}.csv``; after a barrier rank 0 merges results.csv and all
shards into one sorted table.  ``restore train`` wraps the model in DistributedDataParallel: one
patch stream per rank, gradients averaged, rank 0 the only checkpoint writer.  The barrier timeout is long (``BARRIER_HOURS``) since ranks may
finish hours apart on a real run.
"""
from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

import torch

BARRIER_HOURS = 72


@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    initialized: bool = False
    owned: bool = False  # this Dist created the process group (and so tears it down)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.initialized:
            torch.distributed.barrier()

    def close(self) -> None:
        """Leave the group; destroy it only when ``init`` created it (a caller's own group stays up)."""
        if self.owned and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
        self.initialized = self.owned = False


def from_env() -> Dist:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", str(rank)))
    if not (0 <= rank < world):
        raise ValueError(f"RANK={rank} is not in [0, WORLD_SIZE={world})")
    return Dist(rank, world, local)


def init(device: torch.device) -> Dist:
    """Join the process group when WORLD_SIZE > 1 (env:// rendezvous, as torchrun provides).

    A group the caller already set up is used as it is, and left up by ``close``: a pipeline that
    calls ``train`` several times in one process keeps one group (re-creating a gloo group on the
    same rendezvous store reads the old group's addresses and may fail to connect)."""
    d = from_env()
    if d.world > 1:
        if not torch.distributed.is_initialized():
            backend = "nccl" if device.type == "cuda" else "gloo"
            torch.distributed.init_process_group(backend, timeout=datetime.timedelta(hours=BARRIER_HOURS))
            d.owned = True
        if torch.distributed.get_world_size() != d.world:
            raise ValueError(f"the process group has {torch.distributed.get_world_size()} ranks, "
                             f"WORLD_SIZE says {d.world}")
        d.initialized = True
    return d


def shard(jobs: list, d: Dist) -> list:
    """Round-robin: rank r gets jobs[r::world]."""
    return jobs[d.rank::d.world]


def device_for(d: Dist, requested: str = "auto") -> torch.device:
    if requested == "cpu" or (requested == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise ValueError("--device cuda requested but CUDA is not available")
    return torch.device("cuda", d.local_rank % torch.cuda.device_count())


def broadcast_flags(d: Dist, flags: list[bool], device: torch.device) -> list[bool]:
    """Rank 0's booleans on every rank (decisions such as "checkpoint now" must be collective)."""
    if not d.initialized:
        return list(flags)
    t = torch.tensor([int(f) for f in flags], device=device)
    torch.distributed.broadcast(t, 0)
    return [bool(v) for v in t.tolist()]


def gather_objects(d: Dist, obj) -> list:
    """Every rank's ``obj``, in rank order, on every rank (one element when not distributed)."""
    if not d.initialized:
        return [obj]
    out = [None] * d.world
    torch.distributed.all_gather_object(out, obj)
    return out
