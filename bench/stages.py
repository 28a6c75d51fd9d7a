"""Wall-clock time per stage of a run, for the line `bench run` ends with and the leaderboard header."""
from __future__ import annotations

import time
from contextlib import contextmanager


class StageTimer:
    """`with timer("scoring"): ...` adds the block's seconds to that stage; stages keep their first-use order."""

    def __init__(self):
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, stage: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - start

    def line(self) -> str:
        total = sum(self.seconds.values())
        return "stage times: " + ", ".join(f"{k} {v:.1f} s" for k, v in self.seconds.items()) + f"; total {total:.1f} s"
