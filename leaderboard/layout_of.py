"""Which leaderboard layout shows a task year: the one its scoring names (`Scoring.layout`)."""
from __future__ import annotations

from leaderboard.domains import DomainLayout
from leaderboard.layouts import Layout
from leaderboard.per_id import PerIdLayout

LAYOUTS: dict[str, type[Layout]] = {"per_id": PerIdLayout, "domains": DomainLayout}


def layout_of(task) -> Layout:
    return LAYOUTS[task.scoring.layout]()
