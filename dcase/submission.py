"""Submission files, written and read exactly as each year's official evaluator expects them.

Headerless CSV rows `file name,score` (`anomaly_score_...`) and `file name,0|1` (`decision_result_...`), one
pair of files per machine ID (2020), per section and domain (2021) or per section (2022 on); names from the
task year (`TaskYear.submission_name`).
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

from core import atomic
from core.errors import DataError
from dcase import metrics, names
from dcase.tasks import TaskYear


def write_rows(path: Path, files, values) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(zip(files, values))


def read_rows(path: Path) -> tuple[list[str], np.ndarray]:
    try:
        with open(path, newline="") as f:
            rows = [r for r in csv.reader(f) if r]
        return [r[0] for r in rows], np.array([float(r[1]) for r in rows])
    except (IndexError, ValueError) as exc:
        raise DataError(f"{path}: not rows of `file name,value` ({exc}); write one clip per line") from None


def groups(task: TaskYear, clips: pd.DataFrame):
    """(machine type, section, file key, row positions) of each submission file's clips."""
    key = [task.submission_key(d) for d in clips.domain]
    frame = pd.DataFrame({"t": clips.machine_type.to_numpy(), "s": clips.section.to_numpy(), "k": key})
    for (t, s, k), rows in sorted(frame.groupby(["t", "s", "k"]).indices.items()):
        yield t, s, k, rows


def write(task: TaskYear, folder: Path, clips: pd.DataFrame, scores: np.ndarray, decisions: np.ndarray) -> None:
    """The year's score and decision files of `clips` (test clips of one split) into `folder`."""
    for machine_type, section, key, rows in groups(task, clips):
        files = clips.file.to_numpy()[rows]
        write_rows(folder / task.submission_name("anomaly_score", machine_type, section, key), files, scores[rows])
        write_rows(folder / task.submission_name("decision_result", machine_type, section, key), files,
                   np.asarray(decisions)[rows].astype(int))


def write_splits(task: TaskYear, folder: Path, scored: dict) -> None:
    """Each split's files of one method (`scored`: split -> (scored test clips, ...)) under `folder/<split>`,
    each folder renamed into place when complete."""
    for split, (clips, *_) in scored.items():
        with atomic.atomic_folder(folder / split) as tmp:
            write(task, tmp, clips, clips.score.to_numpy(), clips.decision.to_numpy())


def clip_table(task: TaskYear, folder: str | Path, data: Path | None = None, truth_path: Path | None = None) -> pd.DataFrame:
    """The labelled test clips that `folder`'s files are scored against, without reading audio: the data root's
    table when `data` is given; else the ground truth `truth_path` (renaming list or evaluator folders, for
    evaluation clips); else the clip names in the files themselves (development names carry their labels)."""
    from dcase import ground_truth
    from dcase.reader import load_clips
    if data is not None:
        return load_clips(data, task, ground_truth_path=truth_path, check_audio=False)[1]
    if truth_path is not None:
        truth = ground_truth.read(truth_path, task)
        return pd.DataFrame([dict(machine_type=t, file=f, section=c.section, domain=c.domain, label=c.label, split="eval",
                                  original=c.original) for (t, f), c in truth.items()])
    pattern, rows = task.submission_pattern(), []
    for path in sorted(Path(folder).glob("anomaly_score_*.csv")):
        match = pattern.match(path.name)
        for name in read_rows(path)[0] if match else []:
            clip = names.parse(name)
            if clip is None or clip.label not in (0, 1):
                raise DataError(f"{path}: {name} does not carry its label in its name; pass --ground-truth (the "
                                f"{task.ground_truth_list} list or the evaluator's ground-truth folder) or --data")
            rows.append(dict(machine_type=match.group(1), file=name, section=clip.section, domain=clip.domain,
                             label=clip.label, split="dev"))
    return pd.DataFrame(rows, columns=["machine_type", "file", "section", "domain", "label", "split"])


def read(task: TaskYear, folder: str | Path, table: pd.DataFrame) -> pd.DataFrame:
    """Every score file of `folder` joined with its clips' ground truth: columns machine_type, section, domain,
    file, label, score and decision (NaN where the year does not require decision files and one is missing).

    Each file must score exactly the labelled test clips it covers, once each, with finite values; from
    2022 on a score file without its decision file is refused, as the evaluators skip such a system.
    """
    folder = Path(folder)
    pattern = task.submission_pattern()
    files = sorted(p for p in folder.glob("anomaly_score_*.csv") if pattern.match(p.name))
    if not files:
        example = task.submission_name("anomaly_score", "<type>", "<SS>", "<domain>" if task.files_per_domain else "")
        raise DataError(f"{folder}: no {task.name} score files ({example}); point at one method's dev/ or eval/ folder, "
                        "or pass the right --task")
    labelled = table[table.split.isin(["dev", "eval"]) & (table.label >= 0)]
    parts = []
    for path in files:
        machine_type, section, *domain = pattern.match(path.name).groups()
        truth = labelled[(labelled.machine_type == machine_type) & (labelled.section == section)]
        if domain:
            truth = truth[truth.domain == domain[0]]
        if truth.empty:
            raise DataError(f"{path}: no labelled test clips of {machine_type} section {section}; evaluation clips need "
                            f"their ground truth: pass --ground-truth ({task.ground_truth_list} or a folder holding the "
                            "evaluator's ground_truth_data/), or put it in the data root (the list at its top, or "
                            "evaluator/ground_truth_data/) where it is found")
        renamed = {}
        if "original" in truth:  # files may name clips by their original names, as the 2023/2024 evaluators allow
            renamed = {o: f for o, f in zip(truth.original, truth.file) if isinstance(o, str) and o}
            renamed.update({o[:-4]: f for o, f in renamed.copy().items()})
        names, scores = read_rows(path)
        names = [renamed.get(n, n) for n in names]
        _check_scores(path, names, scores, set(truth.file), f"{machine_type} section {section}")
        decisions = _decisions(task, path, names, renamed)
        rows = truth.set_index("file").loc[names]
        parts.append(pd.DataFrame({"machine_type": machine_type, "section": section, "domain": rows.domain.to_numpy(),
                                   "file": names, "label": rows.label.to_numpy(), "score": scores, "decision": decisions}))
    return pd.concat(parts, ignore_index=True)


def _check_scores(path: Path, names: list[str], scores: np.ndarray, clips: set[str], where: str) -> None:
    """One finite score for each of `clips` and for nothing else."""
    unknown = [n for n in names if n not in clips]
    if unknown:
        raise DataError(f"{path}: scores {unknown[0]} (and {len(unknown) - 1} more), which is not in the ground "
                        f"truth of {where}; score only its test clips")
    repeated = pd.Series(names)[pd.Series(names).duplicated()]
    if len(repeated):
        raise DataError(f"{path}: {repeated.iloc[0]} is scored twice; keep one row per clip")
    missing = sorted(clips - set(names))
    if missing:
        raise DataError(f"{path}: no score for {missing[0]} (and {len(missing) - 1} more); every test clip needs one")
    if not np.isfinite(scores).all():
        raise DataError(f"{path}: the score of {names[int(np.argmax(~np.isfinite(scores)))]} is NaN or inf")


def _decisions(task: TaskYear, path: Path, names: list[str], renamed: dict) -> np.ndarray:
    """The decision file's 0/1 per scored clip, in `names`' order; NaN where the year needs none and it is missing."""
    decision_path = path.with_name(path.name.replace("anomaly_score_", "decision_result_", 1))
    if decision_path.is_file():
        decided_names, decided_values = read_rows(decision_path)
        decided = dict(zip([renamed.get(n, n) for n in decided_names], decided_values))
        if set(decided) != set(names) or not set(np.unique(list(decided.values()))) <= {0, 1}:
            raise DataError(f"{decision_path}: must give 0 or 1 for exactly the clips of {path.name}")
        return np.array([decided[n] for n in names], dtype=float)
    if task.scoring.needs_decisions:
        raise DataError(f"{path}: no {decision_path.name} beside it; the {task.name} evaluator skips a system "
                        "without decision files, so write both")
    return np.full(len(names), np.nan)


def evaluate(task: TaskYear, folder: str | Path, table: pd.DataFrame) -> dict:
    """The year's official figures of a folder of submission files: `official_score`, its parts, `per_type`,
    the per-section table, and (2022 on) the jackknife CI95 over all pooled clips."""
    return figures(task, read(task, folder, table))


def figures(task: TaskYear, clips: pd.DataFrame) -> dict:
    """`evaluate`'s figures of clips already read (columns machine_type, section, domain, label, score and
    decision, NaN where a file had none)."""
    if clips.decision.isna().any():
        clips = clips.drop(columns="decision")
    scoring = task.scoring
    sections = scoring.section_table(clips)
    out = {"task": task.name, **scoring.official_score(sections), "per_type": scoring.per_type(sections),
           "per_section": sections.to_dict(orient="records")}
    if scoring.jackknife:
        auc_ci = metrics.jackknife_ci95(clips.label, clips.score)[1]
        pauc_ci = metrics.jackknife_ci95(clips.label, clips.score, metrics.MAX_FPR)[1]
        out.update(ci95_auc=auc_ci, ci95_pauc=pauc_ci, ci95=(auc_ci + pauc_ci) / 2)
    return out
