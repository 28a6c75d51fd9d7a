"""Evaluation ground truth in either published form, as {(machine type, test file name): ClipName}.

1. The baseline's renaming list (`eval_data_list_20XX.csv`): a machine-type line opens each block of
   `anonymised.wav,original.wav[,label]` rows; label, domain and attributes come from the original name
   (2020 gives the label as a third cell).
2. The evaluators' folders: `ground_truth_data/ground_truth_<type>_section_<SS>[_<domain>]_test.csv`
   (`file,0|1`), `ground_truth_domain/...` (`file,0` source, `1` target) and `ground_truth_attributes/...`
   (anonymised name and original name), beside each other in one folder.
"""
from __future__ import annotations

import csv
import re
from pathlib import Path

from core.errors import DataError
from dcase import names
from dcase.names import ClipName

_TRUTH_FILE = re.compile(r"^ground_truth_(.+)_section_(\d{2})(?:_(source|target))?_test\.csv$")


def read_list(path: Path) -> dict[tuple[str, str], ClipName]:
    """The renaming list."""
    truth: dict[tuple[str, str], ClipName] = {}
    machine_type = None
    for n, line in enumerate(path.read_text().splitlines(), 1):
        cells = [c.strip() for c in line.split(",") if c.strip()]
        if not cells:
            continue
        if len(cells) == 1:
            machine_type = cells[0]
            continue
        original = names.parse(cells[1]) or names.parse(cells[0])
        label = cells[2] if len(cells) > 2 else str(original.label if original else "")
        if machine_type is None or original is None or label not in ("0", "1"):
            raise DataError(f"{path}:{n}: expected a machine-type line or `anonymised.wav,original.wav[,0|1]` with a "
                            f"DCASE original name, got {line!r}")
        if (machine_type, cells[0]) in truth:
            raise DataError(f"{path}:{n}: {machine_type} {cells[0]} is listed twice; keep one row per clip")
        truth[(machine_type, cells[0])] = ClipName(original.scheme, original.section, original.domain, "test", int(label),
                                                   original.number, original.attributes)
    return truth


def _rows(path: Path) -> list[list[str]]:
    with open(path, newline="") as f:
        return [[c.strip() for c in row] for row in csv.reader(f) if row]


def read_folders(folder: Path) -> dict[tuple[str, str], ClipName]:
    """The evaluators' `ground_truth_data/`, `ground_truth_domain/` and `ground_truth_attributes/` under `folder`."""
    data = folder / "ground_truth_data"
    files = sorted(p for p in data.glob("ground_truth_*.csv") if _TRUTH_FILE.match(p.name)) if data.is_dir() else []
    if not files:
        raise DataError(f"{folder}: no ground_truth_data/ground_truth_<type>_section_<SS>_test.csv files; point "
                        "--ground-truth at the folder that holds the evaluator's ground_truth_data/")
    truth: dict[tuple[str, str], ClipName] = {}
    for path in files:
        machine_type, section, named_domain = _TRUTH_FILE.match(path.name).groups()
        domains = {}
        domain_file = folder / "ground_truth_domain" / path.name
        if domain_file.is_file():
            domains = {r[0]: ("source", "target")[int(r[1])] for r in _rows(domain_file)}
        attributes = {}
        attribute_file = folder / "ground_truth_attributes" / path.name
        if attribute_file.is_file():  # anonymised name, original name (with or without .wav)
            for r in _rows(attribute_file):
                original = names.parse(r[1] if r[1].endswith(".wav") else r[1] + ".wav")
                attributes[r[0]] = original.attributes if original else ""
        for n, row in enumerate(_rows(path), 1):
            if len(row) < 2 or row[1] not in ("0", "1"):
                raise DataError(f"{path}:{n}: expected `file name,0|1`, got {','.join(row)!r}")
            domain = named_domain or domains.get(row[0], "unknown")
            truth[(machine_type, row[0])] = ClipName("section", section, domain, "test", int(row[1]), "",
                                                     attributes.get(row[0], ""))
    return truth


def read(given: Path, task) -> dict[tuple[str, str], ClipName]:
    """`--ground-truth`: a renaming list file or a folder holding the evaluator's `ground_truth_data/`."""
    given = Path(given)
    if given.is_file():
        return read_list(given)
    if not given.is_dir():
        raise DataError(f"{given}: --ground-truth names neither a renaming list nor a folder; pass the "
                        f"{task.ground_truth_list} file or the folder holding ground_truth_data/")
    return read_folders(given)


def find(root: Path, task, given: Path | None) -> tuple[dict | None, Path | None]:
    """The ground truth for `root`: from `given` (a list file or an evaluator folder), else a list or
    `ground_truth_data/` found in `root`; (None, None) when there is none (development data alone)."""
    if given is not None:
        return read(given, task), Path(given)
    for name in (task.ground_truth_list, "eval_data_list.csv"):
        if (root / name).is_file():
            return read_list(root / name), root / name
    if (root / "ground_truth_data").is_dir():
        return read_folders(root), root
    return None, None
