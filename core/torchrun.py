"""Which process this is under torchrun: rank 0 alone writes shared files."""
from __future__ import annotations

import torch.distributed as dist


def rank_world() -> tuple[int, int]:
    """(rank, world size): (0, 1) outside torchrun."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main() -> bool:
    """True outside torchrun, and on rank 0 within it: the process that writes shared files."""
    return rank_world()[0] == 0
