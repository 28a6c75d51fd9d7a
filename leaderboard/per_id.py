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

from leaderboard.columns import Column, mean_std, pct, render_table
from leaderboard.intervals import RESAMPLES, ci95, compare_to_leader, headline
from leaderboard.layouts import Layout, stage_note, stored_scores
from leaderboard.reference import latest, references
from leaderboard.results import seed_mean, summarize_seeds
from methods.registry import slug

HEADLINE = "hmean_auc"


@dataclass
class Row:
    """One method's figures on one split."""
    method: str
    standing: str
    summaries: list[pd.DataFrame]  # one `summarize_seeds` table per seed
    rows: pd.DataFrame
    ci: str
    versus_leader: str
    versus_baseline: str

    def cell(self, row: str, col: str) -> str:
        return pct(np.mean([s.loc[row, col] for s in self.summaries]))

    def spread(self, row: str, col: str) -> str:
        return mean_std([s.loc[row, col] for s in self.summaries])


def split_columns(types: list[str]) -> list[Column]:
    return [Column("method", lambda r: r.method), Column("standing", lambda r: r.standing),
            *(Column(f"{t} AUC / pAUC", lambda r, t=t: f"{r.cell(t, 'auc')} / {r.cell(t, 'pauc')}") for t in types),
            Column("mean AUC / pAUC", lambda r: f"{r.spread('mean', 'auc')} / {r.spread('mean', 'pauc')}"),
            Column("hmean AUC / pAUC", lambda r: f"{r.spread('hmean', 'auc')} / {r.spread('hmean', 'pauc')}"),
            Column("hmean AUC vs baseline", lambda r: r.versus_baseline, shown=lambda reference: reference is not None),
            Column("hmean AUC CI95", lambda r: r.ci), Column("vs leader (CI95)", lambda r: r.versus_leader),
            Column("mAUC", lambda r: r.cell("mean", "mauc")),
            Column("fit s", lambda r: f"{r.rows.fit_seconds.sum() / len(r.summaries):.3g}"),
            Column("score s", lambda r: f"{r.rows.score_seconds.sum() / len(r.summaries):.3g}"),
            Column("device", lambda r: r.rows.device.iloc[0])]


class PerIdLayout(Layout):
    rank = 0  # its header heads the page, as it has since the first version
    def render(self, task, results, results_dir, out, title):
        rows = latest(results)
        parts = header(rows, results_dir) if title else [f"## {task.name}", ""]
        splits = [s for s in ("dev", "eval") if (rows.split == s).any()]
        for split in splits:
            parts += split_section(task, split, rows[rows.split == split], stored_scores(rows, results_dir, split),
                                   out.parent / "plots")
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


def split_section(task, split: str, part: pd.DataFrame, scores: pd.DataFrame | None, plot_dir: Path) -> list[str]:
    """One row per method, sorted by harmonic-mean AUC; CI95, ties with the leader, the CD picture."""
    summaries = {m: summarize_seeds(g) for m, g in part.groupby("method")}
    types = [t for t in summaries[next(iter(summaries))][0].index if t not in ("mean", "hmean")]
    hm = {m: np.mean([s.loc["hmean", "auc"] for s in ss]) for m, ss in summaries.items()}
    order = sorted(summaries, key=lambda m: -hm[m])
    result = headline(scores) if scores is not None and set(scores.method) == set(summaries) else None
    leader, versus = compare_to_leader(result, HEADLINE) if result else (order[0], {})
    reference = next(iter(references(task, part)), None)
    records = []
    for m in order:
        standing = ("leader" if m == leader else "tied" if versus.get(m, {}).get("tied") else "below") if versus else "-"
        records.append(Row(
            method=m, standing=standing + (" (official baseline)" if m == reference else ""), summaries=summaries[m],
            rows=part[part.method == m],
            ci="-" if result is None else "{:.2f}-{:.2f}".format(*(100 * v for v in ci95(result.resampled[m][HEADLINE]))),
            versus_leader="-" if m == leader or not versus else "{:+.2f} ({:+.2f} to {:+.2f})".format(
                100 * versus[m]["difference"], *(100 * v for v in versus[m]["ci95"])),
            versus_baseline="-" if reference in (None, m) else f"{100 * (hm[m] - hm[reference]):+.2f}"))
    name = "Development" if split == "dev" else "Evaluation"
    lines = [f"## {name} test set ({split}), sorted by harmonic-mean AUC", "",
             render_table(records, split_columns(types), reference), ""]
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
    from leaderboard.plots import critical_difference
    per_id = part.groupby(["machine_type", "section", "method"]).auc.mean().unstack("method")
    friedman_p = critical_difference(per_id, plot_dir / f"cd_{split}.png", f"{name} set: mean rank over {len(per_id)} machine IDs")
    if friedman_p is not None:
        lines += [f"Critical-difference diagram over the {len(per_id)} machine IDs (Friedman test p = {friedman_p:.2g}; "
                  "Nemenyi post-hoc, 5 %; methods joined by a bar are not significantly different):", "",
                  f"![critical difference, {split}](plots/cd_{split}.png)", ""]
    return lines + [f"![ROC curves, {split}, {e}](plots/roc_{split}_{slug(e)}.png)" for e in sorted(part.embedder.unique())] + [""]


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
