"""`bench run`: data -> cached embeddings -> every scorer on every machine ID -> results and leaderboard."""
from __future__ import annotations

import json
import time
from datetime import datetime
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from bench import metrics
from core import atomic
from bench.dcase import load_dataset
from bench.device import resolve_device
from core.errors import DataError, ScorerError
from core.locking import exclusive
from bench.synth import default_data_dir
from embeddings.cache import EmbeddingCache
from core.ranks import is_main
from embeddings.distributed import init_from_env, shutdown
from methods import Bundle, get_scorer, parse_methods
from methods.registry import label, slug

RESULT_COLUMNS = ["run_id", "method", "split", "machine_type", "machine_id", "auc", "pauc",
                  "fit_seconds", "score_seconds", "device", "dataset", "embedding_key", "seed", "embedder"]
SCORE_COLUMNS = ["run_id", "method", "seed", "split", "file", "machine_type", "machine_id", "label", "score",
                 "dataset", "embedding_key", "embedder"]
DATA_PRESET = {"tiny": "tiny", "small": "small", "dcase2020": "full"}
DECISION_QUANTILE = 0.9  # the official baseline's decision threshold: 90th percentile of normal scores


@dataclass
class RunConfig:
    data: Path | None = None
    preset: str = "small"
    methods: str = "softmax,centroid,gmm,knn,lof"
    device: str = "auto"
    results: Path = Path("results")
    leaderboard: Path = Path("leaderboard/LEADERBOARD.md")
    cache: Path = Path(".cache")
    skip_bad: bool = False
    seed: int = 0                  # the generated data set's seed
    seeds: tuple[int, ...] = (0,)  # training seeds: one embedding model each, every scorer on each
    embedder: str = "arcface"      # NAME[:option=value...], see `bench embedders`
    overrides: dict = field(default_factory=dict)  # TrainConfig fields


def load_data(data: Path | None, preset: str, cache: Path, skip_bad: bool = False, seed: int = 0) -> tuple[Path, pd.DataFrame]:
    """The clip table of `data`, or of the generated data set that `preset` names (made once, then reused)."""
    data = Path(data) if data else default_data_dir(DATA_PRESET[preset], seed, cache)
    return data, load_dataset(data, skip_bad=skip_bad)


def bundle(cache: EmbeddingCache, rows: np.ndarray, name: str) -> Bundle:
    return Bundle(cache.embeddings[rows], cache.logits[rows], cache.clips.class_index.to_numpy()[rows], name)


def machine_groups(cache: EmbeddingCache, split: str):
    """(machine type, ID, train rows, test rows) for every ID with labelled (or any) test clips in `split`."""
    clips = cache.clips
    key = clips.machine_type + "/" + clips.machine_id
    for name in sorted(key[clips.split == split].unique()):
        machine_type, machine_id = name.split("/")
        mine = (key == name).to_numpy()
        train = np.flatnonzero(mine & (clips.split == "train").to_numpy())
        test = np.flatnonzero(mine & (clips.split == split).to_numpy())
        if len(train):
            yield machine_type, machine_id, train, test


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


def split_bundles(cache: EmbeddingCache, split: str):
    """`machine_groups` of the split, with each ID's training and test bundles, named for error messages."""
    groups = list(machine_groups(cache, split))
    ids = [f"{t} id_{i}" for t, i, _, _ in groups]
    trains = [bundle(cache, g[2], f"{n} training clips") for n, g in zip(ids, groups)]
    tests = [bundle(cache, g[3], f"{n} {split} test clips") for n, g in zip(ids, groups)]
    return groups, ids, trains, tests


def score_split(name: str, options: dict, cache: EmbeddingCache, split: str, device: str):
    """Fit on each ID's normal training clips, score its test clips; also a held-out decision threshold per ID."""
    groups, ids, trains, tests = split_bundles(cache, split)
    scorer = get_scorer(name, device, **options)
    scores, fit_s, score_s = fit_and_score(scorer, trains, tests, device)
    scorer.close()
    # threshold from normal clips the scorer has not seen: fit on 90% of each ID's training clips, score the rest
    rng = np.random.default_rng(0)
    folds = [rng.permutation(g[2]) for g in groups]
    held = get_scorer(name, device, **options).fit_many(
        [bundle(cache, f[len(f) // 10:], f"{n} training clips (90% kept to set the decision threshold)") for n, f in zip(ids, folds)])
    thresholds = [np.quantile(s, DECISION_QUANTILE) for s in held.score_many(
        [bundle(cache, f[: max(len(f) // 10, 1)], f"{n} held-out training clips") for n, f in zip(ids, folds)])]
    held.close()
    return groups, scores, thresholds, fit_s / len(groups), score_s / len(groups)


def write_submission(out: Path, cache: EmbeddingCache, groups, scores, thresholds) -> None:
    """The DCASE submission files of one method and split, swapped in whole so a crash leaves the old set."""
    with atomic.atomic_folder(out) as tmp:
        for (machine_type, machine_id, _, test), s, threshold in zip(groups, scores, thresholds):
            files = cache.clips.file.to_numpy()[test]
            metrics.write_scores(tmp / metrics.submission_name("anomaly_score", machine_type, machine_id), files, s)
            metrics.write_scores(tmp / metrics.submission_name("decision_result", machine_type, machine_id), files,
                                 (s > threshold).astype(int))


def run(config: RunConfig) -> pd.DataFrame:
    """The whole benchmark; returns the result rows it appended to `results/results.csv`.

    One embedding model per training seed, every scorer on each. Each (seed, method)'s rows and per-clip
    scores are appended as soon as it finishes, so a scorer that crashes loses only its own.
    Under torchrun all ranks train and embed; rank 0 alone scores and writes (the others return no rows).
    """
    device = resolve_device(config.device)
    specs = parse_methods(config.methods)
    for name, options in specs:  # fail on a bad method before hours of training
        get_scorer(name, "cpu", **options)
    embedder = make_embedder(config.embedder, config.preset, device)
    seeds = config.seeds if embedder.trains else config.seeds[:1]
    if len(seeds) < len(config.seeds):
        print(f"embedder {embedder.label()} is not trained: one embedding serves every seed, so only seed {seeds[0]} runs")
    init_from_env(device)
    data, table = load_data(config.data, config.preset, config.cache, config.skip_bad, config.seed)
    caches = {seed: embedder.build(table, config.cache, seed, config.overrides) for seed in seeds}
    main = is_main()
    shutdown()  # the ranks' shared work ends here: rank 0 scores alone, and its locks need no barriers
    if not main:
        return pd.DataFrame(columns=RESULT_COLUMNS)
    run_id = datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    first = caches[seeds[0]]
    meta = {"run_id": run_id, "dataset": str(data), "preset": config.preset, "seeds": list(seeds), "embedder": embedder.label(),
            "embedding_key": first.manifest["key"], "embedding": first.manifest,
            "embedding_keys": {seed: c.manifest["key"] for seed, c in caches.items()}, "device": device}
    atomic.write_text(Path(config.results) / "runs" / f"{run_id}.json", json.dumps(meta, indent=2, default=str))
    new, clip_scores = [], {}
    applicable = [(n, o) for n, o in specs if first.logits.shape[1] or "logits" not in get_scorer(n, "cpu", **o).reads]
    for name, options in specs:
        if (name, options) not in applicable:
            print(f"{label(name, options)}: not applicable on embedder {embedder.label()} (it reads classifier logits, "
                  "which this embedder has none of)")
    if not applicable:
        raise ScorerError(f"no method in {config.methods!r} applies to embedder {embedder.label()}; choose scorers that "
                          "read embeddings (`bench methods`)")
    for seed, cache in caches.items():
        splits = [s for s in ("dev", "eval") if (cache.clips[cache.clips.split == s].label >= 0).any()]
        for name, options in tqdm(applicable, desc=f"score (seed {seed})", unit="method"):
            method = label(name, options)
            rows, per_clip = [], []
            for split in splits:
                try:
                    groups, scores, thresholds, fit_s, score_s = score_split(name, options, cache, split, device)
                except DataError:
                    raise
                except Exception as exc:
                    raise ScorerError(f"scorer {method} failed on the {split} split ({type(exc).__name__}: {exc}); "
                                      f"the rows of the methods before it are in {config.results}/results.csv") from exc
                if seed == seeds[0]:  # submission files and plots: the first seed's
                    write_submission(Path(config.results) / submission_folder(method, embedder) / split, cache, groups,
                                     scores, thresholds)
                    clip_scores[(f"{method} @ {embedder.label()}", split)] = (
                        cache.clips.iloc[np.concatenate([g[3] for g in groups])], np.concatenate(scores))
                for (machine_type, machine_id, _, test), s in zip(groups, scores):
                    labels = cache.clips.label.to_numpy()[test]
                    labelled = labels >= 0
                    if labelled.any():
                        auc, pauc = metrics.auc_pauc(labels[labelled], s[labelled])
                        rows.append([run_id, method, split, machine_type, machine_id, auc, pauc, fit_s, score_s, device,
                                     str(data), cache.manifest["key"], seed, embedder.label()])
                    per_clip.append(pd.DataFrame({"file": cache.clips.file.to_numpy()[test], "machine_type": machine_type,
                                                  "machine_id": machine_id, "label": labels, "score": s, "split": split}))
            new.append(pd.DataFrame(rows, columns=RESULT_COLUMNS))
            append_rows(Path(config.results) / "results.csv", new[-1])
            append_scores(Path(config.results) / "scores.parquet", pd.concat(per_clip).assign(
                run_id=run_id, method=method, seed=seed, dataset=str(data), embedding_key=cache.manifest["key"],
                embedder=embedder.label()))
    from leaderboard.plots import roc_and_histograms, tsne
    plot_dir = Path(config.leaderboard).parent / "plots"
    roc_and_histograms(clip_scores, plot_dir, embedder.label())
    tsne(first, plot_dir / f"tsne_{slug(embedder.label())}.png")
    from leaderboard.render import render
    render(Path(config.results), Path(config.leaderboard))
    return pd.concat(new, ignore_index=True)


def submission_folder(method: str, embedder) -> str:
    """`<method>` for the trained arcface embedding (as before embedders existed), `<method>_<embedder>` (made
    file-name safe) for any other, so one method's files on two embeddings never overwrite each other."""
    return slug(method) if embedder.name == "arcface" else slug(f"{method}@{embedder.label()}")


def make_embedder(spec: str, preset: str, device: str):
    """`--embedder NAME[:option=value...]`; the trained `arcface` takes the run's --preset unless given one."""
    from embeddings.embedders import get_embedder
    from core.plugins import PluginError, parse_spec
    parsed = parse_spec(spec)
    if len(parsed) != 1:
        raise PluginError(f"--embedder {spec!r}: name one embedder, e.g. arcface or imported:path=emb.npz")
    name, options = parsed[0]
    if name == "arcface":
        options.setdefault("preset", preset)
    return get_embedder(name, device, **options)


def _append(path: Path, rows: pd.DataFrame, read, write) -> None:
    """Add `rows` to a table file under a lock, through a temp file and a rename: a crash or a second run never
    loses rows."""
    with exclusive(path.with_name(path.name + ".lock")):
        table = rows if not path.is_file() else pd.concat([read(path), rows], ignore_index=True)
        with atomic.atomic_file(path) as tmp:
            write(table, tmp)


def append_rows(path: Path, rows: pd.DataFrame) -> None:
    """Append per-ID results to `results.csv`."""
    _append(path, rows, metrics.read_results, lambda table, tmp: table.to_csv(tmp, index=False))


def append_scores(path: Path, rows: pd.DataFrame) -> None:
    """Append per-clip scores to `scores.parquet`."""
    _append(path, rows[SCORE_COLUMNS], metrics.read_scores_table, lambda table, tmp: table.to_parquet(tmp, index=False))
