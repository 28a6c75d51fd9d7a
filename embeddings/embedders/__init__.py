"""Embedders: the clip table -> one embedding per clip (and classifier logits when the model has a head)."""
from embeddings.embedders.base import Embedder, build_cache
from embeddings.embedders.registry import DEFAULT_EMBEDDER, EMBEDDERS, available, get_embedder, register

__all__ = ["DEFAULT_EMBEDDER", "EMBEDDERS", "Embedder", "available", "build_cache", "get_embedder", "register"]
