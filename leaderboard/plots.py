"""PNG figures linked from the leaderboard: ROC curves, score histograms, t-SNE of the embeddings.

Each PNG carries a key of the content it shows (a text chunk); a figure whose key is current is not drawn
again, so re-rendering after one new method redraws only what it changes.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.metrics import roc_curve  # noqa: E402

from core.atomic import atomic_file  # noqa: E402
from methods.registry import slug  # noqa: E402

plt.style.use("tableau-colorblind10")  # colour-blind-safe cycle for every figure
KEY = "asd-bench-content"
VERSION = 2  # bump when a figure's drawing changes, so stored pictures are redrawn


def content_key(*parts) -> str:
    """A digest of what a figure shows: frames and arrays by their bytes, anything else by its repr."""
    h = hashlib.sha256(str(VERSION).encode())
    for part in parts:
        if isinstance(part, pd.DataFrame | pd.Series):
            h.update(repr(list(part.columns) if isinstance(part, pd.DataFrame) else part.name).encode())
            h.update(pd.util.hash_pandas_object(part, index=True).to_numpy().tobytes())
        elif isinstance(part, np.ndarray):
            h.update(repr((part.shape, part.dtype)).encode() + np.ascontiguousarray(part).tobytes())
        else:
            h.update(repr(part).encode())
    return h.hexdigest()[:24]


def is_current(path: Path, key: str) -> bool:
    """Whether `path` is a PNG drawn from the content `key` names."""
    from PIL import Image
    try:
        with Image.open(path) as image:
            return image.text.get(KEY) == key
    except (OSError, ValueError):
        return False


def _grid(types):
    cols = 3
    rows = int(np.ceil(len(types) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.4 * rows), squeeze=False)
    for ax in axes.flat[len(types):]:
        ax.axis("off")
    return fig, dict(zip(types, axes.flat))


def save(fig, path: Path, key: str, fit_labels: bool = False):
    """Write `fig` to `path` (atomically) with its content `key`. `fit_labels`: crop to whatever the labels need
    (long method names) instead of laying out subplots."""
    if not fit_labels:
        fig.tight_layout()
    with atomic_file(path) as tmp:
        fig.savefig(tmp, format="png", dpi=90, bbox_inches="tight" if fit_labels else None, metadata={KEY: key})
    plt.close(fig)


def roc_and_histograms(clip_scores: dict, out: Path, tag: str) -> None:
    """`clip_scores[(method, split)] = (clips, scores)`: one ROC figure per split (`roc_<split>_<tag>.png`, the tag
    naming the embedder), one histogram figure per method and split."""
    for split in sorted({s for _, s in clip_scores}):
        entries = {m: v for (m, s), v in clip_scores.items() if s == split}
        clips0 = next(iter(entries.values()))[0]
        types = sorted(clips0.machine_type.unique())
        _roc(entries, types, out / f"roc_{split}_{slug(tag)}.png")
        for method, (clips, scores) in entries.items():
            _histograms(clips, scores, types, out / f"hist_{split}_{slug(method)}.png")


def _clip_key(clips: pd.DataFrame, scores: np.ndarray) -> tuple:
    return clips[["machine_type", "section", "label"]].reset_index(drop=True), np.asarray(scores, np.float64)


def _roc(entries: dict, types: list[str], path: Path) -> None:
    key = content_key(*(part for m, v in sorted(entries.items()) for part in (m, *_clip_key(*v))))
    if is_current(path, key):
        return
    fig, axes = _grid(types)
    for method, (clips, scores) in entries.items():
        for t in types:
            sel = (clips.machine_type == t).to_numpy() & (clips.label >= 0).to_numpy()
            if sel.any():
                # per-ID score scales differ; rank-normalise per ID so the pooled curve is meaningful
                ranks = clips[sel].assign(s=scores[sel]).groupby("section").s.rank(pct=True)
                fpr, tpr, _ = roc_curve(clips.label.to_numpy()[sel], ranks)
                axes[t].plot(fpr, tpr, label=method)
    for t, ax in axes.items():
        ax.plot([0, 1], [0, 1], color="grey", lw=0.5)
        ax.axvline(0.1, color="grey", ls=":", lw=0.8)
        ax.set(title=t, xlabel="false positive rate", ylabel="true positive rate")
    axes[types[0]].legend(fontsize=7)
    save(fig, path, key)


def _histograms(clips: pd.DataFrame, scores: np.ndarray, types: list[str], path: Path) -> None:
    key = content_key(*_clip_key(clips, scores))
    if is_current(path, key):
        return
    fig, axes = _grid(types)
    for t in types:
        sel = (clips.machine_type == t).to_numpy()
        s, y = scores[sel], clips.label.to_numpy()[sel]
        bins = np.linspace(s.min(), s.max(), 30)
        for value, name in ((0, "normal"), (1, "anomaly")):  # stairs: one path, not a patch per bin
            axes[t].stairs(np.histogram(s[y == value], bins)[0], bins, fill=True, alpha=0.6, label=name)
        axes[t].set(title=t, xlabel="anomaly score")
    axes[types[0]].legend(fontsize=7)
    save(fig, path, key)


def tsne(cache, path: Path, max_points: int = 600) -> None:
    """t-SNE of test embeddings per machine type, coloured by ID, anomalies as crosses."""
    from sklearn.manifold import TSNE
    key = content_key(cache.manifest["key"], max_points)  # the cache key names the embeddings' bytes
    if is_current(path, key):
        return
    test = cache.clips[cache.clips.split != "train"]
    types = sorted(test.machine_type.unique())
    fig, axes = _grid(types)
    rng = np.random.default_rng(0)
    for t in types:
        rows = test.index[test.machine_type == t].to_numpy()
        rows = rng.choice(rows, min(len(rows), max_points), replace=False)
        # 500 iterations (250 of them early exaggeration) settle a few hundred points; the default 1,000 took twice as long
        xy = TSNE(perplexity=min(30, len(rows) - 1), random_state=0, init="pca", max_iter=500).fit_transform(
            cache.embeddings[rows])
        clips = cache.clips.loc[rows]
        for section in sorted(clips.section.unique()):
            for value, marker in ((0, "o"), (1, "x"), (-1, ".")):
                sel = ((clips.section == section) & (clips.label == value)).to_numpy()
                if sel.any():
                    axes[t].scatter(*xy[sel].T, s=8, marker=marker, color=f"C{int(section) % 10}",
                                    label=f"id {section}" if value == 0 else None)
        axes[t].set(title=f"{t} (x = anomaly)", xticks=[], yticks=[])
        axes[t].legend(fontsize=6, markerscale=1.5)
    save(fig, path, key)


def critical_difference(per_id_auc, path: Path, title: str) -> float | None:
    """Friedman test over machine IDs (rows) of the methods (columns), and the Nemenyi critical-difference
    picture; None (and no picture) with fewer than three methods or two IDs."""
    import scikit_posthocs as sp
    from scipy.stats import friedmanchisquare
    per_id_auc = per_id_auc.dropna()
    if per_id_auc.shape[1] < 3 or per_id_auc.shape[0] < 2:
        return None
    p_value = float(friedmanchisquare(*per_id_auc.to_numpy().T).pvalue)
    key = content_key(per_id_auc, title)
    if is_current(path, key):
        return p_value
    ranks = per_id_auc.rank(axis=1, ascending=False).mean()  # rank 1 = the highest AUC on an ID
    fig, ax = plt.subplots(figsize=(7, 1.2 + 0.35 * len(ranks)))
    sp.critical_difference_diagram(ranks, sp.posthoc_nemenyi_friedman(per_id_auc.to_numpy()).set_axis(
        per_id_auc.columns, axis=0).set_axis(per_id_auc.columns, axis=1), ax=ax)
    ax.set_title(f"{title} (Friedman p = {p_value:.2g})", fontsize=9)
    save(fig, path, key, fit_labels=True)
    return p_value
