"""The markdown leaderboard, rendered from `results/results.csv` and `results/scores.parquet` (no rescoring).

Every headline figure is the mean over the training seeds (± their standard deviation with two or more),
with a CI95 from a bootstrap over test clips; methods the paired bootstrap cannot tell from the leader are
marked as tied with it.
"""
from __future__ import annotations

import json
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd
from tabulate import tabulate

from core.atomic import write_text
from dcase import metrics as official
from dcase.tasks import get_task
from leaderboard.intervals import RESAMPLES, ci95, compare_to_leader, headline, official_score_resamples
from leaderboard.results import read_results, read_scores_table, seed_mean, summarize_seeds
from methods.registry import slug

HEADLINE = "hmean_auc"


def _pct(x) -> str:
    return "-" if pd.isna(x) else f"{100 * x:.2f}"


def _table(rows, headers) -> str:
    return tabulate(rows, headers, tablefmt="github", disable_numparse=True)


def latest(results: pd.DataFrame) -> pd.DataFrame:
    """The newest run's data set; per embedder, its newest run's embeddings (one per seed) and, for each method,
    the newest run on them. With several embedders a method is shown as `method @ embedder`; `scorer` keeps
    the plain name."""
    newest = results.loc[results.run_id.idxmax()]
    parts = []
    for _, rows in results[results.dataset == newest.dataset].groupby("embedder"):
        keys = set(rows.embedding_key[rows.run_id == rows.run_id.max()])
        same = rows[rows.embedding_key.isin(keys)]
        parts.append(same[same.run_id == same.groupby("method").run_id.transform("max")])
    out = pd.concat(parts).assign(scorer=lambda t: t.method)
    return out.assign(method=out.method + " @ " + out.embedder) if out.embedder.nunique() > 1 else out


BASELINE_YEARS_2023 = ("dcase2023", "dcase2024", "dcase2025")  # the years nttcslab/dcase2023_task2_baseline_ae serves


def is_reference(row) -> bool:
    """An official baseline's row: the DCASE 2020 autoencoder's MSE score; for 2023-2025 the 2023 autoencoder's MSE
    and selective Mahalanobis scores."""
    embedder, task = str(row.embedder), getattr(row, "task", "dcase2020")
    if task == "dcase2020":
        return embedder.startswith("ae2020") and row.scorer == "mse"
    if task not in BASELINE_YEARS_2023 or not embedder.startswith("ae2023"):
        return False
    return row.scorer == ("block_norm" if "output=whitened" in embedder else "mse")


def _mean_std(values: list[float]) -> str:
    """Mean over seeds, ± their standard deviation when there are two or more."""
    return _pct(np.mean(values)) + (f" ± {100 * np.std(values, ddof=1):.2f}" if len(values) > 1 else "")


def _header(rows: pd.DataFrame, results_dir: Path) -> list[str]:
    run_id = rows.run_id.max()
    trained_runs = rows.run_id[rows.embedder.str.startswith("arcface")]  # the trained embedding's details
    meta_path = results_dir / "runs" / f"{trained_runs.max() if len(trained_runs) else run_id}.json"
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    emb = meta.get("embedding", {})
    cfg = emb.get("config", {})
    trained = f", trained in {emb['train_seconds']:.0f} s on {emb.get('device')}" if emb.get("train_seconds") else ""
    versions = ", ".join(f"{k} {v}" for k, v in emb.get("versions", {}).items()) or f"python {platform.python_version()}"
    selection = {"dev": "best epoch by development-set AUC + pAUC (the seed paper's protocol: development figures are optimistic)",
                 "heldout": "best epoch by classification loss on held-out normal training clips (no test labels used)"}
    seeds = sorted(rows.seed.unique())
    per_embedder = rows.groupby("embedder").seed.nunique()
    frozen = ("; embedders that are not trained have one embedding, so one seed: "
              + ", ".join(f"`{e}`" for e, n in per_embedder.items() if n == 1)) if per_embedder.nunique() > 1 else ""
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
            *([f"- `arcface` embedding: `{cfg.get('model')}` + `{cfg.get('head')}` head, loss `{cfg.get('loss')}`, "
               f"{cfg.get('epochs')} epochs, cache key `{emb.get('key', rows.embedding_key.iloc[0])}` (seed {cfg.get('seed')}){trained}",
               f"- checkpoint selection: {selection.get(cfg.get('selection', 'dev'), cfg.get('selection'))}"] if cfg else []),
            f"- versions: {versions}",
            f"- newest run: `{run_id}` on `{meta.get('device', rows.device.iloc[0])}`", ""]


def _split_section(split: str, part: pd.DataFrame, scores: pd.DataFrame | None, plot_dir: Path) -> list[str]:
    """One row per method, sorted by harmonic-mean AUC; CI95, ties with the leader, the CD picture."""
    summaries = {m: summarize_seeds(g) for m, g in part.groupby("method")}
    types = [t for t in summaries[next(iter(summaries))][0].index if t not in ("mean", "hmean")]
    hm = {m: np.mean([s.loc["hmean", "auc"] for s in ss]) for m, ss in summaries.items()}
    order = sorted(summaries, key=lambda m: -hm[m])
    result = headline(scores) if scores is not None and set(scores.method) == set(summaries) else None
    leader, versus = compare_to_leader(result, HEADLINE) if result else (order[0], {})
    reference = next((m for m in order if is_reference(part[part.method == m].iloc[0])), None)
    body = []
    for m in order:
        ss, g = summaries[m], part[part.method == m]
        cell = lambda row, col: _pct(np.mean([s.loc[row, col] for s in ss]))  # noqa: E731
        standing = ("leader" if m == leader else "tied" if versus.get(m, {}).get("tied") else "below") if versus else "-"
        ci = "-" if result is None else "{:.2f}-{:.2f}".format(*(100 * v for v in ci95(result.resampled[m][HEADLINE])))
        diff = "-" if m == leader or not versus else "{:+.2f} ({:+.2f} to {:+.2f})".format(
            100 * versus[m]["difference"], *(100 * v for v in versus[m]["ci95"]))
        if m == reference:
            standing += " (official baseline)"
        baseline = [] if reference is None else ["-" if m == reference else f"{100 * (hm[m] - hm[reference]):+.2f}"]
        body.append([m, standing] + [f"{cell(t, 'auc')} / {cell(t, 'pauc')}" for t in types]
                    + [f"{_mean_std([s.loc['mean', 'auc'] for s in ss])} / {_mean_std([s.loc['mean', 'pauc'] for s in ss])}",
                       f"{_mean_std([s.loc['hmean', 'auc'] for s in ss])} / {_mean_std([s.loc['hmean', 'pauc'] for s in ss])}",
                       *baseline, ci, diff, cell("mean", "mauc"),
                       f"{g.fit_seconds.sum() / len(ss):.3g}", f"{g.score_seconds.sum() / len(ss):.3g}", g.device.iloc[0]])
    name = "Development" if split == "dev" else "Evaluation"
    lines = [f"## {name} test set ({split}), sorted by harmonic-mean AUC", "",
             _table(body, ["method", "standing"] + [f"{t} AUC / pAUC" for t in types]
                    + ["mean AUC / pAUC", "hmean AUC / pAUC"] + (["hmean AUC vs baseline"] if reference else [])
                    + ["hmean AUC CI95", "vs leader (CI95)", "mAUC", "fit s", "score s", "device"]), ""]
    if reference:
        lines += [f"Reference row: **{reference}**, the official DCASE 2020 baseline autoencoder trained by this harness on "
                  "the same data; `hmean AUC vs baseline` is every method's harmonic-mean AUC minus its.", ""]
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


def _method_section(method: str, plot_name: str, by_split: dict[str, list[pd.DataFrame]]) -> list[str]:
    """The DCASE papers' layout: machine types + mean + harmonic mean, dev and eval side by side (seed means)."""
    side = pd.concat({split: seed_mean(ss) for split, ss in by_split.items()}, axis=1, sort=False)
    names = {"mean": "**mean**", "hmean": "**harmonic mean**"}
    body = [[names.get(label, label)] + [_pct(v) for v in row] for label, row in side.iterrows()]
    headers = ["type"] + [f"{split} {dict(auc='AUC', pauc='pAUC', mauc='mAUC')[metric]}" for split, metric in side.columns]
    hists = " ".join(f"[{split} histogram](plots/hist_{split}_{slug(plot_name)}.png)" for split in by_split)
    return [f"### {method}", "", _table(body, headers), "", hists, ""]


def _scores_for(rows: pd.DataFrame, results_dir: Path, split: str) -> pd.DataFrame | None:
    path = results_dir / "scores.parquet"
    if not path.is_file():
        return None
    scores = read_scores_table(path, split)
    scores = scores[scores.task == rows.task.iloc[0]]
    runs = rows[["run_id", "scorer", "embedder", "seed", "method"]].drop_duplicates()
    scores = scores.rename(columns={"method": "scorer"}).merge(runs, on=["run_id", "scorer", "embedder", "seed"])
    return scores[scores.label >= 0] if len(scores) else None


def seconds(rows: pd.DataFrame, n_seeds: int) -> list[str]:
    """Fit and score seconds summed over sections (each section's are on each of its domain rows), mean over seeds."""
    once = rows.drop_duplicates(["seed", "machine_type", "section"])
    return [f"{once.fit_seconds.sum() / n_seeds:.3g}", f"{once.score_seconds.sum() / n_seeds:.3g}"]


def _task_year_section(task, split: str, part: pd.DataFrame, scores: pd.DataFrame | None) -> list[str]:
    """One DCASE 2021+ year and split: one row per method, sorted by the year's official score; the columns of the
    DCASE result pages per machine type, and the evaluators' jackknife CI95 (2022 on)."""
    body = []
    references = sorted((m for m, g in part.groupby("method") if m != SELECT and is_reference(g.iloc[0])),
                        key=lambda m: part[part.method == m].scorer.iloc[0] != "mse")  # MSE first: baseline.yaml's default
    baseline = None if not references else np.mean([official.official_score(r, task.score)["official_score"]
                                                    for _, r in part[part.method == references[0]].groupby("seed")])
    for method, g in part.groupby("method"):
        per_seed = {seed: r for seed, r in g.groupby("seed")}
        figures = [official.official_score(r, task.score) for r in per_seed.values()]
        types = [official.per_type(r, task.score) for r in per_seed.values()]
        mean = lambda key: np.mean([f[key] for f in figures])  # noqa: E731
        ci = boot = "-"
        mine = None if scores is None else scores[(scores.method == method) & (scores.seed == min(per_seed))]
        if mine is not None and len(mine):
            boot = "{:.2f}-{:.2f}".format(*(100 * v for v in ci95(official_score_resamples(mine, task.score))))
            if task.score == "domain":
                ci = "± " + _pct(np.mean([official.jackknife_ci95(mine.label, mine.score, f)[1] for f in (None, official.MAX_FPR)]))
        type_cells = {t: " / ".join(_pct(np.mean([ty[t][k] for ty in types])) for k in types[0][t]) for t in types[0]}
        parts = ("hmean_source", "hmean_target", "hmean_pauc") if task.score == "domain" else (
            "hmean_auc", "hmean_source", "hmean_target", "hmean_pauc")
        versus = [] if baseline is None else ["-" if method == references[0] else
                                              f"{100 * (mean('official_score') - baseline):+.2f}"]
        body.append((mean("official_score"), [method + (" (official baseline)" if method in references else ""),
                                              _mean_std([f["official_score"] for f in figures]), *versus, boot, ci,
                                              *(_pct(mean(k)) for k in parts), *type_cells.values(),
                                              *(["-", "-"] if method == SELECT else
                                                seconds(g, len(figures))),
                                              g.device.iloc[0]]))
    body.sort(key=lambda r: -r[0])
    per_type = types[0]  # every method scored the same machine types; the last one's names the columns
    kinds = next(iter(per_type.values()))
    label = {"auc": "AUC", "pauc": "pAUC", "auc_source": "AUC-s", "auc_target": "AUC-t", "pauc_source": "pAUC-s",
             "pauc_target": "pAUC-t"}
    headers = (["method", "official score"] + (["vs baseline"] if references else []) + ["CI95 (bootstrap)", "official CI95"] + (["hmean AUC-source", "hmean AUC-target", "hmean pAUC"]
               if task.score == "domain" else ["hmean AUC", "hmean AUC (source clips)", "hmean AUC (target clips)",
                                               "hmean pAUC"])
               + [f"{t} {' / '.join(label[k] for k in kinds)}" for t in per_type] + ["fit s", "score s", "device"])
    name = "development" if split == "dev" else "evaluation"
    what = {"2021": "the harmonic mean of the AUC and pAUC of every (machine type, section, domain), each domain scored on "
                    "its own test clips",
            "domain": "the harmonic mean of AUC-source, AUC-target and pAUC over every (machine type, section): AUC-source "
                      "ranks the source-domain normal clips against every anomaly of the section, AUC-target the "
                      "target-domain normal clips against every anomaly, pAUC (max FPR 0.1) all clips of the section"}[task.score]
    seeds = sorted(part.seed.unique())
    lines = [f"### {task.name}: {name} test set ({split}), sorted by the official score", "",
             f"Official score = {what}; per machine type the mean over its sections. In %; means over "
             f"{len(seeds)} training seed{'s' if len(seeds) > 1 else ''}"
             + (" ± their standard deviation" if len(seeds) > 1 else "")
             + f"; CI95 (bootstrap) = the 2.5 and 97.5 percentiles of the official score over {RESAMPLES:,} resamples of "
             "the test clips within each machine type, section, domain and label (first seed)"
             + ("; official CI95 = the evaluators' jackknife half-width (leave one clip out, Student t), the mean of "
                "those of the pooled AUC and pAUC, first seed; its standard error is n - 1 times smaller than the "
                "textbook jackknife's, so it is shown because the result pages show it, not as a measure of doubt"
                if task.score == "domain" else "") + ". Fit and score seconds are totals over the sections; a kNN-family "
             "method does not count the banks and searches it shares with one scored before it in the same run.", "",
             _table([r for _, r in body], headers), ""]
    if references:
        lines += [f"Reference rows: {', '.join(f'**{m}**' for m in references)}, the official {task.name[-4:]} baseline "
                  "autoencoder (nttcslab/dcase2023_task2_baseline_ae) trained by this harness on the same data; "
                  f"`vs baseline` is every method's official score minus that of **{references[0]}**.", ""]
    return lines


def _task_years(results: pd.DataFrame, results_dir: Path) -> list[str]:
    """A section per DCASE 2021+ year present in the results, newest data set of each."""
    lines = []
    for name in sorted(set(results.task) - {"dcase2020"}):
        task = get_task(name)
        rows = latest(results[results.task == name])
        lines += [f"## {name}", "", f"- data set: `{rows.dataset.iloc[0]}`",
                  f"- embedders: {', '.join(f'`{e}`' for e in sorted(rows.embedder.unique()))}", ""]
        for split in [s for s in ("dev", "eval") if (rows.split == s).any()]:
            part, scores = rows[rows.split == split], _scores_for(rows, results_dir, split)
            picks = {}
            if split == "eval" and (rows.split == "dev").any() and part.method.nunique() > 1:
                picks, part, scores = select_on_dev(task, rows[rows.split == "dev"], part, scores)
            lines += _task_year_section(task, split, part, scores)
            if picks:
                lines += [f"`{SELECT}` is not a scorer: per machine type it reports the method with the best "
                          "development-set official score of that type (of the overall one for a machine type the "
                          "development set does not have), so it was tuned on development labels. Picks: "
                          + ", ".join(f"{t} {m}" for t, m in picks.items()) + ".", ""]
    return lines


SELECT = "select (tuned on dev labels)"


def select_on_dev(task, dev: pd.DataFrame, part: pd.DataFrame, scores: pd.DataFrame | None):
    """`select`: per evaluation machine type, the method whose development official score on that type
    (or overall, for a first-shot type) is best. Returns the picks and `part`/`scores` with its rows added."""
    def best(rows):
        figures = {m: np.mean([official.official_score(r, task.score)["official_score"] for _, r in g.groupby("seed")])
                   for m, g in rows.groupby("method")}
        return max(sorted(figures), key=figures.get)

    overall = best(dev)
    picks = {t: best(dev[dev.machine_type == t]) if (dev.machine_type == t).any() else overall
             for t in sorted(part.machine_type.unique())}
    chosen = pd.concat([part[(part.machine_type == t) & (part.method == m)] for t, m in picks.items()]).assign(method=SELECT)
    if scores is not None:
        scores = pd.concat([scores, pd.concat([scores[(scores.machine_type == t) & (scores.method == m)]
                                               for t, m in picks.items()]).assign(method=SELECT)])
    return picks, pd.concat([part, chosen]), scores


def render(results_dir: Path, out: Path) -> str:
    results = read_results(results_dir / "results.csv")
    parts = []
    if (results.task == "dcase2020").any():
        parts = _render_2020(latest(results[results.task == "dcase2020"]), results_dir, out)
    else:
        parts = ["# Leaderboard", "", f"Generated {time.strftime('%Y-%m-%d %H:%M')} by `bench leaderboard` from "
                 f"`{results_dir}/results.csv` and `scores.parquet`.", ""]
    parts += _task_years(results, results_dir)
    text = "\n".join(parts)
    write_text(out, text)
    return text


def _render_2020(rows: pd.DataFrame, results_dir: Path, out: Path) -> list[str]:
    parts = _header(rows, results_dir)
    splits = [s for s in ("dev", "eval") if (rows.split == s).any()]
    for split in splits:
        parts += _split_section(split, rows[rows.split == split], _scores_for(rows, results_dir, split), out.parent / "plots")
    parts += ["## Per method", ""]
    for method in sorted(rows.method.unique()):
        mine = rows[rows.method == method]
        plot_name = f"{mine.scorer.iloc[0]} @ {mine.embedder.iloc[0]}"  # the runner's name for its histograms
        parts += _method_section(method, plot_name, {s: summarize_seeds(mine[mine.split == s]) for s in splits
                                                     if (mine.split == s).any()})
    return parts + [f"![t-SNE of test embeddings, {e}](plots/tsne_{slug(e)}.png)" for e in sorted(rows.embedder.unique())] + [""]
