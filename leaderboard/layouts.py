"""A leaderboard layout per kind of official score (`Scoring.layout`): how a task year's rows are rendered
and which plots a run adds for it."""
from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

from leaderboard.results import read_scores_table


class Layout:
    """`render` returns the markdown lines of one task year's section and adds its tables, figures and notes
    to `page` (the HTML page's section); `plot` writes a run's plots. Sections follow each other by `rank`; the
    first one on the page carries its title."""

    rank = 1

    def render(self, task, results: pd.DataFrame, results_dir: Path, out: Path, title: bool, page) -> list[str]:
        raise NotImplementedError

    def plot(self, clip_scores: dict, cache, plot_dir: Path, embedder: str) -> None:
        """Nothing by default: the plots of a layout that links them."""


def title_lines(results_dir: Path) -> list[str]:
    return ["# Leaderboard", "", f"Generated {time.strftime('%Y-%m-%d %H:%M')} by `bench leaderboard` from "
            f"`{results_dir}/results.csv` and `scores.parquet`.", ""]


def stored_scores(rows: pd.DataFrame, results_dir: Path, split: str) -> pd.DataFrame | None:
    """The labelled per-clip scores of `rows`' runs on `split`, with `rows`' method names."""
    path = results_dir / "scores.parquet"
    if not path.is_file():
        return None
    scores = read_scores_table(path, split)
    scores = scores[scores.task == rows.task.iloc[0]]
    runs = rows[["run_id", "scorer", "embedder", "seed", "method"]].drop_duplicates()
    scores = scores.rename(columns={"method": "scorer"}).merge(runs, on=["run_id", "scorer", "embedder", "seed"])
    return scores[scores.label >= 0] if len(scores) else None


def stage_note(meta: dict) -> str:
    """`, 12.3 s (data 1.0 s, ...)`: a run's stage times from its metadata ("" for runs before they were kept)."""
    stages = meta.get("stage_seconds")
    if not stages:
        return ""
    return f", {sum(stages.values()):.1f} s (" + ", ".join(f"{k} {v:.1f} s" for k, v in stages.items()) + ")"
