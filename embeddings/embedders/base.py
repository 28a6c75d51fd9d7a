"""The embedder interface and the embedding cache every frozen embedder shares."""
from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd

from core.errors import DataError
from core.plugins import label
from core.plugins import params as plugin_params
from embeddings.cache import EmbeddingCache, cached
from embeddings.features import fingerprint as data_fingerprint

EMBEDDER_CACHE_VERSION = 1


class Embedder:
    """Turns a clip table into one embedding per clip, and logits when the model has a classifier head.

    Subclasses set `name`, take options as keyword arguments of `__init__`, and implement `embed(table)`
    (arrays aligned with the table's rows; logits None without a head) and `fingerprint()` (a hash of the
    weights or file the embeddings come from: part of the cache key). `trains = True` means one model per
    training seed (`--seeds`); a frozen embedder gives the same embeddings for every seed. `requires` names
    optional packages.
    """

    name: ClassVar[str] = ""
    requires: ClassVar[tuple[str, ...]] = ()
    trains: ClassVar[bool] = False
    repository: ClassVar[str] = ""  # where the model comes from, for an official baseline's reference row
    takes_stack: ClassVar[bool] = False  # can embed both microphones of a stereo clip at once (`--channel stack`)

    @classmethod
    def reference_scorer(cls, options: dict) -> str | None:
        """The scorer that, on this embedder with `options`, gives an official baseline's own score; a task year
        names its baseline embedder (`TaskYear.baseline`). None: no reference row."""
        return None

    def __init__(self, device: str = "cpu"):
        self.device = device
        self.seed = 0  # the training seed `build` was given; part of the cache key of an embedder that trains

    @classmethod
    def params(cls) -> dict[str, object]:
        return plugin_params(cls)

    def options(self) -> dict:
        return {k: getattr(self, k) for k in self.params()}

    def label(self, **extra) -> str:
        """`name(option=value, ...)` of the options that differ from their defaults, and `extra` ones."""
        return label(self.name, {**{k: v for k, v in self.options().items() if v != self.params()[k]}, **extra})

    def fingerprint(self) -> str:
        raise NotImplementedError

    def check(self) -> None:
        """Raise the one-line error now if the embedder cannot run (no such checkpoint, file, module or model),
        before a run spends time on data and training; a frozen embedder's fingerprint reads exactly those."""
        if not self.trains:
            self.fingerprint()

    def embed(self, table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
        raise NotImplementedError

    def build(self, table: pd.DataFrame, cache_root: str | Path, seed: int = 0, overrides: dict | None = None
              ) -> EmbeddingCache:
        """The embeddings of every clip of `table`, computed once and then read from `cache_root/embeddings/<key>`."""
        self.seed = seed
        return build_cache(self, table, cache_root)


def build_cache(embedder: Embedder, table: pd.DataFrame, cache_root: str | Path) -> EmbeddingCache:
    """Key = data fingerprint, embedder name, every option, the weights' fingerprint and, for an embedder that
    trains, its seed; a changed model, option, seed or clip gives a new entry, never a stale one."""
    manifest = {"embedder": embedder.name, "options": embedder.options(), "weights": embedder.fingerprint(),
                "seed": embedder.seed if embedder.trains else None, "data": data_fingerprint(table),
                "version": EMBEDDER_CACHE_VERSION}
    return cached(cache_root, manifest, lambda: _embedded(embedder, table))


def _embedded(embedder: Embedder, table: pd.DataFrame) -> EmbeddingCache:
    """The embedder's arrays for `table`, checked: one finite row per clip."""
    emb, logits = embedder.embed(table)
    emb = np.asarray(emb, dtype=np.float32)
    if emb.ndim != 2 or len(emb) != len(table):
        raise DataError(f"embedder {embedder.label()}: {emb.shape} embeddings for {len(table)} clips; "
                        "it must return one row per clip")
    bad = ~np.isfinite(emb).all(1)
    if bad.any():
        raise DataError(f"{table.path.iloc[int(np.argmax(bad))]}: embedder {embedder.label()} gave NaN or inf "
                        f"(and {bad.sum() - 1} more clips); check the model or the input")
    logits = np.zeros((len(emb), 0), np.float32) if logits is None else np.asarray(logits, np.float32)
    return EmbeddingCache(table.reset_index(drop=True), emb, logits,
                          {"label": embedder.label(), "device": embedder.device})
