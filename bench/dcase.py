"""The DCASE 2020 Task 2 data layout: file names, machine IDs, the clip table and its validation."""
from __future__ import annotations

import hashlib
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from core.errors import DataError

SAMPLE_RATE = 16_000

# Machine IDs exactly as published: development IDs, then the additional-training/evaluation IDs.
DEV_IDS = {
    "ToyCar": ("01", "02", "03", "04"),
    "ToyConveyor": ("01", "02", "03"),
    "fan": ("00", "02", "04", "06"),
    "pump": ("00", "02", "04", "06"),
    "slider": ("00", "02", "04", "06"),
    "valve": ("00", "02", "04", "06"),
}
EVAL_IDS = {
    "ToyCar": ("05", "06", "07"),
    "ToyConveyor": ("04", "05", "06"),
    "fan": ("01", "03", "05"),
    "pump": ("01", "03", "05"),
    "slider": ("01", "03", "05"),
    "valve": ("01", "03", "05"),
}
MACHINE_TYPES = tuple(DEV_IDS)
GROUND_TRUTH_FILE = "eval_data_list.csv"
UNKNOWN = -1  # label of an evaluation clip when no ground truth is present

_TRAIN_NAME = re.compile(r"^normal_id_(\d{2})_\d+\.wav$")
_DEV_TEST_NAME = re.compile(r"^(normal|anomaly)_id_(\d{2})_\d+\.wav$")
_EVAL_TEST_NAME = re.compile(r"^id_(\d{2})_\d+\.wav$")

COLUMNS = ["path", "file", "machine_type", "machine_id", "split", "source", "label"]


@dataclass(frozen=True)
class Problem:
    path: Path
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


def check_wav(path: Path) -> str | None:
    """Return why `path` is not a usable 16 kHz mono 16-bit WAV, or None when it is."""
    try:
        info = sf.info(str(path))
    except Exception as exc:  # libsndfile raises several types for unreadable files
        return f"unreadable WAV ({exc.__class__.__name__}: {str(exc).strip()[:80]})"
    if info.format not in ("WAV", "WAVEX"):  # WAVEX: the WAVE_FORMAT_EXTENSIBLE header sox and ffmpeg write
        return f"a {info.format} file, not a RIFF WAV (convert it: `sox in out.wav`)"
    if info.channels != 1:
        return (f"{info.channels} channels, expected mono; the DCASE release kept one microphone of each recording "
                "(MIMII's 8-channel array: channel 1), so take one: `sox in.wav out.wav remix 1`")
    if info.samplerate != SAMPLE_RATE:
        return f"sample rate {info.samplerate} Hz, expected {SAMPLE_RATE} Hz (resample it, e.g. `sox in.wav -r 16000 out.wav`)"
    if info.subtype != "PCM_16":
        return f"sample format {info.subtype}, expected 16-bit PCM as in DCASE (convert: `sox in.wav -b 16 out.wav`)"
    if info.frames == 0:
        return "empty WAV (no samples)"
    promised = _declared_data_end(path)
    if promised is not None and promised > path.stat().st_size:
        return f"truncated WAV (header promises {promised} bytes, file has {path.stat().st_size}); re-copy or re-download it"
    return None


def find_duplicates(paths) -> list[Problem]:
    """Clips whose bytes equal an earlier clip's: a copy would score a clip against itself or count it twice."""
    by_head: dict[bytes, list[Path]] = {}
    for path in map(Path, paths):
        with open(path, "rb") as f:  # 8 KiB of samples separates distinct recordings; full hashes confirm
            by_head.setdefault(f.read(8192), []).append(path)
    problems = []
    for group in (g for g in by_head.values() if len(g) > 1):
        seen: dict[str, Path] = {}
        for path in group:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            if digest in seen:
                problems.append(Problem(path, f"same audio as {seen[digest]}; remove one of the copies"))
            else:
                seen[digest] = path
    return problems


def _declared_data_end(path: Path) -> int | None:
    """Where the RIFF header says the `data` chunk ends; libsndfile quietly reads a cut-off file."""
    with open(path, "rb") as f:
        head = f.read(4096)
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    pos = 12
    while pos + 8 <= len(head):
        chunk, size = head[pos:pos + 4], int.from_bytes(head[pos + 4:pos + 8], "little")
        if chunk == b"data":
            return pos + 8 + size
        pos += 8 + size + (size & 1)
    return None


def read_ground_truth(path: Path) -> dict[tuple[str, str], int]:
    """Parse the published `eval_data_list.csv`: a machine-type line opens each block of `name,...,label` rows."""
    labels: dict[tuple[str, str], int] = {}
    machine_type = None
    for n, line in enumerate(path.read_text().splitlines(), 1):
        cells = [c.strip() for c in line.split(",") if c.strip()]
        if not cells:
            continue
        if len(cells) == 1:
            machine_type = cells[0]
            continue
        if machine_type is None or cells[-1] not in ("0", "1"):
            raise DataError(f"{path}:{n}: expected a machine-type line or `id_XX_N.wav,<original>,<0|1>`, got {line!r}")
        if (machine_type, cells[0]) in labels:
            raise DataError(f"{path}:{n}: {machine_type} {cells[0]} is listed twice; keep one row per clip")
        labels[(machine_type, cells[0])] = int(cells[-1])
    return labels


def _scan(folder: Path, machine_type: str, split: str, source: str, pattern: re.Pattern, problems: list[Problem],
          labels: dict | None) -> list[dict]:
    rows = []
    for path in sorted(folder.glob("*.wav")):
        match = pattern.match(path.name)
        if match is None:
            problems.append(Problem(path, f"unparseable file name (expected {pattern.pattern[1:-1]})"))
            continue
        if split == "dev":
            label, machine_id = int(match.group(1) == "anomaly"), match.group(2)
        elif split == "eval":
            machine_id = match.group(1)
            label = UNKNOWN if labels is None else labels.get((machine_type, path.name))
            if label is None:
                problems.append(Problem(path, f"no row in {GROUND_TRUTH_FILE}; add its line, or remove the clip"))
                continue
        else:
            label, machine_id = 0, match.group(1)
        rows.append(dict(path=str(path), file=path.name, machine_type=machine_type, machine_id=machine_id,
                         split=split, source=source, label=label))
    return rows


def load_dataset(root: str | Path, *, skip_bad: bool = False, check_audio: bool = True) -> pd.DataFrame:
    """Read a DCASE 2020 Task 2 data root into a clip table, one row per WAV.

    Splits: `train` (dev_data and eval_data training clips, all normal), `dev` (dev_data test, labelled
    by file name) and `eval` (eval_data test, labelled from `eval_data_list.csv` when present, else -1).
    Bad files raise `DataError`, or with `skip_bad` are dropped with one warning that lists them.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: data folder not found; pass --data DIR pointing at a folder with dev_data/ "
                        "(or run `bench data generate --out DIR`)")
    gt_path = root / GROUND_TRUTH_FILE
    labels = read_ground_truth(gt_path) if gt_path.is_file() else None
    problems: list[Problem] = []
    rows: list[dict] = []
    for source in ("dev_data", "eval_data"):
        for type_dir in sorted(p for p in (root / source).glob("*") if p.is_dir()):
            machine_type = type_dir.name
            short = source.split("_")[0]
            found = _scan(type_dir / "train", machine_type, "train", short, _TRAIN_NAME, problems, None)
            test_split, pattern = ("dev", _DEV_TEST_NAME) if short == "dev" else ("eval", _EVAL_TEST_NAME)
            found += _scan(type_dir / "test", machine_type, test_split, short, pattern, problems, labels)
            if not found and not any(type_dir.glob("*/*.wav")):
                problems.append(Problem(type_dir, "no WAV files in train/ or test/; add the clips or remove the folder"))
            rows += found
    if not rows and not problems:
        raise DataError(f"{root}: no clips found; expected dev_data/<type>/train/normal_id_XX_*.wav "
                        "(see README, 'Real DCASE 2020 Task 2 data')")
    table = pd.DataFrame(rows, columns=COLUMNS)
    if labels is not None:
        problems += _unmatched_ground_truth(labels, table, root)
    if check_audio:
        for path in table["path"]:
            reason = check_wav(Path(path))
            if reason:
                problems.append(Problem(Path(path), reason))
        problems += find_duplicates(table["path"])
    problems += _untrained_ids(table)[0]
    if problems:
        if not skip_bad:
            raise DataError(f"{problems[0]}" + (f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''})" if len(problems) > 1 else "")
                            + "; fix or remove it, or pass --skip-bad to leave bad files out")
        warnings.warn(f"skipped {len(problems)} bad inputs:\n" + "\n".join(map(str, problems)), stacklevel=2)
        table = table[~table["path"].isin({str(p.path) for p in problems})].reset_index(drop=True)
        table = table[~_untrained_ids(table)[1]].reset_index(drop=True)
    _require_normals(table, root)
    return add_class_index(table)


def _unmatched_ground_truth(labels: dict, table: pd.DataFrame, root: Path) -> list[Problem]:
    """Ground-truth rows for clips that are not there (only for types whose evaluation test set is present)."""
    present = set(zip(table.machine_type, table.file))
    types = set(table.machine_type[table.split == "eval"])
    return [Problem(root / GROUND_TRUTH_FILE, f"lists {t} {name}, which is not in eval_data/{t}/test/; "
                    "restore the clip or use the list that came with this data")
            for t, name in sorted(labels) if t in types and (t, name) not in present]


def _untrained_ids(table: pd.DataFrame) -> tuple[list[Problem], np.ndarray]:
    """Machine IDs with test clips but no training clips (nothing to fit a scorer on): problems, and their rows."""
    pair = table.machine_type + "/" + table.machine_id
    rows = (table.split != "train").to_numpy() & ~pair.isin(set(pair[table.split == "train"])).to_numpy()
    first = table[rows].drop_duplicates(["machine_type", "machine_id"])
    return [Problem(Path(r.path), f"machine {r.machine_type} id_{r.machine_id} has test clips but no training clips in "
                    f"{r.source}_data/{r.machine_type}/train/; add them or remove its test clips")
            for r in first.itertuples()], rows


def _require_normals(table: pd.DataFrame, root: Path) -> None:
    for (machine_type, split), group in table.groupby(["machine_type", "split"]):
        if split != "eval" or (group["label"] != UNKNOWN).any():
            if not (group["label"] == 0).any():
                raise DataError(f"{root}/*/{machine_type}: the {split} split has no normal clips; "
                                "AUC needs both classes (check the file names or the ground-truth list)")


def add_class_index(table: pd.DataFrame) -> pd.DataFrame:
    """Number every (machine type, ID) pair seen in training, in sorted order: the classifier's target."""
    pairs = sorted(set(zip(table.loc[table.split == "train", "machine_type"], table.loc[table.split == "train", "machine_id"])))
    index = {pair: i for i, pair in enumerate(pairs)}
    table = table.copy()
    table["class_index"] = [index.get(pair, -1) for pair in zip(table["machine_type"], table["machine_id"])]
    return table


def clip_counts(table: pd.DataFrame) -> pd.DataFrame:
    """Clip counts per machine type and ID, by split and label: what `bench data check` prints."""
    kind = table["split"] + np.select([table["label"] == 1, table["label"] == 0], ["_anomaly", "_normal"], "_unlabelled")
    kind = kind.where(table["split"] != "train", "train")
    counts = pd.crosstab([table["machine_type"], table["machine_id"]], kind)
    order = [c for c in ("train", "dev_normal", "dev_anomaly", "eval_normal", "eval_anomaly", "eval_unlabelled") if c in counts]
    counts = counts[order]
    counts.loc[("all", ""), :] = counts.sum()
    return counts.astype(int)
