"""`dasheng`: Dasheng (Dinkel et al., "Scaling up masked audio encoder learning for general audio
classification", Interspeech 2024), frozen, from the checkpoint file its authors publish.

The model, its front end (16 kHz, 64 log-mel bands, 10 ms hop, its batch norm) and its chunking of long
clips into 1008-frame pieces are the authors' own package (`pip install dasheng`), loaded by its own
`Dasheng.from_pretrained`; this file picks the layer and pools over time. The checkpoints
(dasheng_base.pt, dasheng_06b.pt, dasheng_12b.pt) are on Zenodo, record 11511780 (the package's
`PRETRAINED_CHECKPOINTS`); this project never downloads them."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torchaudio
from tqdm import tqdm

from core.errors import DataError
from dcase import channels
from embeddings.embedders.base import Embedder, file_sha256
from embeddings.embedders.hf import POOLINGS, equal_length_batches, parse_layers, pool
from embeddings.embedders.registry import register
from embeddings.features import SAMPLE_RATE, read_mono

RATE = 16000  # the model's front end is built for it
PUBLISHED = "https://zenodo.org/records/11511780 (dasheng_base.pt, dasheng_06b.pt, dasheng_12b.pt)"


@register
class DashengEmbedder(Embedder):
    """Dasheng, frozen, from its authors' checkpoint and package: tokens of `layer`, pooled over time."""

    name = "dasheng"
    requires = ("dasheng",)

    def __init__(self, checkpoint: str = "", layer="-1", pooling: str = "mean", batch_size: int = 8, device: str = "cpu"):
        super().__init__(device)
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}, not {pooling!r}")
        self.checkpoint, self.layer, self.pooling, self.batch_size = checkpoint, str(layer), pooling, batch_size
        self._model = None

    def load(self):
        if self._model is None:
            path = Path(self.checkpoint)
            if not self.checkpoint or not path.is_file():
                raise DataError(f"dasheng: checkpoint {self.checkpoint or '(none given)'!r} not found; download it "
                                f"from {PUBLISHED} and pass --embedder dasheng:checkpoint=PATH")
            from dasheng.pretrained.pretrained import Dasheng
            try:
                self._model = Dasheng.from_pretrained(str(path)).eval().to(self.device)
            except (KeyError, RuntimeError, TypeError) as exc:
                raise DataError(f"{path}: not a Dasheng checkpoint ({type(exc).__name__}: {str(exc).splitlines()[0]}); "
                                f"it holds {{'model': state dict, 'config': ...}} as those at {PUBLISHED}") from None
        return self._model

    def fingerprint(self) -> str:
        return file_sha256(self.checkpoint) if Path(self.checkpoint).is_file() else hashlib.sha256(b"missing").hexdigest()

    def states(self, audio: torch.Tensor) -> list[torch.Tensor]:
        """(batch, tokens, dim) per hidden state: the blocks' input (0), each block's output, and the model's own
        output (the last block's after the final norm) as the last (-1); a long clip's chunks joined in time
        order, as the model joins them."""
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

    def embed(self, table: pd.DataFrame):
        self.load()
        paths, channel = list(table.path), channels.of(table)
        out = None
        with torch.inference_mode():
            for rows in tqdm(equal_length_batches(paths, self.batch_size), desc="dasheng", unit="batch", leave=False):
                audio = torch.stack([torch.from_numpy(read_mono(paths[i], channel, self.label())) for i in rows])
                if SAMPLE_RATE != RATE:
                    audio = torchaudio.functional.resample(audio, SAMPLE_RATE, RATE)
                states = self.states(audio.to(self.device))
                picked = [states[i] for i in parse_layers(self.layer, len(states), self.name)]
                emb = pool(torch.stack(picked).float().mean(0), self.pooling).cpu().numpy()
                if out is None:
                    out = np.zeros((len(paths), emb.shape[1]), np.float32)
                out[rows] = emb
        return out, None
