"""Lay loose DCASE release clips (as repositories and downloads scatter them) out as a DCASE tree.

2020 (`import_release_clips`): clips are found anywhere under a folder by their release names
(`normal_id_XX_N.wav`, `anomaly_id_XX_N.wav`); the machine type comes from a folder name on the clip's path
(case-insensitive). Per machine ID with anomalies and two normals or more, the first normal clip and every
anomaly become test clips and the other normals training clips; the normals of other IDs all train.
2021 on (`import_section_clips`): the names say train or test, so each clip goes where its name puts it, in the
year's layout, with the type's `attributes_XX.csv`. Byte-identical copies are kept once.
"""
from __future__ import annotations

import re
import shutil
from collections import defaultdict
from pathlib import Path

from core.atomic import atomic_folder
from core.errors import DataError
from dcase import names
from dcase.audio import check_wav, find_duplicates
from dcase.synth import MACHINE_TYPES

_RELEASE_NAME = re.compile(r"^(normal|anomaly)_id_(\d{2})_\d+\.wav$")
_TYPE_BY_FOLDER = {t.lower(): t for t in MACHINE_TYPES}


def machine_type_of(path: Path) -> str | None:
    """The machine type named by the nearest folder on `path` (e.g. `samples/toycar/` -> ToyCar), if any."""
    for part in reversed(path.parent.parts):
        for token in re.split(r"[^a-z0-9]+", part.lower()):
            if token in _TYPE_BY_FOLDER:
                return _TYPE_BY_FOLDER[token]
    return None


def find_release_clips(src: Path) -> tuple[dict, list[str]]:
    """{(type, ID): {"normal": [...], "anomaly": [...]}} of usable clips, and why the others were left out."""
    candidates, skipped = [], []
    for path in sorted(src.rglob("*.wav")):
        match = _RELEASE_NAME.match(path.name)
        machine_type = machine_type_of(path.relative_to(src)) if match else None
        reason = ("not a release name (normal|anomaly)_id_XX_N.wav" if match is None else
                  "no folder on its path names a machine type" if machine_type is None else check_wav(path))
        if reason:
            skipped.append(f"{path}: {reason}")
        else:
            candidates.append((path, machine_type, match))
    copies = {p.path: p.reason for p in find_duplicates([path for path, *_ in candidates])}  # the first copy stays
    groups: dict = defaultdict(lambda: {"normal": [], "anomaly": []})
    for path, machine_type, match in candidates:
        group = groups[(machine_type, match.group(2))][match.group(1)]
        clash = next((p for p in group if p.name == path.name), None)
        if path in copies:
            skipped.append(f"{path}: {copies[path]}")
        elif clash is not None:
            skipped.append(f"{path}: other audio under the same name as {clash}")
        else:
            group.append(path)
    return dict(groups), skipped


def import_release_clips(src: str | Path, out: str | Path) -> tuple[Path, list[str]]:
    """Copy the release clips under `src` into a new DCASE tree at `out`; returns it and the skipped files."""
    src, out = Path(src), Path(out)
    if not src.is_dir():
        raise DataError(f"{src}: folder not found; pass a folder that holds DCASE release clips")
    if out.exists():
        raise FileExistsError(f"{out}: already exists; remove it or choose another output folder")
    groups, skipped = find_release_clips(src)
    usable = {k: v for k, v in groups.items() if v["normal"]}
    for (machine_type, machine_id), g in sorted(groups.items()):
        if len(g["normal"]) < 2:  # one normal trains; test needs another, or AUC has one class
            skipped += [f"{p}: {machine_type} id_{machine_id} has fewer than two normal clips (one to train, one to test)"
                        for p in g["anomaly"]]
    if not usable:
        raise DataError(f"{src}: no normal release clips under a machine-type folder; nothing to import")
    with atomic_folder(out) as tmp:
        for (machine_type, _), g in usable.items():
            normals = sorted(g["normal"], key=lambda p: p.name)
            has_test = len(normals) > 1 and g["anomaly"]  # AUC needs both classes
            split = {"train": normals[1:], "test": normals[:1] + g["anomaly"]} if has_test else {"train": normals}
            for folder, paths in split.items():
                target = tmp / "dev_data" / machine_type / folder
                target.mkdir(parents=True, exist_ok=True)
                for p in paths:
                    shutil.copyfile(p, target / p.name)
    return out, skipped


def import_section_clips(src: str | Path, out: str | Path, task) -> tuple[Path, list[str]]:
    """Copy loose clips named as from 2021 on (`section_00_source_train_normal_0000_<attributes>.wav`) into a new
    development tree of `task` at `out`; a section's test clips stay out unless they hold both classes (AUC
    needs them). Returns the tree and the skipped files."""
    src, out = Path(src), Path(out)
    if not src.is_dir():
        raise DataError(f"{src}: folder not found; pass a folder that holds DCASE clips")
    if out.exists():
        raise FileExistsError(f"{out}: already exists; remove it or choose another output folder")
    by_folder = {t.lower(): t for t in task.all_types()}
    placed, skipped = defaultdict(list), []
    for path in sorted(src.rglob("*.wav")):
        if any(part.startswith("_") for part in path.relative_to(src).parts):  # `_variant_*`, `_derived_*` copies
            continue
        clip = names.parse(path.name)
        machine_type = next((by_folder[p.lower()] for p in reversed(path.relative_to(src).parent.parts)
                             if p.lower() in by_folder), None)
        reason = ("not a labelled section_XX_..._(train|test)_(normal|anomaly)_NNNN name"
                  if clip is None or clip.scheme != "section" or clip.label < 0 else
                  f"no folder on its path names a {task.name} machine type" if machine_type is None else check_wav(path))
        if reason:
            skipped.append(f"{path}: {reason}")
            continue
        folder = "train" if clip.stage == "train" else task.test_folder(clip.domain)
        placed[(machine_type, clip.section)].append((path, folder, clip.label))
    copies = {p.path: p.reason for p in find_duplicates([p for clips in placed.values() for p, _, _ in clips])}
    with atomic_folder(out) as tmp:
        for (machine_type, section), clips in sorted(placed.items()):
            test_labels = {label for _, folder, label in clips if folder != "train"}
            for path, folder, _ in clips:
                if path in copies:
                    skipped.append(f"{path}: {copies[path]}")
                elif folder != "train" and test_labels != {0, 1}:
                    skipped.append(f"{path}: {machine_type} section {section} has test clips of one class only")
                else:
                    target = tmp / "dev_data" / "raw" / machine_type / folder
                    target.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(path, target / path.name)
            for table in sorted({p.parent for p, _, _ in clips}):
                for attributes in table.glob(f"attributes_{section}.csv"):
                    shutil.copyfile(attributes, tmp / "dev_data" / "raw" / machine_type / attributes.name)
    return out, skipped


def import_clips(src: str | Path, out: str | Path, task) -> tuple[Path, list[str]]:
    """Loose clips named as `task`'s are: by machine ID (2020) or by their train/test names (2021 on)."""
    return import_release_clips(src, out) if task.scheme == "2020" else import_section_clips(src, out, task)
