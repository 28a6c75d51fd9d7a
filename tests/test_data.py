import numpy as np
import soundfile as sf

from dcase.generate import PRESETS, generate
from dcase.ground_truth import read_list
from dcase.metrics import summarize
from dcase.reader import clip_counts, load_clips
from dcase.scoring import PER_MACHINE_ID
from dcase.synth import DEV_IDS, EVAL_IDS


def test_generated_layout_counts_and_format(tiny_data):
    spec = PRESETS["tiny"]
    table = load_clips(tiny_data)[1]
    n_dev = sum(map(len, DEV_IDS.values()))
    n_eval = sum(map(len, EVAL_IDS.values()))
    assert n_dev + n_eval == 41
    assert (table.split == "train").sum() == 41 * spec.per_id[0]
    assert ((table.split == "dev") & (table.label == 1)).sum() == n_dev * spec.per_id[2]
    assert ((table.split == "eval") & (table.label == 0)).sum() == n_eval * spec.per_id[1]
    assert (table.label >= 0).all(), "ground truth must label every evaluation clip"
    assert table.class_index.nunique() == 41
    info = sf.info(table.path[0])
    assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
    assert info.frames == int(spec.seconds * 16000)
    assert clip_counts(table).loc[("all", ""), "train"] == 41 * spec.per_id[0]


def test_eval_names_hide_labels_and_ground_truth_restores_them(tiny_data):
    truth = {key: clip.label for key, clip in read_list(tiny_data / "eval_data_list.csv").items()}
    names = {p.name for p in (tiny_data / "eval_data" / "fan" / "test").glob("*.wav")}
    assert all(n.startswith("id_") for n in names)
    assert {name for (t, name) in truth if t == "fan"} == names
    labels = [v for (t, _), v in truth.items() if t == "fan"]
    assert 0 < np.mean(labels) < 1


def test_generation_is_deterministic(tiny_data, tmp_path):
    spec = PRESETS["tiny"]
    PRESETS["micro"] = type(spec)(seconds=0.5, source_train=1, target_train=1, test_per_cell=1, per_id=(1, 1, 1))
    try:
        a = generate(tmp_path / "a", "dcase2020", "micro", seed=0, workers=1)
        b = generate(tmp_path / "b", "dcase2020", "micro", seed=0, workers=1)
        c = generate(tmp_path / "c", "dcase2020", "micro", seed=1, workers=1)
    finally:
        del PRESETS["micro"]
    rel = "dev_data/pump/test/anomaly_id_00_00000000.wav"
    assert (a / rel).read_bytes() == (b / rel).read_bytes()
    assert (a / rel).read_bytes() != (c / rel).read_bytes()
    assert (a / "eval_data_list.csv").read_text() == (b / "eval_data_list.csv").read_text()


def test_trivial_baseline_is_neither_perfect_nor_chance(tiny_data, cache_root):
    from datatools.spectrum_distance import spectrum_distance
    from embeddings.features import load_features
    tables = spectrum_distance(load_features(load_clips(tiny_data)[1], cache_root), PER_MACHINE_ID)
    assert set(tables) == {"dev", "eval"}
    for table in tables.values():
        assert 0.55 < summarize(table).loc["mean", "auc"] < 0.97
