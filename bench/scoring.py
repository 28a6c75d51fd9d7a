"""The scoring stage of `bench run`: every scorer fitted on each section's normal training clips and scoring its
test clips, with a decision threshold from held-out normal clips, per split."""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from core.errors import DataError, NotApplicable, ScorerError
from dcase.tasks import TaskYear
from embeddings.cache import EmbeddingCache
from methods import Bundle, get_scorer
from methods.registry import label


def bundle(cache: EmbeddingCache, rows: np.ndarray, name: str) -> Bundle:
    clips = cache.clips
    return Bundle(cache.embeddings[rows], cache.logits[rows], clips.first_class.to_numpy()[rows], name,
                  clips.n_classes.to_numpy()[rows], clips.domain.to_numpy()[rows])


def section_groups(cache: EmbeddingCache, split: str):
    """(machine type, section, train rows, test rows) of every section with test clips in `split`; the training
    rows are the section's normal training clips of both domains."""
    clips = cache.clips
    key = clips.machine_type + "/" + clips.section
    for name in sorted(key[clips.split == split].unique()):
        machine_type, section = name.split("/")
        mine = (key == name).to_numpy()
        train = np.flatnonzero(mine & (clips.split == "train").to_numpy())
        test = np.flatnonzero(mine & (clips.split == split).to_numpy())
        if len(train):
            yield machine_type, section, train, test


def split_bundles(cache: EmbeddingCache, split: str):
    """`section_groups` of the split, with each section's training and test bundles, named for error messages."""
    groups = list(section_groups(cache, split))
    names = [f"{t} section {s}" for t, s, _, _ in groups]
    trains = [bundle(cache, g[2], f"{n} training clips") for n, g in zip(names, groups)]
    tests = [bundle(cache, g[3], f"{n} {split} test clips") for n, g in zip(names, groups)]
    return groups, names, trains, tests


def fit_and_score(scorer, trains: list[Bundle], tests: list[Bundle], device: str):
    """The one timer behind the leaderboard's and `bench speed`'s seconds: (scores, fit s, score s)."""
    def now():
        if device == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter()

    start = now()
    scorer.fit_many(trains)
    fitted = now()
    scores = scorer.score_many(tests)
    return scores, fitted - start, now() - fitted


@dataclass
class SplitWork:
    """Every bundle a split's scoring reads, built once and handed to each method, so scorers can share work
    through them (`Bundle.shared`): each section's training and test clips, and the 90 % / 10 % fold of its
    training clips that sets the decision threshold."""
    task: TaskYear
    groups: list
    trains: list[Bundle]
    tests: list[Bundle]
    kept: list[Bundle]
    held: list[Bundle]


def split_work(task: TaskYear, cache: EmbeddingCache, split: str) -> SplitWork:
    groups, names, trains, tests = split_bundles(cache, split)
    rng = np.random.default_rng(0)
    folds = [rng.permutation(g[2]) for g in groups]
    kept = [bundle(cache, f[len(f) // 10:], f"{n} training clips (90% kept to set the decision threshold)")
            for n, f in zip(names, folds)]
    held = [bundle(cache, f[: max(len(f) // 10, 1)], f"{n} held-out training clips") for n, f in zip(names, folds)]
    return SplitWork(task, groups, trains, tests, kept, held)


def work_of(task: TaskYear, cache: EmbeddingCache) -> dict[str, SplitWork]:
    """The scoring work of each split the cache has test clips of."""
    return {s: split_work(task, cache, s) for s in ("dev", "eval") if (cache.clips.split == s).any()}


def score_split(make: Callable, work: SplitWork, device: str):
    """Fit a scorer from `make()` on each section's normal training clips, score its test clips; also the year's
    decision threshold of each section, from a second fit that has not seen the held-out clips."""
    scorer = make()
    scores, fit_s, score_s = fit_and_score(scorer, work.trains, work.tests, device)
    scorer.close()
    held = make().fit_many(work.kept)
    thresholds = [work.task.decision_threshold(s) for s in held.score_many(work.held)]
    held.close()
    return work.groups, scores, thresholds, fit_s / len(work.groups), score_s / len(work.groups)


def score_method(make: Callable, method: str, work: dict[str, SplitWork], clips: pd.DataFrame, device: str
                 ) -> dict[str, tuple[pd.DataFrame, float, float]]:
    """One scorer (`make()` builds it, `method` names it) on every split: per split, its test clips with `score`
    and `decision`, and fit/score seconds per section."""
    out = {}
    for split, part in work.items():
        try:
            groups, scores, thresholds, fit_s, score_s = score_split(make, part, device)
        except DataError as exc:  # e.g. fewer training clips than the method's options need
            raise ScorerError(f"{method} on the {split} split: {exc}") from exc
        except Exception as exc:
            raise ScorerError(f"{method} failed on the {split} split ({type(exc).__name__}: {exc})") from exc
        test = np.concatenate([g[3] for g in groups])
        bad = ~np.isfinite(np.concatenate(scores))
        if bad.any():  # a broken plugin fails alone, before its rows could look complete
            raise ScorerError(f"{method} on the {split} split returned {int(bad.sum())} non-finite scores (NaN or inf) of "
                              f"{bad.size}; a scorer must give every clip a finite anomaly score")
        decisions = np.concatenate([s > t for s, t in zip(scores, thresholds)]).astype(int)
        out[split] = (clips.iloc[test].reset_index(drop=True).assign(score=np.concatenate(scores), decision=decisions),
                      fit_s, score_s)
    return out


def applicable_methods(specs: list, embedder, has_logits: bool) -> list:
    """The methods the embedder can serve; a scorer that reads logits is skipped, with a line, on one without."""
    applicable = [(n, o) for n, o in specs if has_logits or "logits" not in get_scorer(n, "cpu", **o).reads]
    for name, options in specs:
        if (name, options) not in applicable:
            print(f"{label(name, options)}: not applicable on embedder {embedder.label()} (it reads classifier logits, "
                  "which this embedder has none of)")
    if not applicable:
        raise NotApplicable(f"no method in {', '.join(label(n, o) for n, o in specs)!r} applies to embedder "
                          f"{embedder.label()}; choose scorers that read embeddings (`bench methods`)")
    return applicable
