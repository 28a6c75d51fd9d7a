"""The markdown leaderboard, rendered from `results/results.csv` and `results/scores.parquet` (no rescoring):
one section per task year in the results, in the layout of its kind of official score (`leaderboard.layouts`).

Every headline figure is the mean over the training seeds (± their standard deviation with two or more),
with a CI95 from a bootstrap over test clips; methods the paired bootstrap cannot tell from the leader are
marked as tied with it.
"""
from __future__ import annotations

import json
from pathlib import Path

from core.atomic import write_text
from dcase.tasks import get_task
from leaderboard.layouts import layout_of
from leaderboard.results import read_results


def failures(metas: list[dict], task: str) -> list[str]:
    """The methods that failed in the newest run of `task` that had failures, with their reasons."""
    failed = [m for m in metas if m.get("task") == task and m.get("failed")]
    if not failed:
        return []
    newest = failed[-1]
    return [f"Failed in run `{newest['run_id']}` (embedder `{newest['embedder']}`), so not in the tables above:", "",
            *(f"- **{m}**: {reason}" for m, reason in newest["failed"].items()), ""]


def render(results_dir: Path, out: Path) -> str:
    results = read_results(results_dir / "results.csv")
    tasks = [get_task(name) for name in sorted(set(results.task))]
    tasks.sort(key=lambda t: layout_of(t).rank)
    metas = [json.loads(p.read_text()) for p in sorted((results_dir / "runs").glob("*.json"))]
    parts: list[str] = []
    for task in tasks:
        parts += layout_of(task).render(task, results[results.task == task.name], results_dir, out, title=not parts)
        parts += failures(metas, task.name)
    text = "\n".join(parts)
    write_text(out, text)
    return text
