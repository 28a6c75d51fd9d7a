"""The page's summary pictures of one split table: a forest plot of each method's score with its CI95 (the
official baseline as a line) and the score against scoring seconds. Drawn from the table itself, so the
picture and the numbers cannot disagree; redrawn only when what they show changes."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from leaderboard.page_model import Figure, PageTable
from leaderboard.plots import content_key, is_current, plt, save


def forest(table: PageTable, path: Path, title: str) -> None:
    frame = table.frame.iloc[::-1]  # the best at the top
    label = frame.columns[0]        # the method (or system) name
    key = content_key(frame[[label, table.score, *table.ci]], table.marked, title)
    if is_current(path, key):
        return
    y = np.arange(len(frame))
    score, low, high = (frame[c].to_numpy() for c in (table.score, *table.ci))
    fig, ax = plt.subplots(figsize=(7, 1.0 + 0.32 * len(frame)))
    known = ~np.isnan(low)
    # a line, not error bars: the score is the mean over seeds, the interval the first seed's, so it need not hold it
    ax.hlines(y[known], low[known], high[known], color="C0", lw=2, label="CI95 (bootstrap)")
    ax.plot(score[known], y[known], "o", color="C0")
    if (~known).any():
        ax.plot(score[~known], y[~known], "o", color="C1", label="no interval (no per-clip scores)")
    marked = np.array(table.marked[::-1], dtype=bool)
    if marked.any():
        ax.axvline(score[marked][0], color="C3", ls="--", lw=1, label="official baseline")
    ax.set_yticks(y, frame[label].tolist(), fontsize=8)
    ax.set(xlabel=f"{table.score} (%)", title=title)
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(axis="x", alpha=0.3)
    save(fig, path, key, fit_labels=True)


def score_vs_seconds(table: PageTable, path: Path, title: str) -> bool:
    """False (and nothing drawn) when no method has scoring seconds above 0."""
    frame = table.frame
    seconds = frame["score s"].to_numpy() + frame["fit s"].to_numpy()
    if not (seconds > 0).any():
        return False
    key = content_key(frame[["method", table.score, "fit s", "score s"]], title)
    if is_current(path, key):
        return True
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for i, (name, x, y) in enumerate(zip(frame["method"], seconds, frame[table.score])):
        if x > 0:
            ax.scatter(x, y, color=f"C{i % 10}", marker="os^Dv"[i // 10 % 5], label=name)  # 10 colours x 5 shapes
    ax.set(xscale="log", xlabel="fit + score seconds (log)", ylabel=f"{table.score} (%)", title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6, loc="center left", bbox_to_anchor=(1.01, 0.5))
    save(fig, path, key, fit_labels=True)
    return True


def summary_figures(table: PageTable, plot_dir: Path, title: str) -> list[Figure]:
    """The forest plot and the score-vs-seconds picture of `table`, as page figures (PNGs kept in `plot_dir`)."""
    out = []
    path = plot_dir / f"forest_{table.anchor}.png"
    forest(table, path, f"{title}: {table.score} with CI95")
    out.append(Figure(f"{title}: {table.score} of each method with its bootstrap CI95", path.read_bytes()))
    path = plot_dir / f"speed_{table.anchor}.png"
    if score_vs_seconds(table, path, f"{title}: {table.score} against fit + score seconds"):
        out.append(Figure(f"{title}: {table.score} against fit + score seconds", path.read_bytes()))
    return out
