"""Fit the generator's per-type spectral envelope to real recordings (`bench data calibrate REAL_ROOT`).

The real clips are a measuring stick only: their mean log-mel spectrum per machine type is the target, and
a smooth gain curve (a few dozen numbers per type) is what is fitted. No real audio is copied or mixed in.
Each round renders normal clips with the current envelope, measures their mean log-mel spectrum, and moves
the envelope by the smoothed difference; a few rounds converge because a smooth filter shifts the log-mel
spectrum by its own gain.
"""
from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import torch

from datatools.datastats import MEL, clip_features, mel_centres_hz, type_stats
from dcase import synth
from dcase.synth import DEV_IDS, EVAL_IDS, MACHINE_TYPES
from embeddings.features import LogMel

CONTROL_POINTS = synth.CONTROL_POINTS
SWAY_STEP = 2.0  # dB of sway per dB of missing time variation: about the slope measured on the six types


def render_normals(machine_type: str, calibration: dict, clips_per_id: int, seconds: float, seed: int) -> np.ndarray:
    """Normal clips of every ID of the type, quantised to 16 bits as a written WAV would be."""
    out = []
    for machine_id in DEV_IDS[machine_type] + EVAL_IDS[machine_type]:
        params = synth.machine_params(seed, machine_type, machine_id)
        for i in range(clips_per_id):
            clip = synth.render_clip(machine_type, params, [seed, 99, int(machine_id), i], seconds, False, calibration)
            out.append(np.round(clip * 32768) / 32768)
    return np.stack(out).astype(np.float32)


def measure(audio: np.ndarray) -> dict[str, np.ndarray]:
    with torch.inference_mode():
        logmel = LogMel(MEL)(torch.from_numpy(audio)).numpy()
    return clip_features(logmel, np.full(len(audio), logmel.shape[-1]))


def band_to_control(diff_db: np.ndarray, n: int = CONTROL_POINTS) -> np.ndarray:
    """Smooth a per-mel-band difference onto the envelope's control points (triangular weights in mel)."""
    bands, points = synth.mel(mel_centres_hz()), synth.mel(synth.control_frequencies(n))
    width = points[1] - points[0]
    weights = np.clip(1 - np.abs(bands[None, :] - points[:, None]) / width, 0, None)
    return (weights * diff_db).sum(1) / weights.sum(1)


def fit(real: pd.DataFrame, rounds: int = 8, clips_per_id: int = 4, seconds: float = 2.0, seed: int = 12345,
        progress=print) -> dict:
    """The calibration dict (envelopes and the figures measured before and after) for every type in `real`."""
    targets = type_stats(real)
    calibration: dict = {}
    report = {}
    for machine_type in (t for t in MACHINE_TYPES if t in targets):
        target = targets[machine_type]
        envelope, depth = np.zeros(CONTROL_POINTS), 0.0
        history = []
        for r in range(rounds + 1):
            calibration[machine_type] = {"envelope_db": envelope.round(3).tolist(), "sway_db": round(depth, 3)}
            feats = measure(render_normals(machine_type, calibration, clips_per_id, seconds, seed))
            spectrum = feats["spectrum"].mean(0)
            history.append(dict(level=float(feats["level"].mean()),
                                corr=float(np.corrcoef(spectrum, target.normal_spectrum)[0, 1]),
                                time_variation=float(feats["time_variation"].mean()), sway_db=depth))
            progress(f"{machine_type} round {r}: level {history[-1]['level']:.2f} dB (real {target.level_db:.2f}), "
                     f"spectrum corr {history[-1]['corr']:.3f}, time variation {history[-1]['time_variation']:.2f} dB "
                     f"(real {target.time_variation_db:.2f}), sway {depth:.2f} dB")
            if r < rounds:
                envelope = envelope + band_to_control(target.normal_spectrum - spectrum)
                # a slow level sway can only add time variation; types that vary less keep none
                depth = float(np.clip(depth + SWAY_STEP * (target.time_variation_db - history[-1]["time_variation"]), 0, 12))
        report[machine_type] = dict(real=dict(level=target.level_db, time_variation=target.time_variation_db,
                                              clips=len(target.normal_spectra)),
                                    first=history[0], last=history[-1])
    return {**calibration, "_fit": {"when": datetime.now(UTC).isoformat(timespec="seconds"),
                                    "control_points": CONTROL_POINTS, "rounds": rounds, "report": report}}


def write(calibration: dict, path=synth.CALIBRATION_FILE) -> None:
    from core.atomic import write_text
    write_text(path, json.dumps(calibration, indent=1))
