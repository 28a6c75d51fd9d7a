"""Generated data sets at sizes made for tests: each is generated once per version of the generator, kept in the
pytest cache, and copied from there (a test may edit its copy)."""
import hashlib
import os
import shutil
from dataclasses import astuple
from pathlib import Path

import numpy as np

from core.hashing import file_sha256
from dcase import generate

MICRO = generate.Preset(seconds=0.25, source_train=3, target_train=1, test_per_cell=1)
ROOT = Path(__file__).resolve().parents[1]
STORE = ROOT / ".pytest_cache" / "generated"  # `pytest --cache-clear` empties it


def generator_key(task: str, preset: generate.Preset, seed: int) -> str:
    """What a generated set is made from: the arguments, numpy's version (its random streams) and every file the
    generator reads (dcase/ and core/, the calibration included)."""
    sources = sorted(p for folder in ("dcase", "core") for p in (ROOT / folder).rglob("*") if p.suffix in (".py", ".json"))
    names = [p.relative_to(ROOT).as_posix() for p in sources]
    made_of = repr((task, astuple(preset), seed, np.__version__, names, file_sha256(*sources)))
    return hashlib.sha256(made_of.encode()).hexdigest()[:20]


def generated(out, task: str, preset: generate.Preset | str = MICRO, seed: int = 0, workers: int = 1) -> Path:
    """`task`'s generated set at `preset` (a `Preset`, or the name of one of `generate.PRESETS`), written to `out`."""
    name = preset if isinstance(preset, str) else "_test"
    spec = generate.PRESETS[preset] if isinstance(preset, str) else preset
    stored = STORE / f"{task}-{name}-{generator_key(task, spec, seed)}"
    if not stored.is_dir():
        mine = stored.with_name(f"{stored.name}.{os.getpid()}")
        shutil.rmtree(mine, ignore_errors=True)
        generate.PRESETS.setdefault(name, spec)
        try:
            generate.generate(mine, task, name, seed=seed, workers=workers)
        finally:
            if name == "_test":
                del generate.PRESETS[name]
        try:
            mine.rename(stored)
        except OSError:  # another test session stored the same set first
            shutil.rmtree(mine)
    return Path(shutil.copytree(stored, out))


def noise_clips(folder, seconds: list[float], rate: int = 16000):
    """One float WAV of white noise (0.1 standard deviation) per entry of `seconds`, as a clip table."""
    import pandas as pd
    import soundfile as sf
    rng, paths = np.random.default_rng(0), []
    for i, length in enumerate(seconds):
        paths.append(folder / f"clip_{i}.wav")
        sf.write(paths[-1], (0.1 * rng.standard_normal(int(rate * length))).astype(np.float32), rate, subtype="FLOAT")
    return pd.DataFrame({"path": [str(p) for p in paths]})
