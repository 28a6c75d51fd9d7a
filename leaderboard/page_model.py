"""What the HTML leaderboard shows, as data: sections of tables (numeric values, full precision), figures and
notes. The layouts fill it beside their markdown; `leaderboard.page` turns it into one offline file."""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from leaderboard.columns import PRINTED

KINDS = ("text", *PRINTED)  # how the page prints a column (as the markdown does); sorting always uses the value

# what each figure means, shown where it is shown (header tooltip and the table's footnote)
DEFINE = {
    "method": "scorer @ embedder; `select` rows are picked per machine type on development labels",
    "rank": "1 for the leader and every method the paired bootstrap cannot tell from it (tied), else the position",
    "standing": "leader; tied = the paired bootstrap CI95 of (method - leader) holds 0; below = it does not",
    "auc": "ROC AUC: the probability that an anomalous clip scores above a normal one, in %",
    "pauc": "partial AUC up to FPR 0.1, McClish-standardised as scikit-learn's roc_auc_score(max_fpr=0.1) that the DCASE evaluators call, in %",
    "hmean AUC": "harmonic mean over machine types of each type's mean AUC over its machine IDs (the 2020 headline), in %",
    "hmean pAUC": "harmonic mean over machine types of each type's mean pAUC (max FPR 0.1), in %",
    "mean AUC": "arithmetic mean over machine types of each type's mean AUC, in %",
    "mean pAUC": "arithmetic mean over machine types of each type's mean pAUC (max FPR 0.1), in %",
    "official score": "the year's official score (its formula is in the section's notes), in %; mean over seeds",
    "CI95": "2.5 and 97.5 percentiles of the figure over 1,000 stratified bootstrap resamples of the test clips (first seed)",
    "paired CI95": "CI95 of the difference over the same bootstrap resamples for both methods (paired)",
    "sd": "standard deviation over training seeds (blank with one seed)",
    "vs baseline": "the figure minus the official baseline row's, in points",
    "vs leader": "the figure minus the leader's, in points",
    "mAUC": "the worst machine ID's AUC per type, averaged over types, in %",
    "fit s": "seconds to fit the scorer, summed over sections, mean over seeds",
    "score s": "seconds to score the test clips, summed over sections, mean over seeds",
    "seeds": "training seeds averaged (frozen embedders have one)",
    "official CI95": "the evaluators' jackknife half-width (leave one clip out, Student t), mean of the pooled AUC's and pAUC's",
    "auc_source": "AUC on the section's source-domain normal clips against all its anomalies, in %",
    "auc_target": "AUC on the section's target-domain normal clips against all its anomalies, in %",
    "pauc_source": "pAUC (max FPR 0.1) of the source domain, in %",
    "pauc_target": "pAUC (max FPR 0.1) of the target domain, in %",
}


@dataclass(frozen=True)
class Field:
    """One column of a page table: `value(record)` is a number (percentages in %) or text, never a formatted string."""
    header: str
    value: Callable[[Any], Any]
    kind: str = "pct"
    group: str = ""            # a column group hidden by default behind its toggle ("per machine type")
    best: str = ""             # "max" or "min": the page marks the column's best value
    define: str = ""           # the header's tooltip and the table's footnote


def paired_fields() -> list[Field]:
    """The differences to the official baseline and to the leader, each with its paired CI95 (a row's
    `versus_baseline` and `versus_leader`: difference, low, high, as fractions)."""
    return [Field(f"vs {whom}{part}", lambda r, a=attr, i=i: 100 * getattr(r, a)[i],
                  define=DEFINE["paired CI95" if i else f"vs {whom}"])
            for whom, attr in (("baseline", "versus_baseline"), ("leader", "versus_leader"))
            for i, part in enumerate(("", " CI95 low", " CI95 high"))]


@dataclass
class PageTable:
    anchor: str                      # stable id: `dcase2023-eval`, `dcase2023-eval-valve`
    title: str
    frame: pd.DataFrame              # one row per record, one column per field
    fields: list[Field]
    marked: list[bool]               # rows marked as the official baseline
    notes: list[str] = field(default_factory=list)
    folded: bool = False             # shown collapsed (per-ID / per-section detail)
    score: str = ""                  # the column the section is sorted by, with `ci` its CI95 columns
    ci: tuple[str, str] | None = None


@dataclass
class Figure:
    title: str
    png: bytes


@dataclass
class Note:
    text: str
    notice: bool = False             # something missing or failed: shown marked


@dataclass
class PageSection:
    anchor: str
    title: str
    facts: list[str] = field(default_factory=list)
    items: list = field(default_factory=list)  # PageTable, Figure or Note, in page order


def anchor(*parts: str) -> str:
    """`dcase2023-eval-valve`: lower case, runs of anything but letters, digits and `-` made one `-`."""
    return re.sub(r"[^a-z0-9-]+", "-", "-".join(parts).lower()).strip("-")


def page_table(anchor_: str, title: str, records: list, fields: list[Field], marked=None, **rest) -> PageTable:
    """A table of `records` (one row each) by `fields`; NaN and None stay missing."""
    frame = pd.DataFrame({f.header: [f.value(r) for r in records] for f in fields}, columns=[f.header for f in fields])
    for f in fields:
        if f.kind != "text":
            frame[f.header] = pd.to_numeric(frame[f.header], errors="coerce").astype(float)
    return PageTable(anchor_, title, frame, fields, list(marked) if marked is not None else [False] * len(frame), **rest)


def pct100(x) -> float:
    """A stored fraction as the page's percentage (NaN stays NaN)."""
    return float("nan") if x is None or pd.isna(x) else 100.0 * float(x)


def per_section_tables(task_name: str, split: str, part: pd.DataFrame) -> list[PageTable]:
    """Per machine type, one folded table: a row per method, AUC and pAUC of every section (and domain), mean
    over seeds."""
    tables = []
    for machine_type, rows in part.groupby("machine_type"):
        cells = rows.groupby(["method", "section", "domain"])[["auc", "pauc"]].mean()
        wide = cells.unstack(["section", "domain"])
        keys = sorted({(s, d) for _, s, d in wide.columns})
        fields = [Field("method", lambda r: r[0], kind="text")]
        for s, d in keys:
            where = f"section {s}" + ("" if d == "all" else f" {d}")
            fields += [Field(f"{where} AUC", lambda r, k=("auc", s, d): pct100(r[1].get(k)), best="max",
                             define=f"AUC of {where}, mean over seeds"),
                       Field(f"{where} pAUC", lambda r, k=("pauc", s, d): pct100(r[1].get(k)), best="max",
                             define=f"pAUC (max FPR 0.1) of {where}, mean over seeds")]
        records = [(m, wide.loc[m]) for m in sorted(wide.index)]
        tables.append(page_table(anchor(task_name, split, machine_type), f"{machine_type}: per section", records, fields,
                                 folded=True))
    return tables


def best_rows(table: PageTable) -> dict[str, int]:
    """Per column with a `best` rule, the row holding its best value (ties: the first row)."""
    out = {}
    for f in table.fields:
        column = table.frame[f.header]
        if f.best and column.notna().any():
            out[f.header] = int(np.nanargmax(column) if f.best == "max" else np.nanargmin(column))
    return out
