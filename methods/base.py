"""The scorer interface: scikit-learn style, hyperparameters in `__init__`, `fit` then `score`."""
from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from core.errors import DataError
from core.plugins import params as plugin_params
from methods.finite import nonfinite_error
from methods.neighbors import backend_for


@dataclass
class Bundle:
    """The cached outputs for a set of clips of one machine section (machine ID in 2020)."""
    embeddings: np.ndarray           # (N, D) float32
    logits: np.ndarray               # (N, C) float32
    first_class: np.ndarray          # (N,) the first classifier class of the clip's section
    name: str = "clips"              # what error messages call it, e.g. "fan section 00 training clips"
    n_classes: np.ndarray | int = 1  # the section's number of classes (section x attribute combinations)
    domain: np.ndarray | None = None  # (N,) source / target / unknown: what domain-aware scorers weigh by
    # work scorers share across option values while the bundle lives (neighbour banks, their searches), keyed by what
    # it depends on; `uid` tells bundles apart in those keys
    shared: dict = field(default_factory=dict, init=False, repr=False, compare=False)
    uid: int = field(default_factory=itertools.count().__next__, init=False, repr=False, compare=False)


def _all_finite(x: np.ndarray) -> bool:
    """Fast check: a NaN or inf anywhere makes the sum of squares non-finite (so, rarely, does overflow)."""
    flat = x.reshape(-1)
    return bool(np.isfinite(np.dot(flat, flat)))


def check_bundles(scorer: Scorer, bundles: list[Bundle], dim: int | None = None) -> int:
    """Refuse input a scorer would crash on deep inside BLAS or faiss; returns the embedding size."""
    for b in bundles:
        if b.embeddings.ndim != 2 or len(b.embeddings) != len(b.logits):
            raise DataError(f"{b.name}: embeddings {b.embeddings.shape} and logits {b.logits.shape} do not "
                            "describe the same clips; rebuild the embedding cache")
        dim = dim or b.embeddings.shape[1]
        if b.embeddings.shape[1] != dim:
            raise DataError(f"{b.name}: {b.embeddings.shape[1]}-dimensional embeddings, but {scorer!r} was fitted on "
                            f"{dim}-dimensional ones; score with embeddings from the same model")
        for part in [f for f in scorer.reads if f not in scorer.checks_finite]:  # softmax ignores a NaN embedding
            values = getattr(b, part)
            if not _all_finite(values):
                raise nonfinite_error(values, f"{b.name}: {part}")
    return dim


class Scorer:
    """Fitted per section (machine ID in 2020) on normal training clips; `score` returns one float per clip, higher = more anomalous.

    Subclasses set `name`, take hyperparameters (with defaults) as keyword arguments of `__init__`, and
    implement `fit` and `score`. `fit_many`/`score_many` run all sections at once; override them for one
    batched (GPU) call instead of the per-section loop. `requires` names optional packages the scorer needs;
    `reads` the Bundle fields it uses, which are checked for NaN/inf before fitting and scoring, except
    `checks_finite`: those the scorer checks itself (`require_finite`) from norms or sums it computes anyway.
    """

    name: ClassVar[str] = ""
    requires: ClassVar[tuple[str, ...]] = ()
    reads: ClassVar[tuple[str, ...]] = ("embeddings", "logits")
    checks_finite: ClassVar[tuple[str, ...]] = ()
    searches: ClassVar[bool] = False  # runs nearest-neighbour searches (`methods.neighbors.flat_index`)

    def __init__(self, device: str = "cpu"):
        self.device = device

    def backend(self) -> str:
        """Where and with what the scorer computes, for `bench speed`'s tables."""
        if self.searches:
            return f"{self.device} ({'faiss-gpu' if backend_for(self.device) == 'faiss' else 'torch'})"
        return f"{self.device} (torch)"

    def fit(self, train: Bundle) -> Scorer:
        raise NotImplementedError

    def score(self, test: Bundle) -> np.ndarray:
        raise NotImplementedError

    def min_train_clips(self) -> int:
        """Fewest training clips per section the scorer is defined for."""
        return 1

    def check_train(self, trains: list[Bundle]) -> None:
        """Called by `fit_many`: shapes, finiteness and enough clips per section, each refused with a one-line error."""
        self.dim_ = check_bundles(self, trains)
        for t in trains:
            if len(t.embeddings) < self.min_train_clips():
                raise DataError(f"{t.name}: {len(t.embeddings)} training clips, but {self!r} needs at least "
                                f"{self.min_train_clips()}; lower its options or add normal training clips")

    def fit_many(self, trains: list[Bundle]) -> Scorer:
        self.check_train(trains)
        self.fitted_ = [copy.copy(self).fit(t) for t in trains]
        return self

    def score_many(self, tests: list[Bundle]) -> list[np.ndarray]:
        check_bundles(self, tests, self.dim_)
        return [s.score(t) for s, t in zip(self.fitted_, tests)]

    def close(self) -> None:
        """Free device memory held by fitted state."""
        self.__dict__ = {k: v for k, v in self.__dict__.items() if not k.endswith("_")}

    @classmethod
    def params(cls) -> dict[str, object]:
        """Hyperparameters and their defaults, read from `__init__`."""
        return plugin_params(cls)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={getattr(self, k)!r}' for k in self.params())})"
