"""The DCASE 2020 layout: per split one row per method sorted by harmonic-mean AUC over machine types, with
bootstrap intervals, ties with the leader and a critical-difference picture; then per method the DCASE
papers' table; ROC curves, histograms and a t-SNE per embedder."""
from __future__ import annotations

import json
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from leaderboard import figures
from leaderboard.columns import Column, mean_std, pct, render_table, seconds
from leaderboard.intervals import RESAMPLES, ci95, compare_to_leader, headline
from leaderboard.layouts import Layout, stage_note, stored_scores
from leaderboard.page_model import DEFINE, Field, Figure, PageSection, anchor, page_table, paired_fields, per_section_tables
from leaderboard.results import seed_mean, summarize_seeds
from leaderboard.shown_rows import latest, references
from methods.registry import slug

HEADLINE = "hmean_auc"
SHORT = {"auc": "AUC", "pauc": "pAUC"}


@dataclass
class Row:
    """One method's figures on one split (differences and intervals as fractions, NaN where not known)."""
    method: str
    standing: str
    rank: int                      # shared by the leader and every method tied with it
    summaries: list[pd.DataFrame]  # one `summarize_seeds` table per seed
    rows: pd.DataFrame
    ci: tuple[float, float] = (np.nan, np.nan)
    versus_leader: tuple[float, float, float] = (np.nan, np.nan, np.nan)    # difference, CI95 low, high
    versus_baseline: tuple[float, float, float] = (np.nan, np.nan, np.nan)
    baseline: bool = False

    def mean(self, row: str, col: str) -> float:
        return float(np.mean([s.loc[row, col] for s in self.summaries]))

    def cell(self, row: str, col: str) -> str:
        return pct(self.mean(row, col))

    def spread(self, row: str, col: str) -> str:
        return mean_std([s.loc[row, col] for s in self.summaries])

    def sd(self, row: str, col: str) -> float:
        values = [s.loc[row, col] for s in self.summaries]
        return 100 * float(np.std(values, ddof=1)) if len(values) > 1 else np.nan

    def seconds(self, column: str) -> float:
        return float(self.rows[column].sum() / len(self.summaries))


def _interval(low_high) -> str:
    return "-" if np.isnan(low_high[0]) else "{:.2f}-{:.2f}".format(*(100 * v for v in low_high))


def _difference(d, with_ci: bool) -> str:
    if np.isnan(d[0]):
        return "-"
    return f"{100 * d[0]:+.2f}" + (f" ({100 * d[1]:+.2f} to {100 * d[2]:+.2f})" if with_ci else "")


def split_columns(types: list[str]) -> list[Column]:
    return [Column("method", lambda r: r.method), Column("standing", lambda r: r.standing + (" (official baseline)" if r.baseline else "")),
            *(Column(f"{t} AUC / pAUC", lambda r, t=t: f"{r.cell(t, 'auc')} / {r.cell(t, 'pauc')}") for t in types),
            Column("mean AUC / pAUC", lambda r: f"{r.spread('mean', 'auc')} / {r.spread('mean', 'pauc')}"),
            Column("hmean AUC / pAUC", lambda r: f"{r.spread('hmean', 'auc')} / {r.spread('hmean', 'pauc')}"),
            Column("hmean AUC vs baseline", lambda r: _difference(r.versus_baseline, False), shown=lambda reference: reference is not None),
            Column("hmean AUC CI95", lambda r: _interval(r.ci)),
            Column("vs leader (CI95)", lambda r: "-" if r.standing == "leader" else _difference(r.versus_leader, True)),
            Column("mAUC", lambda r: r.cell("mean", "mauc")),
            Column("fit s", lambda r: seconds(r.seconds("fit_seconds"))),
            Column("score s", lambda r: seconds(r.seconds("score_seconds"))),
            Column("device", lambda r: r.rows.device.iloc[0])]


class PerIdLayout(Layout):
    rank = 0  # its header heads the page, as it has since the first version
    def render(self, task, results, results_dir, out, title, page):
        rows = latest(results)
        parts = header(rows, results_dir) if title else [f"## {task.name}", ""]
        splits = [s for s in ("dev", "eval") if (rows.split == s).any()]
        for split in splits:
            parts += split_section(task, split, rows[rows.split == split], stored_scores(rows, results_dir, split),
                                   out.parent / "plots", page)
        parts += ["## Per method", ""]
        for method in sorted(rows.method.unique()):
            mine = rows[rows.method == method]
            plot_name = f"{mine.scorer.iloc[0]} @ {mine.embedder.iloc[0]}"  # the runner's name for its histograms
            parts += method_section(method, plot_name, {s: summarize_seeds(mine[mine.split == s]) for s in splits
                                                        if (mine.split == s).any()})
        return parts + [f"![t-SNE of test embeddings, {e}](plots/tsne_{slug(e)}.png)"
                        for e in sorted(rows.embedder.unique())] + [""]

    def plot(self, clip_scores, cache, plot_dir, embedder):
        from leaderboard.plots import roc_and_histograms, tsne
        roc_and_histograms(clip_scores, plot_dir, embedder)
        tsne(cache, plot_dir / f"tsne_{slug(embedder)}.png")


def header(rows: pd.DataFrame, results_dir: Path) -> list[str]:
    metas = {r: results_dir / "runs" / f"{r}.json" for r in sorted(rows.run_id.unique())}
    metas = {r: json.loads(p.read_text()) for r, p in metas.items() if p.is_file()}
    trained = [m for m in metas.values() if m.get("embedding", {}).get("config")]  # the trained embedding's details
    meta = trained[-1] if trained else metas.get(rows.run_id.max(), {})
    emb = meta.get("embedding", {})
    cfg = emb.get("config", {})
    took = f", trained in {emb['train_seconds']:.0f} s on {emb.get('device')}" if emb.get("train_seconds") else ""
    versions = ", ".join(f"{k} {v}" for k, v in emb.get("versions", {}).items()) or f"python {platform.python_version()}"
    selection = {"dev": "best epoch by development-set AUC + pAUC (the seed paper's protocol: development figures are optimistic)",
                 "heldout": "best epoch by classification loss on held-out normal training clips (no test labels used)"}
    seeds = sorted(rows.seed.unique())
    per_embedder = rows.groupby("embedder").seed.nunique()
    frozen = ("; embedders that are not trained have one embedding, so one seed: "
              + ", ".join(f"`{e}`" for e, n in per_embedder.items() if n == 1)) if per_embedder.nunique() > 1 else ""
    newest = metas.get(rows.run_id.max(), {})
    return ["# Leaderboard", "",
            f"Generated {time.strftime('%Y-%m-%d %H:%M')} by `bench leaderboard` from `{results_dir}/results.csv` and "
            "`scores.parquet`; AUC and pAUC (max FPR 0.1) in %, per machine type the mean over its IDs, then the "
            "arithmetic and harmonic mean over types; mAUC = the worst ID's AUC, averaged over types. "
            f"Figures are means over {len(seeds)} training seed{'s' if len(seeds) > 1 else ''} ({', '.join(map(str, seeds))})"
            + (" ± their standard deviation" if len(seeds) > 1 else "") + frozen + f"; CI95 from {RESAMPLES:,} bootstrap resamples of "
            "the test clips within each machine ID and class. Fit and score seconds are totals over the split's machine IDs.", "",
            f"- data set: `{rows.dataset.iloc[0]}`",
            f"- embedders: {', '.join(f'`{e}`' for e in sorted(rows.embedder.unique()))}"
            + (" (rows read `method @ embedder`)" if rows.embedder.nunique() > 1 else ""),
            *([f"- `{meta.get('embedder')}` embedding: `{cfg.get('model')}` + `{cfg.get('head')}` head, loss `{cfg.get('loss')}`, "
               f"{cfg.get('epochs')} epochs, cache key `{emb.get('key', rows.embedding_key.iloc[0])}` (seed {cfg.get('seed')}){took}",
               f"- checkpoint selection: {selection.get(cfg.get('selection', 'dev'), cfg.get('selection'))}"] if cfg else []),
            f"- versions: {versions}",
            f"- newest run: `{rows.run_id.max()}` on `{newest.get('device', rows.device.iloc[0])}`"
            + stage_note(newest), ""]


def split_fields(types: list[str]) -> list[Field]:
    """The page's columns of a split table: the markdown's figures, one number per column."""
    return [Field("method", lambda r: r.method, kind="text", define=DEFINE["method"]),
            Field("rank", lambda r: r.rank, kind="count", define=DEFINE["rank"]),
            Field("standing", lambda r: r.standing, kind="text", define=DEFINE["standing"]),
            Field("hmean AUC", lambda r: 100 * r.mean("hmean", "auc"), best="max", define=DEFINE["hmean AUC"]),
            Field("CI95 low", lambda r: 100 * r.ci[0], define=DEFINE["CI95"]),
            Field("CI95 high", lambda r: 100 * r.ci[1], define=DEFINE["CI95"]),
            Field("hmean pAUC", lambda r: 100 * r.mean("hmean", "pauc"), best="max", define=DEFINE["hmean pAUC"]),
            Field("mean AUC", lambda r: 100 * r.mean("mean", "auc"), best="max", define=DEFINE["mean AUC"]),
            Field("mean pAUC", lambda r: 100 * r.mean("mean", "pauc"), best="max", define=DEFINE["mean pAUC"]),
            Field("hmean AUC sd", lambda r: r.sd("hmean", "auc"), define=DEFINE["sd"]),
            *paired_fields(),
            Field("mAUC", lambda r: 100 * r.mean("mean", "mauc"), best="max", define=DEFINE["mAUC"]),
            Field("fit s", lambda r: r.seconds("fit_seconds"), kind="seconds", best="min", define=DEFINE["fit s"]),
            Field("score s", lambda r: r.seconds("score_seconds"), kind="seconds", best="min", define=DEFINE["score s"]),
            Field("seeds", lambda r: len(r.summaries), kind="count", define=DEFINE["seeds"]),
            Field("device", lambda r: r.rows.device.iloc[0], kind="text"),
            *(Field(f"{t} {SHORT[k]}", lambda r, t=t, k=k: 100 * r.mean(t, k),
                    best="max", group="per machine type", define=f"{DEFINE[k]}, {t}: mean over its machine IDs")
              for t in types for k in ("auc", "pauc"))]


def split_records(task, part: pd.DataFrame, scores: pd.DataFrame | None) -> tuple[list[Row], list[str], dict, str | None]:
    """(records sorted by harmonic-mean AUC, their types, the paired comparison with the leader, the reference)."""
    summaries = {m: summarize_seeds(g) for m, g in part.groupby("method")}
    types = [t for t in summaries[next(iter(summaries))][0].index if t not in ("mean", "hmean")]
    hm = {m: np.mean([s.loc["hmean", "auc"] for s in ss]) for m, ss in summaries.items()}
    order = sorted(summaries, key=lambda m: -hm[m])
    result = headline(scores, task.scoring) if scores is not None and set(scores.method) == set(summaries) else None
    leader, versus = compare_to_leader(result, HEADLINE) if result else (order[0], {})
    reference = next(iter(references(task, part)), None)
    records = []
    for position, m in enumerate(order, 1):
        tied = bool(versus.get(m, {}).get("tied"))
        row = Row(method=m, standing=("leader" if m == leader else "tied" if tied else "below") if versus else "-",
                  rank=1 if tied or m == leader else position, summaries=summaries[m], rows=part[part.method == m],
                  baseline=m == reference)
        if result is not None:
            row.ci = ci95(result.resampled[m][HEADLINE])
            row.versus_leader = (versus[m]["difference"], *versus[m]["ci95"])
            if reference is not None and m != reference:
                diff = result.resampled[m][HEADLINE] - result.resampled[reference][HEADLINE]
                row.versus_baseline = (hm[m] - hm[reference], *ci95(diff))
        elif reference is not None and m != reference:
            row.versus_baseline = (hm[m] - hm[reference], np.nan, np.nan)
        records.append(row)
    return records, types, versus, reference


def split_section(task, split: str, part: pd.DataFrame, scores: pd.DataFrame | None, plot_dir: Path,
                  page: PageSection) -> list[str]:
    """One row per method, sorted by harmonic-mean AUC; CI95, ties with the leader, the CD picture."""
    records, types, versus, reference = split_records(task, part, scores)
    leader, order = records[0].method, [r.method for r in records]
    name = "Development" if split == "dev" else "Evaluation"
    lines = [f"## {name} test set ({split}), sorted by harmonic-mean AUC", "",
             render_table(records, split_columns(types), reference), ""]
    table = page_table(anchor(task.name, split), f"{name} test set ({split})", records, split_fields(types),
                       marked=[r.baseline for r in records], score="hmean AUC", ci=("CI95 low", "CI95 high"))
    page.items.append(table)
    if reference:
        lines += [f"Reference row: **{reference}**, the official DCASE {task.year} baseline autoencoder trained by this "
                  "harness on the same data; `hmean AUC vs baseline` is every method's harmonic-mean AUC minus its.", ""]
    if versus:
        tied = [m for m in order if m != leader and versus[m]["tied"]]
        below = [m for m in order if not versus[m]["tied"]]
        lines += [f"**{leader}** leads on harmonic-mean AUC. "
                  + (f"Tied with it: {', '.join(tied)} (the paired bootstrap CI95 of the difference holds 0, so these "
                     "data cannot tell them apart at the 5 % level). " if tied else "No method is tied with it. ")
                  + (f"Below it: {', '.join(below)}." if below else ""), ""]
    else:
        lines += ["No per-clip scores stored for these results (`scores.parquet`), so no intervals or ties.", ""]
    table.notes.append(lines[-2])
    page.items += figures.summary_figures(table, plot_dir, f"{task.name} {split}")
    from leaderboard.plots import critical_difference
    per_id = part.groupby(["machine_type", "section", "method"]).auc.mean().unstack("method")
    friedman_p = critical_difference(per_id, plot_dir / f"cd_{split}.png", f"{name} set: mean rank over {len(per_id)} machine IDs")
    if friedman_p is not None:
        lines += [f"Critical-difference diagram over the {len(per_id)} machine IDs (Friedman test p = {friedman_p:.2g}; "
                  "Nemenyi post-hoc, 5 %; methods joined by a bar are not significantly different):", "",
                  f"![critical difference, {split}](plots/cd_{split}.png)", ""]
        page.items.append(Figure(f"critical difference, {split}: mean rank over {len(per_id)} machine IDs (Friedman "
                                 f"p = {friedman_p:.2g}; a bar joins methods Nemenyi cannot tell apart at 5 %)",
                                 (plot_dir / f"cd_{split}.png").read_bytes()))
    rocs = [(e, plot_dir / f"roc_{split}_{slug(e)}.png") for e in sorted(part.embedder.unique())]
    page.items += [Figure(f"ROC curves, {split}, {e} (per-ID rank-normalised scores, pooled per machine type)", p.read_bytes())
                   for e, p in rocs if p.is_file()]
    page.items += per_section_tables(task.name, split, part)
    return lines + [f"![ROC curves, {split}, {e}](plots/roc_{split}_{slug(e)}.png)" for e, _ in rocs] + [""]


def method_section(method: str, plot_name: str, by_split: dict[str, list[pd.DataFrame]]) -> list[str]:
    """The DCASE papers' layout: machine types + mean + harmonic mean, dev and eval side by side (seed means)."""
    side = pd.concat({split: seed_mean(ss) for split, ss in by_split.items()}, axis=1, sort=False)
    names = {"mean": "**mean**", "hmean": "**harmonic mean**"}
    figure = {"auc": "AUC", "pauc": "pAUC", "mauc": "mAUC"}
    columns = [Column("type", lambda r: names.get(r[0], r[0])),
               *(Column(f"{split} {figure[metric]}", lambda r, i=i: pct(r[1].iloc[i]))
                 for i, (split, metric) in enumerate(side.columns))]
    hists = " ".join(f"[{split} histogram](plots/hist_{split}_{slug(plot_name)}.png)" for split in by_split)
    return [f"### {method}", "", render_table(list(side.iterrows()), columns), "", hists, ""]
