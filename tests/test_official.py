"""The official scores of every year, pinned on small hand-made cases whose values are derived by hand."""
import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

from dcase import metrics
from dcase.scoring import DOMAIN_GENERALISATION, PER_DOMAIN, PER_MACHINE_ID
from dcase.tasks import get_task

# one section: two normal clips and one anomaly per domain (scores chosen so that every pair is easy to count)
SECTION = pd.DataFrame({
    "machine_type": "fan", "section": "00",
    "domain": ["source", "source", "source", "target", "target", "target"],
    "label": [0, 0, 1, 0, 0, 1],
    "score": [0.1, 0.2, 0.4, 0.5, 0.6, 0.7],
    "decision": [0, 0, 0, 1, 1, 1],
})


def _rows(table, domain):
    return table[table.domain == domain].iloc[0]


def test_2022_on_every_anomaly_enters_both_domain_aucs():
    table = DOMAIN_GENERALISATION.section_table(SECTION)
    # AUC-source: normals {0.1, 0.2} against anomalies {0.4, 0.7}: 4 of 4 pairs ordered right
    assert _rows(table, "source").auc == 1.0
    # AUC-target: normals {0.5, 0.6} against BOTH anomalies {0.4, 0.7}: 0.7 beats both, 0.4 neither -> 2 / 4
    # (with the target anomaly alone it would be 1.0)
    assert _rows(table, "target").auc == 0.5
    # pAUC over all six clips: the first point is (FPR 0, TPR 0.5), the next FPR is 0.25, so the area to FPR 0.1
    # is 0.1 * 0.5 = 0.05; McClish: 0.5 * (1 + (0.05 - 0.005) / (0.1 - 0.005))
    assert _rows(table, "all").pauc == pytest.approx(0.5 * (1 + 0.045 / 0.095), abs=1e-15)


def test_2022_on_official_score_and_its_parts():
    table = DOMAIN_GENERALISATION.section_table(SECTION)
    pauc = 0.5 * (1 + 0.045 / 0.095)
    score = DOMAIN_GENERALISATION.official_score(table)
    assert score["official_score"] == pytest.approx(3 / (1 / 1.0 + 1 / 0.5 + 1 / pauc), abs=1e-15)
    assert score["hmean_source"] == 1.0 and score["hmean_target"] == 0.5
    assert score["mean_auc"] == 0.75  # the arithmetic mean of the AUCs of both domains
    # decisions: source clips (0, 0, 0): no positive call -> precision and recall 0 (denominators floored)
    assert (score["precision_source"], score["recall_source"], score["f1_source"]) == (0.0, 0.0, 0.0)
    # target clips (1, 1, 1) against labels (0, 0, 1): tp 1, fp 2 -> precision 1/3, recall 1, F1 2 * (1/3) / (4/3)
    assert score["precision_target"] == pytest.approx(1 / 3) and score["recall_target"] == 1.0
    assert score["f1_target"] == pytest.approx(0.5)


def test_official_score_floors_a_zero_at_machine_epsilon_as_the_evaluators_do():
    worst = SECTION.assign(score=-SECTION.label.astype(float))  # every anomaly below every normal
    score = DOMAIN_GENERALISATION.official_score(DOMAIN_GENERALISATION.section_table(worst))
    assert 0 < score["official_score"] < 1e-14


def test_2021_scores_each_domain_on_its_own_clips():
    clips = SECTION.assign(score=[0.1, 0.2, 0.4, 0.5, 0.6, 0.55])
    table = PER_DOMAIN.section_table(clips)
    assert list(table.domain) == ["source", "target"]
    assert (_rows(table, "source").auc, _rows(table, "source").pauc) == (1.0, 1.0)
    # target: anomaly 0.55 against normals {0.5, 0.6} -> 1 / 2; pAUC: the first point is (0.5, 0), area 0 ->
    # 0.5 * (1 - 0.005 / 0.095)
    assert _rows(table, "target").auc == 0.5
    assert _rows(table, "target").pauc == pytest.approx(0.5 * (1 - 0.005 / 0.095), abs=1e-15)
    pauc_t = 0.5 * (1 - 0.005 / 0.095)
    expected = 4 / (1 + 1 + 1 / 0.5 + 1 / pauc_t)  # the harmonic mean of all AUCs and pAUCs pooled
    assert PER_DOMAIN.official_score(table)["official_score"] == pytest.approx(expected, abs=1e-15)


def test_2020_official_score_is_the_harmonic_mean_over_types_of_per_id_means():
    clips = pd.DataFrame({"machine_type": ["fan"] * 8 + ["pump"] * 4, "section": ["00"] * 4 + ["02"] * 4 + ["00"] * 4,
                          "label": [0, 0, 1, 1] * 3, "score": [0.1, 0.4, 0.35, 0.8, 0, 0.1, 0.9, 1, 0.1, 0.2, 0.3, 0.4]})
    table = PER_MACHINE_ID.section_table(clips)
    # fan: IDs 00 (3 of 4 pairs: 0.75) and 02 (1.0) -> 0.875; pump 1.0 -> hmean 2 / (1 / 0.875 + 1)
    assert PER_MACHINE_ID.official_score(table)["official_score"] == pytest.approx(2 / (1 / 0.875 + 1))


def _evaluator_jackknife(labels, scores, fn):
    """The 2023 evaluator's jackknife, written out from its definition with plain loops."""
    n = len(labels)
    full = fn(labels, scores)
    loo = np.array([fn(np.delete(labels, i), np.delete(scores, i)) for i in range(n)])
    estimate = np.mean(n * full - (n - 1) * loo)
    sigma = np.sqrt(np.sum((loo - loo.mean()) ** 2) / (n * (n - 1)))
    return estimate, abs(stats.t.ppf(0.025, n - 1)) * sigma


@pytest.mark.parametrize("max_fpr", [None, 0.1])
def test_jackknife_ci95_equals_the_evaluators_definition(max_fpr):
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, 150)
    scores = np.round(rng.normal(size=150) + labels, 1)  # rounded: ties included
    fn = lambda y, s: roc_auc_score(y, s, max_fpr=max_fpr)  # noqa: E731
    expected = _evaluator_jackknife(labels, scores, fn)
    assert metrics.jackknife_ci95(labels, scores, max_fpr, chunk=40) == pytest.approx(expected, abs=1e-12)


def test_submission_file_names_per_year():
    assert get_task("dcase2020").submission_name("anomaly_score", "fan", "00") == "anomaly_score_fan_id_00.csv"
    assert get_task("dcase2021").submission_name("decision_result", "fan", "03", "target") == \
        "decision_result_fan_section_03_target_test.csv"
    for year in (2022, 2023, 2024, 2025):
        assert get_task(f"dcase{year}").submission_name("anomaly_score", "ToyCar", "00") == \
            "anomaly_score_ToyCar_section_00_test.csv"


@pytest.mark.parametrize("score", [PER_MACHINE_ID, PER_DOMAIN, DOMAIN_GENERALISATION])
def test_every_bootstrapped_figure_equals_rescoring_each_resample(score):
    from leaderboard.intervals import Resampler, official_score_resamples, stratified_indices
    rng = np.random.default_rng(7)
    parts = []
    for machine_type in ("fan", "pump"):
        domain = np.repeat(["source", "target"], 20)
        label = np.tile(np.repeat([0, 1], 10), 2)
        parts.append(pd.DataFrame({"machine_type": machine_type, "section": "00", "domain": domain, "label": label,
                                   "file": [f"{machine_type}{i:02d}.wav" for i in range(40)],
                                   "score": np.round(rng.normal(size=40) + label, 1)}))
    clips = pd.concat(parts, ignore_index=True)
    fast = official_score_resamples(clips, score, resamples=5, seed=3)
    ordered = clips.sort_values(["machine_type", "section", "domain", "file"]).reset_index(drop=True)
    draws = stratified_indices(ordered[["machine_type", "section", "domain", "label"]], 5, 3)
    for b in range(5):
        resample = ordered.iloc[draws[b]]
        expected = score.official_score(score.section_table(resample))["official_score"]
        assert fast[b] == pytest.approx(expected, abs=1e-12)
    observed, resampled = Resampler(clips, score, 5, 3).figures(clips)
    np.testing.assert_array_equal(resampled["official_score"], fast)
    whole = score.official_score(score.section_table(clips))
    assert set(score.summary) - {"official_score"} <= set(observed) and set(observed) == set(resampled)
    for figure in observed:  # the summary figures too, of the clips as observed and of each resample
        assert observed[figure] == pytest.approx(whole[figure], abs=1e-12), figure
        for b in range(5):
            again = score.official_score(score.section_table(ordered.iloc[draws[b]]))[figure]
            assert resampled[figure][b] == pytest.approx(again, abs=1e-12), figure


def test_select_reports_each_types_best_development_method_on_evaluation(tmp_path):
    from leaderboard.render import render
    from leaderboard.select import SELECT
    rows = []
    # dev: a wins on fan, b on pump and overall; eval: fan, pump and a first-shot type (drone)
    figures = {("dev", "fan"): {"a": 0.9, "b": 0.6}, ("dev", "pump"): {"a": 0.5, "b": 0.95},
               ("eval", "fan"): {"a": 0.7, "b": 0.8}, ("eval", "pump"): {"a": 0.6, "b": 0.65},
               ("eval", "drone"): {"a": 0.9, "b": 0.55}}
    for (split, machine_type), by_method in figures.items():
        for method, auc in by_method.items():
            for domain in ("source", "target", "all"):
                rows.append({"run_id": "r1", "method": method, "task": "dcase2023", "split": split,
                             "machine_type": machine_type, "section": "00", "domain": domain, "auc": auc,
                             "pauc": auc if domain == "all" else np.nan, "precision": 0.5, "recall": 0.5, "f1": 0.5,
                             "fit_seconds": 0.1, "score_seconds": 0.1, "device": "cpu", "dataset": "d",
                             "embedding_key": "k", "seed": 0, "embedder": "arcface"})
    (tmp_path / "results").mkdir()
    pd.DataFrame(rows).to_csv(tmp_path / "results" / "results.csv", index=False)
    text = render(tmp_path / "results", tmp_path / "LEADERBOARD.md")
    assert "Picks: drone b, fan a, pump b." in text  # drone is not in dev: the overall best (b) is reported
    select_row = next(line for line in text.splitlines() if line.startswith(f"| {SELECT}"))
    # official score of the picks on eval: fan a (0.7 x3), pump b (0.65 x3), drone b (0.55 x3)
    expected = 9 / (3 / 0.7 + 3 / 0.65 + 3 / 0.55)
    assert f"| {100 * expected:.2f} " in select_row


def test_the_2023_baseline_rows_are_marked_and_every_method_shows_its_official_score_difference(tmp_path):
    from leaderboard.render import render
    rows = []
    for embedder, method, auc in (("arcface", "knn", 0.8), ("ae2023", "mse", 0.6),
                                  ("ae2023(output=whitened)", "block_norm", 0.7), ("ae2023", "block_norm", 0.5)):
        for machine_type in ("fan", "pump"):
            for domain in ("source", "target", "all"):
                rows.append({"run_id": f"r-{embedder}", "method": method, "task": "dcase2023", "split": "dev",
                             "machine_type": machine_type, "section": "00", "domain": domain, "auc": auc,
                             "pauc": auc if domain == "all" else np.nan, "precision": 0.5, "recall": 0.5, "f1": 0.5,
                             "fit_seconds": 0.1, "score_seconds": 0.1, "device": "cpu", "dataset": "d",
                             "embedding_key": f"k-{embedder}", "seed": 0, "embedder": embedder})
    (tmp_path / "results").mkdir()
    pd.DataFrame(rows).to_csv(tmp_path / "results" / "results.csv", index=False)
    text = render(tmp_path / "results", tmp_path / "LEADERBOARD.md")
    line = {l.split("|")[1].strip(): l for l in text.splitlines() if l.startswith("| ") and "@" in l}
    assert set(line) == {"knn @ arcface", "mse @ ae2023 (official baseline)", "block_norm @ ae2023",
                         "block_norm @ ae2023(output=whitened) (official baseline)"}
    # the difference is to the MSE baseline (the baseline's default score); block_norm on MSE profiles is no baseline
    assert "| +20.00 " in line["knn @ arcface"] and "| +10.00 " in line["block_norm @ ae2023(output=whitened) (official baseline)"]
    assert "| -10.00 " in line["block_norm @ ae2023"] and "| - " in line["mse @ ae2023 (official baseline)"]
    # seconds: 0.1 per section (on each of its three domain rows), two sections
    assert [c.strip() for c in line["knn @ arcface"].split("|")[-4:-1]] == ["0.2", "0.2", "cpu"]
