"""One writer at a time per cache entry: an advisory file lock, held for all ranks of a torchrun job by rank 0."""
from __future__ import annotations

import fcntl
import sys
from contextlib import contextmanager
from pathlib import Path

import torch.distributed as dist

from core.torchrun import is_main, rank_world


@contextmanager
def exclusive(path: str | Path):
    """Hold `path` (a `.lock` file) for the body; a second process waits, then sees the finished entry.

    Under torchrun, rank 0 takes the lock and every rank runs the body between barriers, so all ranks
    see the same cache state and take the same branch.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a") if is_main() else None
    try:
        if handle is not None:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                print(f"waiting for {path} (another bench process is building this entry)", file=sys.stderr)
                fcntl.flock(handle, fcntl.LOCK_EX)
        if rank_world()[1] > 1:
            dist.barrier()
        yield
        if rank_world()[1] > 1:
            dist.barrier()
    finally:
        if handle is not None:
            handle.close()  # closing releases the lock
