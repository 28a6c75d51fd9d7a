"""Every task year 2021-2026: generated in its layout, read back, detected, scored and written as its evaluator reads it."""
import json
import shutil

import numpy as np
import pandas as pd
import pytest
from generated import MICRO, generated

from bench.cli import main
from core.errors import DataError
from dcase import names, submission
from dcase.reader import load_clips
from dcase.tasks import get_task

YEARS = ("dcase2021", "dcase2022", "dcase2023", "dcase2024", "dcase2025", "dcase2026")


@pytest.fixture(scope="module")
def micro(tmp_path_factory):
    """Each year's generated set at a size made for tests: 3 source + 1 target training clips per section."""
    root = tmp_path_factory.mktemp("years")
    return {year: generated(root / year, year, workers=2) for year in YEARS}


def test_bench_tasks_lists_every_year(capsys):
    main(["tasks"])
    out = capsys.readouterr().out
    for year in ("dcase2020",) + YEARS:
        assert f"| {year} " in out
    assert "first shot; the evaluation machine types never appear in development" in out and "bandsaw" in out


def test_names_parse_every_years_grammar():
    clip = names.parse("anomaly_id_02_00000012.wav")
    assert (clip.scheme, clip.section, clip.domain, clip.label) == ("2020", "02", "source", 1)
    assert names.parse("id_05_00000001.wav").label == -1
    clip = names.parse("section_01_target_train_normal_0007_car_A2_spd_28V_mic_1.wav")
    assert (clip.section, clip.domain, clip.stage, clip.label, clip.number) == ("01", "target", "train", 0, "0007")
    assert names.parse_attributes(clip.attributes) == {"car": "A2", "spd": "28V", "mic": "1"}
    assert names.parse("section_00_source_test_anomaly_0001.wav").attributes == ""  # 2021 test names carry none
    assert names.parse("section_00_source_train_normal_0001_noAttribute.wav").attributes == ""  # 2024: concealed
    assert names.parse("section_00_target_test_normal_0001_.wav").attributes == ""  # 2025: empty
    assert (names.parse("section_03_0042.wav").domain, names.parse("section_03_0042.wav").label) == ("unknown", -1)
    assert names.parse("section_03_target_test_0042.wav").domain == "target"  # 2021 evaluation names keep the domain
    assert names.parse("section_00_machine_0001_.wav").stage == "supplemental"
    assert names.parse("fan_0001.wav") is None


@pytest.mark.parametrize("year", YEARS)
def test_each_year_is_detected_read_and_labelled_by_both_ground_truth_forms(micro, year):
    task, table = load_clips(micro[year], supplemental=None)
    assert task.name == year
    spec = task.all_types()
    assert set(table.machine_type) == set(spec)
    train = table[table.split == "train"]
    per_section = train.groupby(["machine_type", "section", "domain"]).size().unstack()
    assert (per_section.source == MICRO.source_train).all() and (per_section.target == MICRO.target_train).all()
    tests = table[table.split.isin(["dev", "eval"])]
    assert (tests.label >= 0).all() and set(tests.domain) == {"source", "target"}
    cells = tests.groupby(["machine_type", "section", "domain", "label"]).size()
    assert (cells == MICRO.test_per_cell).all() and len(cells) == 4 * sum(map(len, spec.values()))
    first_shot = set(table.machine_type[table.first_shot])
    assert first_shot == (set(task.eval_types) - set(task.dev_types))
    if task.year >= 2023:
        assert first_shot, "from 2023 the evaluation machine types are new"
    # the evaluators' folders give the same labels, domains and attributes as the renaming list
    _, again = load_clips(micro[year], ground_truth_path=micro[year] / "evaluator", supplemental=None)
    columns = ["path", "label", "domain", "attributes"]
    pd.testing.assert_frame_equal(table[columns], again[columns])


def test_attributes_give_the_classifier_section_x_attribute_classes(micro):
    task, table = load_clips(micro["dcase2022"])
    assert task.aux_label == "attribute"
    train = table[table.split == "train"]
    # one class per section and attribute string: the real 2022 conditions, at least one per domain per section
    sections = train.groupby(["machine_type", "section"]).ngroups
    assert train.class_index.nunique() == train.groupby(["machine_type", "section", "attributes"]).ngroups > 2 * sections
    _, by_section = load_clips(micro["dcase2022"], aux_label="section")
    assert by_section[by_section.split == "train"].class_index.nunique() == train.groupby(["machine_type", "section"]).ngroups
    # a section's classes are consecutive, so the softmax score can sum over them
    for (_, _), g in table.groupby(["machine_type", "section"]):
        assert g.n_classes.nunique() == 1 and set(g.class_index[g.split == "train"]) == set(
            range(g.first_class.iloc[0], g.first_class.iloc[0] + g.n_classes.iloc[0]))


def test_a_2025_set_whose_training_names_say_noattribute_is_still_2025(micro, tmp_path):
    """Real 2025 training clips of concealed types are named `..._noAttribute.wav`, as in 2024 (the real
    attributes_00_train_correspondence.csv files say so); the supplemental folder still marks the year."""
    root = tmp_path / "d25"
    shutil.copytree(micro["dcase2025"], root)
    train = next(p for p in sorted(root.rglob("train/*.wav")))
    clip = names.parse(train.name)
    train.rename(train.with_name(f"section_{clip.section}_{clip.domain}_train_normal_{clip.number}_noAttribute.wav"))
    task, table = load_clips(root)
    assert task.name == "dcase2025"
    renamed = table[table.file.str.endswith("_noAttribute.wav")]
    assert len(renamed) == 1 and (renamed.attributes == "").all()


def test_concealed_and_supplemental_clips(micro):
    _, t24 = load_clips(micro["dcase2024"])
    concealed = t24[t24.file.str.endswith("_noAttribute.wav")]
    assert len(concealed) and (concealed.attributes == "").all()
    _, apart = load_clips(micro["dcase2025"], supplemental=None)
    assert (apart.split == "supplemental").sum() > 0
    _, left_out = load_clips(micro["dcase2025"])
    _, trained = load_clips(micro["dcase2025"], supplemental=True)
    assert "supplemental" not in set(left_out.split)
    assert (trained.split == "train").sum() == (left_out.split == "train").sum() + (apart.split == "supplemental").sum()


def test_names_that_fit_no_year_or_mix_years_are_refused(micro, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(micro["dcase2023"] / "dev_data", bad / "dev_data")
    for wav in (bad / "dev_data").rglob("*.wav"):
        wav.rename(wav.with_name("clip_" + wav.name.split("_")[-1]))
    with pytest.raises(DataError, match="no file name fits any DCASE Task 2 year"):
        load_clips(bad)
    mixed = tmp_path / "mixed"
    shutil.copytree(micro["dcase2023"] / "dev_data", mixed / "dev_data")
    fan = mixed / "dev_data" / "raw" / "fan" / "train"
    shutil.copy(next(fan.glob("*.wav")), fan / "normal_id_00_00000000.wav")
    with pytest.raises(DataError, match="mixed"):
        load_clips(mixed)
    dev_only = tmp_path / "dev_only"
    shutil.copytree(micro["dcase2023"] / "dev_data", dev_only / "dev_data")
    with pytest.raises(DataError, match="fit dcase2022, dcase2023, dcase2024; pass --task"):
        load_clips(dev_only)
    assert load_clips(dev_only, "dcase2023")[0].name == "dcase2023"


def test_a_name_of_another_year_is_one_line_naming_the_file(micro, tmp_path, capsys):
    root = tmp_path / "root"
    shutil.copytree(micro["dcase2022"], root)
    wav = next((root / "dev_data" / "raw" / "fan" / "train").glob("*.wav"))
    wav.rename(wav.with_name("normal_id_00_00000000.wav"))
    with pytest.raises(SystemExit) as exit_:
        main(["data", "check", str(root), "--task", "dcase2022"])
    assert exit_.value.code == 1
    assert "normal_id_00_00000000.wav: not a dcase2022 file name" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_:
        main(["run", "--data", str(root), "--task", "dcase2022", "--cache", str(tmp_path / "cache"),
              "--results", str(tmp_path / "results")])
    err = capsys.readouterr().err.strip()
    assert exit_.value.code == 2 and len(err.splitlines()) == 1 and "not a dcase2022 file name" in err
    assert not (tmp_path / "results").exists()


@pytest.mark.slow
@pytest.mark.parametrize("year", ["dcase2021", "dcase2023"])
def test_run_writes_the_years_files_and_bench_evaluate_recomputes_its_rows(micro, year, tmp_path):
    from bench.runner import RunConfig, run
    config = RunConfig(data=micro[year], preset="tiny", methods="softmax,knn:k=2,lof:k=2", device="cpu",
                       results=tmp_path / "results", leaderboard=tmp_path / "board" / "LEADERBOARD.md",
                       cache=tmp_path / "cache", overrides={"epochs": 2, "first_cycle": 1})
    rows = run(config)
    task = get_task(year)
    assert set(rows.task) == {year} and set(rows.split) == {"dev", "eval"}
    folder = tmp_path / "results" / year / "knn_k=2" / "eval"
    expected = {task.submission_name(kind, t, s, k) for kind in ("anomaly_score", "decision_result")
                for t, ss in task.eval_types.items() for s in ss for k in (("source", "target") if year == "dcase2021" else ("",))}
    assert {p.name for p in folder.iterdir()} == expected
    _, table = load_clips(micro[year])
    result = submission.evaluate(task, folder, table)
    stored = rows[(rows.method == "knn(k=2)") & (rows.split == "eval")]
    merged = pd.DataFrame(result["per_section"]).merge(stored, on=["machine_type", "section", "domain"], suffixes=("", "_row"))
    assert len(merged) == len(stored) > 0
    for column in ("auc", "pauc"):
        both = merged[[column, f"{column}_row"]].dropna()
        assert np.allclose(both[column], both[f"{column}_row"], rtol=0, atol=1e-12)
    board = config.leaderboard.read_text()
    assert f"## {year}" in board and "sorted by the official score" in board and "| knn(k=2) " in board
    out = tmp_path / "score.json"
    main(["evaluate", str(folder), "--data", str(micro[year]), "--task", year, "--json", str(out)])
    written = json.loads(out.read_text())
    assert written["official_score"] == pytest.approx(result["official_score"], abs=1e-15)
    assert 0 <= written["official_score"] <= 1 and set(written["per_type"]) == set(task.eval_types)


def test_the_decision_threshold_is_the_years_90th_percentile_of_held_out_normal_scores():
    # 10 scores 1..10: the 0.9 quantile sits 0.9 * 9 = 8.1 places in, between 9 and 10
    for year in ("dcase2021", "dcase2025"):
        assert get_task(year).decision_threshold(np.arange(10, 0, -1.0)) == pytest.approx(9.1, abs=1e-12)
