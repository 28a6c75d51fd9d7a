"""The domain-shift stand-ins against real DCASE 2023 clips and metadata (`../shared/realdata-2021-2025/`):
real attribute schemas, real clip lengths, and the issue's targets on clips rendered with a seed the fit never saw."""
import csv
import shutil
from dataclasses import replace

import numpy as np
import pytest
from generated import generated
from test_real_metadata import REAL

from datatools import calibrate_domains, schemas
from dcase import recording
from dcase.generate import PRESETS, _domain_plan
from dcase.importer import import_clips
from dcase.reader import load_clips
from dcase.tasks import get_task

needs_real = pytest.mark.skipif(not (REAL / "2023" / "valve").is_dir(), reason=f"no real 2023 clips at {REAL}")


@needs_real
def test_committed_schemas_are_the_real_files():
    assert schemas.collect(REAL) == recording.SCHEMAS
    valve = recording.SCHEMAS["dcase2023"]["valve"]
    assert list(valve["source"]) == ["pat_00", "pat_01"] and list(valve["target"]) == ["pat_02", "pat_03"]


def test_schema_falls_back_to_the_nearest_year_then_to_generic_names():
    assert recording.schema("dcase2023", 2023, "valve")["target"] == ["pat_02", "pat_03"]
    # no real 2021 list carries attributes: 2022's, the nearest year with the type
    assert recording.schema("dcase2021", 2021, "valve") == recording.schema("dcase2022", 2022, "valve")
    assert recording.schema("dcase2026", 2026, "ToyCarEmu") is None
    sources, targets = recording.conditions("dcase2026", 2026, 0, "ToyCarEmu", "00")
    assert [c.attributes.split("_")[0] for c in sources + targets] == ["spd"] * 3


def test_target_conditions_sit_further_off_than_source_conditions():
    base_rate = lambda c: c.rate  # noqa: E731
    for machine_type in ("valve", "fan", "ToyCar", "bearing"):
        sources, targets = recording.conditions("dcase2023", 2023, 3, machine_type, "00")
        centre = np.mean([base_rate(c) for c in sources])
        spread = max(abs(c.rate - centre) for c in sources)
        assert min(abs(c.rate - centre) for c in targets) > spread * 0.5
        assert all(c.snr_db < sources[0].snr_db for c in targets)


def test_attribute_files_carry_the_real_columns(tmp_path):
    # tiny's clip counts (every real attribute combination drawn), with short clips: only the names matter here
    root = generated(tmp_path / "g", "dcase2023", replace(PRESETS["tiny"], seconds=0.2))
    with open(root / "dev_data/raw/ToyCar/attributes_00.csv") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["file_name", "d1p", "d1v", "d2p", "d2v", "d3p", "d3v"]
    real = recording.SCHEMAS["dcase2023"]["ToyCar"]
    for name, *cells in rows[1:]:
        attributes = "_".join(cells)
        domain = "target" if "_target_" in name else "source"
        assert attributes in real[domain] and name.endswith(f"_{attributes}.wav")
    task, table = load_clips(root, "dcase2023")
    assert table.attributes.nunique() > 20  # section x attribute classes of the real structure


def test_full_preset_takes_the_real_clip_lengths():
    clips, _ = _domain_plan(get_task("dcase2023"), PRESETS["full"], 0)
    seconds = {(c[1]): c[6] for c in clips}
    assert seconds["ToyCar"] == seconds["ToyTrain"] == 12.0 and seconds["valve"] == seconds["bandsaw"] == 10.0
    clips, _ = _domain_plan(get_task("dcase2023"), PRESETS["small"], 0)
    assert {c[6] for c in clips} == {2.0}


@pytest.fixture(scope="module")
def real_2023(tmp_path_factory):
    src = tmp_path_factory.mktemp("src") / "2023"
    for machine_type in ("valve", "fan", "slider"):
        shutil.copytree(REAL / "2023" / machine_type, src / machine_type)
    out, _ = import_clips(src, tmp_path_factory.mktemp("real") / "r", get_task("dcase2023"))
    return load_clips(out, "dcase2023", check_audio=False)[1]


@needs_real
@pytest.mark.slow
def test_valve_stand_in_meets_the_targets_on_an_unseen_seed(real_2023, tmp_path):
    """Level within 3 dB, spectral correlation >= 0.9, shift and both anomaly distances within 0.4x-2.5x of the
    real figure, model-free AUC-source and AUC-target each within 0.15: the issue's targets, on 2 s clips (as
    `--preset small`) and as many clips per cell as the real set has."""
    real = calibrate_domains.measure(real_2023[real_2023.machine_type == "valve"])["valve"]
    unseen = max(recording.CALIBRATION["_fit"]["seeds"]) + 1
    per_cell, train = calibrate_domains.real_counts(real_2023, "valve")  # the same sampling noise as the real figures
    table = calibrate_domains.render_set("valve", recording.CALIBRATION, tmp_path, seed=unseen, per_cell=per_cell, train=train)
    got = calibrate_domains.measure(table)["valve"]
    assert abs(got["level"] - real["level"]) <= 3
    assert np.corrcoef(got["spectrum"], real["spectrum"])[0, 1] >= 0.9
    for key in ("shift", "anomaly source", "anomaly target"):
        assert 0.4 <= got[key] / real[key] <= 2.5, (key, got[key], real[key])
    for key in ("AUC-source", "AUC-target"):
        assert abs(got[key] - real[key]) <= 0.15, (key, got[key], real[key])


@needs_real
@pytest.mark.slow
def test_other_types_take_their_real_level_and_a_closer_spectrum(real_2023, tmp_path):
    real = calibrate_domains.measure(real_2023[real_2023.machine_type.isin(["fan", "slider"])])
    for machine_type in ("fan", "slider"):
        without = {**recording.CALIBRATION, "envelopes": {}}
        corr = {}
        for name, calibration in (("fitted", recording.CALIBRATION), ("recipe", without)):
            table = calibrate_domains.render_set(machine_type, calibration, tmp_path / name / machine_type, seed=5,
                                                 per_cell=4, train=0)
            got = calibrate_domains.measure(table)[machine_type]
            corr[name] = np.corrcoef(got["spectrum"], real[machine_type]["spectrum"])[0, 1]
            if name == "fitted":
                assert abs(got["level"] - real[machine_type]["level"]) <= 3
        assert corr["fitted"] > corr["recipe"], corr


def test_halves_split_each_test_cell_and_keep_training_clips_in_both():
    import pandas as pd
    rows = [dict(path=f"p{i:02d}", machine_type="valve", split="test", domain=d, label=lab)
            for i, (d, lab) in enumerate([(d, lab) for d in ("source", "target") for lab in (0, 1) for _ in range(5)])]
    rows += [dict(path="t0", machine_type="valve", split="train", domain="source", label=0)]
    a, b = calibrate_domains.halves(pd.DataFrame(rows))
    assert len(a) == 1 + 12 and len(b) == 1 + 8 and set(a.path) & set(b.path) == {"t0"}
    assert (a[a.split == "test"].groupby(["domain", "label"]).size() == 3).all()
