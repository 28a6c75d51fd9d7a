"""How a domain-shift year's clip is recorded (2021 on): recording conditions and their sound.

A section's conditions are the real attribute strings of its year and machine type (`attribute_schemas.json`,
from the real metadata files; `datatools.schemas`), or two generic source conditions and one target condition
where no real list names the type. Each condition plays the section's machine a little faster or slower in its
own background; target conditions sit further off than source conditions do from each other. How far (`shift`),
how loud the faults (`anomaly_gain`), how much each clip's spectral shape varies (`shape_db`) and each type's
spectral envelope and level were fitted to real DCASE 2023 clips (`datatools.calibrate_domains`,
`domain_calibration.json`); types without real clips keep their recipe's 2020 envelope and level.
"""
from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dcase import synth
from dcase.audio import SAMPLE_RATE

SCHEMA_FILE = Path(__file__).with_name("attribute_schemas.json")
CALIBRATION_FILE = Path(__file__).with_name("domain_calibration.json")
RECIPES = ("ToyCar", "ToyConveyor", "fan", "pump", "slider", "valve")
SOURCE_SPREAD, TARGET_OFFSET = (-0.3, 0.3), (0.6, 1.4)  # condition speed offsets, in units of `shift` x 10 %
SHAPE_POINTS = 8  # control points of a clip's random spectral shape: broad tilts and bumps, no fine detail
UNCALIBRATED = {"shift": 1.0, "anomaly_gain": 1.0, "shape_db": 0.0, "envelopes": {}}


def _load(path: Path, default):
    return json.loads(path.read_text()) if path.is_file() else default


SCHEMAS: dict = _load(SCHEMA_FILE, {})
CALIBRATION: dict = {**UNCALIBRATED, **_load(CALIBRATION_FILE, {})}


@dataclass(frozen=True)
class Condition:
    """One recording condition: the attribute string names show, and how it sounds."""
    attributes: str
    rate: float        # playback speed of the section's machine
    snr_db: float      # machine over background
    tilt: float        # background colour: power ~ 1/f ** tilt


def recipe(machine_type: str) -> str:
    """The 2020 recipe a machine type sounds like: its own for the six 2020 types, else one chosen by name."""
    return machine_type if machine_type in RECIPES else RECIPES[zlib.crc32(machine_type.encode()) % len(RECIPES)]


def schema(task: str, year: int, machine_type: str) -> dict[str, list[str]] | None:
    """The real attribute strings per domain of `machine_type` in `task`, else in the nearest year that has the type
    (the earlier one on a tie), else None."""
    have = [(abs(int(name[-4:]) - year), int(name[-4:]), types[machine_type])
            for name, types in SCHEMAS.items() if machine_type in types]
    if not have:
        return None
    exact = SCHEMAS.get(task, {}).get(machine_type)
    found = exact or min(have, key=lambda h: (h[0], h[1]))[2]
    return {d: list(found.get(d, {})) for d in ("source", "target")} if found.get("source") and found.get("target") else None


def conditions(task: str, year: int, seed: int, machine_type: str, section: str,
               calibration: dict | None = None) -> tuple[list[Condition], list[Condition]]:
    """A section's source and target conditions (at least one each)."""
    shift = (calibration or CALIBRATION)["shift"]
    rng = np.random.default_rng([seed, zlib.crc32(machine_type.encode()), int(section), 7])
    base = int(rng.integers(80, 110))
    names = schema(task, year, machine_type) or {"source": [f"spd_{base}_noise_A", f"spd_{base + 4}_noise_A"],
                                                 "target": [f"spd_{base + 10}_noise_B"]}

    def make(attributes: str, target: bool) -> Condition:
        r = np.random.default_rng([seed, zlib.crc32(machine_type.encode()), int(section), zlib.crc32(attributes.encode())])
        offset = r.uniform(*TARGET_OFFSET) * r.choice([-1, 1]) if target else r.uniform(*SOURCE_SPREAD)
        return Condition(attributes, base / 100 * (1 + 0.1 * shift * offset),
                         12.0 - 6.0 * shift * target, 1.0 - 0.5 * min(shift, 1.0) * target)
    return [make(a, False) for a in names["source"]], [make(a, True) for a in names["target"]]


def render(machine_type: str, params: dict, condition: Condition, clip_seed: list[int], seconds: float,
           anomalous: bool, far: bool = False, calibration: dict | None = None) -> np.ndarray:
    """One clip: the recipe played at the condition's rate (every frequency scaled) in its background, through the
    clip's random spectral shape and the type's fitted envelope. With `far`, (samples, 2): the near microphone
    left, the same machine through `distant` right."""
    fitted = calibration or CALIBRATION
    rate, n = condition.rate, int(seconds * SAMPLE_RATE)
    played = synth.render_clip(recipe(machine_type), params, clip_seed, seconds * rate, anomalous,
                               severity_scale=fitted["anomaly_gain"])
    machine = np.interp(np.arange(n) * rate, np.arange(len(played)), played)  # played back `rate` times as fast
    rng = np.random.default_rng([*clip_seed, 99])
    background = synth.rms(machine) * 10 ** (-condition.snr_db / 20)
    noise = synth.shaped_noise(rng, n, 20, 8000, condition.tilt) * background
    y = machine + noise
    if far:  # the room's background at the same level, the machine weaker, duller and reverberant
        y = np.stack([y, distant(machine, rng) + synth.shaped_noise(rng, n, 20, 8000, condition.tilt) * background], 1)
    envelope = np.asarray(fitted["envelopes"].get(machine_type, np.zeros(synth.CONTROL_POINTS)), dtype=np.float64)
    if machine_type in fitted["envelopes"]:
        y = y / synth.rms(y[:, 0] if far else y)  # the fitted envelope sets the level
    points = synth.control_frequencies(len(envelope))
    shape = np.interp(synth.mel(points), synth.mel(synth.control_frequencies(SHAPE_POINTS)),
                      rng.standard_normal(SHAPE_POINTS) * fitted["shape_db"])
    if envelope.any() or shape.any():
        y = np.apply_along_axis(synth.apply_envelope, 0, y, envelope + shape)
    return np.clip(y, -1, 32767 / 32768).astype(np.float32)


FAR_DB, FAR_CUTOFF_HZ, FAR_RT60_S = -10.0, 2000.0, 0.5  # the far microphone: level, air and distance low-pass, room


def distant(x: np.ndarray, rng) -> np.ndarray:
    """The machine as a microphone a few metres away hears it: attenuated, low-passed and with a diffuse tail."""
    from scipy.signal import fftconvolve, lfilter
    pole = np.exp(-2 * np.pi * FAR_CUTOFF_HZ / SAMPLE_RATE)
    dull = lfilter([1 - pole], [1, -pole], x)
    t = np.arange(int(FAR_RT60_S * SAMPLE_RATE)) / SAMPLE_RATE
    tail = rng.normal(size=len(t)) * 10 ** (-3 * t / FAR_RT60_S) * 0.05
    tail[0] = 1.0  # the direct sound
    wet = fftconvolve(dull, tail)[:len(x)]
    return wet / synth.rms(wet) * synth.rms(x) * 10 ** (FAR_DB / 20)
