"""Which microphone channel of a clip is read: DCASE 2026 records near (left) and far (right) in one stereo file.

The choice is a column of the clip table (`channel`, "" for a mono year read as is), so it travels with the
table into every cache key (`embeddings.features.fingerprint`) and every reader of audio.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from dcase.audio import CHANNEL_OPTION

CHOICES = ("left", "right", "mean", "stack")
ALIASES = {"near": "left", "far": "right"}


def resolve(choice: str | None) -> str:
    """`--channel`'s value as one of `CHOICES` ("" for none given)."""
    if not choice:
        return ""
    name = ALIASES.get(choice, choice)
    if name not in CHOICES:
        raise ValueError(f"--channel {choice!r}: choose one of {', '.join(CHOICES)} (or near, far)")
    return name


def of(table: pd.DataFrame) -> str:
    """The channel a clip table is read with ("" for mono)."""
    return str(table["channel"].iloc[0]) if "channel" in table and len(table) else ""


def planes(channel: str) -> int:
    """Input planes an embedder gets: 2 for `stack`, else 1."""
    return 2 if channel == "stack" else 1


def select(audio: np.ndarray, channel: str, path) -> np.ndarray:
    """(samples,) for mono or one channel, (2, samples) for `stack`, from soundfile's (samples[, channels])."""
    if audio.ndim == 1:
        return np.stack([audio, audio]) if channel == "stack" else audio
    if not channel:
        raise ValueError(f"{path}: {audio.shape[1]} channels; choose one with {CHANNEL_OPTION}")
    if channel == "left":
        return np.ascontiguousarray(audio[:, 0])
    if channel == "right":
        return np.ascontiguousarray(audio[:, 1])
    if channel == "mean":
        return audio[:, :2].mean(1)
    return np.ascontiguousarray(audio[:, :2].T)
