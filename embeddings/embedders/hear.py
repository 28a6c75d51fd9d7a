"""`hear`: any module implementing the HEAR common API (`load_model`, `get_scene_embeddings`, `sample_rate`)."""
from __future__ import annotations

import hashlib
import importlib
import inspect

import numpy as np
import pandas as pd
import torch
import torchaudio
from tqdm import tqdm

from core.errors import DataError
from core.hashing import file_sha256
from dcase import channels
from embeddings.embedders.base import Embedder
from embeddings.embedders.registry import register
from embeddings.features import SAMPLE_RATE, read_mono


@register
class HearEmbedder(Embedder):
    """A HEAR-API module's scene embeddings (module=NAME, weights=optional file for its load_model)."""

    name = "hear"

    def __init__(self, module: str = "", weights: str = "", batch_size: int = 16, device: str = "cpu"):
        super().__init__(device)
        self.module, self.weights, self.batch_size = module, weights, batch_size

    def _module(self):
        if not self.module:
            raise DataError("hear: name the module, e.g. --embedder hear:module=hearbaseline,weights=model.pt")
        try:
            return importlib.import_module(self.module)
        except ImportError as exc:
            raise DataError(f"hear: cannot import {self.module!r} ({exc}); install it or put it on PYTHONPATH") from None

    def fingerprint(self) -> str:
        module = self._module()
        h = hashlib.sha256(inspect.getsource(module).encode())
        if self.weights:
            h.update(file_sha256(self.weights).encode())
        return h.hexdigest()

    def embed(self, table: pd.DataFrame):
        module = self._module()
        model = module.load_model(self.weights) if self.weights else module.load_model()
        rate = int(model.sample_rate)
        out = []
        paths, channel = list(table.path), channels.of(table)
        with torch.inference_mode():
            for start in tqdm(range(0, len(paths), self.batch_size), desc=f"hear {self.module}", unit="batch", leave=False):
                waves = [torch.from_numpy(read_mono(p, channel, self.label())) for p in paths[start:start + self.batch_size]]
                batch = torch.zeros(len(waves), max(len(w) for w in waves))
                for i, w in enumerate(waves):
                    batch[i, :len(w)] = w
                if rate != SAMPLE_RATE:
                    batch = torchaudio.functional.resample(batch, SAMPLE_RATE, rate)
                emb = module.get_scene_embeddings(batch.to(self.device), model)
                out.append(torch.as_tensor(emb).float().cpu().numpy())
        emb = np.concatenate(out)
        size = getattr(model, "scene_embedding_size", emb.shape[1])
        if emb.shape[1] != size:
            raise DataError(f"hear module {self.module}: scene embeddings have {emb.shape[1]} values, but the model "
                            f"declares scene_embedding_size {size}; fix the module")
        return emb, None
