"""The results store: the schema of `results.csv` (per section and domain) and `scores.parquet` (per clip),
locked atomic appends, reading old files, and per-seed summaries of 2020 rows.

The official scores themselves are `dcase.scoring`.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from core import atomic
from core.locking import exclusive
from dcase.metrics import summarize
from dcase.tasks import DEFAULT_TASK

RESULT_COLUMNS = ["run_id", "method", "task", "split", "machine_type", "section", "domain", "metric", "auc", "pauc",
                  "precision", "recall", "f1", "fit_seconds", "score_seconds", "device", "dataset", "embedding_key", "seed",
                  "embedder", "machine_id"]
SCORE_COLUMNS = ["run_id", "method", "task", "seed", "split", "file", "machine_type", "section", "domain", "label", "score",
                 "decision", "dataset", "embedding_key", "embedder"]


def result_tables(year, scored: dict[str, tuple[pd.DataFrame, float, float]], **columns
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(result rows, per-clip rows) of one method on every split (`scored`: split -> (scored test clips, fit s,
    score s)), with the run's identifying `columns` (each table keeps its own columns of them)."""
    rows = [year.result_rows(clips).assign(split=split, fit_seconds=fit_s, score_seconds=score_s, **columns)
            for split, (clips, fit_s, score_s) in scored.items() if (clips.label >= 0).any()]
    per_clip = pd.concat([clips[["file", "machine_type", "section", "domain", "label", "score", "decision"]].assign(split=split)
                          for split, (clips, _, _) in scored.items()])
    table = pd.concat(rows, ignore_index=True)[RESULT_COLUMNS] if rows else pd.DataFrame(columns=RESULT_COLUMNS)
    return table, per_clip.assign(**columns)


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


# what rows written before these columns existed were: seed 0 of `arcface` on DCASE 2020, one row per machine ID
RESULT_DEFAULTS = {"seed": 0, "embedder": "arcface", "task": DEFAULT_TASK, "domain": "all"}


def _with_defaults(table: pd.DataFrame) -> pd.DataFrame:
    if "section" not in table and "machine_id" in table:  # 2020 machine IDs are its sections
        table = table.assign(section=table.machine_id)
    return table.assign(**{k: table[k].fillna(v) if k in table else v for k, v in RESULT_DEFAULTS.items()})


def read_results(path: Path) -> pd.DataFrame:
    """`results.csv`, old files included (see `RESULT_DEFAULTS`)."""
    return _with_defaults(pd.read_csv(path, dtype={"machine_id": str, "section": str, "run_id": str}))


def read_scores_table(path: Path, split: str | None = None) -> pd.DataFrame:
    """`scores.parquet` (one split's rows if `split` is given), with the same defaults as `read_results`."""
    return _with_defaults(pd.read_parquet(path, filters=[("split", "==", split)] if split else None))


STORED_BY = ["task", "method", "seed", "embedder", "embedding_key", "dataset"]  # what makes a method's rows the same


def stored_rows(results_dir: Path) -> pd.DataFrame:
    """The store's result rows (none if there is no store yet), for a run to reuse instead of scoring again."""
    path = Path(results_dir) / "results.csv"
    return read_results(path) if path.is_file() else pd.DataFrame(columns=RESULT_COLUMNS)


def _append(path: Path, rows: pd.DataFrame, read, write) -> None:
    """Add `rows` to a table file under a lock, through a temp file and a rename: a crash or a second run never
    loses rows."""
    with exclusive(path.with_name(path.name + ".lock")):
        table = rows if not path.is_file() else pd.concat([read(path), rows], ignore_index=True)
        with atomic.atomic_file(path) as tmp:
            write(table, tmp)


def append_results(results_dir: Path, rows: pd.DataFrame, clips: pd.DataFrame) -> None:
    """Append one method's result rows to `results.csv` and its per-clip scores to `scores.parquet`."""
    _append(Path(results_dir) / "results.csv", rows[RESULT_COLUMNS], read_results,
            lambda table, tmp: table.to_csv(tmp, index=False))
    _append(Path(results_dir) / "scores.parquet", clips[SCORE_COLUMNS], read_scores_table,
            lambda table, tmp: table.to_parquet(tmp, index=False))
