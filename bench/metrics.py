"""The official DCASE 2020 Task 2 metrics and submission files.

AUC and pAUC per machine ID exactly as the official evaluator computes them (scikit-learn's
`roc_auc_score`, pAUC with `max_fpr=0.1`: McClish's standardized partial AUC), then the mean over a
type's IDs, then the arithmetic and harmonic means over types.
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import hmean
from sklearn.metrics import roc_auc_score

MAX_FPR = 0.1


def auc_pauc(labels, scores, max_fpr: float = MAX_FPR) -> tuple[float, float]:
    labels, scores = np.asarray(labels), np.asarray(scores, dtype=np.float64)
    if not np.isfinite(scores).all():
        raise ValueError("anomaly scores contain NaN or inf; the scorer produced invalid output")
    return float(roc_auc_score(labels, scores)), float(roc_auc_score(labels, scores, max_fpr=max_fpr))


def per_machine(clips: pd.DataFrame, scores) -> pd.DataFrame:
    """AUC/pAUC per (machine type, ID) for labelled clips; `clips` needs machine_type, machine_id, label."""
    frame = clips[["machine_type", "machine_id", "label"]].assign(score=np.asarray(scores))
    frame = frame[frame.label >= 0]
    rows = [(t, i, *auc_pauc(g.label, g.score)) for (t, i), g in frame.groupby(["machine_type", "machine_id"])]
    return pd.DataFrame(rows, columns=["machine_type", "machine_id", "auc", "pauc"])


def summarize(per_id: pd.DataFrame) -> pd.DataFrame:
    """Rows: machine types (mean over IDs), then `mean` and `hmean` over types. Columns auc, pauc."""
    types = per_id.groupby("machine_type")[["auc", "pauc"]].mean()
    out = types.copy()
    out.loc["mean"] = types.mean()
    out.loc["hmean"] = hmean(types.to_numpy(), axis=0)
    return out


def summarize_seeds(per_id: pd.DataFrame) -> list[pd.DataFrame]:
    """One `summarize` table per training seed (column `seed`), with mAUC: the worst ID's AUC per type, and its
    mean over types."""
    out = []
    for _, g in per_id.groupby("seed"):
        s = summarize(g)
        worst = g.groupby("machine_type").auc.min()
        s["mauc"] = worst
        s.loc["mean", "mauc"], s.loc["hmean", "mauc"] = worst.mean(), np.nan
        out.append(s)
    return out


def seed_mean(tables: list[pd.DataFrame]) -> pd.DataFrame:
    """The cell-by-cell mean of per-seed summary tables."""
    return sum(tables) / len(tables)


def write_scores(path: Path, files, values) -> None:
    """`anomaly_score_<type>_id_<XX>.csv` (or a decision file): rows `file name,value`, no header."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(zip(files, values))


def read_scores(path: Path) -> tuple[list[str], np.ndarray]:
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return [r[0] for r in rows], np.array([float(r[1]) for r in rows])


def submission_name(kind: str, machine_type: str, machine_id: str) -> str:
    return f"{kind}_{machine_type}_id_{machine_id}.csv"


RESULT_DEFAULTS = {"seed": 0, "embedder": "arcface"}  # what rows written before these columns existed were


def _with_defaults(table: pd.DataFrame) -> pd.DataFrame:
    return table.assign(**{k: table[k].fillna(v) if k in table else v for k, v in RESULT_DEFAULTS.items()})


def read_results(path: Path) -> pd.DataFrame:
    """`results.csv`, old files included: rows written before seeds or embedders existed are seed 0 of `arcface`."""
    return _with_defaults(pd.read_csv(path, dtype={"machine_id": str, "run_id": str}))


def read_scores_table(path: Path, split: str | None = None) -> pd.DataFrame:
    """`scores.parquet` (one split's rows if `split` is given), with the same defaults as `read_results`."""
    return _with_defaults(pd.read_parquet(path, filters=[("split", "==", split)] if split else None))
