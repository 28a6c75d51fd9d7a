"""What every frozen encoder read from its authors' checkpoint file shares: the options (layer, pooling, batch size),
the one-line errors for a missing or foreign file, the file's hash as the cache key, and the embedding loop."""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import torch
import torchaudio
from tqdm import tqdm

from core.errors import DataError
from core.hashing import file_sha256
from dcase import channels
from embeddings.embedders.base import Embedder
from embeddings.embedders.hf import POOLINGS, equal_length_batches, parse_layers, pool
from embeddings.features import SAMPLE_RATE, read_mono

_WARNED: set[tuple[str, str]] = set()  # (file, hash) pairs already warned about in this process


class CheckpointEncoder(Embedder):
    """Subclasses set `published` (where the authors publish the checkpoints), `rate` (the model's sample rate),
    `format` (what the file holds) and `known` (the SHA-256 of each published file, by file name, where its authors
    publish one), and implement `build_model(path)` and `states(audio)`."""

    published: ClassVar[str] = ""
    rate: ClassVar[int] = 16000
    format: ClassVar[str] = ""
    # none of the encoders' authors publish SHA-256s today, and none is made up here: every file is then used with
    # a warning that prints its hash, for the user to compare with the file they meant
    known: ClassVar[dict[str, str]] = {}

    def __init__(self, checkpoint: str = "", layer="-1", pooling: str = "mean", batch_size: int = 8, device: str = "cpu"):
        super().__init__(device)
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}, not {pooling!r}")
        self.checkpoint, self.layer, self.pooling, self.batch_size = checkpoint, str(layer), pooling, batch_size
        self._model = None

    def build_model(self, path: Path) -> torch.nn.Module:
        raise NotImplementedError

    def states(self, audio: torch.Tensor) -> list[torch.Tensor]:
        """(batch, tokens, dim) per hidden state, the blocks' input first and the model's output last."""
        raise NotImplementedError

    def load(self) -> torch.nn.Module:
        if self._model is None:
            path = Path(self.checkpoint)
            if not self.checkpoint or not path.is_file():
                raise DataError(f"{self.name}: checkpoint {self.checkpoint or '(none given)'!r} not found; download it "
                                f"from {self.published} and pass --embedder {self.name}:checkpoint=PATH")
            try:
                self._model = self.build_model(path).eval().to(self.device)
            except (KeyError, RuntimeError, TypeError, ValueError) as exc:
                raise DataError(f"{path}: not a {self.name} checkpoint ({type(exc).__name__}: "
                                f"{str(exc).splitlines()[0]}); it holds {self.format} as those at {self.published}") from None
        return self._model

    def fingerprint(self) -> str:
        """The checkpoint's SHA-256: a published name must hold the published file; any other file is used, and
        its hash is printed once."""
        path = Path(self.checkpoint)
        if not path.is_file():
            self.load()  # raises the missing-file line
        sha = file_sha256(path)
        expected = self.known.get(path.name)
        if expected is not None and sha != expected:
            raise DataError(f"{path}: SHA-256 {sha}, but the published {path.name} has {expected}; download it again "
                            f"from {self.published}")
        if expected is None and (str(path.resolve()), sha) not in _WARNED:
            _WARNED.add((str(path.resolve()), sha))
            warnings.warn(f"{path}: not a checkpoint this harness knows by name and hash (SHA-256 {sha}); used as is, "
                          "and its hash keys the cache", stacklevel=2)
        return sha

    def embed(self, table: pd.DataFrame):
        self.load()
        paths, channel = list(table.path), channels.of(table)
        out = None
        with torch.inference_mode():
            for rows in tqdm(equal_length_batches(paths, self.batch_size), desc=self.name, unit="batch", leave=False):
                audio = torch.stack([torch.from_numpy(read_mono(paths[i], channel, self.label())) for i in rows])
                if SAMPLE_RATE != self.rate:
                    audio = torchaudio.functional.resample(audio, SAMPLE_RATE, self.rate)
                states = self.states(audio.to(self.device))
                picked = [states[i] for i in parse_layers(self.layer, len(states), self.name)]
                emb = pool(torch.stack(picked).float().mean(0), self.pooling).cpu().numpy()
                if out is None:
                    out = np.zeros((len(paths), emb.shape[1]), np.float32)
                out[rows] = emb
        return out, None
