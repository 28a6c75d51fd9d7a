"""Which process this is under torchrun: rank 0 alone writes shared files."""
from __future__ import annotations

import sys


def _group():
    """`torch.distributed` while a process group is up, else None. No group exists before that module is imported,
    so a process that never imports torch (data generation, a lock holder) is not made to."""
    dist = sys.modules.get("torch.distributed")
    if dist is not None and dist.is_available() and dist.is_initialized():
        return dist
    return None


def rank_world() -> tuple[int, int]:
    """(rank, world size): (0, 1) outside torchrun."""
    dist = _group()
    return (dist.get_rank(), dist.get_world_size()) if dist is not None else (0, 1)


def is_main() -> bool:
    """True outside torchrun, and on rank 0 within it: the process that writes shared files."""
    return rank_world()[0] == 0


def barrier() -> None:
    """Wait for every rank under torchrun; nothing outside it."""
    dist = _group()
    if dist is not None and dist.get_world_size() > 1:
        dist.barrier()
