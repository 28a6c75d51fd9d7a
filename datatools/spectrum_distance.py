"""A model-free check of a data set's difficulty (not a baseline): distance of a clip's mean log-mel spectrum to its section's mean training spectrum.

It tells whether a data set is neither trivial (this reaches AUC 1.0) nor impossible (this sits at 0.5).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from embeddings.features import FeatureSet


def mean_spectra(features: FeatureSet, split: str) -> tuple[pd.DataFrame, np.ndarray]:
    clips, logmel = features.split(split)
    frames = clips.n_frames.to_numpy()
    spectra = np.stack([np.asarray(logmel[i, :, : frames[i]], dtype=np.float32).mean(1) for i in range(len(clips))])
    return clips, spectra


def spectrum_distance_scores(features: FeatureSet) -> dict[str, pd.DataFrame]:
    """Per labelled test split: its labelled clips with `score`, the distance of the clip's mean log-mel spectrum
    to the mean over its section's training clips (both domains)."""
    train_clips, train_spec = mean_spectra(features, "train")
    key = train_clips.machine_type + "/" + train_clips.section
    centres = {k: train_spec[(key == k).to_numpy()].mean(0) for k in key.unique()}
    out = {}
    for split in ("dev", "eval"):
        if split not in features.logmel:
            continue
        clips, spec = mean_spectra(features, split)
        labelled = (clips.label >= 0).to_numpy()
        if not labelled.any():
            continue
        sections = clips.machine_type + "/" + clips.section
        scores = np.linalg.norm(spec - np.stack([centres[k] for k in sections]), axis=1)
        out[split] = clips[labelled].assign(score=scores[labelled]).reset_index(drop=True)
    return out


def spectrum_distance(features: FeatureSet, scoring) -> dict[str, pd.DataFrame]:
    """Per labelled test split, the year's per-(type, section[, domain]) table of the trivial baseline (`scoring`:
    the year's `dcase.scoring` kind)."""
    return {split: scoring.section_table(clips) for split, clips in spectrum_distance_scores(features).items()}
