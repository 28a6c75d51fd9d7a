"""`bench rank`: several systems' submission files ranked as the evaluators score them, with the leaderboard's
own interval code, and broken systems listed with their reason instead of stopping the ranking."""
import json
import shutil

import numpy as np
import pandas as pd
import pytest
from generated import generated
from page_json import page_tables

from bench.cli import main
from dcase import generate, submission
from dcase.reader import load_clips
from leaderboard.intervals import ci95, official_score_resamples

# 3 clips per cell (the shared MICRO has 1): enough test clips per section for bootstrap intervals and ties to mean something
RANKED = generate.Preset(seconds=0.5, source_train=3, target_train=1, test_per_cell=3)


@pytest.fixture(scope="module")
def teams(tmp_path_factory):
    """A generated 2023 set and, in the evaluators' teams/<team>/<system>/ layout, four systems whose scores are
    the labels plus noise of decreasing size (rounded, so there are ties), and three broken ones."""
    root = tmp_path_factory.mktemp("rank")
    data = generated(root / "data", "dcase2023", RANKED, workers=2)
    task, table = load_clips(data)
    test = table[table.split == "eval"].reset_index(drop=True)
    rng = np.random.default_rng(0)
    for i, (team, system) in enumerate([("alpha", "sharp"), ("alpha", "blunt"), ("beta", "one"), ("gamma", "noise")]):
        scores = np.round(test.label * (3 - i) + rng.normal(size=len(test)), 1)
        submission.write(task, root / "teams" / team / system, test, scores, (scores > 1).astype(int))
    sharp = root / "teams" / "alpha" / "sharp"
    shutil.copytree(sharp, root / "teams" / "delta" / "missing_file")
    next((root / "teams" / "delta" / "missing_file").glob("anomaly_score_ToyTank*")).unlink()
    shutil.copytree(sharp, root / "teams" / "delta" / "extra_row")
    extra = next((root / "teams" / "delta" / "extra_row").glob("anomaly_score_Vacuum*"))
    extra.write_text(extra.read_text() + "section_00_9999.wav,0.5\n")
    other_year = root / "teams" / "delta" / "year_2020"
    other_year.mkdir(parents=True)
    (other_year / "anomaly_score_fan_id_01.csv").write_text("id_01_00000000.wav,0.1\n")
    return task, data, table, root


def test_rank_pins_official_scores_to_evaluate_and_intervals_to_the_leaderboard_code(teams, tmp_path):
    task, data, table, root = teams
    out = tmp_path / "ranking"
    main(["rank", str(root / "teams"), "--task", "dcase2023", "--ground-truth", str(data / "evaluator"),
          "--out", str(out), "--resamples", "200"])
    ranking = json.loads((out / "ranking.json").read_text())
    names = [s["name"] for s in ranking["systems"]]
    assert names == ["alpha/sharp", "alpha/blunt", "beta/one", "gamma/noise"]  # more noise, lower score
    for system in ranking["systems"]:
        folder = root / "teams" / system["name"]
        expected = submission.evaluate(task, folder, table)
        assert system["official_score"] == pytest.approx(expected["official_score"], abs=1e-15)
        assert system["official_ci95"] == pytest.approx(expected["ci95"], abs=1e-15)
        clips = submission.read(task, folder, table).drop(columns="decision")
        assert system["ci95"] == pytest.approx(list(ci95(official_score_resamples(clips, task.scoring, 200))), abs=1e-15)
    leader = ranking["systems"][0]
    assert leader["standing"] == "leader" and ranking["systems"][-1]["standing"] == "below"
    assert all((s["standing"] == "tied") == (s["versus_leader"][1] <= 0 <= s["versus_leader"][2])
               for s in ranking["systems"][1:])
    failed = {s["name"]: s["reason"] for s in ranking["not_scored"]}
    assert set(failed) == {"delta/missing_file", "delta/extra_row", "delta/year_2020"}
    assert "no anomaly_score_ToyTank_section_00_test.csv" in failed["delta/missing_file"]
    assert "section_00_9999.wav" in failed["delta/extra_row"] and "no dcase2023 score files" in failed["delta/year_2020"]
    page = (out / "RANKING.md").read_text()
    assert "| 1      | alpha/sharp" in page and "## Not scored" in page and (out / "cd.png").is_file()
    html = (out / "RANKING.html").read_text()
    table = page_tables(html)["dcase2023-eval"]
    headers = [c["header"] for c in table["columns"]]
    shown = {r[headers.index("system")]: r for r in table["rows"]}
    assert list(shown) == names, "the page lists the scored systems in rank order"
    for system in ranking["systems"]:
        row = shown[system["name"]]
        assert row[headers.index("official score")] == pytest.approx(100 * system["official_score"], abs=1e-12)
        assert row[headers.index("vs leader CI95 low")] == pytest.approx(100 * system["versus_leader"][1], abs=1e-12)
    assert all(f"not scored: {name}" in html for name in failed), "broken systems are named on the page too"


def test_rank_reads_the_harness_results_tree_and_development_names_label_themselves(teams, tmp_path):
    """A `results/<task>/<method>/dev/` tree, no --data and no ground truth: development names carry labels."""
    task, data, table, root = teams
    dev = table[table.split == "dev"].reset_index(drop=True)
    results = tmp_path / "results" / "dcase2023"
    for i, method in enumerate(["good", "bad", "worse"]):
        scores = dev.label * (2 - i) + np.random.default_rng(i).normal(size=len(dev))
        submission.write(task, results / method / "dev", dev, scores.to_numpy(), np.zeros(len(dev), int))
    out = tmp_path / "ranking"
    main(["rank", str(results), "--task", "dcase2023", "--split", "dev", "--out", str(out), "--resamples", "50"])
    ranking = json.loads((out / "ranking.json").read_text())
    assert [s["name"] for s in ranking["systems"]][0] == "good" and not ranking["not_scored"]
    for s in ranking["systems"]:
        expected = submission.evaluate(task, results / s["name"] / "dev", table)["official_score"]
        assert s["official_score"] == pytest.approx(expected, abs=1e-15)


def test_evaluate_needs_no_audio_when_the_ground_truth_names_every_clip(teams, tmp_path):
    task, data, table, root = teams
    folder = root / "teams" / "beta" / "one"
    out = tmp_path / "score.json"
    main(["evaluate", str(folder), "--task", "dcase2023", "--ground-truth", str(data / "evaluator"), "--json", str(out)])
    assert json.loads(out.read_text())["official_score"] == pytest.approx(
        submission.evaluate(task, folder, table)["official_score"], abs=1e-15)
    list_only = tmp_path / "score_list.json"
    main(["evaluate", str(folder), "--task", "dcase2023", "--ground-truth", str(data / task.ground_truth_list),
          "--json", str(list_only)])
    assert json.loads(list_only.read_text())["official_score"] == json.loads(out.read_text())["official_score"]
    assert isinstance(pd.read_json(out, typ="series")["per_type"], dict)
