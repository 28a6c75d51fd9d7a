"""`bench run` in stages: data -> embeddings -> fit and score -> submission files -> results -> leaderboard."""
from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from bench import isolation
from bench.device import resolve_device
from bench.stages import StageTimer
from core import atomic
from core.errors import DataError, NotApplicable, ScorerError, UsageError
from core.ranks import is_main
from dcase import channels, submission
from dcase.generate import default_data_dir
from dcase.reader import load_clips
from dcase.tasks import DEFAULT_TASK, TaskYear
from embeddings.cache import EmbeddingCache
from embeddings.distributed import init_from_env, shutdown
from embeddings.embedders import DEFAULT_EMBEDDER
from leaderboard.results import RESULT_COLUMNS, append_results, stored_rows
from methods import Bundle, get_scorer, parse_methods
from methods.registry import label, scorer_factory, slug

DECISION_QUANTILE = 0.9  # the official baselines' decision threshold: the 90th percentile of normal scores


@dataclass
class RunConfig:
    data: Path | None = None
    preset: str = "small"
    methods: str = "softmax,centroid,gmm,knn,lof"
    device: str = "auto"
    results: Path = Path("results")
    leaderboard: Path = Path("leaderboard/LEADERBOARD.md")
    render: bool = True            # re-render the leaderboard at the end (its plots are drawn either way)
    cache: Path = Path(".cache")
    skip_bad: bool = False
    seed: int = 0                  # the generated data set's seed
    seeds: tuple[int, ...] = (0,)  # training seeds: one embedding model each, every scorer on each
    embedder: str = "arcface"      # NAME[:option=value...], see `bench embedders`
    task: str | None = None        # a task year (`bench tasks`); None: DEFAULT_TASK for generated data, else from the names
    ground_truth: Path | None = None  # evaluation ground truth (a renaming list or the evaluators' folder)
    aux_label: str | None = None   # the classifier's target: "section" or "attribute" (default: the year's)
    supplemental: bool = False     # train on 2025's supplemental clips too
    channel: str | None = None     # left|right|mean|stack (near/far) of two-microphone clips; default: the year's
    overrides: dict = field(default_factory=dict)  # TrainConfig fields
    isolate: str = "process"       # each scorer (per seed) in a child process, or "none": in this one, for debugging
    timeout: float = isolation.DEFAULT_TIMEOUT  # seconds a scorer may take per seed before it fails as timed out
    rescore: bool = False          # score again a method whose rows for this embedding are stored (else reuse them)


def load_data(config: RunConfig) -> tuple[Path, TaskYear, pd.DataFrame]:
    """The data root, its task year and its clip table; without --data, the generated set of the task and preset
    (made once, then reused)."""
    data = Path(config.data) if config.data else default_data_dir(config.task or DEFAULT_TASK, config.preset,
                                                                    config.seed, config.cache)
    task, table = load_clips(data, config.task, ground_truth_path=config.ground_truth, skip_bad=config.skip_bad,
                             aux_label=config.aux_label, supplemental=config.supplemental, channel=config.channel)
    return data, task, table


def align(cache: EmbeddingCache, table: pd.DataFrame) -> EmbeddingCache:
    """The cache's arrays in the clip table's row order, with the table's columns (labels, domains and classes
    as read now; a frozen embedder's cache is keyed on the audio alone)."""
    position = pd.Series(np.arange(len(cache.clips)), index=cache.clips.path.to_numpy())
    missing = ~table.path.isin(position.index)
    if missing.any():
        raise DataError(f"{table.path[missing].iloc[0]}: not in the embedding cache {cache.path}; delete it to rebuild")
    rows = position.loc[table.path.to_numpy()].to_numpy()
    return EmbeddingCache(table.reset_index(drop=True), cache.embeddings[rows], cache.logits[rows], cache.manifest, cache.path)


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
    """`section_groups` of the split, with each section's training and test bundles, named for error messages."""
    groups = list(section_groups(cache, split))
    names = [f"{t} section {s}" for t, s, _, _ in groups]
    trains = [bundle(cache, g[2], f"{n} training clips") for n, g in zip(names, groups)]
    tests = [bundle(cache, g[3], f"{n} {split} test clips") for n, g in zip(names, groups)]
    return groups, names, trains, tests


@dataclass
class SplitWork:
    """Every bundle a split's scoring reads, built once and handed to each method, so scorers can share work
    through them (`Bundle.shared`): each section's training and test clips, and the 90 % / 10 % fold of its
    training clips that sets the decision threshold."""
    groups: list
    trains: list[Bundle]
    tests: list[Bundle]
    kept: list[Bundle]
    held: list[Bundle]


def split_work(cache: EmbeddingCache, split: str) -> SplitWork:
    groups, names, trains, tests = split_bundles(cache, split)
    rng = np.random.default_rng(0)
    folds = [rng.permutation(g[2]) for g in groups]
    kept = [bundle(cache, f[len(f) // 10:], f"{n} training clips (90% kept to set the decision threshold)")
            for n, f in zip(names, folds)]
    held = [bundle(cache, f[: max(len(f) // 10, 1)], f"{n} held-out training clips") for n, f in zip(names, folds)]
    return SplitWork(groups, trains, tests, kept, held)


def score_split(make: Callable, work: SplitWork, device: str):
    """Fit a scorer from `make()` on each section's normal training clips, score its test clips; also a held-out
    decision threshold each."""
    scorer = make()
    scores, fit_s, score_s = fit_and_score(scorer, work.trains, work.tests, device)
    scorer.close()
    # threshold from normal clips the scorer has not seen: fit on 90% of each section's training clips, score the rest
    held = make().fit_many(work.kept)
    thresholds = [np.quantile(s, DECISION_QUANTILE) for s in held.score_many(work.held)]
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


def write_submissions(task: TaskYear, folder: Path, scored: dict[str, tuple[pd.DataFrame, float, float]]) -> None:
    """Each split's submission files, named and laid out as the year's evaluator reads them."""
    for split, (clips, _, _) in scored.items():
        with atomic.atomic_folder(folder / split) as tmp:
            submission.write(task, tmp, clips, clips.score.to_numpy(), clips.decision.to_numpy())


def result_tables(year: TaskYear, scored: dict[str, tuple[pd.DataFrame, float, float]], **columns
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(result rows, per-clip rows) of one method on every split, with the run's identifying `columns` (the
    results store keeps each table's own columns of them)."""
    rows = [year.result_rows(clips).assign(split=split, fit_seconds=fit_s, score_seconds=score_s, **columns)
            for split, (clips, fit_s, score_s) in scored.items() if (clips.label >= 0).any()]
    per_clip = pd.concat([clips[["file", "machine_type", "section", "domain", "label", "score", "decision"]].assign(split=split)
                          for split, (clips, _, _) in scored.items()])
    table = pd.concat(rows, ignore_index=True)[RESULT_COLUMNS] if rows else pd.DataFrame(columns=RESULT_COLUMNS)
    return table, per_clip.assign(**columns)


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


def run(config: RunConfig) -> pd.DataFrame:
    """The whole benchmark; returns the result rows it appended to `results/results.csv`.

    One embedding model per training seed, every scorer on each. Each (seed, method)'s rows and per-clip
    scores are appended as soon as it finishes, so a scorer that crashes loses only its own.
    Under torchrun all ranks train and embed; rank 0 alone scores and writes (the others return no rows).
    """
    timer = StageTimer()
    device = resolve_device(config.device)
    specs = parse_methods(config.methods)
    for name, options in specs:  # fail on a bad method before hours of training
        get_scorer(name, "cpu", **options)
    embedder = make_embedder(config.embedder, config.preset, device)
    seeds = config.seeds if embedder.trains else config.seeds[:1]
    if len(seeds) < len(config.seeds):
        print(f"embedder {embedder.label()} is not trained: one embedding serves every seed, so only seed {seeds[0]} runs")
    init_from_env(device)
    with timer("data"):
        data, task, table = load_data(config)
    channel = channels.of(table)
    if channel == "stack" and not embedder.takes_stack:
        raise UsageError(f"embedder {embedder.label()} takes one channel, not --channel stack; use left, right or mean, "
                         "or an embedder that takes both (arcface)")
    # the channel of two-microphone data is one more option of the embedder's name: runs never mix their rows
    embedded_by = embedder.label(**({"channel": channel} if channel else {}))
    with timer("embeddings"):
        caches = {seed: align(embedder.build(table, config.cache, seed, config.overrides), table) for seed in seeds}
    main = is_main()
    shutdown()  # the ranks' shared work ends here: rank 0 scores alone, and its locks need no barriers
    if not main:
        return pd.DataFrame(columns=RESULT_COLUMNS)
    run_id = datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    first = caches[seeds[0]]
    meta = {"run_id": run_id, "task": task.name, "dataset": str(data), "preset": config.preset, "seeds": list(seeds),
            "embedder": embedded_by, "channel": channel, "embedding_key": first.manifest["key"], "embedding": first.manifest,
            "embedding_keys": {seed: c.manifest["key"] for seed, c in caches.items()}, "device": device}
    meta_path = Path(config.results) / "runs" / f"{run_id}.json"
    atomic.write_text(meta_path, json.dumps(meta, indent=2, default=str))  # completed with stage times at the end
    applicable = applicable_methods(specs, embedder, first.logits.shape[1] > 0)
    new, clip_scores, failed = [], {}, {}
    stored = pd.DataFrame(columns=RESULT_COLUMNS) if config.rescore else stored_rows(Path(config.results))
    stored = stored[(stored.task == task.name) & (stored.embedder == embedded_by) & (stored.dataset == str(data))]
    for seed, cache in caches.items():
        with timer("scoring"):
            work = {s: split_work(cache, s) for s in ("dev", "eval") if (cache.clips.split == s).any()}
        mine = stored[(stored.seed.astype(int) == seed) & (stored.embedding_key == cache.manifest["key"])]
        reused = [label(n, o) for n, o in applicable if label(n, o) in set(mine.method)]
        if reused:
            print(f"seed {seed}: {', '.join(reused)} reused from {config.results}/results.csv (same embedding; "
                  "--rescore scores again)")
            new.append(mine[mine.method.isin(reused)][RESULT_COLUMNS])
        for name, options in tqdm([(n, o) for n, o in applicable if label(n, o) not in reused],
                                  desc=f"score (seed {seed})", unit="method"):
            method = label(name, options)
            with timer("scoring"):
                try:
                    scored = isolation.call(score_method, (scorer_factory(name, device, **options), method, work,
                                                           cache.clips, device), method, config.isolate, config.timeout)
                except ScorerError as exc:  # the other methods still run; the run fails at the end
                    failed.setdefault(method, str(exc))
                    print(f"failed: {exc}", file=sys.stderr)
                    continue
            with timer("results"):
                if seed == seeds[0]:  # submission files and plots: the first seed's
                    write_submissions(task, Path(config.results) / task.submission_folder(
                        method_folder(method, embedder, embedded_by, channel)), scored)
                    clip_scores.update({(f"{method} @ {embedded_by}", s): (c, c.score.to_numpy())
                                        for s, (c, _, _) in scored.items()})
                rows, per_clip = result_tables(task, scored, run_id=run_id, method=method, task=task.name, seed=seed,
                                               device=device, dataset=str(data), embedding_key=cache.manifest["key"],
                                               embedder=embedded_by)
                append_results(Path(config.results), rows, per_clip)
                new.append(rows)
    with timer("rendering"):
        from leaderboard.layouts import layout_of
        from leaderboard.render import render
        layout_of(task).plot(clip_scores, first, Path(config.leaderboard).parent / "plots", embedded_by)
        meta["stage_seconds"], meta["failed"] = timer.seconds, failed
        atomic.write_text(meta_path, json.dumps(meta, indent=2, default=str))
        if config.render:
            render(Path(config.results), Path(config.leaderboard))
    print(timer.line())
    if failed:
        raise ScorerError(f"{len(failed)} of {len(applicable)} methods failed ({'; '.join(failed.values())}); the "
                          f"others' rows are in {config.results}/results.csv and on the leaderboard")
    return pd.concat(new, ignore_index=True)


def method_folder(method: str, embedder, embedded_by: str, channel: str) -> str:
    """A method's submission folder name: `<method>` on the default embedder of mono data, else
    `<method>_<embedder label>` (file-name safe), so no two runs' files overwrite each other."""
    return slug(method) if embedder.name == DEFAULT_EMBEDDER and not channel else slug(f"{method}@{embedded_by}")


def make_embedder(spec: str, preset: str, device: str):
    """`--embedder NAME[:option=value...]`; an embedder with a `preset` option takes the run's --preset unless given one."""
    from core.plugins import PluginError, parse_spec
    from embeddings.embedders import EMBEDDERS, get_embedder
    parsed = parse_spec(spec)
    if len(parsed) != 1:
        raise PluginError(f"--embedder {spec!r}: name one embedder, e.g. arcface or imported:path=emb.npz")
    name, options = parsed[0]
    known = EMBEDDERS.available()
    if name in known and "preset" in known[name].params():
        options.setdefault("preset", preset)
    return get_embedder(name, device, **options)
