"""Which rows a leaderboard section shows (the newest run of each method) and which are official baselines."""
from __future__ import annotations

import pandas as pd

from core.plugins import parse_label


def latest(results: pd.DataFrame) -> pd.DataFrame:
    """The newest run's data set; per embedder, its newest run's embeddings (one per seed) and, for each method,
    the newest run on them. With several embedders a method is shown as `method @ embedder`; `scorer` keeps
    the plain name."""
    newest = results.loc[results.run_id.idxmax()]
    parts = []
    for _, rows in results[results.dataset == newest.dataset].groupby("embedder"):
        keys = set(rows.embedding_key[rows.run_id == rows.run_id.max()])
        same = rows[rows.embedding_key.isin(keys)]
        parts.append(same[same.run_id == same.groupby("method").run_id.transform("max")])
    out = pd.concat(parts).assign(scorer=lambda t: t.method)
    return out.assign(method=out.method + " @ " + out.embedder) if out.embedder.nunique() > 1 else out


def is_reference(task, row) -> bool:
    """Whether `row` is an official baseline's row for `task`: the year names its baseline embedder
    (`TaskYear.baseline`), the embedder names the scorer that gives the baseline's own score for its options."""
    from embeddings.embedders import EMBEDDERS
    name, options = parse_label(str(row.embedder))
    cls = EMBEDDERS.available().get(name) if name == task.baseline else None
    return cls is not None and row.scorer == cls.reference_scorer(options)


def references(task, rows: pd.DataFrame) -> list[str]:
    """The methods of `rows` that are official baseline rows; first the one on the embedder's default options
    (the baseline's default score, e.g. the 2023 baseline's MSE)."""
    found = [m for m, g in rows.groupby("method") if is_reference(task, g.iloc[0])]
    return sorted(found, key=lambda m: (len(parse_label(str(rows[rows.method == m].embedder.iloc[0]))[1]), m))


def repository(task) -> str:
    from embeddings.embedders import EMBEDDERS
    cls = EMBEDDERS.available().get(task.baseline)
    return cls.repository if cls else ""
