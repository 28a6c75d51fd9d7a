"""ROC areas for many resamples at once, exactly as scikit-learn's `roc_auc_score` computes each.

Ties are diagonal segments; with `max_fpr`, the area up to it with the end point interpolated,
McClish-standardised. One sort serves a whole (resamples, clips) array; resamples and leave-one-out sets of
fixed clips need no sort at all (`areas_from_counts`).
"""
from __future__ import annotations

import numpy as np


def roc_areas(scores: np.ndarray, labels: np.ndarray, max_fprs=(None,)) -> list[np.ndarray]:
    """For each of `max_fprs`: the AUC (None) or standardised partial AUC of each row of `scores` (B, n),
    labels (B, n) or (n,); one sort serves them all."""
    scores = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    labels = np.broadcast_to(np.asarray(labels), scores.shape)
    order = np.argsort(-scores, axis=1, kind="stable")
    s = np.take_along_axis(scores, order, 1)
    y = np.take_along_axis(labels, order, 1).astype(np.float64)
    tp, fp = np.cumsum(y, 1), np.cumsum(1 - y, 1)
    n_pos, n_neg = tp[:, -1:], fp[:, -1:]
    # the curve's points are the ends of runs of equal scores; each joins the previous end by a straight line
    end = np.ones_like(s, dtype=bool)
    end[:, :-1] = s[:, :-1] != s[:, 1:]
    last_end = np.maximum.accumulate(np.where(end, np.arange(s.shape[1]), -1), axis=1)
    prev = np.full_like(last_end, -1)
    prev[:, 1:] = last_end[:, :-1]
    safe = np.maximum(prev, 0)
    x0 = np.where(prev >= 0, np.take_along_axis(fp, safe, 1), 0.0) / n_neg
    y0 = np.where(prev >= 0, np.take_along_axis(tp, safe, 1), 0.0) / n_pos
    x1, y1 = fp / n_neg, tp / n_pos
    out = []
    for max_fpr in max_fprs:
        limit = 1.0 if max_fpr is None else max_fpr
        x_end = np.minimum(x1, limit)
        with np.errstate(invalid="ignore", divide="ignore"):
            y_end = np.where(x1 > x0, y0 + (y1 - y0) * (x_end - x0) / (x1 - x0), y1)
        area = np.where(end, np.clip(x_end - x0, 0.0, None) * (y0 + y_end) / 2, 0.0).sum(1)
        if limit < 1:
            lo, hi = limit ** 2 / 2, limit
            area = 0.5 * (1 + (area - lo) / (hi - lo))
        out.append(area)
    return out


def descending_ranks(scores: np.ndarray) -> tuple[np.ndarray, int]:
    """Each score's place among the distinct values, 0 for the highest (ties share one), and how many there are."""
    values, inverse = np.unique(-np.asarray(scores, dtype=np.float64), return_inverse=True)
    return inverse.ravel(), len(values)


def counts(ranks: np.ndarray, columns: np.ndarray, m: int) -> np.ndarray:
    """(B, m): per row of `ranks` (B, n), how many of the `columns` (a mask or indices) hold each rank."""
    chosen = ranks[:, columns]
    flat = (np.arange(len(chosen))[:, None] * m + chosen).ravel()
    return np.bincount(flat, minlength=len(chosen) * m).reshape(len(chosen), m).astype(np.float64)


def areas_from_counts(pos: np.ndarray, neg: np.ndarray, max_fprs=(None,), totals=None) -> list[np.ndarray]:
    """`roc_areas` from counts of positives and negatives per distinct score, highest first ((B, m) each): the
    ROC curve's points are the ends of those groups, so no sort is needed. Resamples of fixed clips and
    leave-one-out sets are counts of the same ranks, which is what makes the bootstrap and the jackknife fast.
    The full area is the Mann-Whitney sum (each positive's negatives below it, and half those tied).
    `totals` ((B, 1) positives and negatives) lets the counts stop early: a partial area needs only the groups
    up to the one that crosses `max_fpr`."""
    tp, fp = np.cumsum(pos, 1), np.cumsum(neg, 1)
    n_pos, n_neg = (tp[:, -1:], fp[:, -1:]) if totals is None else totals
    out = []
    for max_fpr in max_fprs:
        if max_fpr is None:
            out.append((pos * (n_neg - fp + neg / 2)).sum(1) / (n_pos * n_neg)[:, 0])
            continue
        x1, y1 = fp / n_neg, tp / n_pos
        x0, y0 = np.zeros_like(x1), np.zeros_like(y1)
        x0[:, 1:], y0[:, 1:] = x1[:, :-1], y1[:, :-1]
        x_end = np.minimum(x1, max_fpr)
        with np.errstate(invalid="ignore", divide="ignore"):
            y_end = np.where(x1 > x0, y0 + (y1 - y0) * (x_end - x0) / (x1 - x0), y1)
        area = (np.clip(x_end - x0, 0.0, None) * (y0 + y_end) / 2).sum(1)
        lo, hi = max_fpr ** 2 / 2, max_fpr
        out.append(0.5 * (1 + (area - lo) / (hi - lo)))
    return out


def roc_area(scores: np.ndarray, labels: np.ndarray, max_fpr: float | None = None) -> np.ndarray:
    """AUC (or standardised partial AUC up to `max_fpr`) of each row of `scores`, as `roc_auc_score` gives it."""
    return roc_areas(scores, labels, (max_fpr,))[0]
