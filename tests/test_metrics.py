import numpy as np
import pandas as pd
import pytest

from dcase.metrics import auc_pauc, per_section, summarize
from dcase.submission import read_rows as read_scores
from dcase.submission import write_rows as write_scores


def test_auc_by_hand():
    auc, _ = auc_pauc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    assert auc == pytest.approx(0.75)  # 3 of 4 (anomaly, normal) pairs ordered right


def test_pauc_is_mcclish_standardized():
    perfect = auc_pauc([0, 0, 1, 1], [0, 0.1, 0.9, 1])
    worst = auc_pauc([0, 0, 1, 1], [0.9, 1, 0, 0.1])
    assert perfect == (1.0, 1.0)
    # worst: raw partial area 0, min 0.5*p^2, max p -> 0.5 * (1 + (0 - 0.005) / (0.1 - 0.005))
    assert worst[1] == pytest.approx(0.5 * (1 - 0.005 / 0.095))


def test_pauc_matches_an_independent_integration():
    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(300), np.ones(200)]
    s = rng.normal(size=500) + y
    fpr = np.r_[0, np.cumsum(1 - y[np.argsort(-s)]) / 300]
    tpr = np.r_[0, np.cumsum(y[np.argsort(-s)]) / 200]
    grid = np.linspace(0, 0.1, 100001)
    area = np.trapezoid(np.interp(grid, fpr, tpr), grid)
    expected = 0.5 * (1 + (area - 0.005) / (0.1 - 0.005))
    assert auc_pauc(y, s)[1] == pytest.approx(expected, abs=1e-4)


def test_nan_scores_are_rejected():
    with pytest.raises(ValueError, match="NaN"):
        auc_pauc([0, 1], [0.1, np.nan])


def test_per_machine_and_summary_means():
    clips = pd.DataFrame({"machine_type": ["a"] * 4 + ["a"] * 4 + ["b"] * 4,
                          "section": ["00"] * 4 + ["01"] * 4 + ["00"] * 4,
                          "label": [0, 0, 1, 1] * 3})
    scores = [0, 1, 2, 3] + [0, 2, 1, 3] + [3, 2, 1, 0]
    per_id = per_section(clips, scores)
    assert list(per_id.auc) == [1.0, 0.75, 0.0]
    table = summarize(per_id)
    assert table.loc["a", "auc"] == pytest.approx(0.875)
    assert table.loc["mean", "auc"] == pytest.approx(0.4375)
    assert table.loc["hmean", "pauc"] == pytest.approx(2 / (1 / table.loc["a", "pauc"] + 1 / table.loc["b", "pauc"]))


def test_submission_csv_round_trip(tmp_path):
    files = ["id_01_00000000.wav", "id_01_00000001.wav"]
    path = tmp_path / "anomaly_score_fan_id_01.csv"
    write_scores(path, files, [0.25, 1e-9])
    assert path.read_text().splitlines()[0] == "id_01_00000000.wav,0.25"
    names, values = read_scores(path)
    assert names == files and values.tolist() == [0.25, 1e-9]
