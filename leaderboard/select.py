"""`select`: the evaluation rows of the method picked per machine type on development labels."""
from __future__ import annotations

import numpy as np
import pandas as pd

SELECT = "select (tuned on dev labels)"


def select_on_dev(task, dev: pd.DataFrame, part: pd.DataFrame, scores: pd.DataFrame | None):
    """Per evaluation machine type, the method whose development official score on that type (or overall, for a
    first-shot type) is best. Returns the picks and `part`/`scores` with its rows added as method `SELECT`."""
    scoring = task.scoring

    def best(rows):
        figures = {m: np.mean([scoring.official_score(r)["official_score"] for _, r in g.groupby("seed")])
                   for m, g in rows.groupby("method")}
        return max(sorted(figures), key=figures.get)

    overall = best(dev)
    picks = {t: best(dev[dev.machine_type == t]) if (dev.machine_type == t).any() else overall
             for t in sorted(part.machine_type.unique())}
    chosen = pd.concat([part[(part.machine_type == t) & (part.method == m)] for t, m in picks.items()]).assign(method=SELECT)
    if scores is not None:
        scores = pd.concat([scores, pd.concat([scores[(scores.machine_type == t) & (scores.method == m)]
                                               for t, m in picks.items()]).assign(method=SELECT)])
    return picks, pd.concat([part, chosen]), scores
