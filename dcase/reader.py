"""Any DCASE Task 2 data root (2020 to 2025) -> one clip table, validated.

Layouts: `ROOT/{dev_data,eval_data}/raw/<type>/<folder>/` (the official baseline's) or the same without
`raw/` (as the archives unpack); folders `train/`, `test/` (2021: `source_test/`, `target_test/`) and, in
2025, `supplemental/`. The year is the one `task` names, or the one the file names fit.
"""
from __future__ import annotations

import csv
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from core.errors import DataError
from dcase import channels, ground_truth, names
from dcase.audio import Problem, check_wav, find_duplicates
from dcase.tasks import TaskYear, available, get_task

UNKNOWN = -1  # label of an evaluation clip when no ground truth is present
COLUMNS = ["path", "file", "machine_type", "section", "domain", "split", "label", "attributes", "first_shot", "source",
           "original"]
FOLDERS = ("train", "test", "source_test", "target_test", "supplemental")
AUX_LABELS = ("section", "attribute")


def data_folders(root: Path) -> dict[str, Path]:
    """`dev` and `eval` -> the folder holding their machine-type folders (with or without `raw/`)."""
    out = {}
    for source in ("dev", "eval"):
        base = root / f"{source}_data"
        if (base / "raw").is_dir():
            base = base / "raw"
        if base.is_dir():
            out[source] = base
    return out


def _files(root: Path) -> list[tuple[str, str, str, Path]]:
    """(source, machine type, folder, path) of every WAV in the layout."""
    found = []
    for source, base in data_folders(root).items():
        for type_dir in sorted(p for p in base.iterdir() if p.is_dir()):
            for folder in FOLDERS:
                found += [(source, type_dir.name, folder, p) for p in sorted((type_dir / folder).glob("*.wav"))]
    return found


def detect(files: list[tuple[str, str, str, Path]], root: Path) -> TaskYear:
    """The one task year whose names, folders and machine types the files fit; a clear error otherwise."""
    parsed = [names.parse(p.name) for _, _, _, p in files]
    schemes = {c.scheme for c in parsed if c}
    types = {t for _, t, _, _ in files}
    folders = {f for _, _, f, _ in files}
    if not schemes:
        raise DataError(f"{root}: no file name fits any DCASE Task 2 year (2020: normal_id_00_00000000.wav, "
                        "2021 on: section_00_source_train_normal_0000_<attributes>.wav); check the folder, or pass --task")
    if len(schemes) > 1:
        raise DataError(f"{root}: names of 2020 (machine IDs) and of 2021 on (sections) are mixed; keep one year "
                        "per data folder")
    sections = {c.section for c in parsed if c}
    split_test = bool(folders & {"source_test", "target_test"})  # 2021 only
    concealed = any(p.stem.endswith("_noAttribute") for _, _, _, p in files)  # 2024 and 2025
    extras = "supplemental" in folders or any(p.name.endswith("_.wav") for _, _, _, p in files)  # 2025 only

    def fits_year(task: TaskYear) -> bool:
        if (task.scheme == "2020") != (schemes == {"2020"}) or not types <= set(task.all_types()):
            return False
        if task.scheme == "2020":
            return True
        known_sections = {s for ss in task.all_types().values() for s in ss}
        return (sections <= known_sections and (len(task.test_folders) > 1) == split_test
                and (not concealed or "noAttribute" in task.concealed_marks) and extras == task.supplemental)

    fits = [task for task in (cls() for cls in available().values()) if fits_year(task)]
    if len(fits) != 1:
        which = ", ".join(t.name for t in fits) if fits else "no single year"
        raise DataError(f"{root}: the machine types {', '.join(sorted(types))} and names fit {which}; "
                        "pass --task dcase20XX to say which year this is")
    return fits[0]


def _attribute_files(type_dir: Path) -> dict[str, str]:
    """File name -> attributes, from the `attributes_XX.csv` files beside `train/`."""
    out = {}
    for path in sorted(type_dir.glob("attributes_*.csv")):
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
        for row in rows[1:]:  # a header row first
            if row:
                out[Path(row[0]).name] = names.attribute_columns(row)
    return out


def _rows(root: Path, task: TaskYear, files, truth: dict | None, problems: list[Problem], truth_path) -> list[dict]:
    rows, attribute_cache = [], {}
    dev_types = {t for s, t, _, _ in files if s == "dev"}
    for source, machine_type, folder, path in files:
        clip = names.parse(path.name)
        expected = task.scheme if clip is None else clip.scheme
        if clip is None or expected != task.scheme:
            problems.append(Problem(path, f"not a {task.name} file name (e.g. "
                                    f"{task.train_name(next(iter(task.dev_types.values()))[0], 'source', 0, 'a_1')}); "
                                    "rename or remove it, or pass the right --task"))
            continue
        split = {"train": "train", "supplemental": "supplemental"}.get(folder, source)
        label, domain, attributes, original = clip.label, clip.domain, clip.attributes, ""
        if split == "train" and label != 0:
            problems.append(Problem(path, "an anomaly in train/; training clips are all normal, move it to the test folder"))
            continue
        if split in ("dev", "eval") and label == UNKNOWN:
            known = None if truth is None else truth.get((machine_type, path.name))
            if known is None and truth is not None:
                problems.append(Problem(path, f"no row in the ground truth {truth_path}; add its line, or remove the clip"))
                continue
            if known is not None:
                label, attributes, original = known.label, known.attributes, known.original
                domain = known.domain if known.domain != "unknown" else domain
        if not attributes and split in ("train", "dev"):
            type_dir = path.parent.parent
            if type_dir not in attribute_cache:
                attribute_cache[type_dir] = _attribute_files(type_dir)
            attributes = attribute_cache[type_dir].get(path.name, attributes)
        rows.append(dict(path=str(path), file=path.name, machine_type=machine_type, section=clip.section,
                         domain=domain, split=split, label=label, attributes=attributes,
                         first_shot=machine_type not in dev_types, source=source, original=original))
    return rows


def load_clips(root: str | Path, task: str | TaskYear | None = None, *, ground_truth_path: str | Path | None = None,
               skip_bad: bool = False, check_audio: bool = True, aux_label: str | None = None,
               supplemental: bool | None = False, channel: str | None = None) -> tuple[TaskYear, pd.DataFrame]:
    """Read a data root into (task year, clip table), one row per WAV.

    Splits: `train` (normal training clips of development and evaluation sections), `supplemental` (2025),
    `dev` (development test, labelled by name) and `eval` (evaluation test: labelled from the ground truth
    when there is one, else -1). `supplemental=True` makes the supplemental clips training clips (source domain),
    False leaves them out, None keeps them apart as their own split. `channel` (`dcase.channels`; default: the
    year's, "" for a mono year) is the `channel` column every audio reader uses. Bad files raise `DataError`, or
    with `skip_bad` are dropped with one warning.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: data folder not found; pass --data DIR pointing at a folder with dev_data/ "
                        "(or run `bench data generate --out DIR`)")
    files = _files(root)
    if not files:
        raise DataError(f"{root}: no clips found; expected dev_data/[raw/]<type>/train/*.wav "
                        "(see docs/data.md, 'Real DCASE data')")
    task = detect(files, root) if task is None else (get_task(task) if isinstance(task, str) else task)
    try:
        channel = channels.resolve(channel) or task.default_channel
    except ValueError as exc:
        raise DataError(str(exc)) from None
    truth, truth_path = ground_truth.find(root, task, ground_truth_path)
    _check_truth_names(truth, truth_path, files, task)
    problems: list[Problem] = []
    for *_, folder, path in files:
        if folder in ("source_test", "target_test") and len(task.test_folders) == 1:
            problems.append(Problem(path.parent, f"{folder}/ belongs to the 2021 layout, not {task.name}; pass --task dcase2021"))
            break
    rows = _rows(root, task, files, truth, problems, truth_path)
    with_clips = {p.parent.parent for _, _, _, p in files}
    problems += [Problem(d, "no WAV files in train/ or test/; add the clips or remove the folder")
                 for base in data_folders(root).values() for d in sorted(base.iterdir()) if d.is_dir() and d not in with_clips]
    table = pd.DataFrame(rows, columns=COLUMNS).assign(channel=channel, task=task.name)
    if truth is not None:
        problems += _unmatched_ground_truth(truth, table, truth_path)
    if check_audio:
        problems += [Problem(Path(path), reason) for path in table["path"] if (reason := check_wav(Path(path), channel))]
        problems += find_duplicates(table["path"])
    problems += _untrained_sections(table)[0]
    table = _without_problems(table, problems, skip_bad)
    _require_normals(table, root)
    extra = table.split == "supplemental"
    if supplemental:
        table.loc[extra, ["split", "domain"]] = ["train", "source"]
    elif supplemental is not None:
        table = table[~extra].reset_index(drop=True)
    return task, add_class_index(table, aux_label or task.aux_label)


def _check_truth_names(truth: dict | None, truth_path: Path | None, files: list, task: TaskYear) -> None:
    """A ground truth that names none of the evaluation test clips belongs to another year or data set."""
    tested = [(t, p.name) for s, t, f, p in files if s == "eval" and f not in ("train", "supplemental")]
    if truth and tested and not any(key in truth for key in tested):
        example = next(iter(truth))
        raise DataError(f"{truth_path}: names none of the {len(tested)} evaluation test clips (it lists e.g. {example[0]} "
                        f"{example[1]}; the data has {tested[0][0]} {tested[0][1]}): another year's or data set's ground "
                        f"truth? Pass the {task.name} one with --ground-truth")


def _without_problems(table: pd.DataFrame, problems: list[Problem], skip_bad: bool) -> pd.DataFrame:
    """The table unchanged when nothing is wrong; else one error naming the first problem, or with `skip_bad`
    one warning listing them all and the table without the bad files (and sections left with no training clip)."""
    if not problems:
        return table
    if not skip_bad:
        more = len(problems) - 1
        raise DataError(f"{problems[0]}" + (f" (and {more} more problem{'s' if more > 1 else ''})" if more else "")
                        + "; fix or remove it, or pass --skip-bad to leave bad files out")
    warnings.warn(f"skipped {len(problems)} bad inputs:\n" + "\n".join(map(str, problems)), stacklevel=3)
    table = table[~table["path"].isin({str(p.path) for p in problems})].reset_index(drop=True)
    return table[~_untrained_sections(table)[1]].reset_index(drop=True)


def _unmatched_ground_truth(truth: dict, table: pd.DataFrame, truth_path: Path) -> list[Problem]:
    """Ground-truth rows for clips that are not there (only for types whose evaluation test set is present)."""
    present = set(zip(table.machine_type, table.file))
    types = set(table.machine_type[table.split == "eval"])
    return [Problem(truth_path, f"lists {t} {name}, which is not in eval_data/{t}/; "
                    "restore the clip or use the ground truth that came with this data")
            for t, name in sorted(truth) if t in types and (t, name) not in present]


def _untrained_sections(table: pd.DataFrame) -> tuple[list[Problem], np.ndarray]:
    """Sections with test clips but no training clips (nothing to fit a scorer on): problems, and their rows."""
    pair = table.machine_type + "/" + table.section
    rows = table.split.isin(["dev", "eval"]).to_numpy() & ~pair.isin(set(pair[table.split == "train"])).to_numpy()
    first = table[rows].drop_duplicates(["machine_type", "section"])
    return [Problem(Path(r.path), f"machine {r.machine_type} section {r.section} has test clips but no training clips "
                    f"in {r.source}_data/{r.machine_type}/train/; add them or remove its test clips")
            for r in first.itertuples()], rows


def _require_normals(table: pd.DataFrame, root: Path) -> None:
    for (machine_type, split), group in table[table.split.isin(["dev", "eval"])].groupby(["machine_type", "split"]):
        if split != "eval" or (group["label"] != UNKNOWN).any():
            if not (group["label"] == 0).any():
                raise DataError(f"{root}/*/{machine_type}: the {split} split has no normal clips; "
                                "AUC needs both classes (check the file names or the ground truth)")


def add_class_index(table: pd.DataFrame, aux_label: str = "section") -> pd.DataFrame:
    """The classifier's target: every (machine type, section) seen in training or, with `aux_label="attribute"`,
    every (type, section, attributes) combination, numbered in sorted order (-1: not trained on).

    A section's classes are numbered consecutively: `first_class` and `n_classes` give each clip's section's
    range, which is what the softmax score sums over when a test clip's own attributes are unknown.
    """
    if aux_label not in AUX_LABELS:
        raise DataError(f"unknown auxiliary label {aux_label!r}; choose one of {', '.join(AUX_LABELS)}")
    table = table.copy()
    parts = ["machine_type", "section"] + (["attributes"] if aux_label == "attribute" else [])
    keys = list(zip(*(table[c].astype(str) for c in parts)))
    train = (table.split == "train").to_numpy()
    index = {k: i for i, k in enumerate(sorted({k for k, t in zip(keys, train) if t}))}
    table["class_index"] = [index.get(k, -1) for k in keys]
    first: dict[tuple, int] = {}
    count: dict[tuple, int] = {}
    for k, i in index.items():
        first.setdefault(k[:2], i)
        count[k[:2]] = count.get(k[:2], 0) + 1
    sections = list(zip(table.machine_type, table.section))
    table["first_class"] = [first.get(s, -1) for s in sections]
    table["n_classes"] = [count.get(s, 0) for s in sections]
    return table


def clip_counts(table: pd.DataFrame) -> pd.DataFrame:
    """Clip counts per machine type and section, by split, domain and label: what `bench data check` prints."""
    label = np.select([table["label"] == 1, table["label"] == 0], ["anomaly", "normal"], "unlabelled")
    kind = table["split"] + "_" + np.where(table["domain"] == "target", "target_", "") + label
    kind = kind.where(table["split"] != "train", "train" + np.where(table["domain"] == "target", "_target", ""))
    counts = pd.crosstab([table["machine_type"], table["section"]], kind)
    order = [c for c in ("train", "train_target", "supplemental_normal", "dev_normal", "dev_anomaly", "dev_target_normal",
                         "dev_target_anomaly", "eval_normal", "eval_anomaly", "eval_target_normal", "eval_target_anomaly",
                         "eval_unlabelled") if c in counts]
    counts = counts[order]
    counts.loc[("all", ""), :] = counts.sum()
    return counts.astype(int)
