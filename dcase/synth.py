"""The sound recipes of the generated stand-ins (`dcase.generate` writes the data sets): the six DCASE 2020
machine types, calibrated against real 2020 release clips.

Each machine type is a small physical sound model; a machine (a 2020 ID, a later section) is one draw of its
parameters, and each clip adds operating jitter and factory background noise. Anomalies follow the faults recorded in
ToyADMOS and MIMII, each scaled by a severity drawn per clip so that some are barely audible.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from dcase.audio import SAMPLE_RATE
from dcase.tasks.y2020 import DCASE2020

SR = SAMPLE_RATE
RECIPE_TASK = DCASE2020.name  # the recipes are the 2020 machine types, calibrated on its release clips
DEV_IDS, EVAL_IDS = DCASE2020.dev_types, DCASE2020.eval_types
MACHINE_TYPES = tuple(DEV_IDS)
CALIBRATION_FILE = Path(__file__).with_name("calibration.json")
CONTROL_POINTS = 32  # where a fitted spectral envelope is defined (mel-spaced, 0 Hz to Nyquist)


# ---------------------------------------------------------------- signal helpers
def shaped_noise(rng, n, lo=20.0, hi=8000.0, tilt=1.0):
    """Noise with power ~ 1/f**tilt between lo and hi Hz, unit RMS."""
    spec = rng.standard_normal(n // 2 + 1) + 1j * rng.standard_normal(n // 2 + 1)
    f = np.fft.rfftfreq(n, 1 / SR)
    gain = np.where((f >= lo) & (f <= hi), 1.0 / np.maximum(f, lo) ** (tilt / 2), 0.0)
    x = np.fft.irfft(spec * gain, n)
    return x / (np.sqrt(np.mean(x**2)) + 1e-12)


def harmonics(t, f0, amps, phases):
    return sum(a * np.sin(2 * np.pi * f0 * (k + 1) * t + p) for k, (a, p) in enumerate(zip(amps, phases)))


def ringing(n, times, freq, decay, amp=1.0):
    """Damped sinusoid bursts (clicks, knocks) starting at `times` seconds.

    The convolution of the (sparse) spike train with the burst, one burst added per spike: twice as fast as
    `np.convolve` over the whole clip, and the same float32 clips (checked on 180 clips of the six types)."""
    spikes = np.zeros(n)
    idx = (np.asarray(times) * SR).astype(int)
    np.add.at(spikes, idx[(idx >= 0) & (idx < n)], amp)
    k = np.arange(int(SR * 5 / decay)) / SR
    kernel = np.exp(-decay * k) * np.sin(2 * np.pi * freq * k)
    out = np.zeros(n)
    for i in np.flatnonzero(spikes):
        m = min(len(kernel), n - i)
        out[i:i + m] += spikes[i] * kernel[:m]
    return out


def rms(x):
    return np.sqrt(np.mean(x**2)) + 1e-12


# ---------------------------------------------------------------- machine models
class Machine:
    """One machine type: `params` draws an ID, `render` plays one clip, with an optional fault."""

    faults: tuple[str, ...] = ()

    def params(self, rng) -> dict:
        raise NotImplementedError

    def render(self, rng, p, t, fault, severity) -> np.ndarray:
        raise NotImplementedError


class Fan(Machine):
    faults = ("imbalance", "contamination", "voltage_change", "blade_damage")

    def params(self, rng):
        return dict(blades=int(rng.integers(5, 9)), shaft=rng.uniform(18, 30), tilt=rng.uniform(0.5, 1.5),
                    band=rng.uniform(2000, 6000), amps=rng.uniform(0.2, 1.0, 4), am=rng.uniform(0.1, 0.4))

    def render(self, rng, p, t, fault, s):
        n = len(t)
        shaft = p["shaft"] * (1 + 0.004 * rng.standard_normal())
        if fault == "voltage_change":
            shaft *= 1 + 0.04 * s * rng.choice([-1, 1])
        bpf = shaft * p["blades"]
        tones = harmonics(t, bpf, p["amps"], rng.uniform(0, 2 * np.pi, 4))
        air = shaped_noise(rng, n, 50, p["band"], p["tilt"]) * (1 + p["am"] * np.sin(2 * np.pi * bpf * t))
        x = 0.5 * tones / rms(tones) + air
        if fault == "imbalance":
            x = x * (1 + 0.5 * s * np.sin(2 * np.pi * shaft * t)) + 0.4 * s * np.sin(2 * np.pi * shaft * t)
        elif fault == "contamination":
            x = x + 0.5 * s * shaped_noise(rng, n, 3000, 7000, 0.0)
        elif fault == "blade_damage":
            x = x + 6 * s * ringing(n, np.arange(rng.uniform(0, 1 / shaft), t[-1], 1 / shaft), 1800, 300)
        return x


class Pump(Machine):
    faults = ("clogging", "leakage", "contamination")

    def params(self, rng):
        return dict(f0=rng.uniform(45, 120), amps=rng.uniform(0.1, 1.0, 8), lo=rng.uniform(100, 400),
                    hi=rng.uniform(1500, 4000), flow=rng.uniform(0.5, 1.2))

    def render(self, rng, p, t, fault, s):
        n = len(t)
        f0 = p["f0"] * (1 + 0.005 * rng.standard_normal())
        motor = harmonics(t, f0, p["amps"], rng.uniform(0, 2 * np.pi, 8))
        flow_gain = p["flow"]
        hi = p["hi"]
        if fault == "clogging":  # a throttled flow: quieter, narrower and surging
            flow_gain *= 1 - 0.5 * s
            hi *= 1 - 0.4 * s
        flow = shaped_noise(rng, n, p["lo"], hi, 0.8) * flow_gain
        if fault == "clogging":
            flow = flow * (1 + 0.6 * s * np.sin(2 * np.pi * rng.uniform(0.5, 2) * t))
        x = motor / rms(motor) + flow
        if fault == "leakage":
            x = x + 0.5 * s * shaped_noise(rng, n, 4000, 7900, 0.0)
        elif fault == "contamination":  # cavitation crackle
            times = np.sort(rng.uniform(0, t[-1], int(40 * s * t[-1]) + 1))
            x = x + 5 * s * ringing(n, times, rng.uniform(2000, 5000), 800)
        return x


class Slider(Machine):
    faults = ("rail_damage", "no_grease")

    def params(self, rng):
        return dict(period=rng.uniform(0.6, 1.6), travel=rng.uniform(0.4, 0.8), lo=rng.uniform(200, 800),
                    hi=rng.uniform(2000, 5000), motor=rng.uniform(150, 400), click=rng.uniform(800, 2500),
                    rest=rng.uniform(0.2, 0.4))

    def render(self, rng, p, t, fault, s):
        n = len(t)
        period = p["period"] * (1 + 0.01 * rng.standard_normal())
        phase = (t / period + rng.uniform()) % 1.0
        moving = (phase < p["travel"]).astype(float)
        moving = np.convolve(moving, np.hanning(400) / np.hanning(400).sum(), mode="same")
        friction = shaped_noise(rng, n, p["lo"], p["hi"], 0.5) * (1.5 + s if fault == "no_grease" else 1.0)
        # the drive keeps humming and the carriage rattling between strokes, only quieter
        x = (p["rest"] + (1 - p["rest"]) * moving) * (friction + 0.7 * np.sin(2 * np.pi * p["motor"] * t))
        starts = t[np.flatnonzero(np.diff(phase < p["travel"]) != 0) + 1]
        x = x + 4 * ringing(n, starts, p["click"], 120)
        if fault == "rail_damage":  # a dent passed once per stroke
            hits = t[np.flatnonzero(np.diff((phase < p["travel"] * 0.5).astype(int)) == -1) + 1]
            x = x + 8 * s * ringing(n, hits, p["click"] * 1.7, 250)
        elif fault == "no_grease":
            squeal = np.sin(2 * np.pi * (rng.uniform(2500, 3500) * t + 3 * np.sin(2 * np.pi * 4 * t)))
            x = x + 0.5 * s * moving * squeal
        return x


class Valve(Machine):
    faults = ("contamination", "leakage", "damage")

    def params(self, rng):
        return dict(gaps=rng.uniform(0.08, 0.5, 4), f_res=rng.uniform(1500, 4500), decay=rng.uniform(150, 400),
                    hiss=rng.uniform(0.02, 0.08))

    def render(self, rng, p, t, fault, s):
        n = len(t)
        cycles = int(t[-1] / p["gaps"].sum()) + 2
        gaps = np.tile(p["gaps"], cycles) * (1 + 0.02 * rng.standard_normal(4 * cycles))
        times = np.cumsum(gaps) - rng.uniform(0, p["gaps"].sum())
        f_res = p["f_res"] * (1 + (0.08 * s if fault == "damage" else 0.0))
        x = ringing(n, times, f_res, p["decay"]) + p["hiss"] * shaped_noise(rng, n, 500, 6000, 0.5)
        open_state = (np.searchsorted(times, t) % 2).astype(float)
        if fault == "contamination":  # a particle in the seat: bounces and uneven timing
            x = x + ringing(n, times[::2] + rng.uniform(0.01, 0.03), f_res * 0.8, p["decay"], amp=0.6 * s)
        elif fault == "leakage":
            x = x + 0.3 * s * (1 - open_state) * shaped_noise(rng, n, 2000, 7000, 0.0)
        return x


class ToyCar(Machine):
    faults = ("gear_damage", "bent_shaft", "overvoltage", "tire_damage")

    def params(self, rng):
        return dict(f_motor=rng.uniform(300, 900), wobble_rate=rng.uniform(0.5, 3), wobble=rng.uniform(0.01, 0.04),
                    gear=rng.uniform(0.1, 0.3), amps=rng.uniform(0.2, 1.0, 5), road=rng.uniform(0.3, 0.8))

    def render(self, rng, p, t, fault, s):
        n = len(t)
        f = p["f_motor"] * (1 + 0.005 * rng.standard_normal()) * (1 + (0.05 * s if fault == "overvoltage" else 0.0))
        inst = f * (1 + p["wobble"] * np.sin(2 * np.pi * p["wobble_rate"] * t + rng.uniform(0, 6.28)))
        phase = 2 * np.pi * np.cumsum(inst) / SR
        motor = sum(a * np.sin((k + 1) * phase) for k, a in enumerate(p["amps"]))
        gear = np.sin(p["gear"] * 12 * phase)
        x = motor / rms(motor) + 0.4 * gear + p["road"] * shaped_noise(rng, n, 50, 3000, 1.2)
        wheel = f * p["gear"] / 8
        if fault == "gear_damage":
            x = x + 5 * s * ringing(n, np.arange(rng.uniform(0, 1 / wheel), t[-1], 1 / (f * p["gear"])), 3000, 500)
        elif fault == "bent_shaft":
            x = x * (1 + 0.6 * s * np.sin(2 * np.pi * wheel * t))
        elif fault == "tire_damage":
            x = x + 4 * s * ringing(n, np.arange(rng.uniform(0, 1 / wheel), t[-1], 1 / wheel), 400, 80)
        return x


class ToyConveyor(Machine):
    # IDs far apart, as on the real data: an ID classifier still places anomalies in their own ID.
    faults = ("belt_damage", "loose_attachment", "tension")

    def params(self, rng):
        return dict(hum=rng.uniform(60, 1500), roller=rng.uniform(0.05, 0.4), lo=rng.uniform(100, 2000),
                    tilt=rng.uniform(0.0, 2.0), roll_f=rng.uniform(500, 5000), amps=rng.uniform(0.0, 1.0, 6))

    def render(self, rng, p, t, fault, s):
        n = len(t)
        hum_f = p["hum"] * (1 + (0.03 * s if fault == "tension" else 0.0)) * (1 + 0.003 * rng.standard_normal())
        hum = harmonics(t, hum_f, p["amps"], rng.uniform(0, 6.28, 6))
        rollers = ringing(n, np.arange(rng.uniform(0, p["roller"]), t[-1], p["roller"]), p["roll_f"], 200)
        x = hum / rms(hum) + 2 * rollers + shaped_noise(rng, n, p["lo"], 7000, p["tilt"])
        if fault == "belt_damage":
            cycle = p["roller"] * 7
            x = x + 6 * s * ringing(n, np.arange(rng.uniform(0, cycle), t[-1], cycle), p["roll_f"] * 0.6, 150)
        elif fault == "loose_attachment":
            rattle = rng.uniform(0, t[-1], int(15 * s * t[-1]) + 1)
            x = x + 3 * s * ringing(n, np.sort(rattle), rng.uniform(1000, 3000), 400)
        return x


MACHINES: dict[str, Machine] = {
    "ToyCar": ToyCar(), "ToyConveyor": ToyConveyor(), "fan": Fan(), "pump": Pump(), "slider": Slider(), "valve": Valve(),
}
# Real MIMII clips were mixed with factory noise at -6, 0 and 6 dB; the toys were recorded cleaner.
SNR_DB = {"ToyCar": (6, 12), "ToyConveyor": (6, 12), "fan": (0, 6), "pump": (0, 6), "slider": (0, 6), "valve": (3, 9)}


def factory_noise(rng, n):
    hum = sum(a * np.sin(2 * np.pi * f * np.arange(n) / SR + rng.uniform(0, 6.28)) for f, a in ((50, 0.3), (100, 0.2), (150, 0.1)))
    bangs = ringing(n, rng.uniform(0, n / SR, rng.poisson(2)), rng.uniform(200, 1200), 30, amp=rng.uniform(0.5, 2))
    return shaped_noise(rng, n, 20, 8000, 1.0) + hum + bangs


def load_calibration(path: Path = CALIBRATION_FILE) -> dict:
    """Per machine type, the spectral envelope (dB at mel-spaced control frequencies) fitted by `bench data calibrate`."""
    return json.loads(path.read_text()) if path.is_file() else {}


CALIBRATION = load_calibration()


def mel(hz):
    """Hz -> mel on the HTK scale, torchaudio's default."""
    return 2595 * np.log10(1 + np.asarray(hz) / 700)


def mel_to_hz(m):
    return 700 * (10 ** (np.asarray(m) / 2595) - 1)


def control_frequencies(n: int) -> np.ndarray:
    """`n` frequencies evenly spaced on the mel scale from 0 to Nyquist: where an envelope is defined."""
    return mel_to_hz(np.linspace(0, mel(SR / 2), n))


def apply_envelope(y: np.ndarray, envelope_db) -> np.ndarray:
    """Filter `y` by a gain curve given in dB at `control_frequencies`, interpolated on the mel scale."""
    envelope_db = np.asarray(envelope_db, dtype=np.float64)
    f = np.fft.rfftfreq(len(y), 1 / SR)
    gain = 10 ** (np.interp(mel(f), mel(control_frequencies(len(envelope_db))), envelope_db) / 20)
    return np.fft.irfft(np.fft.rfft(y) * gain, len(y))


def sway(rng, n: int, depth_db: float, rate_hz: float = 6.0) -> np.ndarray:
    """A slow random gain (load, speed and mounting changes while recording) with `depth_db` dB standard deviation."""
    knots = rng.standard_normal(int(n / SR * rate_hz) + 2)
    return 10 ** (depth_db * np.interp(np.arange(n) / SR * rate_hz, np.arange(len(knots)), knots) / 20)


def render_clip(machine_type: str, params: dict, seed: tuple, seconds: float, anomalous: bool,
                calibration: dict | None = None, severity_scale: float = 1.0) -> np.ndarray:
    """One clip as float32 in [-1, 1]: machine (with a fault when anomalous, its drawn severity times
    `severity_scale`) plus factory noise, through the machine type's calibrated envelope (which also sets the
    recording level)."""
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    machine = MACHINES[machine_type]
    t = np.arange(int(seconds * SR)) / SR
    fault = rng.choice(machine.faults) if anomalous else None
    severity = rng.uniform(0.15, 1.0) * severity_scale if anomalous else 0.0
    x = machine.render(rng, params, t, fault, severity)
    x = x / rms(x) * 10 ** (rng.uniform(-1, 1) / 20)  # +-1 dB level jitter between clips
    fitted = (CALIBRATION if calibration is None else calibration).get(machine_type, {})
    x = x * sway(rng, len(t), fitted.get("sway_db", 0.0))
    noise = factory_noise(rng, len(t))
    snr = rng.uniform(*SNR_DB[machine_type])
    y = x + noise / rms(noise) * 10 ** (-snr / 20)
    y = apply_envelope(y, fitted["envelope_db"]) if "envelope_db" in fitted else 0.1 * y
    return np.clip(y, -1, 32767 / 32768).astype(np.float32)


def machine_params(seed: int, machine_type: str, machine_id: str) -> dict:
    rng = np.random.default_rng(np.random.SeedSequence([seed, MACHINE_TYPES.index(machine_type), int(machine_id)]))
    return MACHINES[machine_type].params(rng)
