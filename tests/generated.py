"""Generated data sets at sizes made for tests."""
from dcase import generate

MICRO = generate.Preset(seconds=0.5, source_train=3, target_train=1, test_per_cell=2)


def generated(out, task: str, preset: generate.Preset = MICRO, seed: int = 0, workers: int = 1):
    """`task`'s generated set at `preset`, registered under a name for this call only."""
    generate.PRESETS["_test"] = preset
    try:
        return generate.generate(out, task, "_test", seed=seed, workers=workers)
    finally:
        del generate.PRESETS["_test"]


def noise_clips(folder, seconds: list[float], rate: int = 16000):
    """One float WAV of white noise (0.1 standard deviation) per entry of `seconds`, as a clip table."""
    import numpy as np
    import pandas as pd
    import soundfile as sf
    rng, paths = np.random.default_rng(0), []
    for i, length in enumerate(seconds):
        paths.append(folder / f"clip_{i}.wav")
        sf.write(paths[-1], (0.1 * rng.standard_normal(int(rate * length))).astype(np.float32), rate, subtype="FLOAT")
    return pd.DataFrame({"path": [str(p) for p in paths]})
