"""The leaderboard, rendered from `results/results.csv` and `results/scores.parquet` (no rescoring): the
markdown file and, beside it, the same figures as one offline HTML page (`LEADERBOARD.html`); one section per
task year in the results, in the layout of its kind of official score (`leaderboard.layouts`).

Every headline figure is the mean over the training seeds (± their standard deviation with two or more),
with a CI95 from a bootstrap over test clips; methods the paired bootstrap cannot tell from the leader are
marked as tied with it.
"""
from __future__ import annotations

import json
from pathlib import Path

from core.atomic import write_text
from dcase.tasks import get_task
from leaderboard.layout_of import layout_of
from leaderboard.page import write_page
from leaderboard.page_model import Note, PageSection
from leaderboard.results import read_results


def failures(metas: list[dict], task: str) -> list[str]:
    """The methods that failed in the newest run of `task` that had failures, with their reasons."""
    failed = [m for m in metas if m.get("task") == task and m.get("failed")]
    if not failed:
        return []
    newest = failed[-1]
    return [f"Failed in run `{newest['run_id']}` (embedder `{newest['embedder']}`), so not in the tables above:", "",
            *(f"- **{m}**: {reason}" for m, reason in newest["failed"].items()), ""]


def facts(lines: list[str]) -> list[str]:
    """A section's bullet lines (data set, embedders, newest run) before its first table, as plain text."""
    head = lines[:next((i for i, line in enumerate(lines) if line.startswith("|")), len(lines))]
    return [line[2:].replace("`", "") for line in head if line.startswith("- ")]


def render(results_dir: Path, out: Path) -> str:
    """Write the markdown leaderboard `out` and the page beside it (`out` with `.html`); returns the markdown."""
    results = read_results(results_dir / "results.csv")
    tasks = [get_task(name) for name in sorted(set(results.task))]
    tasks.sort(key=lambda t: layout_of(t).rank)
    metas = [json.loads(p.read_text()) for p in sorted((results_dir / "runs").glob("*.json"))]
    parts: list[str] = []
    sections = []
    for task in tasks:
        page = PageSection(task.name, task.name)
        lines = layout_of(task).render(task, results[results.task == task.name], results_dir, out, title=not parts, page=page)
        page.facts = facts(lines)
        failed = failures(metas, task.name)
        page.items += [Note(line[2:].replace("**", ""), notice=True) for line in failed if line.startswith("- ")]
        if not any(split == "eval" for split in results[results.task == task.name].split):
            page.items.append(Note("No evaluation rows: the evaluation set's ground truth was not given (bench run --truth "
                                   "FILE or the data set's ground-truth list), so only development figures are shown.",
                                   notice=True))
        sections.append(page)
        parts += lines + failed
    text = "\n".join(parts)
    write_text(out, text)
    write_page(out.with_suffix(".html"), sections, "Anomalous sound detection leaderboard", f"{results_dir}/results.csv")
    return text
