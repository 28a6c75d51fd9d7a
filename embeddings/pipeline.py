"""The trained classifier's pipeline, each step cached: log-mel features -> a training run (resumable) -> the
embeddings and logits of every clip (in resumable parts) -> an `EmbeddingCache`."""
from __future__ import annotations

import hashlib
import shutil
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import torch.distributed as dist
from tqdm import tqdm

from core.atomic import atomic_file
from core.hashing import file_sha256
from core.torchrun import rank_world
from embeddings.cache import EmbeddingCache, cached, entry_key
from embeddings.classifier import infer
from embeddings.config import TrainConfig
from embeddings.features import FeatureSet, LogMelConfig, load_features
from embeddings.train import load_checkpoint, train


def manifest(features: FeatureSet, config: TrainConfig) -> dict:
    """What the trained embeddings depend on: features, training config and the classes the classifier learns
    (the auxiliary labels can change while the audio stays)."""
    classes = hashlib.sha256(features.table[["path", "class_index"]].to_csv(index=False).encode()).hexdigest()
    return {"embedder": "arcface", "feature_key": features.key, "config": asdict(config), "classes": classes}


def cache_key(features: FeatureSet, config: TrainConfig) -> str:
    """The name of the training run and of its embeddings' cache entry."""
    return entry_key(manifest(features, config))


def run_dir(cache_root: str | Path, features: FeatureSet, config: TrainConfig) -> Path:
    """Where the training run for these features and this config keeps its checkpoints."""
    return Path(cache_root) / "runs" / cache_key(features, config)


def embed(checkpoint: str | Path, features: FeatureSet, device: str = "cpu", parts_dir: str | Path | None = None
          ) -> EmbeddingCache | None:
    """One pass over every clip: embeddings and logits from the model (and fine-tuned head) of its machine type.

    The work is cut into parts of `PART_CLIPS` clips, each saved under `parts_dir` (default: next to the
    checkpoint) as it finishes, so an interrupted run redoes only the missing parts. Under torchrun the
    parts are shared out across ranks; rank 0 gathers them and the other ranks return None.
    """
    saved, models, heads = load_checkpoint(checkpoint, device)
    config = TrainConfig(**saved["config"])
    sha = file_sha256(checkpoint)
    parts_dir = Path(parts_dir or _parts_dir(checkpoint, sha))
    parts_dir.mkdir(parents=True, exist_ok=True)
    jobs = list(_parts(features, saved["groups"]))
    clips = {split: features.split(split)[0] for split in features.logmel}
    rank, world = rank_world()
    start = time.perf_counter()
    for name, split, group, rows, types in tqdm(jobs[rank::world], desc="embed", unit="part", disable=rank > 0):
        if (parts_dir / f"{name}.npz").is_file():
            continue
        emb, logits = infer(models[group], np.asarray(features.logmel[split][rows]),
                            clips[split].n_frames.to_numpy()[rows], config.crop_frames, device, heads=heads, groups=types)
        with atomic_file(parts_dir / f"{name}.npz") as tmp, open(tmp, "wb") as f:
            np.savez(f, rows=rows, embeddings=emb, logits=logits)
    if world > 1:
        dist.barrier()
    if rank > 0:
        return None
    tables, embs, logits = [], [], []
    for name, split, *_ in jobs:
        with np.load(parts_dir / f"{name}.npz") as part:
            tables.append(clips[split].iloc[part["rows"]])
            embs.append(part["embeddings"])
            logits.append(part["logits"])
    facts = {"config": asdict(config), "feature_key": features.key, "checkpoint_sha256": sha,
             "train_seconds": saved.get("train_seconds"), "embed_seconds": time.perf_counter() - start,
             "device": device, "world_size": world}
    return EmbeddingCache(pd.concat(tables).reset_index(drop=True), np.concatenate(embs), np.concatenate(logits), facts)


PART_CLIPS = 2048  # clips per resumable embedding part


def _parts(features: FeatureSet, groups: dict[str, list[str]]):
    """(part name, split, model group, row indices within the split, machine type per row), every clip once."""
    for split in features.logmel:
        clips = features.split(split)[0]
        for group, members in groups.items():
            rows = np.flatnonzero(clips.machine_type.isin(members).to_numpy())
            for n, start in enumerate(range(0, len(rows), PART_CLIPS)):
                part = rows[start:start + PART_CLIPS]
                yield f"{split}-{group}-{n:04d}", split, group, part, clips.machine_type.to_numpy()[part]


def _parts_dir(checkpoint: str | Path, sha: str) -> Path:
    """Where `embed` keeps its parts by default: beside the checkpoint, named after its content."""
    return Path(checkpoint).parent / f"embed-{sha[:12]}"


def build(table: pd.DataFrame, config: TrainConfig, cache_root: str | Path, device: str = "cpu") -> EmbeddingCache:
    """Features -> trained model -> embeddings, each step reused from `cache_root` when already done."""
    features = load_features(table, cache_root, LogMelConfig(), device)

    def make() -> EmbeddingCache | None:
        checkpoint = train(config, features, run_dir(cache_root, features, config), device)
        cache = embed(checkpoint, features, device)
        if cache is not None:  # rank 0, once every part is gathered
            shutil.rmtree(_parts_dir(checkpoint, cache.manifest["checkpoint_sha256"]), ignore_errors=True)
        return cache

    return cached(cache_root, manifest(features, config), make)
