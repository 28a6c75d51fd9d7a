"""Per machine type, the log-mel statistics that tell two data sets apart (`bench data compare A B`).

All figures come from the harness's own log-mel (1024/512/128, power in dB), over at most `max_clips` clips
per machine type and class, spread evenly over the sorted clip list.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from dcase.synth import mel, mel_to_hz
from embeddings.features import LogMelConfig, compute_logmel

MEL = LogMelConfig()


@dataclass
class TypeStats:
    """What one machine type's clips look like; spectra are per clip, (clips, n_mels) in dB."""
    normal_spectra: np.ndarray
    anomaly_spectra: np.ndarray | None
    level_db: float
    time_variation_db: float
    energy_modulation_db: float
    flatness: float
    centroid_hz: float
    clips: pd.DataFrame | None = None    # every measured clip: label, domain, split, and its spectrum (column)

    @property
    def normal_spectrum(self) -> np.ndarray:
        return self.normal_spectra.mean(0)


def mel_centres_hz(config: LogMelConfig = MEL) -> np.ndarray:
    """Centre frequency of each mel band (HTK mel scale, as torchaudio's default)."""
    return mel_to_hz(np.linspace(0, mel(config.sample_rate / 2), config.n_mels + 2)[1:-1])


def clip_features(logmel: np.ndarray, frames: np.ndarray) -> dict[str, np.ndarray]:
    """Per clip: mean spectrum (dB), level, time variation, energy modulation, flatness."""
    spectra, level, tvar, emod, flat = [], [], [], [], []
    for spectrogram, n in zip(logmel, frames):
        x = np.asarray(spectrogram[:, :n], dtype=np.float64)
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
        feats, measured = {}, []
        for label in (0, 1):
            paths = even_sample(list(group.path[group.label == label]), max_clips)
            if paths:
                logmel, frames = compute_logmel(paths, MEL, desc=f"{machine_type} {'anomaly' if label else 'normal'}")
                feats[label] = clip_features(logmel, frames)
                rows = group.set_index("path").loc[paths, ["label", "domain", "split"]].reset_index(drop=True)
                measured.append(rows.assign(spectrum=list(feats[label]["spectrum"])))
        if 0 not in feats:
            continue
        normal = feats[0]
        mean_power = (10 ** (normal["spectrum"] / 10)).mean(0)
        out[machine_type] = TypeStats(
            normal_spectra=normal["spectrum"], anomaly_spectra=feats[1]["spectrum"] if 1 in feats else None,
            level_db=float(normal["level"].mean()),
            time_variation_db=float(normal["time_variation"].mean()),
            energy_modulation_db=float(normal["energy_modulation"].mean()),
            flatness=float(normal["flatness"].mean()),
            centroid_hz=float((centres * mean_power).sum() / mean_power.sum()),
            clips=pd.concat(measured, ignore_index=True))
    return out


def domain_stats(stats: TypeStats, permutations: int = 200, seed: int = 0) -> dict[str, float]:
    """What the domain-shift years are about, from test clips: the domain shift (RMS over bands of the target minus
    the source normals' mean spectrum, dB), each domain's anomaly distance with its chance level, and the AUC-source
    and AUC-target (as the 2022-on evaluators define them) of a model-free detector: a clip's spectral distance
    to the source normals' mean (the training clips' where there are any, else the test clips')."""
    from dcase.metrics import auc_pauc
    clips = stats.clips
    test = clips[clips.split != "train"]
    spectra = lambda rows: np.stack(list(rows.spectrum)) if len(rows) else None  # noqa: E731
    normal = {d: spectra(test[(test.label == 0) & (test.domain == d)]) for d in ("source", "target")}
    anomaly = {d: spectra(test[(test.label == 1) & (test.domain == d)]) for d in ("source", "target")}
    out = {"shift": _rms_distance(normal["target"], normal["source"])
           if normal["target"] is not None and normal["source"] is not None else float("nan")}
    rng = np.random.default_rng(seed)
    for d in ("source", "target"):
        if normal[d] is None or anomaly[d] is None:
            out[f"anomaly {d}"] = out[f"anomaly {d} by chance"] = float("nan")
            continue
        pooled, n = np.concatenate([normal[d], anomaly[d]]), len(normal[d])
        out[f"anomaly {d}"] = _rms_distance(anomaly[d], normal[d])
        out[f"anomaly {d} by chance"] = float(np.mean([_rms_distance(pooled[p[:n]], pooled[p[n:]])
                                                       for p in (rng.permutation(len(pooled)) for _ in range(permutations))]))
    train = clips[(clips.split == "train") & (clips.domain == "source")]
    reference = spectra(train) if len(train) else normal["source"]
    for d in ("source", "target"):
        chosen = test[((test.label == 0) & (test.domain == d)) | (test.label == 1)]
        if reference is None or chosen.label.nunique() < 2:
            out[f"AUC-{d}"] = float("nan")
            continue
        distance = np.sqrt(((spectra(chosen) - reference.mean(0)) ** 2).mean(1))
        out[f"AUC-{d}"] = auc_pauc(chosen.label.to_numpy(), distance)[0]
    return out


def _rms_distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((a.mean(0) - b.mean(0)) ** 2)))


def anomaly_distance_db(stats: TypeStats, permutations: int = 200, seed: int = 0) -> tuple[float, float]:
    """RMS over mel bands of (mean anomaly - mean normal spectrum), in dB, and its chance level.

    The chance level is the same distance between random relabellings of the pooled clips (same class sizes):
    with a handful of clips from different IDs it is large, and a distance below it says nothing.
    """
    if stats.anomaly_spectra is None:
        return float("nan"), float("nan")
    pooled = np.concatenate([stats.normal_spectra, stats.anomaly_spectra])
    n = len(stats.normal_spectra)
    rng = np.random.default_rng(seed)
    chance = [_rms_distance(pooled[p[:n]], pooled[p[n:]]) for p in (rng.permutation(len(pooled)) for _ in range(permutations))]
    return _rms_distance(stats.anomaly_spectra, stats.normal_spectra), float(np.mean(chance))


def drawn_anomaly_distance_db(stats: TypeStats, n_normal: int, n_anomaly: int, draws: int = 200, seed: int = 0) -> float:
    """The anomaly distance of `stats` with only `n_normal` and `n_anomaly` clips drawn, averaged over draws:
    a large set measured the way a small one is, so the two figures can be compared."""
    if stats.anomaly_spectra is None or n_normal > len(stats.normal_spectra) or n_anomaly > len(stats.anomaly_spectra):
        return float("nan")
    rng = np.random.default_rng(seed)
    return float(np.mean([_rms_distance(stats.anomaly_spectra[rng.choice(len(stats.anomaly_spectra), n_anomaly, replace=False)],
                                        stats.normal_spectra[rng.choice(len(stats.normal_spectra), n_normal, replace=False)])
                          for _ in range(draws)]))


def compare(a: dict[str, TypeStats], b: dict[str, TypeStats]) -> pd.DataFrame:
    """One row per machine type present in both: each statistic of A and B, and the spectra's correlation."""
    rows = []
    for machine_type in sorted(set(a) & set(b)):
        x, y = a[machine_type], b[machine_type]
        (dist_a, chance_a), (dist_b, chance_b) = anomaly_distance_db(x), anomaly_distance_db(y)
        rows.append({
            "type": machine_type,
            "clips A (normal/anomaly)": f"{len(x.normal_spectra)}/{0 if x.anomaly_spectra is None else len(x.anomaly_spectra)}",
            "clips B (normal/anomaly)": f"{len(y.normal_spectra)}/{0 if y.anomaly_spectra is None else len(y.anomaly_spectra)}",
            "level A": x.level_db, "level B": y.level_db,
            "spectrum corr": float(np.corrcoef(x.normal_spectrum, y.normal_spectrum)[0, 1]),
            "time var A": x.time_variation_db, "time var B": y.time_variation_db,
            "anomaly dist A": dist_a, "A by chance": chance_a, "anomaly dist B": dist_b, "B by chance": chance_b,
            "B drawn as A": drawn_anomaly_distance_db(y, len(x.normal_spectra), 0 if x.anomaly_spectra is None else len(x.anomaly_spectra)),
            "energy mod A": x.energy_modulation_db, "energy mod B": y.energy_modulation_db,
            "flatness A": x.flatness, "flatness B": y.flatness,
            "centroid Hz A": x.centroid_hz, "centroid Hz B": y.centroid_hz,
            **{f"{k} {side}": v for side, s in (("A", x), ("B", y)) if s.clips is not None
               and "domain" in s.clips and s.clips.domain.isin(["target"]).any() for k, v in domain_stats(s).items()},
        })
    return pd.DataFrame(rows)
