"""The embedding cache: embeddings and logits for every clip, keyed on the data and the full training config."""
from __future__ import annotations

import hashlib
import json
import platform
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from bench.errors import DataError
from embeddings.classifier import infer
from embeddings.config import TrainConfig
from embeddings.features import FeatureSet, LogMelConfig, load_features
from embeddings.train import load_checkpoint, train

CACHE_VERSION = 2  # bump when the layout or meaning of the files, or the training that makes them, changes


class StaleCacheError(DataError):
    """A cache written by another version, or damaged."""


@dataclass
class EmbeddingCache:
    clips: pd.DataFrame                 # one row per clip, aligned with the arrays
    embeddings: np.ndarray              # (N, D) float32
    logits: np.ndarray                  # (N, C) float32
    manifest: dict = field(default_factory=dict)
    path: Path | None = None

    def split(self, name: str) -> "EmbeddingCache":
        rows = np.flatnonzero(self.clips.split.to_numpy() == name)
        return EmbeddingCache(self.clips.iloc[rows].reset_index(drop=True), self.embeddings[rows], self.logits[rows],
                              self.manifest, self.path)

    def save(self, path: str | Path) -> Path:
        """Write atomically: a temp folder, renamed into place when complete."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
        try:
            np.save(tmp / "embeddings.npy", self.embeddings)
            np.save(tmp / "logits.npy", self.logits)
            self.clips.to_csv(tmp / "clips.csv", index=False)
            (tmp / "manifest.json").write_text(json.dumps({**self.manifest, "cache_version": CACHE_VERSION}, indent=2))
            if path.exists():
                shutil.rmtree(path)
            tmp.rename(path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self.path = path
        return path

    @classmethod
    def load(cls, path: str | Path) -> "EmbeddingCache":
        path = Path(path)
        manifest_path = path / "manifest.json"
        if not manifest_path.is_file():
            raise StaleCacheError(f"{path}: not an embedding cache (no manifest.json); rerun `bench embed`")
        manifest = json.loads(manifest_path.read_text())
        if manifest.get("cache_version") != CACHE_VERSION:
            raise StaleCacheError(f"{path}: written by cache version {manifest.get('cache_version')}, this is "
                                  f"{CACHE_VERSION}; delete the folder and rerun to rebuild it")
        clips = pd.read_csv(path / "clips.csv", dtype={"machine_id": str})
        emb, logits = np.load(path / "embeddings.npy"), np.load(path / "logits.npy")
        if not (len(clips) == len(emb) == len(logits)):
            raise StaleCacheError(f"{path}: clips.csv, embeddings.npy and logits.npy disagree in length; delete and rebuild")
        for name, arr in (("embeddings", emb), ("logits", logits)):
            bad = ~np.isfinite(arr).all(axis=1)
            if bad.any():
                raise StaleCacheError(f"{path}: {name} of {clips.path[np.argmax(bad)]} (and {bad.sum() - 1} more) "
                                      "are NaN or inf; the model diverged: delete the folder, lower the learning rate, retrain")
        return cls(clips, emb, logits, manifest, path)


def cache_key(features: FeatureSet, config: TrainConfig) -> str:
    payload = json.dumps([features.key, asdict(config), CACHE_VERSION], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def run_dir(cache_root: str | Path, features: FeatureSet, config: TrainConfig) -> Path:
    """Where the training run for these features and this config keeps its checkpoints."""
    return Path(cache_root) / "runs" / cache_key(features, config)


def embed(checkpoint: str | Path, features: FeatureSet, device: str = "cpu") -> EmbeddingCache:
    """One pass over every clip: embeddings and logits from the model (and fine-tuned head) of its machine type."""
    saved, models, heads = load_checkpoint(checkpoint, device)
    config = TrainConfig(**saved["config"])
    parts = []
    start = time.perf_counter()
    for split, logmel in features.logmel.items():
        clips = features.table[features.table.split == split].reset_index(drop=True)
        for name, members in saved["groups"].items():
            rows = np.flatnonzero(clips.machine_type.isin(members).to_numpy())
            if len(rows) == 0:
                continue
            types = clips.machine_type.to_numpy()[rows]
            emb, logits = infer(models[name], np.asarray(logmel)[rows], clips.n_frames.to_numpy()[rows],
                                config.crop_frames, device, heads=heads, groups=types)
            parts.append((clips.iloc[rows], emb, logits))
    table = pd.concat([p[0] for p in parts]).reset_index(drop=True)
    manifest = {
        "config": asdict(config), "feature_key": features.key, "checkpoint_sha256": _sha256(checkpoint),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "train_seconds": saved.get("train_seconds"),
        "embed_seconds": time.perf_counter() - start, "device": device,
        "versions": {"torch": torch.__version__, "numpy": np.__version__, "python": platform.python_version()},
    }
    return EmbeddingCache(table, np.concatenate([p[1] for p in parts]), np.concatenate([p[2] for p in parts]), manifest)


def _sha256(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def build(table: pd.DataFrame, config: TrainConfig, cache_root: str | Path, device: str = "cpu") -> EmbeddingCache:
    """Features -> trained model -> embeddings, each step reused from `cache_root` when already done."""
    cache_root = Path(cache_root)
    features = load_features(table, cache_root, LogMelConfig(), device)
    key = cache_key(features, config)
    path = cache_root / "embeddings" / key
    if (path / "manifest.json").is_file():
        return EmbeddingCache.load(path)
    checkpoint = train(config, features, run_dir(cache_root, features, config), device)
    cache = embed(checkpoint, features, device)
    cache.manifest["key"] = key
    cache.save(path)
    return cache
