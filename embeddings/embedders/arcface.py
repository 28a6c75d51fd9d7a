"""`arcface`: the ID classifier this harness trains (the seed paper's system), one model per training seed."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from embeddings.cache import EmbeddingCache
from embeddings.config import preset as train_preset
from embeddings.embedders.base import Embedder
from embeddings.embedders.registry import register
from embeddings.pipeline import build


@register
class ArcFaceEmbedder(Embedder):
    """The trained ArcFace ID classifier: embeddings and logits (training config: --preset and --set)."""

    name = "arcface"
    trains = True
    takes_stack = True  # the two microphones' log-mels as two input planes of the ResNet

    def __init__(self, preset: str = "small", device: str = "cpu"):
        super().__init__(device)
        self.preset = preset

    def build(self, table: pd.DataFrame, cache_root: str | Path, seed: int = 0, overrides: dict | None = None
              ) -> EmbeddingCache:
        """Features -> trained model -> embeddings, each reused from the cache (key: data and full config)."""
        return build(table, train_preset(self.preset, **{**(overrides or {}), "seed": seed}), cache_root, self.device)
