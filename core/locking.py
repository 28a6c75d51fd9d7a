"""One writer at a time per cache entry: a `filelock` lock file, held for all ranks of a torchrun job by rank 0.

The lock is `flock` on the lock file (filelock's `FileLock`). Linux NFS clients turn `flock` into NFS byte-range
locks (since Linux 2.6.12), so a cache on an NFSv4 share, or NFSv3 with lockd, is locked across cluster nodes.
Where a file system has no working locks at all, `ASD_BENCH_SOFT_LOCKS=1` switches to filelock's `SoftFileLock`
(the lock file's existence is the lock: safe anywhere, but a killed process leaves it behind, to delete by hand).
"""
from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path

import filelock

from core.torchrun import barrier, is_main


def _lock(path: Path) -> filelock.BaseFileLock:
    soft = os.environ.get("ASD_BENCH_SOFT_LOCKS", "") not in ("", "0")
    return (filelock.SoftFileLock if soft else filelock.FileLock)(path)


@contextmanager
def exclusive(path: str | Path):
    """Hold `path` (a `.lock` file) for the body; a second process waits, then sees the finished entry.

    Under torchrun, rank 0 takes the lock and every rank runs the body between barriers, so all ranks
    see the same cache state and take the same branch.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = _lock(path) if is_main() else None
    if lock is not None:
        try:
            lock.acquire(timeout=0)
        except filelock.Timeout:
            print(f"waiting for {path} (another bench process is building this entry)", file=sys.stderr)
            lock.acquire()
    try:
        barrier()
        yield
        barrier()
    finally:
        if lock is not None:
            lock.release()
