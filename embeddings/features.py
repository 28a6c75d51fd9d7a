"""Log-mel spectrograms (16 kHz, n_fft 1024, hop 512, 128 bands) and the on-disk feature cache."""
from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
import torch
import torchaudio
from tqdm import tqdm

from core.atomic import atomic_folder
from core.errors import DataError
from core.locking import exclusive
from core.torchrun import is_main
from dcase import channels
from dcase.audio import SAMPLE_RATE

FEATURE_VERSION = 1  # bump when the bytes written for the same parameters change
SPLITS = ("train", "dev", "eval")


@dataclass(frozen=True)
class LogMelConfig:
    sample_rate: int = SAMPLE_RATE
    n_fft: int = 1024
    hop_length: int = 512
    n_mels: int = 128
    floor: float = 1e-10  # power floor before the log, i.e. -100 dB


class LogMel(torch.nn.Module):
    """Waveforms (batch, samples) -> log-mel in dB (batch, n_mels, frames)."""

    def __init__(self, config: LogMelConfig = LogMelConfig()):
        super().__init__()
        self.config = config
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=config.sample_rate, n_fft=config.n_fft, hop_length=config.hop_length,
            n_mels=config.n_mels, power=2.0)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return 10.0 * torch.log10(self.mel(wave).clamp_min(self.config.floor))


def read_wav(path: str, channel: str = "") -> np.ndarray:
    """(samples,) float32, or (2, samples) for `channel="stack"` (`dcase.channels`)."""
    try:
        audio, sr = sf.read(path, dtype="float32", always_2d=False)
    except Exception as exc:
        raise DataError(f"{path}: cannot decode WAV ({exc}); remove it or pass --skip-bad") from None
    if sr != SAMPLE_RATE or audio.size == 0:
        raise DataError(f"{path}: expected non-empty 16 kHz audio, got {sr} Hz shape {audio.shape}; resample or remove it")
    try:
        return channels.select(audio, channel, path)
    except ValueError as exc:
        raise DataError(str(exc)) from None


def read_mono(path: str, channel: str, embedder: str) -> np.ndarray:
    """`read_wav` for an embedder that takes one waveform: `stack` is refused in one line."""
    if channel == "stack":
        raise DataError(f"{path}: embedder {embedder} takes one channel, not --channel stack; use left, right or mean")
    return read_wav(path, channel)


def fingerprint(table: pd.DataFrame) -> str:
    """Hash of every clip's name, size and modification time: changes whenever the data does."""
    h = hashlib.sha256()
    if channels.of(table):  # mono data keeps the keys it always had
        h.update(f"channel={channels.of(table)}\n".encode())
    for path in sorted(table["path"]):
        st = os.stat(path)
        h.update(f"{'/'.join(Path(path).parts[-4:])}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def compute_logmel(paths: list[str], config: LogMelConfig = LogMelConfig(), device: str = "cpu",
                   batch_size: int = 64, desc: str = "log-mel", channel: str = "") -> tuple[np.ndarray, np.ndarray]:
    """Decode and transform `paths`; returns float16 (N, planes x n_mels, T_max) padded with the floor (planes: 2
    for `channel="stack"`, the two microphones' bands one after the other), and frames per clip."""
    planes = channels.planes(channel)
    logmel = LogMel(config).to(device)
    floor_db = 10.0 * np.log10(config.floor)
    chunks, lengths = [], []
    with ThreadPoolExecutor(4) as pool, torch.inference_mode():
        for start in tqdm(range(0, len(paths), batch_size), desc=desc, unit="batch", leave=False):
            waves = [w.reshape(planes, -1) for w in pool.map(lambda p: read_wav(p, channel), paths[start:start + batch_size])]
            n = max(w.shape[1] for w in waves)
            batch = torch.zeros(len(waves), planes, n)
            for i, w in enumerate(waves):
                batch[i, :, :w.shape[1]] = torch.from_numpy(w)
            mel = logmel(batch.to(device)).flatten(1, 2).cpu()
            frames = [1 + w.shape[1] // config.hop_length for w in waves]
            for i, f in enumerate(frames):
                mel[i, :, f:] = floor_db
            chunks.append(mel.to(torch.float16).numpy())
            lengths += frames
    t_max = max(c.shape[-1] for c in chunks)
    out = np.full((len(paths), planes * config.n_mels, t_max), floor_db, dtype=np.float16)
    i = 0
    for c in chunks:
        out[i:i + len(c), :, :c.shape[-1]] = c
        i += len(c)
    return out, np.asarray(lengths)


@dataclass
class FeatureSet:
    """The clip table and a log-mel array per split, rows aligned with the table's rows of that split."""
    table: pd.DataFrame
    logmel: dict[str, np.ndarray]
    key: str

    def split(self, name: str) -> tuple[pd.DataFrame, np.ndarray]:
        return self.table[self.table.split == name].reset_index(drop=True), self.logmel[name]


def feature_key(table: pd.DataFrame, config: LogMelConfig) -> str:
    payload = json.dumps([fingerprint(table), asdict(config), FEATURE_VERSION], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def load_features(table: pd.DataFrame, cache_root: str | Path, config: LogMelConfig = LogMelConfig(),
                  device: str = "cpu") -> FeatureSet:
    """Log-mel for every clip of `table`, computed once and then read from `cache_root/features/<key>`."""
    key = feature_key(table, config)
    folder = Path(cache_root) / "features" / key
    with exclusive(folder.with_name(key + ".lock")):
        if not (folder / "manifest.json").is_file() and is_main():
            _write_features(table, config, device, folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    if manifest != {"config": asdict(config), "version": FEATURE_VERSION}:
        raise DataError(f"{folder}: feature cache written for {manifest}, not for this version and config; "
                        "delete the folder to recompute it")
    stored = pd.read_csv(folder / "clips.csv", usecols=["path", "n_frames"])
    clips = pd.concat([table[table.split == split] for split in SPLITS]).reset_index(drop=True)
    if list(stored.path) != list(clips.path):
        raise DataError(f"{folder}: feature cache lists other clips than the data; delete the folder to recompute it")
    clips["n_frames"] = stored.n_frames.to_numpy()  # every other column as the data is read now (labels, classes)
    logmel = {split: np.load(folder / f"{split}.npy", mmap_mode="r") for split in clips["split"].unique()}
    return FeatureSet(clips, logmel, key)


def _write_features(table: pd.DataFrame, config: LogMelConfig, device: str, folder: Path) -> None:
    """Compute into a temp folder, manifest last, then rename: a killed run leaves nothing that looks complete."""
    with atomic_folder(folder) as tmp:  # replaces a folder without a manifest: a leftover, never data
        parts = []
        for split in SPLITS:
            rows = table[table.split == split].reset_index(drop=True)
            if len(rows) == 0:
                continue
            mel, frames = compute_logmel(list(rows["path"]), config, device, desc=f"log-mel {split}",
                                         channel=channels.of(table))
            np.save(tmp / f"{split}.npy", mel)
            parts.append(rows.assign(n_frames=frames))
        pd.concat(parts).to_csv(tmp / "clips.csv", index=False)
        (tmp / "manifest.json").write_text(json.dumps({"config": asdict(config), "version": FEATURE_VERSION}))
