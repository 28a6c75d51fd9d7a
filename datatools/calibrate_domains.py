"""Fit the domain-shift generator (`dcase.recording`) to real DCASE 2023 clips (`bench data calibrate-domains`).

Fitted, never copied: per type with real normal source clips, a smooth spectral envelope (which also sets the
level); from the type with real clips in all four test cells (valve), the size of the source/target shift, the
fault loudness and the clip-to-clip spectral-shape variation, which every type then shares. Each round renders
small 2023 stand-ins of the type (2 s clips, as `--preset small`, and as many clips per cell as the real half
has; for valve three draws, averaged), measures them as `bench data compare` does (`datastats.domain_stats`) and moves each parameter
towards the real figure. The real test clips also split in two halves by clip number: their figures show how much
a figure moves by chance alone, and `half=True` fits on one half only, so over-fitting the few real clips
shows as a gap between the stand-in and the other half.
"""
from __future__ import annotations

import json
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from datatools.calibrate import band_to_control
from datatools.datastats import domain_stats, type_stats
from dcase import recording, synth
from dcase.audio import SAMPLE_RATE
from dcase.generate import PRESETS, clip_seed, section_key, section_params
from dcase.tasks import get_task

TASK = "dcase2023"
SHIFT_TYPE = "valve"  # the one type with real clips in every test cell


def halves(real: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two halves of a real clip table: test clips alternate by clip number within each cell; training clips
    (the model-free detector's reference) are in both."""
    train, test = real[real.split == "train"], real[real.split != "train"].sort_values("path")
    order = test.groupby(["machine_type", "domain", "label"]).cumcount()
    return pd.concat([train, test[order % 2 == 0]]), pd.concat([train, test[order % 2 == 1]])


def render_set(machine_type: str, calibration: dict, out: Path, seed: int, per_cell: int, train: int,
               seconds: float = PRESETS["small"].seconds) -> pd.DataFrame:
    """A 2023 stand-in of one type's section 00 as the generator would write it (same conditions, clip seeds and
    16-bit WAVs): `train` source training clips and `per_cell` test clips per domain and label."""
    task = get_task(TASK)
    sources, targets = recording.conditions(task.name, task.year, seed, machine_type, "00", calibration)
    key = section_key(task, seed, machine_type, "00")
    params = section_params(machine_type, key)
    plan = [("train", "source", 0, i, sources[i % len(sources)]) for i in range(train)]
    plan += [("test", domain, label, i, conds[i % len(conds)]) for domain, conds in (("source", sources), ("target", targets))
             for label in (0, 1) for i in range(per_cell)]
    rows = []
    out.mkdir(parents=True, exist_ok=True)
    for split, domain, label, i, cond in plan:
        audio = recording.render(machine_type, params, cond, clip_seed(key, split, domain, label, i), seconds, bool(label),
                                 calibration=calibration)
        path = out / f"{machine_type}_{split}_{domain}_{label}_{i:04d}.wav"
        sf.write(str(path), audio, SAMPLE_RATE, subtype="PCM_16")
        rows.append(dict(path=str(path), machine_type=machine_type, split=split, domain=domain, label=label))
    return pd.DataFrame(rows)


def measure(table: pd.DataFrame) -> dict:
    """Per type: level, mean source-normal spectrum, and the domain statistics where the clips allow."""
    out = {}
    for machine_type, stats in type_stats(table).items():
        clips = stats.clips
        normal = clips[(clips.label == 0) & (clips.domain == "source")]
        spectrum = np.stack(list(normal.spectrum)).mean(0)
        out[machine_type] = {"level": float(spectrum.mean()), "spectrum": spectrum, **domain_stats(stats)}
    return out


def _figures(measured: dict) -> dict:
    return {k: round(float(v), 3) for k, v in measured.items() if k != "spectrum"}


def measure_rendered(machine_type: str, calibration: dict, out: Path, seeds: list[int], per_cell: int,
                     train: int) -> dict:
    """`measure` of stand-ins rendered with each of `seeds`, averaged: the figures a set of that size gives, with
    less of one draw's luck."""
    runs = []
    for s in seeds:
        folder = out / f"{machine_type}-{s}"
        runs.append(measure(render_set(machine_type, calibration, folder, s, per_cell, train))[machine_type])
        shutil.rmtree(folder)
    return {k: np.mean([r[k] for r in runs], axis=0) for k in runs[0]}


def real_counts(real: pd.DataFrame, machine_type: str) -> tuple[int, int]:
    """(test clips per domain and label, source training clips) of a type's real clips: a stand-in measured against
    them is rendered with as many, so both figures carry the same sampling noise (a mean spectrum of a dozen clips
    moves by about a decibel by chance alone)."""
    rows = real[real.machine_type == machine_type]
    test = rows[rows.split != "train"]
    return int(test.groupby(["domain", "label"]).size().min()), int(((rows.split == "train") & (rows.domain == "source")).sum())


def fit(real: pd.DataFrame, rounds: int = 8, seed: int = 12345, draws: int = 3, half: bool = False,
        progress=print) -> dict:
    """The domain calibration (see `dcase.recording`) and a report of the real figures (all clips and each half)
    and the stand-in's before and after. With `half`, the fit sees only the first half of the real test clips
    (the over-fitting check: compare its stand-in with the other half)."""
    first, second = halves(real)
    fitted_to = first if half else real
    target = measure(fitted_to)
    calibration = {**recording.UNCALIBRATED, "envelopes": {}}
    report: dict = {"fitted to": "first half" if half else "all clips",
                    **{name: {t: _figures(m) for t, m in measure(rows).items()}
                       for name, rows in (("real", real), ("first half", first), ("second half", second))},
                    "rounds": {}}
    types = [SHIFT_TYPE] + sorted(t for t in target if t != SHIFT_TYPE)  # the shared parameters first
    with tempfile.TemporaryDirectory() as tmp:
        for machine_type in types:
            real_stats = target[machine_type]
            envelope = np.zeros(synth.CONTROL_POINTS)
            history = []
            for r in range(rounds + 1):
                calibration["envelopes"][machine_type] = envelope.round(3).tolist()
                shared = machine_type == SHIFT_TYPE
                got = measure_rendered(machine_type, calibration, Path(tmp) / str(r),
                                       [seed + 100 * d for d in range(draws if shared else 1)],
                                       *(real_counts(fitted_to, machine_type) if shared else (4, 0)))
                corr = float(np.corrcoef(got["spectrum"], real_stats["spectrum"])[0, 1])
                history.append({**_figures(got), "corr": round(corr, 4),
                                **{f"{k} (fitted)": calibration[k] for k in ("shift", "anomaly_gain", "shape_db")}})
                progress(f"{machine_type} round {r}: " + ", ".join(f"{k} {v:.3g}" for k, v in history[-1].items()))
                if r == rounds:
                    break
                envelope = envelope + band_to_control(real_stats["spectrum"] - got["spectrum"])
                if machine_type == SHIFT_TYPE:
                    _step_shared(calibration, got, real_stats)
            report["rounds"][machine_type] = {"first": history[0], "last": history[-1]}
    return {**{k: round(float(calibration[k]), 4) for k in ("shift", "anomaly_gain", "shape_db")},
            "envelopes": calibration["envelopes"],
            "_fit": {"when": datetime.now(UTC).isoformat(timespec="seconds"), "task": TASK, "rounds": rounds,
                     "seeds": [seed + 100 * d for d in range(draws)], "clips": real_counts(fitted_to, SHIFT_TYPE),
                     "report": report}}


def _step_shared(calibration: dict, got: dict, real: dict) -> None:
    """Move the shared parameters towards the real figures: each figure grows with its own parameter."""
    ratio = lambda a, b: float(np.clip(a / max(b, 1e-3), 0.5, 2.0))  # noqa: E731
    calibration["shift"] *= ratio(real["shift"], got["shift"])
    anomaly = lambda m: (m["anomaly source"] + m["anomaly target"]) / 2  # noqa: E731
    calibration["anomaly_gain"] *= ratio(anomaly(real), anomaly(got))
    calibration["shape_db"] = float(np.clip(calibration["shape_db"] + 8 * (got["AUC-source"] - real["AUC-source"]), 0, 8))


def write(calibration: dict, path: Path = recording.CALIBRATION_FILE) -> None:
    from core.atomic import write_text
    write_text(path, json.dumps(calibration, indent=1) + "\n")
