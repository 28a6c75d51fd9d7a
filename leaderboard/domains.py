"""The layout of the domain-shift years (2021 on): per split one row per method, sorted by the year's official
score, with the DCASE result pages' columns per machine type, a bootstrap CI95, the evaluators' jackknife
CI95 where the year reports it, the official baseline's rows and, on evaluation, `select`."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from dcase import metrics
from leaderboard import figures
from leaderboard.columns import Column, mean_std, pct, render_table, seconds
from leaderboard.intervals import RESAMPLES, ci95, official_score_resamples
from leaderboard.layouts import Layout, stage_note, stored_scores, title_lines
from leaderboard.page_model import DEFINE, Field, Note, PageSection, anchor, page_table, paired_fields, per_section_tables
from leaderboard.select import SELECT, select_on_dev
from leaderboard.shown_rows import latest, references, repository

SHORT = {"auc": "AUC", "pauc": "pAUC", "auc_source": "AUC-s", "auc_target": "AUC-t", "pauc_source": "pAUC-s",
         "pauc_target": "pAUC-t"}


@dataclass
class Row:
    """One method's figures on one split (intervals and differences as fractions, NaN where not known)."""
    method: str
    figures: list[dict]             # the official score and its parts, per seed
    types: list[dict]               # per machine type figures, per seed
    rows: pd.DataFrame
    resampled: np.ndarray | None = None  # official score per bootstrap resample (first seed)
    jackknife: float = np.nan
    baseline: bool = False
    standing: str = "-"
    rank: int = 0
    versus_leader: tuple[float, float, float] = (np.nan, np.nan, np.nan)    # difference, CI95 low, high
    versus_baseline: tuple[float, float, float] = (np.nan, np.nan, np.nan)

    @property
    def ci(self) -> tuple[float, float]:
        return (np.nan, np.nan) if self.resampled is None else ci95(self.resampled)

    def mean(self, key: str) -> float:
        return float(np.mean([f[key] for f in self.figures]))

    def sd(self, key: str) -> float:
        return 100 * float(np.std([f[key] for f in self.figures], ddof=1)) if len(self.figures) > 1 else np.nan

    def type_mean(self, machine_type: str, key: str) -> float:
        return float(np.mean([t[machine_type][key] for t in self.types]))

    def type_cell(self, machine_type: str) -> str:
        return " / ".join(pct(self.type_mean(machine_type, k)) for k in self.types[0][machine_type])

    def seconds(self, column: str) -> float:
        return np.nan if self.method == SELECT else float(
            self.rows.drop_duplicates(["seed", "machine_type", "section"])[column].sum() / len(self.figures))


@dataclass
class Context:
    scoring: object
    baseline: str | None


def columns(scoring, types: dict) -> list[Column]:
    kinds = next(iter(types.values()))
    return [Column("method", lambda r: r.method + (" (official baseline)" if r.baseline else "")),
            Column("standing", lambda r: r.standing),
            Column("official score", lambda r: mean_std([f["official_score"] for f in r.figures])),
            Column("vs baseline", lambda r: "-" if np.isnan(r.versus_baseline[0]) else f"{100 * r.versus_baseline[0]:+.2f}",
                   shown=lambda c: c.baseline is not None),
            Column("CI95 (bootstrap)", lambda r: "-" if r.resampled is None else "{:.2f}-{:.2f}".format(*(100 * v for v in r.ci))),
            Column("vs leader (CI95)", lambda r: "-" if r.standing in ("leader", "-") else
                   "{:+.2f} ({:+.2f} to {:+.2f})".format(*(100 * v for v in r.versus_leader))),
            Column("official CI95", lambda r: "-" if np.isnan(r.jackknife) else "± " + pct(r.jackknife),
                   shown=lambda c: c.scoring.jackknife),
            *(Column(name, lambda r, k=k: pct(r.mean(k))) for k, name in zip(scoring.summary, scoring.summary_names)),
            *(Column(f"{t} {' / '.join(SHORT[k] for k in kinds)}", lambda r, t=t: r.type_cell(t)) for t in types),
            Column("fit s", lambda r: seconds(r.seconds("fit_seconds"))),
            Column("score s", lambda r: seconds(r.seconds("score_seconds"))),
            Column("device", lambda r: r.rows.device.iloc[0])]


def fields(scoring, types: dict) -> list[Field]:
    """The page's columns: the markdown's figures, one number per column."""
    kinds = next(iter(types.values()))
    return [Field("method", lambda r: r.method, kind="text", define=DEFINE["method"]),
            Field("rank", lambda r: r.rank, kind="count", define=DEFINE["rank"]),
            Field("standing", lambda r: r.standing, kind="text", define=DEFINE["standing"]),
            Field("official score", lambda r: 100 * r.mean("official_score"), best="max",
                  define=f"{DEFINE['official score']}: {scoring.what}"),
            Field("CI95 low", lambda r: 100 * r.ci[0], define=DEFINE["CI95"]),
            Field("CI95 high", lambda r: 100 * r.ci[1], define=DEFINE["CI95"]),
            *(Field(name, lambda r, k=k: 100 * r.mean(k), best="max", define=f"{name}, in %")
              for k, name in zip(scoring.summary, scoring.summary_names)),
            Field("official score sd", lambda r: r.sd("official_score"), define=DEFINE["sd"]),
            *paired_fields(),
            *([Field("official CI95", lambda r: 100 * r.jackknife, define=DEFINE["official CI95"])] if scoring.jackknife else []),
            Field("fit s", lambda r: r.seconds("fit_seconds"), kind="seconds", best="min", define=DEFINE["fit s"]),
            Field("score s", lambda r: r.seconds("score_seconds"), kind="seconds", best="min", define=DEFINE["score s"]),
            Field("seeds", lambda r: len(r.figures), kind="count", define=DEFINE["seeds"]),
            Field("device", lambda r: r.rows.device.iloc[0], kind="text"),
            *(Field(f"{t} {SHORT[k]}", lambda r, t=t, k=k: 100 * r.type_mean(t, k), best="max", group="per machine type",
                    define=f"{DEFINE[k]}, {t}: mean over its sections") for t in types for k in kinds)]


class DomainLayout(Layout):
    def render(self, task, results, results_dir, out, title, page):
        rows = latest(results)
        newest = rows.run_id.max()
        meta = results_dir / "runs" / f"{newest}.json"
        took = stage_note(json.loads(meta.read_text())) if meta.is_file() else ""
        lines = (title_lines(results_dir) if title else []) + [
            f"## {task.name}", "", f"- data set: `{rows.dataset.iloc[0]}`",
            f"- embedders: {', '.join(f'`{e}`' for e in sorted(rows.embedder.unique()))}",
            f"- newest run: `{newest}`{took}", ""]
        for split in [s for s in ("dev", "eval") if (rows.split == s).any()]:
            part, scores = rows[rows.split == split], stored_scores(rows, results_dir, split)
            picks = {}
            if split == "eval" and (rows.split == "dev").any() and part.method.nunique() > 1:
                picks, part, scores = select_on_dev(task, rows[rows.split == "dev"], part, scores)
            lines += split_section(task, split, part, scores, out.parent / "plots", page)
            if picks:
                note = (f"`{SELECT}` is not a scorer: per machine type it reports the method with the best "
                        "development-set official score of that type (of the overall one for a machine type the "
                        "development set does not have), so it was tuned on development labels. Picks: "
                        + ", ".join(f"{t} {m}" for t, m in picks.items()) + ".")
                page.items.append(Note(note.replace("`", "")))
                lines += [note, ""]
        return lines


def method_row(scoring, method: str, g: pd.DataFrame, scores: pd.DataFrame | None) -> Row:
    per_seed = dict(list(g.groupby("seed")))  # result rows are the scoring's section tables
    row = Row(method, [scoring.official_score(t) for t in per_seed.values()],
              [scoring.per_type(t) for t in per_seed.values()], g)
    mine = None if scores is None else scores[(scores.method == method) & (scores.seed == min(per_seed))]
    if mine is not None and len(mine):
        row.resampled = official_score_resamples(mine, scoring)
        if scoring.jackknife:
            row.jackknife = float(np.mean([metrics.jackknife_ci95(mine.label, mine.score, f)[1] for f in (None, metrics.MAX_FPR)]))
    return row


def standings(records: list[Row], baseline: Row | None) -> None:
    """Rank, standing and paired differences to the leader and the baseline. Every method's resamples draw the
    same clips (the same strata, seed and clip order), so the differences are paired; without them, no standing."""
    leader = records[0]
    paired = all(r.resampled is not None and len(r.resampled) == len(leader.resampled) for r in records)
    for position, r in enumerate(records, 1):
        if baseline is not None and r is not baseline:
            diff = r.mean("official_score") - baseline.mean("official_score")
            r.versus_baseline = (diff, *(ci95(r.resampled - baseline.resampled) if paired else (np.nan, np.nan)))
        if not paired:
            continue
        low, high = ci95(r.resampled - leader.resampled)
        r.versus_leader = (r.mean("official_score") - leader.mean("official_score"), low, high)
        tied = r is not leader and low <= 0.0 <= high
        r.standing = "leader" if r is leader else "tied" if tied else "below"
        r.rank = 1 if r is leader or tied else position


def split_section(task, split: str, part: pd.DataFrame, scores: pd.DataFrame | None, plot_dir: Path,
                  page: PageSection) -> list[str]:
    """One year and split: one row per method, sorted by the year's official score."""
    scoring = task.scoring
    baselines = [m for m in references(task, part) if m != SELECT]
    records = [method_row(scoring, m, g, scores) for m, g in part.groupby("method")]
    records.sort(key=lambda r: -r.mean("official_score"))
    for r in records:
        r.baseline = r.method in baselines
    standings(records, next((r for r in records if baselines and r.method == baselines[0]), None))
    name = "development" if split == "dev" else "evaluation"
    seeds = sorted(part.seed.unique())
    lines = [f"### {task.name}: {name} test set ({split}), sorted by the official score", "",
             f"Official score = {scoring.what}; per machine type the mean over its sections. In %; means over "
             f"{len(seeds)} training seed{'s' if len(seeds) > 1 else ''}"
             + (" ± their standard deviation" if len(seeds) > 1 else "")
             + f"; CI95 (bootstrap) = the 2.5 and 97.5 percentiles of the official score over {RESAMPLES:,} resamples of "
             "the test clips within each machine type, section, domain and label (first seed)"
             + ("; official CI95 = the evaluators' jackknife half-width (leave one clip out, Student t), the mean of "
                "those of the pooled AUC and pAUC, first seed; its standard error is n - 1 times smaller than the "
                "textbook jackknife's, so it is shown because the result pages show it, not as a measure of doubt"
                if scoring.jackknife else "") + ". Fit and score seconds are totals over the sections; a kNN-family "
             "method does not count the banks and searches it shares with one scored before it in the same run.", "",
             render_table(records, columns(scoring, records[0].types[0]), Context(scoring, baselines[0] if baselines else None)), ""]
    table = page_table(anchor(task.name, split), f"{task.name}: {name} test set ({split})", records,
                       fields(scoring, records[0].types[0]), marked=[r.baseline for r in records], score="official score",
                       ci=("CI95 low", "CI95 high"), notes=[lines[2]])
    page.items.append(table)
    if baselines:
        lines += [f"Reference rows: {', '.join(f'**{m}**' for m in baselines)}, the official {task.year} baseline "
                  f"autoencoder ({repository(task)}) trained by this harness on the same data; "
                  f"`vs baseline` is every method's official score minus that of **{baselines[0]}**.", ""]
        table.notes.append(lines[-2].replace("**", ""))
    if scores is None:
        table.notes.append("No per-clip scores stored for these results (scores.parquet), so no intervals or standings.")
    page.items += figures.summary_figures(table, plot_dir, f"{task.name} {split}")
    page.items += per_section_tables(task.name, split, part)
    return lines
