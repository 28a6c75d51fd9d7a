"""How sure a figure is: one stratified bootstrap of the year's official figures, CI95, paired comparisons.

The leaderboard, `bench rank` and `bench evaluate` all draw from `Resampler`, which scores each resample with
the year's own rules (`dcase.scoring`). The ROC areas of all resamples come from `dcase.roc` in one pass,
which is what makes 1,000 resamples of every method take seconds.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from dcase.roc import descending_ranks

RESAMPLES = 1000


def stratified_indices(groups: pd.DataFrame, resamples: int, seed: int = 0) -> np.ndarray:
    """(resamples, n) row indices: each resample draws, with replacement, within every (machine, label) stratum."""
    rng = np.random.default_rng(seed)
    out = np.empty((resamples, len(groups)), dtype=np.int64)
    for rows in groups.groupby(list(groups.columns), sort=False).indices.values():
        out[:, rows] = rows[rng.integers(0, len(rows), (resamples, len(rows)))]
    return out


class Resampler:
    """Stratified bootstrap resamples of one split's test clips, drawn once: every system scored through the same
    draws, so differences between systems are paired. Clips are drawn with replacement within every (machine
    type, section, domain, label) stratum; `clips` needs machine_type, section, domain, file and label."""

    KEYS = ["machine_type", "section", "domain", "file"]

    def __init__(self, clips: pd.DataFrame, scoring, resamples: int = RESAMPLES, seed: int = 0):
        self.clips = clips.drop_duplicates(self.KEYS)[[*self.KEYS, "label"]].sort_values(self.KEYS).reset_index(drop=True)
        self.scoring = scoring
        self.draws = stratified_indices(self.clips[["machine_type", "section", "domain", "label"]], resamples, seed)
        self.sections = list(self.clips.groupby(["machine_type", "section"], sort=True).indices.items())
        self.position = pd.Series(np.arange(len(self.clips)), index=pd.MultiIndex.from_frame(self.clips[self.KEYS]))

    def figures(self, scored: pd.DataFrame) -> tuple[dict[str, float], dict[str, np.ndarray]]:
        """(observed, resampled) official score and summary figures of one system's scores of these clips."""
        values = np.empty(len(self.clips))
        values[self.position.loc[list(zip(*(scored[k] for k in self.KEYS)))].to_numpy()] = scored.score.to_numpy(np.float64)
        labels, domains = self.clips.label.to_numpy(), self.clips.domain.to_numpy()
        observed, drawn, types = [], [], []
        ranks = np.empty(len(self.clips), dtype=np.int64)
        for (machine_type, _), rows in self.sections:
            ranks[rows], m = descending_ranks(values[rows])
            observed.append(self.scoring.resampled_section(ranks[rows][None], m, domains[rows], labels[rows]))
            drawn.append(self.scoring.resampled_section(ranks[self.draws[:, rows]], m, domains[rows], labels[rows]))
            types.append(machine_type)
        once = self.scoring.resampled_figures(observed, types)
        return {f: float(v[0]) for f, v in once.items()}, self.scoring.resampled_figures(drawn, types)


@dataclass
class Headline:
    """Per method, the headline figures for the observed clips and for each resample (the mean over its seeds)."""
    observed: dict[str, dict[str, float]]       # method -> {"hmean_auc": .., "hmean_pauc": .., ...}
    resampled: dict[str, dict[str, np.ndarray]]  # method -> figure -> (resamples,)


def headline(scores: pd.DataFrame, scoring, resamples: int = RESAMPLES, seed: int = 0) -> Headline:
    """Bootstrap the year's figures of every method in `scores` (one split's per-clip scores: method, seed and
    `Resampler`'s columns, with score); every method and seed through the same draws."""
    resampler = Resampler(scores, scoring, resamples, seed)
    observed, resampled = {}, {}
    for method, part in scores.groupby("method"):
        runs = [resampler.figures(run) for _, run in part.groupby("seed")]
        observed[method] = {f: float(np.mean([o[f] for o, _ in runs])) for f in runs[0][0]}
        resampled[method] = {f: np.mean([r[f] for _, r in runs], axis=0) for f in runs[0][1]}
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


def official_score_resamples(clips: pd.DataFrame, scoring, resamples: int = RESAMPLES, seed: int = 0) -> np.ndarray:
    """The official score of each resample of one system's scored clips (`Resampler`'s columns and score)."""
    return Resampler(clips, scoring, resamples, seed).figures(clips)[1]["official_score"]
