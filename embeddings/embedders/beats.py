"""`beats`: BEATs (Chen et al., ICML 2023), frozen, from the checkpoint file its authors publish (microsoft/unilm,
beats/: BEATs_iter3.pt, BEATs_iter3_plus_AS2M.pt, ...; a `.pt` holding {"cfg": ..., "model": ...}). The encoder
is this project's own `beats_model`, checked against ESPnet's `beats_encoder` in tests/test_beats.py; a clip is
encoded whole (the relative position bias takes any length), as the authors' `extract_features` does."""
from __future__ import annotations

import torch

from embeddings.embedders.beats_model import BEATs
from embeddings.embedders.checkpointed import CheckpointEncoder
from embeddings.embedders.registry import register


@register
class BEATsEmbedder(CheckpointEncoder):
    """BEATs, frozen, from its authors' checkpoint: patch tokens of `layer`, pooled over time."""

    name = "beats"
    published = "https://github.com/microsoft/unilm/tree/master/beats (BEATs_iter3.pt, BEATs_iter3_plus_AS2M.pt)"
    format = "{'cfg': dict, 'model': state dict}"

    def build_model(self, path):
        return BEATs.from_checkpoint(torch.load(path, map_location="cpu", weights_only=True))

    def states(self, audio: torch.Tensor) -> list[torch.Tensor]:
        return self.load()(audio)
