"""Linear warm-up, then cosine annealing with warm restarts whose cycles grow by a factor."""
from __future__ import annotations

import math


def lr_at(epoch: float, max_lr: float, warmup: float, first_cycle: float, cycle_mult: float, min_lr: float = 0.0) -> float:
    """Learning rate at a (fractional) epoch.

    It rises linearly from 0 to `max_lr` over `warmup` epochs; then cycles of `first_cycle`,
    `first_cycle * cycle_mult`, ... epochs follow, each restarting at `max_lr` and annealing to `min_lr`.
    """
    if epoch < warmup:
        return max_lr * epoch / warmup
    t, length = epoch - warmup, first_cycle
    while t >= length:
        t -= length
        length *= cycle_mult
    return min_lr + 0.5 * (max_lr - min_lr) * (1 + math.cos(math.pi * t / length))
