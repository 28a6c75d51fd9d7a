"""How sure a figure is: ROC areas for many resamples at once, stratified bootstrap CI95, paired comparisons.

The ROC areas of all resamples come from `dcase.roc` in one pass, which is what makes 1,000 resamples of
every method take seconds.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import hmean

from dcase.roc import areas_from_counts, counts, descending_ranks

RESAMPLES = 1000


def stratified_indices(groups: pd.DataFrame, resamples: int, seed: int = 0) -> np.ndarray:
    """(resamples, n) row indices: each resample draws, with replacement, within every (machine, label) stratum."""
    rng = np.random.default_rng(seed)
    out = np.empty((resamples, len(groups)), dtype=np.int64)
    for rows in groups.groupby(list(groups.columns), sort=False).indices.values():
        out[:, rows] = rows[rng.integers(0, len(rows), (resamples, len(rows)))]
    return out


@dataclass
class Headline:
    """Per method, the headline figures for the observed clips and for each resample."""
    observed: dict[str, dict[str, float]]       # method -> {"hmean_auc": .., "hmean_pauc": .., ...}
    resampled: dict[str, dict[str, np.ndarray]]  # method -> figure -> (resamples,)


FIGURES = ("mean_auc", "mean_pauc", "hmean_auc", "hmean_pauc")


def _summaries(per_id_auc: np.ndarray, per_id_pauc: np.ndarray, id_type: np.ndarray) -> dict[str, np.ndarray]:
    """(..., ids) per-ID areas -> per-type means -> the four headline figures over types."""
    types = np.unique(id_type)
    auc = np.stack([per_id_auc[..., id_type == t].mean(-1) for t in types], -1)
    pauc = np.stack([per_id_pauc[..., id_type == t].mean(-1) for t in types], -1)
    floor = np.finfo(np.float64).eps  # a harmonic mean is undefined at 0
    return {"mean_auc": auc.mean(-1), "mean_pauc": pauc.mean(-1),
            "hmean_auc": hmean(np.maximum(auc, floor), axis=-1), "hmean_pauc": hmean(np.maximum(pauc, floor), axis=-1)}


def headline(scores: pd.DataFrame, resamples: int = RESAMPLES, seed: int = 0, max_fpr: float = 0.1) -> Headline:
    """Bootstrap the headline figures of every method in `scores` (one split's per-clip scores).

    `scores` columns: method, seed, file, machine_type, section, label, score. Every method and seed is
    resampled with the same clip draws (so differences between methods are paired), and a method's figure is
    the mean over its seeds.
    """
    clips = scores.drop_duplicates(["machine_type", "section", "file"])[["machine_type", "section", "file", "label"]]
    clips = clips.sort_values(["machine_type", "section", "file"]).reset_index(drop=True)
    ids = clips.groupby(["machine_type", "section"], sort=True).indices
    id_type = np.array([t for t, _ in ids])
    draws = stratified_indices(clips[["machine_type", "section", "label"]], resamples, seed)
    labels = clips.label.to_numpy()
    position = pd.Series(np.arange(len(clips)), index=pd.MultiIndex.from_frame(clips[["machine_type", "section", "file"]]))
    observed, resampled = {}, {}
    for method, part in scores.groupby("method"):
        per_seed_obs, per_seed_boot = [], []
        for _, run in part.groupby("seed"):
            vector = np.empty(len(clips))
            vector[position.loc[list(zip(run.machine_type, run.section, run.file))].to_numpy()] = run.score.to_numpy()
            obs_auc, obs_pauc, boot_auc, boot_pauc = [], [], [], []
            ranks = np.empty(len(clips), dtype=np.int64)
            for rows in ids.values():  # resamples keep each column's label: counts per distinct score, no sort
                ranks[rows], m = descending_ranks(vector[rows])
                positive, negative = labels[rows] == 1, labels[rows] == 0
                auc, pauc = areas_from_counts(counts(ranks[rows][None], positive, m), counts(ranks[rows][None], negative, m),
                                              (None, max_fpr))
                obs_auc.append(auc[0])
                obs_pauc.append(pauc[0])
                drawn = ranks[draws[:, rows]]
                auc, pauc = areas_from_counts(counts(drawn, positive, m), counts(drawn, negative, m), (None, max_fpr))
                boot_auc.append(auc)
                boot_pauc.append(pauc)
            per_seed_obs.append(_summaries(np.array(obs_auc), np.array(obs_pauc), id_type))
            per_seed_boot.append(_summaries(np.stack(boot_auc, -1), np.stack(boot_pauc, -1), id_type))
        observed[method] = {f: float(np.mean([s[f] for s in per_seed_obs])) for f in FIGURES}
        resampled[method] = {f: np.mean([s[f] for s in per_seed_boot], axis=0) for f in FIGURES}
    return Headline(observed, resampled)


def ci95(values: np.ndarray) -> tuple[float, float]:
    """Percentile interval of a bootstrap distribution."""
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)


def compare_to_leader(result: Headline, figure: str = "hmean_auc") -> tuple[str, dict[str, dict]]:
    """The leader by `figure`, and for every method the paired bootstrap CI95 of (method - leader) and
    whether it is tied with the leader (the interval holds 0: not different at the 5 % level)."""
    leader = max(result.observed, key=lambda m: result.observed[m][figure])
    out = {}
    for method in result.observed:
        diff = result.resampled[method][figure] - result.resampled[leader][figure]
        low, high = ci95(diff)
        out[method] = {"difference": result.observed[method][figure] - result.observed[leader][figure],
                       "ci95": (low, high), "tied": method == leader or low <= 0.0 <= high}
    return leader, out


def official_score_resamples(clips: pd.DataFrame, scoring, resamples: int = RESAMPLES, seed: int = 0,
                             max_fpr: float = 0.1) -> np.ndarray:
    """The official score (by the year's `dcase.scoring` kind) of each of `resamples` stratified
    bootstrap resamples of one method's scored clips (columns machine_type, section, domain, label, score):
    clips are drawn with replacement within every (type, section, domain, label) stratum."""
    clips = clips.sort_values(["machine_type", "section", "domain", "file"]).reset_index(drop=True)
    draws = stratified_indices(clips[["machine_type", "section", "domain", "label"]], resamples, seed)
    labels, values, domains = clips.label.to_numpy(), clips.score.to_numpy(np.float64), clips.domain.to_numpy()
    parts, types, ranks = [], [], np.empty(len(clips), dtype=np.int64)
    for (machine_type, _), rows in clips.groupby(["machine_type", "section"], sort=True).indices.items():
        ranks[rows], m = descending_ranks(values[rows])
        mine = scoring.resampled_parts(ranks[draws[:, rows]], m, domains[rows], labels[rows], max_fpr)
        parts += mine
        types += [machine_type] * len(mine)
    return scoring.official_resampled(parts, types)
