"""`bench rank`: rank any systems' submission files as the organisers do, and say how sure the ranking is.

Each system is a folder of `anomaly_score_*` / `decision_result_*` files. Official scores are
`dcase.submission.evaluate`'s; on top, every system's scores are resampled with the same stratified draws
of the test clips (so differences are paired): a CI95 of each official score, the CI95 of each system's
difference to the leader (tied when it holds 0), and a Friedman test with the Nemenyi critical-difference
picture over the (machine type, section) rows.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from core.atomic import write_text
from core.errors import DataError
from dcase import submission
from leaderboard.columns import Column, pct, render_table
from leaderboard.domains import SHORT
from leaderboard.intervals import RESAMPLES, ci95, official_score_resamples
from leaderboard.page_model import DEFINE, Field, Figure, Note, PageSection, anchor, page_table


@dataclass
class System:
    name: str
    folder: Path
    reason: str = ""                       # why it is not scored ("" when it is)
    official: dict = field(default_factory=dict)
    per_type: dict = field(default_factory=dict)
    sections: pd.Series | None = None      # official score of each (machine type, section) alone
    resampled: np.ndarray | None = None    # official score of each resample
    jackknife: float | None = None
    standing: str = ""
    versus: tuple[float, float, float] | None = None  # difference to the leader, CI95 low and high

    @property
    def score(self) -> float:
        return self.official["official_score"]


def _has_scores(folder: Path) -> bool:
    return any(folder.glob("anomaly_score_*.csv"))


def find_systems(dirs: list[Path], split: str = "eval") -> list[tuple[str, Path]]:
    """(name, folder) of every system under `dirs`: a folder of score files (or of `<split>/` with them, as
    `results/<task>/<method>/` are), or a tree of such folders one or two levels deep (`teams/<team>/<system>/`:
    named `team/system`)."""
    def system(folder: Path) -> Path | None:
        return folder if _has_scores(folder) else folder / split if _has_scores(folder / split) else None

    found = []
    for root in map(Path, dirs):
        if not root.is_dir():
            raise DataError(f"{root}: not a folder; pass folders of submission files (or trees of them)")
        if system(root):
            found.append((root.name, system(root)))
            continue
        for child in sorted(p for p in root.iterdir() if p.is_dir()):
            if system(child):
                found.append((child.name, system(child)))
            else:
                found += [(f"{child.name}/{g.name}", system(g)) for g in sorted(p for p in child.iterdir() if p.is_dir())
                          if system(g)]
    if not found:
        raise DataError(f"{', '.join(map(str, dirs))}: no folder of anomaly_score_*.csv files (also looked in <split>/ "
                        "and one and two levels down)")
    return found


def score_system(task, name: str, folder: Path, table: pd.DataFrame, resamples: int) -> System:
    """One system's official figures and resampled official scores against `table` (the labelled clips of the
    machine types being ranked); a system that cannot be scored keeps the reason instead (the evaluators skip
    such a system silently)."""
    me = System(name, folder)
    try:
        clips = submission.read(task, folder, table)
        present = {(t, s, task.submission_key(d)) for t, s, d in zip(clips.machine_type, clips.section, clips.domain)}
        missing = sorted({(t, s, k) for t, s, k, _ in submission.groups(task, table)} - present)
        if missing:
            raise DataError(f"{folder}: no {task.submission_name('anomaly_score', *missing[0])}"
                            + (f" (and {len(missing) - 1} more files)" if len(missing) > 1 else "")
                            + "; a system must score every machine type and section that is ranked")
    except DataError as exc:
        me.reason = str(exc)
        return me
    scoring, result = task.scoring, submission.figures(task, clips)
    me.official = {k: v for k, v in result.items() if isinstance(v, float)}
    me.per_type, me.jackknife = result["per_type"], result.get("ci95")
    sections = pd.DataFrame(result["per_section"])
    me.sections = pd.Series({key: scoring.official_score(rows)["official_score"]
                             for key, rows in sections.groupby(["machine_type", "section"])})
    me.resampled = official_score_resamples(clips, scoring, resamples)
    return me


def rank(task, dirs: list[Path], data: Path | None = None, truth: Path | None = None, split: str = "eval",
         resamples: int = RESAMPLES, progress=print) -> list[System]:
    """Every system found under `dirs`, scored, sorted by official score (not scored ones last), with standings."""
    found = find_systems(dirs, split)
    if data is None and truth is None:  # development names carry their labels: every system's clips, pooled
        table = pd.concat([_names_table(task, folder) for _, folder in found]).drop_duplicates(["machine_type", "file"])
    else:
        table = submission.clip_table(task, None, data, truth)
        table = table[table.split == split]
    ranked = {m.group(1) for _, folder in found for p in folder.glob("anomaly_score_*.csv")
              if (m := task.submission_pattern().match(p.name))}
    table = table[(table.label >= 0) & table.machine_type.isin(ranked)]  # ground truth may list more types
    systems = []
    for name, folder in found:
        progress(f"scoring {name} ({folder})")
        systems.append(score_system(task, name, folder, table, resamples))
    scored = sorted((s for s in systems if not s.reason), key=lambda s: -s.score)
    if scored:  # every scored system covers exactly the same clips, so the draws are the same: paired
        leader = scored[0]
        for s in scored:
            diff = s.resampled - leader.resampled
            low, high = ci95(diff)
            s.versus = (s.score - leader.score, low, high)
            s.standing = "leader" if s is leader else "tied" if low <= 0.0 <= high else "below"
    return scored + [s for s in systems if s.reason]


def _names_table(task, folder: Path) -> pd.DataFrame:
    try:
        return submission.clip_table(task, folder)
    except DataError:
        return pd.DataFrame(columns=["machine_type", "file", "section", "domain", "label", "split"])


def columns(scoring, types: list[str], kinds: list[str]) -> list[Column]:
    return [Column("rank", lambda r: str(r[0])), Column("system", lambda r: r[1].name),
            Column("official score", lambda r: pct(r[1].score)),
            Column("CI95 (bootstrap)", lambda r: "{:.2f}-{:.2f}".format(*(100 * v for v in ci95(r[1].resampled)))),
            Column("standing", lambda r: r[1].standing),
            Column("vs leader (CI95)", lambda r: "-" if r[1].standing == "leader" else
                   "{:+.2f} ({:+.2f} to {:+.2f})".format(*(100 * v for v in r[1].versus))),
            Column("official CI95", lambda r: "± " + pct(r[1].jackknife), shown=lambda c: c.jackknife),
            *(Column(n, lambda r, k=k: pct(r[1].official[k])) for k, n in zip(scoring.summary, scoring.summary_names)),
            *(Column(f"{t} {' / '.join(SHORT[k] for k in kinds)}",
                     lambda r, t=t: " / ".join(pct(r[1].per_type.get(t, {}).get(k)) for k in kinds)) for t in types)]


def fields(scoring, types: list[str], kinds: list[str]) -> list[Field]:
    """The page's columns: the markdown's figures, one number per column."""
    resampled = ("2.5 and 97.5 percentiles of the official score over stratified bootstrap resamples of the test clips, "
                 "the same draws for every system")
    return [Field("system", lambda r: r[1].name, kind="text", define="the folder the submission files were read from"),
            Field("rank", lambda r: r[0], kind="count", define="position by official score"),
            Field("standing", lambda r: r[1].standing, kind="text", define=DEFINE["standing"]),
            Field("official score", lambda r: 100 * r[1].score, best="max", define=scoring.what + ", in %"),
            Field("CI95 low", lambda r: 100 * ci95(r[1].resampled)[0], define=resampled),
            Field("CI95 high", lambda r: 100 * ci95(r[1].resampled)[1], define=resampled),
            Field("vs leader", lambda r: 100 * r[1].versus[0], define=DEFINE["vs leader"]),
            Field("vs leader CI95 low", lambda r: 100 * r[1].versus[1], define=DEFINE["paired CI95"]),
            Field("vs leader CI95 high", lambda r: 100 * r[1].versus[2], define=DEFINE["paired CI95"]),
            *([Field("official CI95", lambda r: 100 * r[1].jackknife, define=DEFINE["official CI95"])]
              if scoring.jackknife else []),
            *(Field(name, lambda r, k=k: 100 * r[1].official[k], best="max", define=f"{name}, in %")
              for k, name in zip(scoring.summary, scoring.summary_names)),
            *(Field(f"{t} {SHORT[k]}", lambda r, t=t, k=k: 100 * r[1].per_type.get(t, {}).get(k, np.nan), best="max",
                    group="per machine type", define=f"{DEFINE[k]}, {t}") for t in types for k in kinds)]


def write(task, systems: list[System], out: Path, split: str, resamples: int) -> str:
    """`RANKING.md`, `RANKING.html`, `ranking.json` and the critical-difference picture `cd.png` in `out`."""
    from leaderboard.figures import forest
    from leaderboard.page import write_page
    from leaderboard.plots import critical_difference
    scored = [s for s in systems if not s.reason]
    out.mkdir(parents=True, exist_ok=True)
    lines = [f"# {task.name} ranking ({'evaluation' if split == 'eval' else 'development'} test set)", "",
             f"Official score = {task.scoring.what}. In %. CI95 (bootstrap) = the 2.5 and 97.5 percentiles over "
             f"{resamples:,} resamples of the test clips within each machine type, section, domain and label, the same "
             "draws for every system, so `vs leader` is a paired difference: a system is tied with the leader when "
             "that interval holds 0."
             + (" Official CI95 = the evaluators' jackknife half-width, mean of the pooled AUC's and pAUC's." if
                task.scoring.jackknife else ""), ""]
    page = PageSection(anchor(task.name, split), lines[0][2:], facts=[lines[2]])
    if scored:
        types = sorted(scored[0].per_type)
        kinds = list(scored[0].per_type[types[0]])
        records = list(enumerate(scored, 1))
        lines += [render_table(records, columns(task.scoring, types, kinds), task.scoring), ""]
        table = page_table(page.anchor, "systems", records, fields(task.scoring, types, kinds), score="official score",
                           ci=("CI95 low", "CI95 high"))
        forest(table, out / f"forest_{table.anchor}.png", f"{task.name}: official score with CI95")
        page.items += [table, Figure("official score of each system with its bootstrap CI95",
                                     (out / f"forest_{table.anchor}.png").read_bytes())]
        rows = pd.DataFrame({s.name: s.sections for s in scored})
        p = critical_difference(rows, out / "cd.png", f"{task.name}: mean rank over {len(rows)} (machine type, section) rows")
        if p is not None:
            said = (f"Friedman test over the {len(rows)} (machine type, section) rows, each system's official score "
                    f"of that row alone: p = {p:.2g}. Nemenyi post-hoc, 5 %: systems joined by a bar are not "
                    "significantly different.")
            lines += [said, "", "![critical difference](cd.png)", ""]
            page.items += [Note(said), Figure("critical difference", (out / "cd.png").read_bytes())]
    failed = [s for s in systems if s.reason]
    if failed:
        lines += ["## Not scored", "", *(f"- **{s.name}**: {s.reason}" for s in failed), ""]
        page.items += [Note(f"not scored: {s.name}: {s.reason}", notice=True) for s in failed]
    text = "\n".join(lines)
    write_text(out / "RANKING.md", text)
    write_page(out / "RANKING.html", [page], f"{task.name} ranking",
               f"{len(systems)} systems under {os.path.commonpath([str(s.folder) for s in systems])}")
    write_text(out / "ranking.json", json.dumps({"task": task.name, "split": split, "systems": [
        {"name": s.name, "folder": str(s.folder), "official_score": s.score, "ci95": list(ci95(s.resampled)),
         "standing": s.standing, "versus_leader": list(s.versus), "official_ci95": s.jackknife,
         **{k: s.official[k] for k in task.scoring.summary}, "per_type": s.per_type} for s in scored],
        "not_scored": [{"name": s.name, "folder": str(s.folder), "reason": s.reason} for s in failed]}, indent=1))
    return text
