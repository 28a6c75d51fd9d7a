"""The layout of the domain-shift years (2021 on): per split one row per method, sorted by the year's official
score, with the DCASE result pages' columns per machine type, a bootstrap CI95, the evaluators' jackknife
CI95 where the year reports it, the official baseline's rows and, on evaluation, `select`."""
from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dcase import metrics
from leaderboard.columns import Column, mean_std, pct, render_table, seconds
from leaderboard.intervals import RESAMPLES, ci95, official_score_resamples
from leaderboard.layouts import Layout, stage_note, stored_scores, title_lines
from leaderboard.reference import latest, references, repository
from leaderboard.select import SELECT, select_on_dev

SHORT = {"auc": "AUC", "pauc": "pAUC", "auc_source": "AUC-s", "auc_target": "AUC-t", "pauc_source": "pAUC-s",
         "pauc_target": "pAUC-t"}


@dataclass
class Row:
    """One method's figures on one split."""
    method: str
    figures: list[dict]             # the official score and its parts, per seed
    types: list[dict]               # per machine type figures, per seed
    rows: pd.DataFrame
    bootstrap: str = "-"
    jackknife: str = "-"
    versus_baseline: str = "-"

    def mean(self, key: str) -> float:
        return float(np.mean([f[key] for f in self.figures]))

    def type_cell(self, machine_type: str) -> str:
        keys = self.types[0][machine_type]
        return " / ".join(pct(np.mean([t[machine_type][k] for t in self.types])) for k in keys)

    def seconds(self) -> tuple[str, str]:
        return ("-", "-") if self.method == SELECT else seconds(self.rows, len(self.figures))


@dataclass
class Context:
    scoring: object
    baseline: str | None


def columns(scoring, types: dict) -> list[Column]:
    kinds = next(iter(types.values()))
    return [Column("method", lambda r: r.method), Column("official score", lambda r: mean_std([f["official_score"] for f in r.figures])),
            Column("vs baseline", lambda r: r.versus_baseline, shown=lambda c: c.baseline is not None),
            Column("CI95 (bootstrap)", lambda r: r.bootstrap),
            Column("official CI95", lambda r: r.jackknife, shown=lambda c: c.scoring.jackknife),
            *(Column(name, lambda r, k=k: pct(r.mean(k))) for k, name in zip(scoring.summary, scoring.summary_names)),
            *(Column(f"{t} {' / '.join(SHORT[k] for k in kinds)}", lambda r, t=t: r.type_cell(t)) for t in types),
            Column("fit s", lambda r: r.seconds()[0]), Column("score s", lambda r: r.seconds()[1]),
            Column("device", lambda r: r.rows.device.iloc[0])]


class DomainLayout(Layout):
    def render(self, task, results, results_dir, out, title):
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
            lines += split_section(task, split, part, scores)
            if picks:
                lines += [f"`{SELECT}` is not a scorer: per machine type it reports the method with the best "
                          "development-set official score of that type (of the overall one for a machine type the "
                          "development set does not have), so it was tuned on development labels. Picks: "
                          + ", ".join(f"{t} {m}" for t, m in picks.items()) + ".", ""]
        return lines


def method_row(scoring, method: str, g: pd.DataFrame, scores: pd.DataFrame | None) -> Row:
    per_seed = dict(list(g.groupby("seed")))  # result rows are the scoring's section tables
    row = Row(method, [scoring.official_score(t) for t in per_seed.values()],
              [scoring.per_type(t) for t in per_seed.values()], g)
    mine = None if scores is None else scores[(scores.method == method) & (scores.seed == min(per_seed))]
    if mine is not None and len(mine):
        row.bootstrap = "{:.2f}-{:.2f}".format(*(100 * v for v in ci95(official_score_resamples(mine, scoring))))
        if scoring.jackknife:
            row.jackknife = "± " + pct(np.mean([metrics.jackknife_ci95(mine.label, mine.score, f)[1]
                                                for f in (None, metrics.MAX_FPR)]))
    return row


def split_section(task, split: str, part: pd.DataFrame, scores: pd.DataFrame | None) -> list[str]:
    """One year and split: one row per method, sorted by the year's official score."""
    scoring = task.scoring
    baselines = [m for m in references(task, part) if m != SELECT]
    records = [method_row(scoring, m, g, scores) for m, g in part.groupby("method")]
    if baselines:
        base = next(r for r in records if r.method == baselines[0]).mean("official_score")
        for r in records:
            r.versus_baseline = "-" if r.method == baselines[0] else f"{100 * (r.mean('official_score') - base):+.2f}"
            r.method += " (official baseline)" if r.method in baselines else ""
    records.sort(key=lambda r: -r.mean("official_score"))
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
    if baselines:
        lines += [f"Reference rows: {', '.join(f'**{m}**' for m in baselines)}, the official {task.year} baseline "
                  f"autoencoder ({repository(task)}) trained by this harness on the same data; "
                  f"`vs baseline` is every method's official score minus that of **{baselines[0]}**.", ""]
    return lines
