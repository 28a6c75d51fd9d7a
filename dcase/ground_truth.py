"""Evaluation ground truth in either published form, as {(machine type, test file name): ClipName}.

1. The baseline's renaming list (`eval_data_list_20XX.csv`): a machine-type line opens each block of
   `anonymised.wav,original.wav[,label]` rows; label, domain and attributes come from the original name
   (2020 gives the label as a third cell).
2. The evaluators' folders: `ground_truth_data/ground_truth_<type>_section_<SS>[_<domain>]_test.csv`
   (`file,0|1`), `ground_truth_domain/...` (`file,0` source, `1` target) and `ground_truth_attributes/...`
   (anonymised name, original name and, where the original conceals its attributes, the revealed name last;
   2022: `ground_truth_attributes/<type>/attributes_<SS>.csv` with the full name in its last column), beside
   each other in one folder.

Where both are found, the evaluator's wins (the official 2022 list mismatches ToyCar and ToyTrain indices) and
one warning counts the clips on which they disagree.
"""
from __future__ import annotations

import csv
import re
import warnings
from dataclasses import replace
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
        original = names.parse(_wav(cells[1])) or names.parse(cells[0])
        label = cells[2] if len(cells) > 2 else str(original.label if original else "")
        if machine_type is None or original is None or label not in ("0", "1"):
            raise DataError(f"{path}:{n}: expected a machine-type line or `anonymised.wav,original.wav[,0|1]` with a "
                            f"DCASE original name, got {line!r}")
        if (machine_type, cells[0]) in truth:
            raise DataError(f"{path}:{n}: {machine_type} {cells[0]} is listed twice; keep one row per clip")
        truth[(machine_type, cells[0])] = ClipName(original.scheme, original.section, original.domain, "test", int(label),
                                                   original.number, original.attributes, _wav(cells[1]))
    return truth


def _rows(path: Path) -> list[list[str]]:
    with open(path, newline="") as f:
        return [[c.strip() for c in row] for row in csv.reader(f) if row]


def _wav(name: str) -> str:
    return name if name.endswith(".wav") else name + ".wav"


def _originals(folder: Path, machine_type: str, section: str, data_file: Path) -> dict[str, str]:
    """Anonymised name -> original name, from either attribute layout (the revealed name where there are two)."""
    out = {}
    flat = folder / "ground_truth_attributes" / data_file.name
    if flat.is_file():  # anonymised, original[, revealed]
        out.update({r[0]: _wav(r[-1]) for r in _rows(flat) if len(r) > 1})
    nested = folder / "ground_truth_attributes" / machine_type / f"attributes_{section}.csv"
    if nested.is_file():  # 2022: `<type>/test/<anonymised>`, attribute columns, the full name last
        out.update({Path(r[0]).name: Path(r[-1]).name for r in _rows(nested)[1:] if len(r) > 1})
    return out


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
        originals = _originals(folder, machine_type, section, path)
        for n, row in enumerate(_rows(path), 1):
            if len(row) < 2 or row[1] not in ("0", "1"):
                raise DataError(f"{path}:{n}: expected `file name,0|1`, got {','.join(row)!r}")
            original = originals.get(row[0], "")
            parsed = names.parse(original) if original else None
            domain = named_domain or domains.get(row[0]) or (parsed.domain if parsed else "unknown")
            truth[(machine_type, row[0])] = ClipName("section", section, domain, "test", int(row[1]), "",
                                                     parsed.attributes if parsed else "", original)
    return truth


def merge(listed: dict, evaluated: dict, list_path: Path, folder: Path) -> dict:
    """The evaluator's ground truth over the renaming list's, with one warning counting their disagreements."""
    differ = [k for k, v in evaluated.items() if k in listed and (listed[k].label, listed[k].domain) != (v.label, v.domain)]
    if differ:
        warnings.warn(f"{list_path} and the evaluator's {folder} disagree on the label or domain of {len(differ)} "
                      f"clips (e.g. {differ[0][0]} {differ[0][1]}); the evaluator's are used", stacklevel=3)
    def kept(key, clip):
        other = listed.get(key)
        return clip if other is None else replace(clip, attributes=clip.attributes or other.attributes,
                                                  original=clip.original or other.original)
    return {**listed, **{k: kept(k, v) for k, v in evaluated.items()}}


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
    """The ground truth for `root`: from `given` (a list file or an evaluator folder), else the renaming list and
    the evaluator's folder (`ground_truth_data/` in `root` or in `root/evaluator/`) found in `root`, merged;
    (None, None) when there is none (development data alone)."""
    if given is not None:
        return read(given, task), Path(given)
    listed = next((root / n for n in (task.ground_truth_list, "eval_data_list.csv") if (root / n).is_file()), None)
    folder = next((f for f in (root / "evaluator", root) if (f / "ground_truth_data").is_dir()), None)
    if listed and folder:
        return merge(read_list(listed), read_folders(folder), listed, folder), folder
    if listed:
        return read_list(listed), listed
    if folder:
        return read_folders(folder), folder
    return None, None
