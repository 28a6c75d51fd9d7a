"""The scorer interface: scikit-learn style, hyperparameters in `__init__`, `fit` then `score`."""
from __future__ import annotations

import copy
import inspect
from dataclasses import dataclass
from typing import ClassVar

import numpy as np


@dataclass
class Bundle:
    """The cached outputs for a set of clips of one machine ID."""
    embeddings: np.ndarray           # (N, D) float32
    logits: np.ndarray               # (N, C) float32
    class_index: np.ndarray          # (N,) the clips' own class


class Scorer:
    """Fitted per machine ID on normal training clips; `score` returns one float per clip, higher = more anomalous.

    Subclasses set `name`, take hyperparameters (with defaults) as keyword arguments of `__init__`, and
    implement `fit` and `score`. `fit_many`/`score_many` run all IDs at once; override them for one
    batched (GPU) call instead of the per-ID loop. `requires` names optional packages the scorer needs.
    """

    name: ClassVar[str] = ""
    requires: ClassVar[tuple[str, ...]] = ()

    def __init__(self, device: str = "cpu"):
        self.device = device

    def fit(self, train: Bundle) -> "Scorer":
        raise NotImplementedError

    def score(self, test: Bundle) -> np.ndarray:
        raise NotImplementedError

    def fit_many(self, trains: list[Bundle]) -> "Scorer":
        self.fitted_ = [copy.copy(self).fit(t) for t in trains]
        return self

    def score_many(self, tests: list[Bundle]) -> list[np.ndarray]:
        return [s.score(t) for s, t in zip(self.fitted_, tests)]

    def close(self) -> None:
        """Free device memory held by fitted state."""
        self.__dict__ = {k: v for k, v in self.__dict__.items() if not k.endswith("_")}

    @classmethod
    def params(cls) -> dict[str, object]:
        """Hyperparameters and their defaults, read from `__init__`."""
        sig = inspect.signature(cls.__init__)
        return {n: p.default for n, p in sig.parameters.items()
                if n not in ("self", "device") and p.default is not inspect.Parameter.empty}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={getattr(self, k)!r}' for k in self.params())})"
