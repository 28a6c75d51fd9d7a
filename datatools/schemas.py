"""Real attribute schemas per task year and machine type (`bench data schemas REAL_ROOT`).

Every clip name in the real metadata files under `REAL_ROOT/<year>/` (attribute lists, renaming lists,
attribute correspondence files; `_variant_*` and `_derived_*` folders are left out, they are not official)
that carries its domain and attributes counts once for its (year, machine type, domain, attribute string).
The generator draws its recording conditions from these sets, so a stand-in's section x attribute classes
have the real names, values and source/target split. Only names are read, no audio.
"""
from __future__ import annotations

import csv
import json
from collections import Counter, defaultdict
from pathlib import Path

from dcase.names import parse
from dcase.recording import SCHEMA_FILE


def _names(cell: str) -> str | None:
    base = cell.strip().replace("\\", "/").rsplit("/", 1)[-1]
    if not base.startswith("section_"):
        return None
    return base if base.endswith(".wav") else base + ".wav"


def _rows(path: Path):
    with open(path, newline="", encoding="utf-8-sig") as f:
        yield from csv.reader(f)


def collect(root: str | Path) -> dict[str, dict[str, dict[str, dict[str, int]]]]:
    """{task name: {machine type: {"source"|"target": {attribute string: clips}}}} from the real files."""
    root = Path(root)
    counts: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(Counter)))
    seen: set = set()
    for year_dir in sorted(p for p in root.iterdir() if p.is_dir() and p.name.isdigit()):
        task = f"dcase{year_dir.name}"
        for path in sorted(year_dir.rglob("*.csv")):
            if any(part.startswith("_") for part in path.relative_to(year_dir).parts):
                continue
            per_type = path.parent != year_dir
            machine_type = path.relative_to(year_dir).parts[0] if per_type else None
            for row in _rows(path):
                if not per_type and len(row) == 1 and row[0].strip():
                    machine_type = row[0].strip()  # a renaming list's machine-type line
                    continue
                for cell in row:
                    name = _names(cell)
                    clip = parse(name) if name else None
                    if clip is None or clip.domain not in ("source", "target") or not clip.attributes:
                        continue
                    key = (task, machine_type, clip.section, clip.domain, clip.stage, clip.number)
                    if key not in seen:  # one clip listed in several files counts once
                        seen.add(key)
                        # 2024 slider's revealed names end in a separator (`ac_0.03_`): the same condition
                        counts[task][machine_type][clip.domain][clip.attributes.strip("_")] += 1
    return {task: {t: {d: dict(sorted(c.items())) for d, c in sorted(doms.items())} for t, doms in sorted(types.items())}
            for task, types in sorted(counts.items())}


def write(schemas: dict, path: Path = SCHEMA_FILE) -> None:
    from core.atomic import write_text
    write_text(path, json.dumps(schemas, indent=1, sort_keys=True) + "\n")
