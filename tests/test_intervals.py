"""The leaderboard's statistics: exact ROC areas, interval coverage, ties, seeds and the label-free protocol."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm
from sklearn.metrics import roc_auc_score

from dcase.roc import roc_area, roc_areas
from dcase.scoring import PER_MACHINE_ID
from embeddings.train import hold_out
from leaderboard.intervals import ci95, compare_to_leader, headline, stratified_indices
from leaderboard.render import render
from leaderboard.results import read_results


@pytest.mark.parametrize("max_fpr", [None, 0.1, 0.35])
def test_roc_area_equals_scikit_learn_with_and_without_ties(max_fpr):
    rng = np.random.default_rng(0)
    for trial in range(100):
        n = int(rng.integers(4, 70))
        labels = rng.integers(0, 2, n)
        labels[:2] = (0, 1)
        scores = rng.integers(0, 6, n).astype(float) if trial % 2 else rng.normal(size=n)
        assert roc_area(scores, labels, max_fpr)[0] == pytest.approx(roc_auc_score(labels, scores, max_fpr=max_fpr), abs=1e-12)


def test_roc_areas_of_many_rows_at_once_equal_row_by_row():
    rng = np.random.default_rng(1)
    scores, labels = rng.normal(size=(50, 30)).round(1), np.tile([0, 1], 15)
    auc, pauc = roc_areas(scores, labels, (None, 0.1))
    np.testing.assert_allclose(auc, [roc_auc_score(labels, s) for s in scores], atol=1e-12)
    np.testing.assert_allclose(pauc, [roc_auc_score(labels, s, max_fpr=0.1) for s in scores], atol=1e-12)


def test_stratified_resamples_keep_every_stratum_and_its_size():
    groups = pd.DataFrame({"id": ["a"] * 6 + ["b"] * 4, "label": [0, 0, 0, 1, 1, 1, 0, 0, 1, 1]})
    draws = stratified_indices(groups, 200, seed=0)
    assert draws.shape == (200, 10)
    key = (groups.id + groups.label.astype(str)).to_numpy()
    assert (key[draws] == key).all()  # each position draws from its own (ID, label) stratum


@pytest.mark.slow  # a Monte Carlo check: 300 data sets of 400 resamples each
def test_the_bootstrap_ci95_covers_the_true_auc_about_95_percent_of_the_time():
    d = 1.0
    true_auc = norm.cdf(d / np.sqrt(2))  # P(anomaly > normal) for N(d, 1) against N(0, 1)
    rng = np.random.default_rng(0)
    labels = np.r_[np.zeros(60), np.ones(60)]
    groups = pd.DataFrame({"label": labels})
    covered = 0
    for trial in range(300):
        scores = np.r_[rng.normal(0, 1, 60), rng.normal(d, 1, 60)]
        draws = stratified_indices(groups, 400, seed=trial)
        low, high = ci95(roc_area(scores[draws], labels[draws]))
        covered += low <= true_auc <= high
    assert 0.90 <= covered / 300 <= 0.985, covered / 300


def _scores(methods: dict, seeds=(0,)) -> pd.DataFrame:
    """Per-clip score rows for two types of one ID each, 20 + 20 clips; `methods` maps a name to a score maker."""
    rows = []
    rng = np.random.default_rng(0)
    for machine_type in ("fan", "pump"):
        labels = np.r_[np.zeros(20), np.ones(20)].astype(int)
        base = rng.normal(size=40) + 1.2 * labels
        for method, make in methods.items():
            for seed in seeds:
                rows.append(pd.DataFrame({"method": method, "seed": seed, "file": [f"c{i}.wav" for i in range(40)],
                                          "machine_type": machine_type, "section": "00", "domain": "source", "label": labels,
                                          "score": make(base, labels, seed)}))
    return pd.concat(rows, ignore_index=True)


def test_identical_methods_are_tied_and_a_much_worse_one_is_not():
    scores = _scores({"a": lambda b, y, s: b, "b": lambda b, y, s: b.copy(),
                      "noise": lambda b, y, s: np.random.default_rng(5).normal(size=len(b))})
    result = headline(scores, PER_MACHINE_ID, resamples=500)
    leader, versus = compare_to_leader(result)
    assert leader in ("a", "b") and versus["a"]["tied"] and versus["b"]["tied"]
    assert versus["a"]["difference"] == 0 == versus["b"]["difference"]
    assert not versus["noise"]["tied"] and versus["noise"]["ci95"][1] < 0
    for method in ("a", "noise"):  # the observed figure is the plain one
        per_type = [roc_auc_score(g.label, g.score) for _, g in scores[scores.method == method].groupby("machine_type")]
        assert result.observed[method]["mean_auc"] == pytest.approx(np.mean(per_type))


def test_a_methods_figure_is_the_mean_over_its_seeds():
    scores = _scores({"m": lambda b, y, s: b + s * y}, seeds=(0, 1))  # seed 1 separates the classes further
    single = {s: headline(scores[scores.seed == s], PER_MACHINE_ID, resamples=50).observed["m"]["mean_auc"] for s in (0, 1)}
    assert headline(scores, PER_MACHINE_ID, resamples=50).observed["m"]["mean_auc"] == pytest.approx(np.mean(list(single.values())))


def _write_results(folder, rows):
    columns = ["run_id", "method", "split", "machine_type", "machine_id", "auc", "pauc", "fit_seconds", "score_seconds",
               "device", "dataset", "embedding_key", "seed"]
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows, columns=columns).to_csv(folder / "results.csv", index=False)


def test_leaderboard_mean_and_std_over_seeds_match_a_hand_computation(tmp_path):
    # seed 0: fan 0.8, pump 0.6 -> hmean 2 * 0.48 / 1.4 = 0.685714; seed 1: 0.9, 0.5 -> 0.642857
    # mean 0.664286 -> 66.43; sample std |0.685714 - 0.642857| / sqrt(2) = 0.030305 -> 3.03
    rows = []
    for seed, (fan, pump) in enumerate([(0.8, 0.6), (0.9, 0.5)]):
        for method, shift in (("x", 0.0), ("y", -0.05), ("z", -0.1)):
            for machine_type, auc in (("fan", fan), ("pump", pump)):
                rows.append(["r1", method, "dev", machine_type, "00", auc + shift, 0.5, 0.1, 0.1, "cpu", "d", f"k{seed}", seed])
    _write_results(tmp_path / "results", rows)
    text = render(tmp_path / "results", tmp_path / "LEADERBOARD.md")
    assert "66.43 ± 3.03" in text  # x's harmonic-mean AUC
    assert "means over 2 training seeds (0, 1)" in text and "No per-clip scores stored" in text


def test_results_without_a_seed_column_read_as_seed_0(tmp_path):
    old = tmp_path / "results.csv"
    pd.DataFrame({"run_id": ["r"], "method": ["knn"], "machine_id": ["00"], "auc": [0.7]}).to_csv(old, index=False)
    assert read_results(old).seed.tolist() == [0]


def test_hold_out_takes_a_fraction_of_each_class_reproducibly():
    clips = pd.DataFrame({"class_index": np.repeat([0, 1, 2], [20, 10, 3]), "n": np.arange(33)})
    logmel = np.arange(33)[:, None, None] * np.ones((1, 2, 2))
    (train, train_mel), (held, held_mel) = hold_out((clips, logmel), 0.1, seed=0)
    assert held.class_index.value_counts().to_dict() == {0: 2, 1: 1}  # a class of 3 keeps all its clips
    assert set(train.n).isdisjoint(held.n) and len(train) + len(held) == 33
    np.testing.assert_array_equal(held_mel[:, 0, 0], held.n)
    assert hold_out((clips, logmel), 0.1, seed=0)[1][0].n.tolist() == held.n.tolist()
    assert hold_out((clips, logmel), 0.1, seed=1)[1][0].n.tolist() != held.n.tolist()


@pytest.mark.slow
def test_training_seeds_give_distinct_embeddings(built, cache_root):
    from dataclasses import replace

    from conftest import CONFIG

    from embeddings.pipeline import build
    table, first = built
    second = build(table, replace(CONFIG, seed=1), cache_root)
    assert second.manifest["key"] != first.manifest["key"]
    a, b = first.embeddings, second.embeddings
    cosine = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert np.median(cosine) < 0.9, "two seeds trained the same model"


def test_the_official_baseline_row_is_marked_and_every_method_shows_its_difference(tmp_path):
    rows = []
    for embedder, method, auc in (("arcface", "knn", 0.9), ("ae2020", "mse", 0.7)):
        for machine_type in ("fan", "pump"):
            rows.append(["r1" if embedder == "arcface" else "r2", method, "dev", machine_type, "00", auc, 0.6, 0.1, 0.1,
                         "cpu", "d", f"k-{embedder}", 0, embedder])
    folder = tmp_path / "results"
    folder.mkdir()
    pd.DataFrame(rows, columns=["run_id", "method", "split", "machine_type", "machine_id", "auc", "pauc", "fit_seconds",
                                "score_seconds", "device", "dataset", "embedding_key", "seed", "embedder"]
                 ).to_csv(folder / "results.csv", index=False)
    text = render(folder, tmp_path / "LEADERBOARD.md")
    assert "| mse @ ae2020 " in text and "(official baseline)" in text and "hmean AUC vs baseline" in text
    knn_row = next(line for line in text.splitlines() if line.startswith("| knn @ arcface"))
    assert "+20.00" in knn_row  # 90.00 - 70.00


def test_areas_from_counts_equal_the_sorted_roc_areas_on_resamples_with_ties():
    from dcase.roc import areas_from_counts, counts, descending_ranks
    from leaderboard.intervals import stratified_indices
    rng = np.random.default_rng(5)
    labels = np.repeat([0, 1], [70, 30])
    scores = np.round(rng.normal(size=100) + labels, 1)  # rounded: many ties
    draws = stratified_indices(pd.DataFrame({"label": labels}), 40, 2)
    ranks, m = descending_ranks(scores)
    pos, neg = counts(ranks[draws], labels == 1, m), counts(ranks[draws], labels == 0, m)
    for max_fpr in (None, 0.1, 0.3):
        expected = roc_area(scores[draws], labels, max_fpr)
        np.testing.assert_allclose(areas_from_counts(pos, neg, (max_fpr,))[0], expected, rtol=0, atol=1e-12)
