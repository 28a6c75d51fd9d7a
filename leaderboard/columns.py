"""Leaderboard tables from column specs: a column is a header, a cell function of a row record, and an
optional condition on the table; adding a column to a table is adding one spec to its list."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from tabulate import tabulate


@dataclass(frozen=True)
class Column:
    header: str
    cell: Callable[[Any], str]                  # row record -> cell text
    shown: Callable[[Any], bool] = lambda table: True  # table context -> whether the table has this column


def render_table(records: list, columns: list[Column], context=None) -> str:
    """A GitHub markdown table: one row per record, the columns `shown` for `context`."""
    used = [c for c in columns if c.shown(context)]
    return tabulate([[c.cell(r) for c in used] for r in records], [c.header for c in used], tablefmt="github",
                    disable_numparse=True)


# How a number is printed, by its kind, in the markdown cells and in the page alike (the page prints these strings
# rather than round again in JavaScript, whose toFixed rounds an exact half such as 65.625 up, Python to even).
PRINTED: dict[str, Callable[[float], str]] = {
    "pct": lambda v: f"{v:.2f}",
    "seconds": lambda v: "0" if v == 0 else f"{v:.0f}" if abs(v) >= 100 else f"{v:.3g}",
    "count": lambda v: str(round(v)),
}


def pct(x) -> str:
    """A fraction as a percentage cell."""
    return "-" if pd.isna(x) else PRINTED["pct"](100 * x)


def seconds(v: float) -> str:
    return "-" if np.isnan(v) else PRINTED["seconds"](v)


def mean_std(values: list[float]) -> str:
    """Mean over seeds, ± their standard deviation when there are two or more."""
    return pct(np.mean(values)) + (f" ± {100 * np.std(values, ddof=1):.2f}" if len(values) > 1 else "")
