"""`bench evaluate`: score a folder of DCASE submission files against the ground truth, as the official evaluator does."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from bench import metrics
from core.errors import DataError

_SCORE_FILE = re.compile(r"^anomaly_score_(.+)_id_(\d{2})\.csv$")


def evaluate_submission(folder: str | Path, table: pd.DataFrame) -> pd.DataFrame:
    """AUC/pAUC per machine ID of every `anomaly_score_<type>_id_<XX>.csv` in `folder`, labels from `table`.

    Each file must score exactly the labelled test clips of its ID, once each, with finite values;
    anything else is refused with the file and the first offending clip named.
    """
    folder = Path(folder)
    files = sorted(p for p in folder.glob("anomaly_score_*.csv") if _SCORE_FILE.match(p.name))
    if not files:
        raise DataError(f"{folder}: no anomaly_score_<type>_id_<XX>.csv files; point at one method's dev/ or eval/ folder")
    labelled = table[(table.split != "train") & (table.label >= 0)]
    rows = []
    for path in files:
        machine_type, machine_id = _SCORE_FILE.match(path.name).groups()
        truth = labelled[(labelled.machine_type == machine_type) & (labelled.machine_id == machine_id)]
        if truth.empty:
            raise DataError(f"{path}: the data has no labelled test clips of {machine_type} id_{machine_id}; "
                            "check --data (the evaluation split needs eval_data_list.csv)")
        names, scores = _read(path)
        labels = dict(zip(truth.file, truth.label))
        unknown = [n for n in names if n not in labels]
        if unknown:
            raise DataError(f"{path}: scores {unknown[0]} (and {len(unknown) - 1} more), which is not in the ground "
                            f"truth of {machine_type} id_{machine_id}; score only that ID's test clips")
        repeated = pd.Series(names)[pd.Series(names).duplicated()]
        if len(repeated):
            raise DataError(f"{path}: {repeated.iloc[0]} is scored twice; keep one row per clip")
        missing = sorted(set(labels) - set(names))
        if missing:
            raise DataError(f"{path}: no score for {missing[0]} (and {len(missing) - 1} more); every test clip needs one")
        if not np.isfinite(scores).all():
            raise DataError(f"{path}: the score of {names[int(np.argmax(~np.isfinite(scores)))]} is NaN or inf")
        rows.append((machine_type, machine_id, *metrics.auc_pauc([labels[n] for n in names], scores)))
    return pd.DataFrame(rows, columns=["machine_type", "machine_id", "auc", "pauc"])


def _read(path: Path) -> tuple[list[str], np.ndarray]:
    try:
        return metrics.read_scores(path)
    except (IndexError, ValueError) as exc:
        raise DataError(f"{path}: not rows of `file name,score` ({exc}); write one clip per line") from None
