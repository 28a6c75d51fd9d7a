"""`ae2020` and `ae2023`: the official DCASE Task 2 baseline autoencoders, as embedders.

Both read log-mel energies as 10 log10(power mel + eps) (n_fft 1024, hop 512, power 2, librosa's Slaney mel
filters), concatenate 5 consecutive frames into one vector per frame, and train one dense autoencoder
d-128-128-128-128-8-128-128-128-128-d (Linear, BatchNorm with Keras' momentum 0.99 / eps 1e-3, ReLU) per machine
type on its normal training clips: MSE loss, Adam 1e-3, 100 epochs, 10 % of the vectors held out for validation.
- `ae2020` (y-kawagu/dcase2020_task2_baseline): 64 bands, batch 512, the last 10 % held out (Keras'
  validation_split).
- `ae2023` (nttcslab/dcase2023_task2_baseline_ae, also the 2024 and 2025 baseline): 128 bands, batch 256, a
  random 10 % held out.

A clip's embedding with `output=error` is its reconstruction-error profile: each dimension's squared error,
averaged over the clip's vectors; its mean (the `mse` scorer) is the baseline's MSE score. `ae2023:output=whitened`
gives what the 2023 baseline's Mahalanobis score reads: the clip's signed reconstruction difference averaged over
every frame of every vector (n_mels values), whitened once by the source and once by the target covariance of the
training frames' differences. The squared norm of each half is that domain's score, and the smaller one
(the `block_norm` scorer) is the baseline's selective Mahalanobis score.
"""
from __future__ import annotations

import functools
import hashlib
import json
import sys
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import torch
import torchaudio
from torch import nn
from tqdm import tqdm

from core.atomic import atomic_file
from core.errors import DataError
from dcase import channels
from embeddings.embedders import batched_ae
from embeddings.embedders.ae_model import DenseAutoencoder
from embeddings.embedders.base import Embedder
from embeddings.embedders.registry import register
from embeddings.features import SAMPLE_RATE, read_mono
from embeddings.features import fingerprint as data_fingerprint

EPS = sys.float_info.epsilon  # the baselines' floor inside the log
VECTORS_PER_PASS = 1 << 16  # vectors through an autoencoder at once when embedding (16 MB of 64-band input)


@functools.cache
def _mel(n_mels: int) -> torchaudio.transforms.MelSpectrogram:
    """Built once per band count: its filter bank costs more than a 2 s clip's spectrogram."""
    return torchaudio.transforms.MelSpectrogram(SAMPLE_RATE, n_fft=1024, hop_length=512, n_mels=n_mels, power=2.0,
                                                mel_scale="slaney", norm="slaney", center=True, pad_mode="constant")


def log_mel(wave: torch.Tensor, n_mels: int = 64) -> torch.Tensor:
    """(samples,) -> (n_mels, frames): the baselines' 10 log10(power mel + eps), Slaney mel scale and norm."""
    with torch.no_grad():
        return 10.0 * torch.log10(_mel(n_mels)(wave) + EPS)


def frame_vectors(logmel: torch.Tensor, frames: int = 5) -> torch.Tensor:
    """(n_mels, T) -> (T - frames + 1, frames * n_mels): row t is frames t..t+frames-1, frame after frame."""
    n = logmel.shape[1] - frames + 1
    return torch.cat([logmel[:, t:t + n].T for t in range(frames)], dim=1)


def validation_split(n: int, seed: int, shuffled: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(fit, held-out) vector indices: the last 10 % (Keras' validation_split) or a random ceil(10 %) (scikit-learn's
    train_test_split, which the 2023 baseline calls)."""
    if not shuffled:
        split = int(n * 0.9)
        return torch.arange(split), torch.arange(split, n)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    held = -(-n // 10)
    return order[held:].sort().values, order[:held].sort().values


def train_autoencoder(fit: torch.Tensor, held: torch.Tensor, epochs: int, batch_size: int, lr: float, seed: int,
                      desc: str = "ae") -> tuple[DenseAutoencoder, list[dict]]:
    """MSE training on one machine type's `fit` vectors (in their dtype); the loss on `held` is logged each epoch."""
    torch.manual_seed(seed)
    model = DenseAutoencoder(fit.shape[1]).to(fit.dtype)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    log = []
    for epoch in tqdm(range(epochs), desc=desc, unit="epoch", leave=False):
        model.train()
        total = 0.0
        for idx in torch.randperm(len(fit), generator=gen).split(batch_size):
            if len(idx) < 2:  # BatchNorm needs two samples
                continue
            loss = nn.functional.mse_loss(model(fit[idx]), fit[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        model.eval()
        with torch.no_grad():
            val = float(nn.functional.mse_loss(model(held), held)) if len(held) else float("nan")
        log.append({"epoch": epoch + 1, "loss": total / len(fit), "val_loss": val})
    return model.eval(), log


def frame_differences(model: DenseAutoencoder, vectors: torch.Tensor, n_mels: int) -> torch.Tensor:
    """Input minus reconstruction, one row per frame of every vector: (vectors * frames, n_mels)."""
    with torch.no_grad():
        return (vectors - model(vectors)).reshape(-1, n_mels)


def difference_covariance(model: DenseAutoencoder, vectors: torch.Tensor, n_mels: int) -> torch.Tensor:
    """The 2023 baseline's covariance of frame differences: their scatter about the mean, divided by the number of
    *vectors* minus one (so about frames x the per-frame covariance). The baseline centres each batch of 256 vectors
    on its own mean; one mean over all of them differs by the scatter of those batch means."""
    diff = frame_differences(model, vectors, n_mels).double()
    centred = diff - diff.mean(0)
    return centred.T @ centred / (len(vectors) - 1)


class BaselineAutoencoder(Embedder):
    """One autoencoder per machine type, trained on its training clips; the trained models are kept under
    `<cache>/models/` so another `output` of the same training reuses them."""

    trains = True
    shuffled_validation = False
    outputs: tuple[str, ...] = ("error",)
    reference_scorers: ClassVar[dict[str, str]] = {"error": "mse"}

    @classmethod
    def reference_scorer(cls, options: dict) -> str | None:
        return cls.reference_scorers.get(options.get("output", "error"))

    def __init__(self, epochs: int, batch_size: int, lr: float, n_mels: int, frames: int, output: str, device: str):
        super().__init__(device)
        if output not in self.outputs:
            raise ValueError(f"output must be one of {', '.join(self.outputs)}, not {output!r}")
        self.epochs, self.batch_size, self.lr, self.n_mels, self.frames = epochs, batch_size, lr, n_mels, frames
        self.output = output
        self.models_root: Path | None = None

    def fingerprint(self) -> str:
        return f"{self.name}-v3"  # trained here: the weights follow from this code, the options, the data and the seed

    def build(self, table, cache_root, seed=0, overrides=None):
        self.models_root = Path(cache_root) / "models"
        return super().build(table, cache_root, seed, overrides)

    def training_key(self, table: pd.DataFrame) -> str | None:
        """What a trained model depends on (code, options but `output`, seed, data); None outside `build`."""
        if self.models_root is None:
            return None
        training = {k: v for k, v in self.options().items() if k != "output"}
        key = json.dumps([self.fingerprint(), training, self.seed, data_fingerprint(table)], sort_keys=True, default=str)
        return hashlib.sha256(key.encode()).hexdigest()[:16]

    def trained(self, key: str | None, types: dict[str, tuple[torch.Tensor, np.ndarray]]) -> dict[str, dict]:
        """Per machine type ({type: (training vectors, is-target per vector)}), its model (and, for `ae2023`, its
        frame-difference covariance per domain): read from disk, or trained, every type still missing at once
        (`batched_ae.train_autoencoders`, each type's model the one it would get alone)."""
        states, missing = {}, []
        for machine_type, (vectors, _) in types.items():
            path = None if key is None else self.models_root / f"{self.name}-{machine_type}-{key}.pt"
            if path is not None and path.is_file():
                saved = torch.load(path, weights_only=True)
                model = DenseAutoencoder(vectors.shape[1])
                model.load_state_dict(saved.pop("model"))
                states[machine_type] = {"model": model.eval(), **saved}
            else:
                missing.append((machine_type, path))
        splits = {t: validation_split(len(types[t][0]), self.seed, self.shuffled_validation) for t, _ in missing}
        data = [(types[t][0][splits[t][0]], types[t][0][splits[t][1]]) for t, _ in missing]
        trained = batched_ae.train_autoencoders(data, self.epochs, self.batch_size, self.lr, self.seed,
                                     desc=f"{self.name} {len(missing)} machine types") if data else []
        for (machine_type, path), (model, log) in zip(missing, trained):
            fit = splits[machine_type][0]
            states[machine_type] = state = {"model": model, "log": log, **self.statistics(
                model, types[machine_type][0][fit], types[machine_type][1][fit.numpy()], machine_type)}
            if path is not None:
                with atomic_file(path) as tmp:
                    torch.save({**state, "model": model.state_dict()}, tmp)
        return states

    def statistics(self, model, fit_vectors, fit_is_target, machine_type) -> dict:
        return {}

    def vector_values(self, state: dict, vectors: torch.Tensor) -> torch.Tensor:
        """Per vector, what a clip's output averages: its squared reconstruction error per dimension."""
        return (vectors - state["model"](vectors)) ** 2

    def clip_outputs(self, state: dict, clips: list[torch.Tensor]) -> torch.Tensor:
        """(clips, output size): each clip's mean of `vector_values` over its vectors, the model run on many
        clips' vectors at once (one clip at a time spent seconds on per-call overhead)."""
        lengths = torch.tensor([len(c) for c in clips])
        owner = torch.repeat_interleave(torch.arange(len(clips)), lengths)
        sums = None
        with torch.no_grad():
            for part, whose in zip(torch.cat(clips).split(VECTORS_PER_PASS), owner.split(VECTORS_PER_PASS)):
                values = self.vector_values(state, part).double()
                sums = torch.zeros(len(clips), values.shape[1], dtype=torch.float64) if sums is None else sums
                sums.index_add_(0, whose, values)
        return sums / lengths[:, None]

    def embed(self, table: pd.DataFrame):
        channel = channels.of(table)
        clips = [frame_vectors(log_mel(torch.from_numpy(read_mono(p, channel, self.label())), self.n_mels), self.frames)
                 for p in tqdm(table.path, desc=f"{self.name} features", unit="clip", leave=False)]
        key = self.training_key(table)  # one stat of every clip, not one per machine type
        rows, types = {}, {}
        for machine_type in sorted(table.machine_type.unique()):
            rows[machine_type] = np.flatnonzero((table.machine_type == machine_type).to_numpy())
            train_rows = rows[machine_type][(table.split.to_numpy()[rows[machine_type]] == "train")]
            types[machine_type] = (torch.cat([clips[i] for i in train_rows]), np.repeat(
                (table.domain.to_numpy()[train_rows] == "target"), [len(clips[i]) for i in train_rows]))
        states = self.trained(key, types)
        self.logs = {t: s.get("log", []) for t, s in states.items()}
        out = None
        for machine_type, state in states.items():
            values = self.clip_outputs(state, [clips[i] for i in rows[machine_type]]).numpy()
            if out is None:
                out = np.zeros((len(table), values.shape[1]), np.float32)
            out[rows[machine_type]] = values
        return out, None


@register
class AE2020Embedder(BaselineAutoencoder):
    """The DCASE 2020 baseline autoencoder (one per machine type): each clip's reconstruction-error profile."""

    name = "ae2020"
    repository = "y-kawagu/dcase2020_task2_baseline"

    def __init__(self, epochs: int = 100, batch_size: int = 512, lr: float = 1e-3, n_mels: int = 64, frames: int = 5,
                 device: str = "cpu"):
        super().__init__(epochs, batch_size, lr, n_mels, frames, "error", device)


@register
class AE2023Embedder(BaselineAutoencoder):
    """The DCASE 2023-2025 baseline autoencoder: output=error for its MSE score, output=whitened for its selective
    Mahalanobis score (the `block_norm` scorer)."""

    name = "ae2023"
    repository = "nttcslab/dcase2023_task2_baseline_ae"
    shuffled_validation = True
    outputs = ("error", "whitened")
    reference_scorers = {"error": "mse", "whitened": "block_norm"}

    def __init__(self, epochs: int = 100, batch_size: int = 256, lr: float = 1e-3, n_mels: int = 128, frames: int = 5,
                 output: str = "error", device: str = "cpu"):
        super().__init__(epochs, batch_size, lr, n_mels, frames, output, device)

    def statistics(self, model, fit_vectors, fit_is_target, machine_type) -> dict:
        """Each domain's covariance factor; a type without target training clips uses the source one for both, as
        the baseline does."""
        factors = {}
        for domain, mask in (("source", ~fit_is_target), ("target", fit_is_target)):
            if mask.sum() < 2:
                factors[domain] = factors["source"]
                continue
            cov = difference_covariance(model, fit_vectors[torch.from_numpy(mask)], self.n_mels)
            factor, info = torch.linalg.cholesky_ex(cov)
            if int(info):
                raise DataError(f"{machine_type}: the covariance of the {domain} training clips' reconstruction "
                                f"differences is singular ({int(mask.sum())} vectors); add training clips")
            factors[domain] = factor
        return {"factor_source": factors["source"], "factor_target": factors["target"]}

    def vector_values(self, state: dict, vectors: torch.Tensor) -> torch.Tensor:
        if self.output == "error":
            return super().vector_values(state, vectors)
        return (vectors - state["model"](vectors)).reshape(len(vectors), -1, self.n_mels).double().mean(1)

    def clip_outputs(self, state: dict, clips: list[torch.Tensor]) -> torch.Tensor:
        """`output=whitened`: each clip's mean frame difference (every vector has as many frames, so the mean of
        the vectors' means), whitened by each domain's factor."""
        means = super().clip_outputs(state, clips)
        if self.output == "error":
            return means
        return torch.cat([torch.linalg.solve_triangular(state[f"factor_{d}"], means.T, upper=False).T
                          for d in ("source", "target")], dim=1)
