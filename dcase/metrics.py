"""The official DCASE Task 2 scores of every year, from per-clip scores (and decisions).

pAUC is scikit-learn's `roc_auc_score(max_fpr=0.1)` (McClish-standardised) in every year.
- 2020: AUC and pAUC per machine ID (the section); per type the mean over its IDs; then the arithmetic and
  harmonic means over types.
- 2021: AUC and pAUC per (type, section, domain), each from that domain's test clips alone; the score is the
  harmonic mean of all of them pooled.
- 2022 on, per (type, section): AUC-source over the source normals and every anomaly of the section,
  AUC-target over the target normals and every anomaly, pAUC over all clips of the section; the official
  score is the harmonic mean of the pooled list of all three over every (type, section), each floored at
  machine epsilon; also source and target harmonic means of the AUCs, the arithmetic mean of the AUCs,
  precision/recall/F1 per domain from the decisions, and the jackknife CI95 of the pooled AUC and pAUC.
"""
from __future__ import annotations

import sys

import numpy as np
import pandas as pd
from scipy.stats import hmean
from scipy.stats import t as student_t
from sklearn.metrics import roc_auc_score

from dcase.roc import areas_from_counts, descending_ranks

MAX_FPR = 0.1
EPS = sys.float_info.epsilon


def auc_pauc(labels, scores, max_fpr: float = MAX_FPR) -> tuple[float, float]:
    labels, scores = np.asarray(labels), np.asarray(scores, dtype=np.float64)
    if not np.isfinite(scores).all():
        raise ValueError("anomaly scores contain NaN or inf; the scorer produced invalid output")
    return float(roc_auc_score(labels, scores)), float(roc_auc_score(labels, scores, max_fpr=max_fpr))


def floored_hmean(values) -> float:
    """The evaluators' harmonic mean: every value floored at machine epsilon first (an AUC of 0 would be undefined)."""
    return float(hmean(np.maximum(np.asarray(values, dtype=np.float64), EPS)))


# ---------------------------------------------------------------------------------------------- 2020
def per_section(clips: pd.DataFrame, scores) -> pd.DataFrame:
    """AUC/pAUC per (machine type, section) over labelled clips; `clips` needs machine_type, section, label."""
    frame = clips[["machine_type", "section", "label"]].assign(score=np.asarray(scores))
    frame = frame[frame.label >= 0]
    rows = [(t, s, *auc_pauc(g.label, g.score)) for (t, s), g in frame.groupby(["machine_type", "section"])]
    return pd.DataFrame(rows, columns=["machine_type", "section", "auc", "pauc"])


def summarize(per_id: pd.DataFrame) -> pd.DataFrame:
    """2020: rows machine types (mean over IDs), then `mean` and `hmean` over types; columns auc, pauc."""
    types = per_id.groupby("machine_type")[["auc", "pauc"]].mean()
    out = types.copy()
    out.loc["mean"] = types.mean()
    out.loc["hmean"] = hmean(types.to_numpy(), axis=0)
    return out


# ---------------------------------------------------------------------------------------------- 2021 on
def _confusion(labels: np.ndarray, decisions: np.ndarray) -> tuple[float, float, float]:
    """Precision, recall and F1 as the evaluators compute them (denominators floored at epsilon)."""
    tp = float(np.sum((labels == 1) & (decisions == 1)))
    fp = float(np.sum((labels == 0) & (decisions == 1)))
    fn = float(np.sum((labels == 1) & (decisions == 0)))
    precision = tp / max(tp + fp, EPS)
    recall = tp / max(tp + fn, EPS)
    return precision, recall, 2 * precision * recall / max(precision + recall, EPS)


def section_scores_2021(g: pd.DataFrame) -> list[dict]:
    """One (type, section)'s rows per domain: AUC, pAUC, precision, recall, F1 from that domain's clips."""
    rows = []
    for domain in ("source", "target"):
        d = g[g.domain == domain]
        if d.empty:
            continue
        auc, pauc = auc_pauc(d.label, d.score)
        precision, recall, f1 = _confusion(d.label.to_numpy(), d.decision.to_numpy()) if "decision" in d else (np.nan,) * 3
        rows.append(dict(domain=domain, auc=auc, pauc=pauc, precision=precision, recall=recall, f1=f1))
    return rows


def section_scores_domain(g: pd.DataFrame) -> list[dict]:
    """One (type, section)'s rows, 2022 on: `source` and `target` (AUC with every anomaly of the section, and
    precision/recall/F1 of that domain's clips), and `all` (pAUC and AUC over the whole section)."""
    labels, scores = g.label.to_numpy(), g.score.to_numpy(dtype=np.float64)
    rows = []
    for domain in ("source", "target"):
        mine = (g.domain == domain).to_numpy()
        if not (mine & (labels == 0)).any():
            continue
        chosen = mine | (labels == 1)
        auc = auc_pauc(labels[chosen], scores[chosen])[0]
        precision, recall, f1 = _confusion(labels[mine], g.decision.to_numpy()[mine]) if "decision" in g else (np.nan,) * 3
        rows.append(dict(domain=domain, auc=auc, pauc=np.nan, precision=precision, recall=recall, f1=f1))
    auc, pauc = auc_pauc(labels, scores)
    rows.append(dict(domain="all", auc=auc, pauc=pauc, precision=np.nan, recall=np.nan, f1=np.nan))
    return rows


def floored_hmean_rows(values: np.ndarray) -> np.ndarray:
    """`floored_hmean` of each row of a (resamples, parts) array."""
    return hmean(np.maximum(values, EPS), axis=1)


# ---------------------------------------------------------------------------------------------- CI95
def jackknife_ci95(labels, scores, max_fpr: float | None = None, chunk: int = 256) -> tuple[float, float]:
    """Leave-one-clip-out jackknife of the ROC area of the pooled clips, as the 2023 and later evaluators report it:
    (bias-corrected estimate, CI95 half-width: Student t with n - 1 degrees of freedom times the jackknife
    standard error). All n leave-one-out areas are exact: the AUC's from the Mann-Whitney sums; the partial
    area's from the counts per distinct score up to the one that crosses `max_fpr`, less the clip left out
    (`dcase.roc.areas_from_counts`), so no sort is repeated."""
    labels, scores = np.asarray(labels), np.asarray(scores, dtype=np.float64)
    n, positive = len(labels), np.asarray(labels) == 1
    ranks, m = descending_ranks(scores)
    pos = np.bincount(ranks[positive], minlength=m).astype(np.float64)
    neg = np.bincount(ranks[~positive], minlength=m).astype(np.float64)
    n_pos, n_neg = pos.sum(), neg.sum()
    full = areas_from_counts(pos[None], neg[None], (max_fpr,))[0][0]
    if max_fpr is None:  # a positive's pairs: the negatives below it and half those tied; a negative's likewise
        pos_pairs = n_neg - np.cumsum(neg) + neg / 2
        neg_pairs = np.cumsum(pos) - pos / 2
        pairs = np.sum(pos * pos_pairs)
        loo = np.where(positive, (pairs - pos_pairs[ranks]) / ((n_pos - 1) * n_neg),
                       (pairs - neg_pairs[ranks]) / (n_pos * (n_neg - 1)))
    else:
        cut = min(int(np.searchsorted(np.cumsum(neg), max_fpr * n_neg + 1, side="right")) + 1, m)
        loo = np.empty(n)
        for start in range(0, n, chunk):  # (chunk, cut) counts at a time: memory stays small at any n
            rows = np.arange(start, min(start + chunk, n))
            left_pos, left_neg = np.repeat(pos[None, :cut], len(rows), 0), np.repeat(neg[None, :cut], len(rows), 0)
            for kept, mine in ((left_pos, positive[rows]), (left_neg, ~positive[rows])):
                inside = mine & (ranks[rows] < cut)
                kept[np.flatnonzero(inside), ranks[rows[inside]]] -= 1
            totals = (n_pos - positive[rows, None], n_neg - ~positive[rows, None])
            loo[rows] = areas_from_counts(left_pos, left_neg, (max_fpr,), totals)[0]
    estimate = float(np.mean(n * full - (n - 1) * loo))
    se = float(np.sqrt(np.sum((loo - loo.mean()) ** 2) / (n * (n - 1))))
    return estimate, float(abs(student_t.ppf(0.025, n - 1)) * se)
