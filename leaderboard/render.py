"""The markdown leaderboard, rendered from `results/results.csv` alone (no rescoring)."""
from __future__ import annotations

import json
import platform
import time
from pathlib import Path

import pandas as pd

from bench.atomic import write_text
from bench.metrics import summarize
from methods.registry import slug


def _table(rows, headers) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(map(str, r)) + " |" for r in rows]
    return "\n".join(lines)


def _pct(x) -> str:
    return "-" if pd.isna(x) else f"{100 * x:.2f}"


def latest(results: pd.DataFrame) -> pd.DataFrame:
    """The newest run's data set and embedding; for each method, its newest run on them."""
    newest = results.loc[results.run_id.idxmax()]
    same = results[(results.dataset == newest.dataset) & (results.embedding_key == newest.embedding_key)]
    last_run = same.groupby("method").run_id.transform("max")
    return same[same.run_id == last_run]


def _header(rows: pd.DataFrame, results_dir: Path) -> list[str]:
    run_id = rows.run_id.max()
    meta_path = results_dir / "runs" / f"{run_id}.json"
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    emb = meta.get("embedding", {})
    cfg = emb.get("config", {})
    trained = f", trained in {emb['train_seconds']:.0f} s on {emb.get('device')}" if emb.get("train_seconds") else ""
    versions = ", ".join(f"{k} {v}" for k, v in emb.get("versions", {}).items()) or f"python {platform.python_version()}"
    return ["# Leaderboard", "",
            f"Generated {time.strftime('%Y-%m-%d %H:%M')} by `bench leaderboard` from `{results_dir}/results.csv`; "
            "AUC and pAUC (max FPR 0.1) in %, per machine type the mean over its IDs, then the arithmetic and "
            "harmonic mean over types. Fit and score seconds are totals over the split's machine IDs.", "",
            f"- data set: `{rows.dataset.iloc[0]}`",
            f"- embedding: `{cfg.get('model')}` + `{cfg.get('head')}` head, loss `{cfg.get('loss')}`, "
            f"{cfg.get('epochs')} epochs, cache key `{rows.embedding_key.iloc[0]}`{trained}",
            f"- versions: {versions}",
            f"- newest run: `{run_id}` on `{meta.get('device', rows.device.iloc[0])}`", ""]


def _split_section(split: str, part: pd.DataFrame, summaries: dict[str, pd.DataFrame]) -> list[str]:
    """One row per method, sorted by harmonic-mean AUC."""
    columns = list(next(iter(summaries.values())).index)  # machine types, then mean and hmean
    body = []
    for m in sorted(summaries, key=lambda m: -summaries[m].loc["hmean", "auc"]):
        s, g = summaries[m], part[part.method == m]
        body.append([f"**{m}**"] + [f"{_pct(s.loc[c, 'auc'])} / {_pct(s.loc[c, 'pauc'])}" for c in columns]
                    + [f"{g.fit_seconds.sum():.3g}", f"{g.score_seconds.sum():.3g}", g.device.iloc[0]])
    name = "Development" if split == "dev" else "Evaluation"
    return [f"## {name} test set ({split}), sorted by harmonic-mean AUC", "",
            _table(body, ["method"] + [f"{c} AUC / pAUC" for c in columns] + ["fit s", "score s", "device"]), "",
            f"![ROC curves, {split}](plots/roc_{split}.png)", ""]


def _method_section(method: str, by_split: dict[str, pd.DataFrame]) -> list[str]:
    """The DCASE papers' layout: machine types + mean + harmonic mean, dev and eval side by side."""
    side = pd.concat(by_split, axis=1, sort=False)
    names = {"mean": "**mean**", "hmean": "**harmonic mean**"}
    body = [[names.get(label, label)] + [_pct(v) for v in row] for label, row in side.iterrows()]
    headers = ["type"] + [f"{split} {'AUC' if metric == 'auc' else 'pAUC'}" for split, metric in side.columns]
    hists = " ".join(f"[{split} histogram](plots/hist_{split}_{slug(method)}.png)" for split in by_split)
    return [f"### {method}", "", _table(body, headers), "", hists, ""]


def render(results_dir: Path, out: Path) -> str:
    rows = latest(pd.read_csv(results_dir / "results.csv", dtype={"machine_id": str, "run_id": str}))
    parts = _header(rows, results_dir)
    tables = {split: {m: summarize(g) for m, g in rows[rows.split == split].groupby("method")}
              for split in ("dev", "eval") if (rows.split == split).any()}
    for split, summaries in tables.items():
        parts += _split_section(split, rows[rows.split == split], summaries)
    parts += ["## Per method", ""]
    for method in sorted({m for summaries in tables.values() for m in summaries}):
        parts += _method_section(method, {split: t[method] for split, t in tables.items() if method in t})
    parts += ["![t-SNE of test embeddings](plots/tsne.png)", ""]
    text = "\n".join(parts)
    write_text(out, text)
    return text
