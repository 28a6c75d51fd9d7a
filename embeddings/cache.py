"""The embedding cache: every clip's embedding and logits with the clip table and a manifest, written atomically."""
from __future__ import annotations

import hashlib
import json
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from core.atomic import atomic_folder
from core.errors import DataError
from core.locking import exclusive

CACHE_VERSION = 3  # bump when the layout or meaning of the files, or the training that makes them, changes


class StaleCacheError(DataError):
    """A cache written by another version, or damaged."""


@dataclass
class EmbeddingCache:
    clips: pd.DataFrame                 # one row per clip, aligned with the arrays
    embeddings: np.ndarray              # (N, D) float32
    logits: np.ndarray                  # (N, C) float32
    manifest: dict = field(default_factory=dict)
    path: Path | None = None

    def split(self, name: str) -> EmbeddingCache:
        rows = np.flatnonzero(self.clips.split.to_numpy() == name)
        return EmbeddingCache(self.clips.iloc[rows].reset_index(drop=True), self.embeddings[rows], self.logits[rows],
                              self.manifest, self.path)

    def aligned(self, table: pd.DataFrame) -> EmbeddingCache:
        """The arrays in the clip table's row order, with the table's columns (labels, domains and classes as
        read now; a frozen embedder's cache is keyed on the audio alone)."""
        position = pd.Series(np.arange(len(self.clips)), index=self.clips.path.to_numpy())
        missing = ~table.path.isin(position.index)
        if missing.any():
            raise DataError(f"{table.path[missing].iloc[0]}: not in the embedding cache {self.path}; delete it to rebuild")
        rows = position.loc[table.path.to_numpy()].to_numpy()
        return EmbeddingCache(table.reset_index(drop=True), self.embeddings[rows], self.logits[rows], self.manifest,
                              self.path)

    def save(self, path: str | Path) -> Path:
        """Write atomically: a temp folder, renamed into place when complete."""
        path = Path(path)
        with atomic_folder(path) as tmp:
            np.save(tmp / "embeddings.npy", self.embeddings)
            np.save(tmp / "logits.npy", self.logits)
            self.clips.to_csv(tmp / "clips.csv", index=False)
            (tmp / "manifest.json").write_text(json.dumps({**self.manifest, "cache_version": CACHE_VERSION}, indent=2))
        self.path = path
        return path

    @classmethod
    def load(cls, path: str | Path) -> EmbeddingCache:
        path = Path(path)
        manifest_path = path / "manifest.json"
        if not manifest_path.is_file():
            raise StaleCacheError(f"{path}: not an embedding cache (no manifest.json); rerun `bench embed`")
        manifest = json.loads(manifest_path.read_text())
        if manifest.get("cache_version") != CACHE_VERSION:
            raise StaleCacheError(f"{path}: written by cache version {manifest.get('cache_version')}, this is "
                                  f"{CACHE_VERSION}; delete the folder and rerun to rebuild it")
        clips = pd.read_csv(path / "clips.csv", dtype={"section": str, "attributes": str}, keep_default_na=False)
        emb, logits = np.load(path / "embeddings.npy"), np.load(path / "logits.npy")
        if not (len(clips) == len(emb) == len(logits)):
            raise StaleCacheError(f"{path}: clips.csv, embeddings.npy and logits.npy disagree in length; delete and rebuild")
        for name, arr in (("embeddings", emb), ("logits", logits)):
            bad = ~np.isfinite(arr).all(axis=1)
            if bad.any():
                raise StaleCacheError(f"{path}: {name} of {clips.path[np.argmax(bad)]} (and {bad.sum() - 1} more) "
                                      "are NaN or inf; the model diverged: delete the folder, lower the learning rate, retrain")
        return cls(clips, emb, logits, manifest, path)


def cached(cache_root: str | Path, manifest: dict, make: Callable[[], EmbeddingCache | None]) -> EmbeddingCache:
    """The cache entry described by `manifest` (everything the embeddings depend on): read from
    `cache_root/embeddings/<hash of manifest>`, or made once by `make` under a lock when missing.

    A second process asking for the same entry waits on the lock, then reads what the first wrote. Under
    torchrun every rank calls `make`; rank 0 returns the cache, the others None. An entry whose manifest
    disagrees with `manifest` is stale and is never read.
    """
    manifest = _as_stored(manifest)
    key = entry_key(manifest)
    path = Path(cache_root) / "embeddings" / key
    with exclusive(path.with_name(key + ".lock")):
        if not (path / "manifest.json").is_file():
            start = time.perf_counter()
            made = make()
            if made is not None:
                made.manifest = {"embed_seconds": time.perf_counter() - start, **made.manifest, **manifest,
                                 "key": key, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "versions": _versions()}
                made.save(path)
    cache = EmbeddingCache.load(path)
    differ = [k for k, v in {**manifest, "key": key}.items() if cache.manifest.get(k) != v]
    if differ:
        raise StaleCacheError(f"{path}: its manifest describes another embedder, data set or config "
                              f"({', '.join(differ)} differ); delete the folder to rebuild it")
    return cache


def entry_key(manifest: dict) -> str:
    """The entry's folder name: a hash of its manifest (JSON, keys sorted) and the cache version."""
    return hashlib.sha256(json.dumps(_as_stored(manifest), sort_keys=True).encode()).hexdigest()[:16]


def _as_stored(manifest: dict) -> dict:
    """`manifest` as it reads back from manifest.json (tuples as lists, paths as strings)."""
    return json.loads(json.dumps({**manifest, "cache_version": CACHE_VERSION}, sort_keys=True, default=str))


def _versions() -> dict:
    return {"torch": torch.__version__, "numpy": np.__version__, "python": platform.python_version()}
