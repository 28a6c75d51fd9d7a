"""The markdown leaderboard, rendered from `results/results.csv` alone (no rescoring)."""
from __future__ import annotations

import json
import platform
import time
from pathlib import Path

import pandas as pd

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


def render(results_dir: Path, out: Path) -> str:
    results = pd.read_csv(results_dir / "results.csv", dtype={"machine_id": str, "run_id": str})
    rows = latest(results)
    run_id = rows.run_id.max()
    meta_path = results_dir / "runs" / f"{run_id}.json"
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    emb = meta.get("embedding", {})
    cfg = emb.get("config", {})
    parts = ["# Leaderboard", "",
             f"Generated {time.strftime('%Y-%m-%d %H:%M')} by `bench leaderboard` from `{results_dir}/results.csv`; "
             "AUC and pAUC (max FPR 0.1) in %, per machine type the mean over its IDs, then the arithmetic and "
             "harmonic mean over types. Fit and score seconds are totals over the split's machine IDs.", "",
             f"- data set: `{rows.dataset.iloc[0]}`",
             f"- embedding: `{cfg.get('model')}` + `{cfg.get('head')}` head, loss `{cfg.get('loss')}`, "
             f"{cfg.get('epochs')} epochs, cache key `{rows.embedding_key.iloc[0]}`"
             + (f", trained in {emb['train_seconds']:.0f} s on {emb.get('device')}" if emb.get("train_seconds") else ""),
             f"- versions: {', '.join(f'{k} {v}' for k, v in emb.get('versions', {}).items()) or platform.python_version()}",
             f"- newest run: `{run_id}` on `{meta.get('device', rows.device.iloc[0])}`", ""]
    tables = {}
    for split in ("dev", "eval"):
        part = rows[rows.split == split]
        if part.empty:
            continue
        tables[split] = {m: summarize(g) for m, g in part.groupby("method")}
        types = [t for t in next(iter(tables[split].values())).index if t not in ("mean", "hmean")]
        order = sorted(tables[split], key=lambda m: -tables[split][m].loc["hmean", "auc"])
        body = []
        for m in order:
            s, g = tables[split][m], part[part.method == m]
            body.append([f"**{m}**"] + [f"{_pct(s.loc[t, 'auc'])} / {_pct(s.loc[t, 'pauc'])}" for t in types + ["mean", "hmean"]]
                        + [f"{g.fit_seconds.sum():.3g}", f"{g.score_seconds.sum():.3g}", g.device.iloc[0]])
        name = "development" if split == "dev" else "evaluation"
        parts += [f"## {name.capitalize()} test set ({split}), sorted by harmonic-mean AUC", "",
                  _table(body, ["method"] + [f"{t} AUC / pAUC" for t in types] + ["mean AUC / pAUC", "hmean AUC / pAUC",
                                                                                  "fit s", "score s", "device"]), "",
                  f"![ROC curves, {split}](plots/roc_{split}.png)", ""]
    parts += ["## Per method", ""]
    for m in sorted({m for t in tables.values() for m in t}):
        labels = None
        cols = []
        for split, t in tables.items():
            if m in t:
                labels = list(t[m].index) if labels is None else labels
                cols.append((split, t[m]))
        body = [[lab if lab not in ("mean", "hmean") else ("**mean**" if lab == "mean" else "**harmonic mean**")]
                + [v for _, s in cols for v in (_pct(s.loc[lab, "auc"]) if lab in s.index else "-",
                                                 _pct(s.loc[lab, "pauc"]) if lab in s.index else "-")]
                for lab in labels]
        headers = ["type"] + [h for split, _ in cols for h in (f"{split} AUC", f"{split} pAUC")]
        hists = " ".join(f"[{split} histogram](plots/hist_{split}_{slug(m)}.png)" for split, _ in cols)
        parts += [f"### {m}", "", _table(body, headers), "", hists, ""]
    parts += ["![t-SNE of test embeddings](plots/tsne.png)", ""]
    text = "\n".join(parts)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(out)
    return text
