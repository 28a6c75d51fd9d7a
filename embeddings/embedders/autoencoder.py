"""`ae2020`: the official DCASE 2020 Task 2 baseline autoencoder, as an embedder.

As the baseline repository (y-kawagu/dcase2020_task2_baseline: baseline.yaml, keras_model.py, common.py)
defines it: log-mel with 64 bands, n_fft 1024, hop 512, power 2, in dB as 10 log10(mel + eps) (librosa's
Slaney mel filters); 5 consecutive frames concatenated into 320-dimensional vectors; a dense autoencoder
320-128-128-128-128-8-128-128-128-128-320 with batch norm and ReLU; MSE loss, Adam, 100 epochs, batch 512, the
last 10 % of the vectors held out for validation as Keras' validation_split does; one model per machine type.

A clip's embedding is its reconstruction-error profile: the squared error of each of the 320 dimensions,
averaged over the clip's vectors. Its mean is the baseline's anomaly score (the `mse` scorer); the profile
itself is what a Mahalanobis scorer over reconstruction errors reads.
"""
from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import torch
import torchaudio
from torch import nn
from tqdm import tqdm

from embeddings.embedders.base import Embedder
from embeddings.embedders.registry import register
from embeddings.features import SAMPLE_RATE, read_wav

EPS = sys.float_info.epsilon  # the baseline's floor inside the log


def log_mel(wave: torch.Tensor, n_mels: int = 64) -> torch.Tensor:
    """(samples,) -> (n_mels, frames): the baseline's 10 log10(power mel + eps), Slaney mel scale and norm."""
    mel = torchaudio.transforms.MelSpectrogram(SAMPLE_RATE, n_fft=1024, hop_length=512, n_mels=n_mels, power=2.0,
                                               mel_scale="slaney", norm="slaney", center=True, pad_mode="constant")
    return 10.0 * torch.log10(mel(wave) + EPS)


def frame_vectors(logmel: torch.Tensor, frames: int = 5) -> torch.Tensor:
    """(n_mels, T) -> (T - frames + 1, frames * n_mels): row t is frames t..t+frames-1, frame after frame."""
    n = logmel.shape[1] - frames + 1
    return torch.cat([logmel[:, t:t + n].T for t in range(frames)], dim=1)


class DenseAutoencoder(nn.Module):
    """320-128-128-128-128-8-128-128-128-128-320; every hidden layer Linear, BatchNorm, ReLU."""

    def __init__(self, dim: int = 320, width: int = 128, bottleneck: int = 8):
        super().__init__()
        sizes = [dim, width, width, width, width, bottleneck, width, width, width, width]
        hidden = [nn.Sequential(nn.Linear(a, b), nn.BatchNorm1d(b), nn.ReLU()) for a, b in zip(sizes, sizes[1:])]
        self.net = nn.Sequential(*hidden, nn.Linear(width, dim))

    def forward(self, x):
        return self.net(x)


def train_autoencoder(vectors: torch.Tensor, epochs: int, batch_size: int, lr: float, seed: int,
                      desc: str = "ae") -> tuple[DenseAutoencoder, list[dict]]:
    """MSE training on one machine type's vectors; the last 10 % validate (Keras' validation_split)."""
    torch.manual_seed(seed)
    split = int(len(vectors) * 0.9)
    fit, held = vectors[:split], vectors[split:]
    model = DenseAutoencoder(vectors.shape[1])
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


@register
class AE2020Embedder(Embedder):
    """The DCASE 2020 baseline autoencoder (one per machine type): each clip's reconstruction-error profile."""

    name = "ae2020"
    trains = True

    def __init__(self, epochs: int = 100, batch_size: int = 512, lr: float = 1e-3, n_mels: int = 64, frames: int = 5,
                 device: str = "cpu"):
        super().__init__(device)
        self.epochs, self.batch_size, self.lr, self.n_mels, self.frames = epochs, batch_size, lr, n_mels, frames

    def fingerprint(self) -> str:
        return "ae2020-v1"  # trained here: the weights follow from this code, the options, the data and the seed

    def embed(self, table: pd.DataFrame):
        vectors = [frame_vectors(log_mel(torch.from_numpy(read_wav(p)), self.n_mels), self.frames)
                   for p in tqdm(table.path, desc="ae2020 features", unit="clip", leave=False)]
        out = np.zeros((len(table), self.n_mels * self.frames), np.float32)
        self.logs = {}
        for machine_type in sorted(table.machine_type.unique()):
            rows = np.flatnonzero((table.machine_type == machine_type).to_numpy())
            train_rows = rows[(table.split.to_numpy()[rows] == "train")]
            model, self.logs[machine_type] = train_autoencoder(
                torch.cat([vectors[i] for i in train_rows]), self.epochs, self.batch_size, self.lr, self.seed,
                desc=f"ae2020 {machine_type}")
            with torch.no_grad():
                for i in rows:
                    out[i] = ((vectors[i] - model(vectors[i])) ** 2).mean(0).numpy()
        return out, None
