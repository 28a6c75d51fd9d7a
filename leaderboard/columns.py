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


def pct(x) -> str:
    return "-" if pd.isna(x) else f"{100 * x:.2f}"


def mean_std(values: list[float]) -> str:
    """Mean over seeds, ± their standard deviation when there are two or more."""
    return pct(np.mean(values)) + (f" ± {100 * np.std(values, ddof=1):.2f}" if len(values) > 1 else "")
