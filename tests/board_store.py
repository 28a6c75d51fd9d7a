"""A results store made for the page tests: real `bench run`s on generated 2020, 2023 and 2021 sets with
imported embeddings (no training), a scorer that fails, a method with three seeds among one-seed rows, an
embedder whose file name holds `<`, `&` and a quote, and a 2021 set without its evaluation ground truth."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from generated import generated

import methods.registry as registry
from bench.runner import RunConfig, run
from core.errors import ScorerError
from dcase.reader import load_clips
from leaderboard.render import render
from leaderboard.results import read_results, read_scores_table
from methods import Scorer

WEIRD = 'emb <&"q>.npz'


class NanScorer(Scorer):
    """Returns NaN for every clip (a broken plugin): the run must record it as failed."""
    name = "nan_scores"
    reads = ("embeddings",)

    def fit(self, train):
        return self

    def score(self, test):
        return np.full(len(test.embeddings), np.nan)


def embedding_file(data: Path, path: Path, seed: int) -> Path:
    """Random embeddings where anomalies sit further out: scorers differ, and ties with the leader happen."""
    _, table = load_clips(data)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(len(table), 8)) + 1.5 * np.clip(table.label.to_numpy(), 0, 1)[:, None] * rng.random((len(table), 1))
    np.savez(path, files=np.array(["/".join(Path(p).parts[-3:]) for p in table.path], dtype=str), embeddings=x)
    return path


def _with_seeds(results: Path, method: str, seeds=(1, 2)) -> None:
    """Copy `method`'s rows as further training seeds, figures jittered: one method with three seeds."""
    rows, scores = read_results(results / "results.csv"), read_scores_table(results / "scores.parquet")
    rng = np.random.default_rng(0)
    extra = [rows[rows.method == method].assign(seed=s, auc=lambda t: (t.auc + rng.normal(0, 0.01, len(t))).clip(0, 1))
             for s in seeds]
    pd.concat([rows, *extra]).to_csv(results / "results.csv", index=False)
    more = [scores[scores.method == method].assign(seed=s) for s in seeds]
    pd.concat([scores, *more]).to_parquet(results / "scores.parquet", index=False)


def build_store(root: Path, monkeypatch) -> dict:
    monkeypatch.setitem(registry.SCORERS.entries, "nan_scores", NanScorer)
    results, board = root / "results", root / "board" / "LEADERBOARD.md"
    common = dict(device="cpu", results=results, leaderboard=board, cache=root / "cache", render=False)
    sets = {}
    for i, task in enumerate(("dcase2020", "dcase2023", "dcase2021")):
        data = sets[task] = generated(root / task, task, workers=2)
        if task == "dcase2021":  # no evaluation ground truth: development figures only
            shutil.rmtree(data / "evaluator")
            (data / "eval_data_list_2021.csv").unlink()
        plain = embedding_file(data, root / f"{task}.npz", i)
        run(RunConfig(data=data, methods="knn:k=2,centroid", embedder=f"imported:path={plain}", **common))
        if task == "dcase2023":
            weird = embedding_file(data, root / WEIRD, 10)
            with pytest.raises(ScorerError, match="nan_scores"):
                run(RunConfig(data=data, methods="knn:k=1,lof:k=2,nan_scores", embedder=f"imported:path={weird}", **common))
    _with_seeds(results, "knn(k=2)")
    render(results, board)
    return {"results": results, "board": board, "page": board.with_suffix(".html"), "data": sets}
