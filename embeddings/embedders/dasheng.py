"""`dasheng`: Dasheng (Dinkel et al., "Scaling up masked audio encoder learning for general audio
classification", Interspeech 2024), frozen, from the checkpoint file its authors publish.

The model, its front end (16 kHz, 64 log-mel bands, 10 ms hop, its batch norm) and its chunking of long
clips into 1008-frame pieces are the authors' own package (`pip install dasheng`), loaded by its own
`Dasheng.from_pretrained`; this file picks the layer and pools over time. The checkpoints
(dasheng_base.pt, dasheng_06b.pt, dasheng_12b.pt) are on Zenodo, record 11511780 (the package's
`PRETRAINED_CHECKPOINTS`); this project never downloads them."""
from __future__ import annotations

import torch

from embeddings.embedders.checkpointed import CheckpointEncoder
from embeddings.embedders.registry import register


@register
class DashengEmbedder(CheckpointEncoder):
    """Dasheng, frozen, from its authors' checkpoint and package: tokens of `layer`, pooled over time."""

    name = "dasheng"
    requires = ("dasheng",)
    published = "https://zenodo.org/records/11511780 (dasheng_base.pt, dasheng_06b.pt, dasheng_12b.pt)"
    format = "{'model': state dict, 'config': ...}"

    def build_model(self, path):
        from dasheng.pretrained.pretrained import Dasheng
        return Dasheng.from_pretrained(str(path))

    def states(self, audio: torch.Tensor) -> list[torch.Tensor]:
        """The blocks' input (0), each block's output, and the model's own output (the last block's after the final
        norm) as the last (-1); a long clip's chunks joined in time order, as the model joins them."""
        model = self.load()
        seen: list[list[torch.Tensor]] = [[] for _ in range(len(model.blocks) + 1)]
        hooks = [model.blocks[0].register_forward_pre_hook(lambda _m, args: seen[0].append(args[0]))]
        hooks += [block.register_forward_hook(lambda _m, _a, out, i=i: seen[i + 1].append(out))
                  for i, block in enumerate(model.blocks)]
        try:
            out = model(audio)
        finally:
            for hook in hooks:
                hook.remove()
        return [torch.cat(chunks, 1) for chunks in seen] + [out]
