"""Per machine type, the log-mel statistics that tell two data sets apart (`bench data compare A B`).

All figures come from the harness's own log-mel (1024/512/128, power in dB), over at most `max_clips` clips
per machine type and class, spread evenly over the sorted clip list.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from embeddings.features import LogMelConfig, compute_logmel

MEL = LogMelConfig()


@dataclass
class TypeStats:
    """What one machine type's clips look like; spectra are (n_mels,) in dB."""
    normal_spectrum: np.ndarray
    anomaly_spectrum: np.ndarray | None
    level_db: float
    time_variation_db: float
    energy_modulation_db: float
    flatness: float
    centroid_hz: float
    n_normal: int
    n_anomaly: int


def mel_centres_hz(config: LogMelConfig = MEL) -> np.ndarray:
    """Centre frequency of each mel band (HTK mel scale, as torchaudio's default)."""
    top = 2595 * np.log10(1 + (config.sample_rate / 2) / 700)
    mels = np.linspace(0, top, config.n_mels + 2)[1:-1]
    return 700 * (10 ** (mels / 2595) - 1)


def clip_features(logmel: np.ndarray, frames: np.ndarray) -> dict[str, np.ndarray]:
    """Per clip: mean spectrum (dB), level, time variation, energy modulation, flatness."""
    spectra, level, tvar, emod, flat = [], [], [], [], []
    for mel, n in zip(logmel, frames):
        x = np.asarray(mel[:, :n], dtype=np.float64)
        spectra.append(x.mean(1))
        level.append(x.mean())
        tvar.append(x.std(1).mean())  # how much each band moves over time
        power = 10 ** (x / 10)
        emod.append((10 * np.log10(power.sum(0))).std())  # how much the whole frame's energy moves
        flat.append(np.mean(np.exp(np.log(power).mean(0)) / power.mean(0)))
    return dict(spectrum=np.stack(spectra), level=np.array(level), time_variation=np.array(tvar),
                energy_modulation=np.array(emod), flatness=np.array(flat))


def even_sample(paths: list[str], n: int) -> list[str]:
    paths = sorted(paths)
    return paths if len(paths) <= n else [paths[i] for i in np.linspace(0, len(paths) - 1, n).round().astype(int)]


def type_stats(table: pd.DataFrame, max_clips: int = 200) -> dict[str, TypeStats]:
    """Statistics per machine type of a clip table's labelled clips (normal = label 0, anomaly = label 1)."""
    out = {}
    centres = mel_centres_hz()
    for machine_type, group in table.groupby("machine_type"):
        feats = {}
        for label in (0, 1):
            paths = even_sample(list(group.path[group.label == label]), max_clips)
            if paths:
                logmel, frames = compute_logmel(paths, MEL, desc=f"{machine_type} {'anomaly' if label else 'normal'}")
                feats[label] = clip_features(logmel, frames)
        if 0 not in feats:
            continue
        normal = feats[0]
        mean_power = (10 ** (normal["spectrum"] / 10)).mean(0)
        out[machine_type] = TypeStats(
            normal_spectrum=normal["spectrum"].mean(0),
            anomaly_spectrum=feats[1]["spectrum"].mean(0) if 1 in feats else None,
            level_db=float(normal["level"].mean()),
            time_variation_db=float(normal["time_variation"].mean()),
            energy_modulation_db=float(normal["energy_modulation"].mean()),
            flatness=float(normal["flatness"].mean()),
            centroid_hz=float((centres * mean_power).sum() / mean_power.sum()),
            n_normal=len(normal["level"]), n_anomaly=len(feats[1]["level"]) if 1 in feats else 0)
    return out


def anomaly_distance_db(stats: TypeStats) -> float:
    """RMS over mel bands of the difference between the mean anomaly and mean normal spectra (dB)."""
    if stats.anomaly_spectrum is None:
        return float("nan")
    return float(np.sqrt(np.mean((stats.anomaly_spectrum - stats.normal_spectrum) ** 2)))


def compare(a: dict[str, TypeStats], b: dict[str, TypeStats]) -> pd.DataFrame:
    """One row per machine type present in both: each statistic of A and B, and the spectra's correlation."""
    rows = []
    for machine_type in sorted(set(a) & set(b)):
        x, y = a[machine_type], b[machine_type]
        rows.append({
            "type": machine_type,
            "clips A (normal/anomaly)": f"{x.n_normal}/{x.n_anomaly}",
            "clips B (normal/anomaly)": f"{y.n_normal}/{y.n_anomaly}",
            "level A": x.level_db, "level B": y.level_db,
            "spectrum corr": float(np.corrcoef(x.normal_spectrum, y.normal_spectrum)[0, 1]),
            "time var A": x.time_variation_db, "time var B": y.time_variation_db,
            "anomaly dist A": anomaly_distance_db(x), "anomaly dist B": anomaly_distance_db(y),
            "energy mod A": x.energy_modulation_db, "energy mod B": y.energy_modulation_db,
            "flatness A": x.flatness, "flatness B": y.flatness,
            "centroid Hz A": x.centroid_hz, "centroid Hz B": y.centroid_hz,
        })
    return pd.DataFrame(rows)
