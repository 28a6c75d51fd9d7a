import re
import shutil
import sys
import textwrap

import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

import methods.registry as registry
from bench import runner
from bench.cli import main
from bench.runner import RunConfig, run
from dcase.ground_truth import read_list
from dcase.submission import read_rows as read_scores

pytestmark = pytest.mark.slow
METHODS = "softmax,centroid,gmm:n_components=1,knn,lof"


@pytest.fixture(scope="module")
def finished(tiny_data, cache_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    config = RunConfig(data=tiny_data, preset="tiny", methods=METHODS, device="cpu", results=out / "results",
                       leaderboard=out / "board" / "LEADERBOARD.md", cache=cache_root, seeds=(0, 1))
    return config, run(config)


def test_results_csv_has_a_row_per_method_split_and_id(finished):
    config, rows = finished
    stored = pd.read_csv(config.results / "results.csv", dtype={"machine_id": str, "section": str})
    assert {"run_id", "method", "task", "split", "machine_type", "machine_id", "section", "domain", "auc", "pauc",
            "fit_seconds", "score_seconds", "device", "seed"} <= set(stored.columns)
    assert (stored.machine_id == stored.section).all() and set(stored.task) == {"dcase2020"}
    assert len(stored) == 2 * 5 * 41  # two seeds, five methods, 23 dev IDs + 18 eval IDs
    assert sorted(stored.seed.unique()) == [0, 1] and stored.embedding_key.nunique() == 2
    assert stored.auc.between(0, 1).all() and stored.pauc.between(0, 1).all()
    assert set(stored.method) == {"softmax", "centroid", "gmm(n_components=1)", "knn", "lof"}


def test_written_submission_files_recompute_to_the_same_auc(finished, tiny_data):
    config, rows = finished
    truth = {key: clip.label for key, clip in read_list(tiny_data / "eval_data_list.csv").items()}
    for row in rows[rows.seed == 0].sample(12, random_state=0).itertuples():  # the files are the first seed's
        folder = config.results / registry.slug(row.method) / row.split
        names, scores = read_scores(folder / f"anomaly_score_{row.machine_type}_id_{row.machine_id}.csv")
        if row.split == "dev":
            labels = [int(n.startswith("anomaly")) for n in names]
        else:
            labels = [truth[(row.machine_type, n)] for n in names]
        assert roc_auc_score(labels, scores) == pytest.approx(row.auc)
        assert roc_auc_score(labels, scores, max_fpr=0.1) == pytest.approx(row.pauc)
        decisions = read_scores(folder / f"decision_result_{row.machine_type}_id_{row.machine_id}.csv")[1]
        assert set(decisions) <= {0, 1}


def test_leaderboard_lists_every_method_per_type_and_rerenders_from_results(finished, capsys):
    config, rows = finished
    text = config.leaderboard.read_text()
    for method in ("softmax", "centroid", "gmm(n_components=1)", "knn", "lof"):
        assert f"| {method} " in text and f"### {method}" in text
    dev = rows[(rows.split == "dev") & (rows.method == "knn")]
    toycar = 100 * dev[dev.machine_type == "ToyCar"].auc.mean()
    assert f"{toycar:.2f}" in text
    plots = config.leaderboard.parent / "plots"
    assert (plots / "roc_dev_arcface_preset=tiny.png").stat().st_size > 1000
    assert (plots / "tsne_arcface_preset=tiny.png").is_file()
    for link in re.findall(r"\]\(plots/([^)]+)\)", text):
        assert (plots / link).is_file(), f"the leaderboard links {link}, which was not written"
    config.leaderboard.unlink()
    main(["leaderboard", "--results", str(config.results), "--leaderboard", str(config.leaderboard)])
    assert config.leaderboard.read_text().split("\n", 3)[3] == text.split("\n", 3)[3]  # same apart from the date


def test_per_clip_scores_are_stored_and_give_the_stored_auc(finished):
    config, rows = finished
    scores = pd.read_parquet(config.results / "scores.parquet")
    assert {"run_id", "method", "task", "seed", "split", "file", "machine_type", "section", "label", "score"} <= set(scores.columns)
    per_run = scores.groupby(["method", "seed"]).size()
    assert len(per_run) == 10 and per_run.nunique() == 1  # every method and seed scored the same clips
    for row in rows.sample(10, random_state=1).itertuples():
        mine = scores[(scores.method == row.method) & (scores.seed == row.seed) & (scores.split == row.split)
                      & (scores.machine_type == row.machine_type) & (scores.section == row.section)]
        assert roc_auc_score(mine.label, mine.score) == pytest.approx(row.auc, abs=1e-12)


def test_leaderboard_shows_seed_spread_intervals_and_standing(finished):
    config, _ = finished
    text = config.leaderboard.read_text()
    assert "means over 2 training seeds (0, 1) ± their standard deviation" in text
    assert text.count(" ± ") >= 2 * 5 * 4  # mean and hmean, AUC and pAUC, five methods, two splits
    assert "| leader " in text and "hmean AUC CI95" in text and "leads on harmonic-mean AUC" in text
    assert "checkpoint selection: best epoch by classification loss on held-out normal training clips" in text
    assert (config.leaderboard.parent / "plots" / "cd_dev.png").stat().st_size > 1000


def test_plugin_scorer_from_an_entry_point_runs_and_ranks(finished, tmp_path, monkeypatch):
    config, _ = finished
    (tmp_path / "my_scorer.py").write_text(textwrap.dedent('''
        import numpy as np
        from methods import Scorer

        class NormScorer(Scorer):
            """Embedding norm, a stand-in for a third-party method."""
            name = "norm"

            def __init__(self, power=1.0, device="cpu"):
                super().__init__(device)
                self.power = power

            def fit(self, train):
                return self

            def score(self, test):
                return np.linalg.norm(test.embeddings, axis=1) ** self.power
    '''))
    info = tmp_path / "my_scorer-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: my-scorer\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[asd_bench.scorers]\nnorm = my_scorer:NormScorer\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry.SCORERS, "loaded", False)
    monkeypatch.setattr(registry.SCORERS, "entries", dict(registry.SCORERS.entries))
    assert "norm" in registry.available()
    rows = run(RunConfig(**{**config.__dict__, "methods": "norm:power=2"}))
    assert set(rows.method) == {"norm(power=2)"}
    board = config.leaderboard.read_text()
    assert "| norm(power=2) " in board and "| knn " in board, "the plugin ranks beside the built-ins"
    sys.modules.pop("my_scorer", None)


@pytest.mark.parametrize("argv, message", [
    (["run", "--methods", "softmax,bogus"], "unknown method 'bogus'"),
    (["run", "--methods", "knn:kk=3"], "knn has no option kk"),
    (["run", "--data", "/nonexistent/dcase"], "/nonexistent/dcase: data folder not found"),
    (["run", "--set", "heads=cosface"], "--set 'heads=cosface': expected FIELD=VALUE with FIELD one of"),
])
def test_cli_errors_are_one_line_with_exit_code_2(argv, message, capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        main(argv + ["--cache", str(tmp_path)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err


def test_bench_evaluate_recomputes_the_stored_rows_from_the_submission_files(finished, tiny_data):
    from dcase import submission
    from dcase.reader import load_clips
    config, rows = finished
    task, table = load_clips(tiny_data, check_audio=False)
    for split in ("dev", "eval"):
        per_id = pd.DataFrame(submission.evaluate(task, config.results / "lof" / split, table)["per_section"])
        stored = rows[(rows.method == "lof") & (rows.split == split) & (rows.seed == 0)]  # the files are seed 0's
        merged = per_id.merge(stored, on=["machine_type", "section"], suffixes=("", "_stored"))
        assert len(merged) == len(stored) > 0
        assert (merged.auc - merged.auc_stored).abs().max() < 1e-12
        assert (merged.pauc - merged.pauc_stored).abs().max() < 1e-12


def test_no_render_stores_rows_and_plots_but_leaves_the_leaderboard(finished, tmp_path):
    config, _ = finished
    board = tmp_path / "board" / "LEADERBOARD.md"
    quiet = RunConfig(**{**config.__dict__, "methods": "centroid", "seeds": (0,), "render": False,
                         "results": tmp_path / "results", "leaderboard": board})
    rows = run(quiet)
    assert set(rows.method) == {"centroid"} and (tmp_path / "results" / "results.csv").is_file()
    assert not board.exists() and any((tmp_path / "board" / "plots").glob("*.png"))
    main(["leaderboard", "--results", str(tmp_path / "results"), "--leaderboard", str(board)])
    assert "| centroid " in board.read_text()


def test_bench_runs_runs_each_line_in_one_process_and_renders_once(finished, tmp_path, capsys):
    config, _ = finished
    board, results = tmp_path / "board" / "LEADERBOARD.md", tmp_path / "results"
    common = (f"--data {config.data} --preset tiny --device cpu --cache {config.cache} --results {results} "
              f"--leaderboard {board}")
    plan = tmp_path / "plan.txt"
    plan.write_text(f"# two runs\n{common} --methods centroid\n\n{common} --methods knn  # the second renders\n")
    main(["runs", str(plan)])
    out = capsys.readouterr().out
    assert "[1/2] bench run" in out and "[2/2] bench run" in out
    assert out.count("not re-rendered: --no-render") == 1, "only the last run renders the leaderboard"
    text = board.read_text()
    assert "| centroid " in text and "| knn " in text


@pytest.mark.parametrize("content, message", [
    ("# nothing\n", "no runs in it"),
    ("--methods centroid\n--seeds\n", "plan.txt:2: not `bench run` arguments: --seeds"),
])
def test_bench_runs_rejects_an_empty_or_bad_file_before_running_anything(content, message, tmp_path, capsys):
    plan = tmp_path / "plan.txt"
    plan.write_text(content)
    with pytest.raises(SystemExit) as exit_info:
        main(["runs", str(plan)])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_a_rerun_scores_only_new_methods_and_rescore_scores_again(finished, tmp_path, capsys, monkeypatch):
    config, _ = finished
    results = tmp_path / "results"
    shutil.copytree(config.results, results)
    before = pd.read_csv(results / "results.csv")
    scored = []
    score_method = runner.score_method
    monkeypatch.setattr(runner, "score_method", lambda make, method, *a: scored.append(method) or
                        score_method(make, method, *a))
    rerun = RunConfig(**{**vars(config), "results": results, "methods": "centroid,knn:k=3", "isolate": "none",
                         "render": False})
    rows = run(rerun)
    assert scored == ["knn(k=3)", "knn(k=3)"]  # one per seed; centroid's rows were stored
    assert "centroid reused from" in capsys.readouterr().out
    after = pd.read_csv(results / "results.csv")
    assert len(after) == len(before) + 2 * 41 and set(rows.method) == {"centroid", "knn(k=3)"}
    old = before[before.method == "centroid"].drop(columns=["run_id"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(rows[rows.method == "centroid"].drop(columns=["run_id"]).reset_index(drop=True)
                                  .astype(old.dtypes.to_dict()), old, check_exact=True)
    scored.clear()
    run(RunConfig(**{**vars(rerun), "rescore": True}))
    assert scored == ["centroid", "knn(k=3)"] * 2
