"""`bench run` as the pipeline docs/architecture.md draws: plan (every option checked) -> data -> embeddings -> scoring ->
results -> rendering. Each stage's work lives in the module that owns it; this one only hands results along."""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from bench import isolation
from bench.device import resolve_device
from bench.scoring import applicable_methods, score_method, work_of
from bench.stages import StageTimer
from core import atomic
from core.errors import ScorerError, UsageError
from core.torchrun import is_main
from dcase import channels, submission
from dcase.generate import default_data_dir
from dcase.reader import load_clips
from dcase.tasks import DEFAULT_TASK, TaskYear
from embeddings.distributed import init_from_env, shutdown
from embeddings.embedders import DEFAULT_EMBEDDER
from leaderboard.results import RESULT_COLUMNS, append_results, result_tables, stored_rows
from methods import get_scorer, parse_methods
from methods.registry import label, scorer_factory, slug


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
    data_seed: int = 0             # the generated data set's seed (not a training seed: those are `seeds`)
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
                                                                    config.data_seed, config.cache)
    task, table = load_clips(data, config.task, ground_truth_path=config.ground_truth, skip_bad=config.skip_bad,
                             aux_label=config.aux_label, supplemental=config.supplemental, channel=config.channel)
    return data, task, table


@dataclass
class Plan:
    """What a run will do, settled before any work: a bad method, embedder option or missing checkpoint fails
    here, not after hours of data generation and training."""
    device: str
    specs: list
    embedder: object
    seeds: tuple[int, ...]


def plan(config: RunConfig) -> Plan:
    device = resolve_device(config.device)
    specs = parse_methods(config.methods)
    for name, options in specs:
        get_scorer(name, "cpu", **options)
    embedder = make_embedder(config.embedder, config.preset, device)
    embedder.check()
    seeds = config.seeds if embedder.trains else config.seeds[:1]
    if len(seeds) < len(config.seeds):
        print(f"embedder {embedder.label()} is not trained: one embedding serves every seed, so only seed {seeds[0]} runs")
    return Plan(device, specs, embedder, seeds)


@dataclass
class Run:
    """One run's identity and record: `results/runs/<run_id>.json`, written at the start and completed at the end."""
    config: RunConfig
    plan: Plan
    task: TaskYear
    data: Path
    embedded_by: str  # the embedder's label, with the channel of two-microphone data: rows never mix channels
    channel: str | None
    run_id: str = field(default_factory=lambda: datetime.now().strftime("%Y%m%d-%H%M%S-%f"))
    meta: dict = field(default_factory=dict)

    @property
    def results(self) -> Path:
        return Path(self.config.results)

    def record(self, caches: dict, **extra) -> None:
        first = next(iter(caches.values())).manifest
        self.meta.update({"run_id": self.run_id, "task": self.task.name, "dataset": str(self.data),
                          "preset": self.config.preset, "seeds": list(self.plan.seeds), "embedder": self.embedded_by,
                          "channel": self.channel, "embedding_key": first["key"], "embedding": first,
                          "embedding_keys": {seed: c.manifest["key"] for seed, c in caches.items()},
                          "device": self.plan.device, **extra})
        atomic.write_text(self.results / "runs" / f"{self.run_id}.json", json.dumps(self.meta, indent=2, default=str))


def embed(run_plan: Plan, config: RunConfig, table: pd.DataFrame) -> tuple[dict, str | None, str]:
    """(the embedding cache of each seed, aligned with `table`; the channel; the rows' embedder label)."""
    embedder, channel = run_plan.embedder, channels.of(table)
    if channel == "stack" and not embedder.takes_stack:
        raise UsageError(f"embedder {embedder.label()} takes one channel, not --channel stack; use left, right or mean, "
                         "or an embedder that takes both (arcface)")
    caches = {seed: embedder.build(table, config.cache, seed, config.overrides).aligned(table) for seed in run_plan.seeds}
    return caches, channel, embedder.label(**({"channel": channel} if channel else {}))


def score_seed(run: Run, seed: int, cache, methods: list, timer: StageTimer, failed: dict, clip_scores: dict
               ) -> list[pd.DataFrame]:
    """Every method of one seed, each isolated and its rows appended as it finishes; a failure is recorded in
    `failed` and the others go on. The first seed also writes submission files and the plots' clip scores."""
    with timer("scoring"):
        work = work_of(run.task, cache)
    rows = []
    for name, options in tqdm(methods, desc=f"score (seed {seed})", unit="method"):
        method, device = label(name, options), run.plan.device
        with timer("scoring"):
            try:
                scored = isolation.call(score_method, (scorer_factory(name, device, **options), method, work,
                                                       cache.clips, device), method, run.config.isolate, run.config.timeout)
            except ScorerError as exc:
                failed.setdefault(method, str(exc))
                print(f"failed: {exc}", file=sys.stderr)
                continue
        with timer("results"):
            if seed == run.plan.seeds[0]:
                submission.write_splits(run.task, run.results / run.task.submission_folder(
                    method_folder(method, run.plan.embedder, run.embedded_by, run.channel)), scored)
                clip_scores.update({(f"{method} @ {run.embedded_by}", s): (c, c.score.to_numpy())
                                    for s, (c, _, _) in scored.items()})
            table, per_clip = result_tables(run.task, scored, run_id=run.run_id, method=method, task=run.task.name,
                                            seed=seed, device=device, dataset=str(run.data),
                                            embedding_key=cache.manifest["key"], embedder=run.embedded_by)
            append_results(run.results, table, per_clip)
            rows.append(table)
    return rows


def reusable(run: Run) -> pd.DataFrame:
    """The stored rows of the same task, data and embedder, read once per run (none with --rescore)."""
    if run.config.rescore:
        return pd.DataFrame(columns=RESULT_COLUMNS)
    stored = stored_rows(run.results)
    return stored[(stored.task == run.task.name) & (stored.embedder == run.embedded_by) & (stored.dataset == str(run.data))]


def stored_for(stored: pd.DataFrame, run: Run, seed: int, key: str, methods: list) -> tuple[pd.DataFrame, list]:
    """(the rows of `reusable` one seed can reuse, the methods still to score): a method whose rows for the same
    embedding are stored is not scored again."""
    stored = stored[(stored.seed.astype(int) == seed) & (stored.embedding_key == key)]
    reused = [label(n, o) for n, o in methods if label(n, o) in set(stored.method)]
    if reused:
        print(f"seed {seed}: {', '.join(reused)} reused from {run.results}/results.csv (same embedding; "
              "--rescore scores again)")
    return stored[stored.method.isin(reused)][RESULT_COLUMNS], [(n, o) for n, o in methods if label(n, o) not in reused]


def run(config: RunConfig) -> pd.DataFrame:
    """The whole benchmark; returns the result rows of this run (new and reused).

    One embedding model per training seed, every scorer on each. Each (seed, method)'s rows and per-clip
    scores are appended as soon as it finishes, so a scorer that crashes loses only its own.
    Under torchrun all ranks train and embed; rank 0 alone scores and writes (the others return no rows).
    """
    timer, run_plan = StageTimer(), plan(config)
    init_from_env(run_plan.device)
    with timer("data"):
        data, task, table = load_data(config)
    with timer("embeddings"):
        caches, channel, embedded_by = embed(run_plan, config, table)
    main = is_main()
    shutdown()  # the ranks' shared work ends here: rank 0 scores alone, and its locks need no barriers
    if not main:
        return pd.DataFrame(columns=RESULT_COLUMNS)
    this = Run(config, run_plan, task, data, embedded_by, channel)
    this.record(caches)
    first = caches[run_plan.seeds[0]]
    methods = applicable_methods(run_plan.specs, run_plan.embedder, first.logits.shape[1] > 0)
    rows, clip_scores, failed, stored = [], {}, {}, reusable(this)
    for seed, cache in caches.items():
        reused, todo = stored_for(stored, this, seed, cache.manifest["key"], methods)
        rows += ([reused] if len(reused) else []) + score_seed(this, seed, cache, todo, timer, failed, clip_scores)
    with timer("rendering"):
        from leaderboard.layout_of import layout_of
        from leaderboard.render import render
        layout_of(task).plot(clip_scores, first, Path(config.leaderboard).parent / "plots", embedded_by)
        this.record(caches, stage_seconds=timer.seconds, failed=failed)  # before rendering: its header shows them
        if config.render:
            render(Path(config.results), Path(config.leaderboard))
    print(timer.line())
    if failed:
        raise ScorerError(f"{len(failed)} of {len(methods)} methods failed ({'; '.join(failed.values())}); the "
                          f"others' rows are in {config.results}/results.csv and on the leaderboard")
    return pd.concat(rows, ignore_index=True)


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
