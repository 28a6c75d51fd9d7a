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
