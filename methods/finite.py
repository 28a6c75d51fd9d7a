"""The one-line errors for NaN or inf embeddings, found from a summary a scorer computes anyway."""
from __future__ import annotations

import numpy as np
import torch

from core.errors import DataError


def nonfinite_error(values: np.ndarray, name: str) -> DataError:
    """The error for an array found non-finite by a cheap check; names the first bad row."""
    bad = ~np.isfinite(values).all(1)
    if not bad.any():  # finite, but large enough that squares overflow float32
        return DataError(f"{name}: values up to {np.abs(values).max():.3g} overflow float32 arithmetic; "
                         "rescale the embeddings")
    return DataError(f"{name} row {np.argmax(bad)} (and {bad.sum() - 1} more) is NaN or inf; "
                     "the model diverged: retrain, or drop those clips")


def require_finite(summary: torch.Tensor, values: np.ndarray, name: str) -> None:
    """Refuse `values` when `summary`, per-row norms or sums computed from them anyway, is not finite:
    a NaN or inf in a row reaches its summary, so this costs no extra pass over the data."""
    if not bool(torch.isfinite(summary).all()):
        raise nonfinite_error(np.asarray(values), name)
