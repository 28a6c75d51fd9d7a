"""`bench sweep`: a grid of runs (task years x embedders x seeds x scorers) as steps with content-addressed keys.

A step is done when its record says so; a rerun runs only what is missing. Kinds:
- embed (task x embedder x seed): train if the embedder trains, then cache the embeddings; one GPU job each.
- score (task x embedder x method, every seed): `bench run` of one method on the cached embeddings, into a part
  folder of its own, so no two jobs ever append to one file.
- render (once, in the driver): the done parts, in the spec's order, merged into one results store and drawn.
Data is prepared (a generated set made, real clips read and checked) by the driver, from a folder every node reads.

A key hashes what the step's output depends on: the data's fingerprint, the step's settings and the source of the
plugin it runs (edit a scorer's file and its steps run again; an unrelated edit reruns nothing)."""
from __future__ import annotations

import contextlib
import hashlib
import inspect
import json
import os
import shutil
import sys
import time
import tomllib
import traceback
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import pandas as pd

from core import atomic
from core.errors import NotApplicable, UsageError
from core.hashing import file_sha256

STATES = ("done", "failed", "pending")


@dataclass
class TaskSpec:
    name: str
    data: str | None = None          # a DCASE-format root; None: the task's generated set at the sweep's preset
    ground_truth: str | None = None


@dataclass
class SweepSpec:
    tasks: list[TaskSpec]
    embedders: list[str] = field(default_factory=lambda: ["arcface"])
    seeds: list[int] = field(default_factory=lambda: [0])
    methods: list[str] = field(default_factory=lambda: ["centroid", "knn"])
    preset: str = "small"
    cache: str = ".cache"
    device: str = "auto"
    overrides: dict = field(default_factory=dict)  # TrainConfig fields, as `bench run --set`

    @classmethod
    def read(cls, path: Path) -> SweepSpec:
        if not path.is_file():
            raise UsageError(f"{path}: no such sweep file; write a TOML file with tasks, embedders, seeds, methods")
        try:
            raw = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise UsageError(f"{path}: not TOML ({exc})") from None
        return cls.from_dict(raw, str(path))

    @classmethod
    def from_dict(cls, raw: dict, where: str) -> SweepSpec:
        known = {f.name for f in fields(cls)}
        if set(raw) - known:
            raise UsageError(f"{where}: unknown key {', '.join(sorted(set(raw) - known))}; known: {', '.join(sorted(known))}")
        if not raw.get("tasks"):
            raise UsageError(f"{where}: no tasks; e.g. tasks = [\"dcase2020\"] or [[tasks]] with name and data")
        tasks = [TaskSpec(t) if isinstance(t, str) else TaskSpec(**t) for t in raw["tasks"]]
        spec = cls(**{**raw, "tasks": tasks})
        if not (spec.embedders and spec.seeds and spec.methods):
            raise UsageError(f"{where}: embedders, seeds and methods each need at least one entry")
        return spec


@dataclass(frozen=True)
class Step:
    kind: str                 # embed | score
    task: str
    data: str                 # the prepared data root
    embedder: str
    seeds: tuple[int, ...]    # embed: its one seed; score: every seed the embedder trains
    method: str | None
    key: str
    needs: tuple[str, ...] = ()  # keys of the embed steps a score step reads

    def label(self) -> str:
        what = f"seed {self.seeds[0]}" if self.kind == "embed" else self.method
        return f"{self.kind} {self.task} {self.embedder} {what}"


def _source_sha(cls) -> str:
    return file_sha256(inspect.getsourcefile(cls))[:16]


def _key(**parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def plan(spec: SweepSpec) -> list[Step]:
    """Every step of the grid in the spec's order, embed steps first; prepares each task's data on the way."""
    from bench.runner import RunConfig, load_data, make_embedder
    from embeddings.features import fingerprint
    from methods.registry import SCORERS, parse_methods
    embeds, scores = [], []
    embedders = {name: make_embedder(name, spec.preset, "cpu") for name in spec.embedders}
    for embedder in embedders.values():  # a missing checkpoint fails the plan, not a cluster job an hour later
        embedder.check()
    for task in spec.tasks:
        data, year, table = load_data(RunConfig(data=task.data and Path(task.data), preset=spec.preset, task=task.name,
                                                cache=Path(spec.cache), ground_truth=task.ground_truth and Path(task.ground_truth)))
        data_key = fingerprint(table)
        for name, embedder in embedders.items():
            seeds = tuple(spec.seeds) if embedder.trains else tuple(spec.seeds[:1])
            mine = [Step("embed", year.name, str(data), name, (seed,), None,
                         _key(kind="embed", data=data_key, embedder=name, preset=spec.preset, seed=seed,
                              overrides=spec.overrides, code=_source_sha(type(embedder))))
                    for seed in seeds]
            embeds += mine
            for method in spec.methods:
                (scorer, _), = parse_methods(method)
                needs = tuple(s.key for s in mine)
                scores.append(Step("score", year.name, str(data), name, seeds, method,
                                   _key(kind="score", needs=needs, method=method,
                                        code=_source_sha(SCORERS.available()[scorer])), needs))
    return embeds + scores


class SweepFolder:
    """Where a sweep keeps its state: `steps/<key>.json` (one record per finished step), `parts/<key>/` (a score
    step's results), `logs/`, and the merged `results/` and `LEADERBOARD.md`."""

    def __init__(self, root: Path):
        self.root = Path(root)
        for sub in ("steps", "parts", "logs"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    def record(self, key: str) -> dict | None:
        path = self.root / "steps" / f"{key}.json"
        return json.loads(path.read_text()) if path.is_file() else None

    def state(self, key: str) -> str:
        record = self.record(key)
        return record["state"] if record else "pending"

    def write(self, step: Step, state: str, **extra) -> None:
        atomic.write_text(self.root / "steps" / f"{step.key}.json",
                          json.dumps({"state": state, "step": asdict(step), "label": step.label(), **extra}, indent=2))

    def log(self, step: Step) -> Path:
        return self.root / "logs" / f"{step.kind}-{step.key}.log"

    def part(self, step: Step) -> Path:
        return self.root / "parts" / step.key


@contextlib.contextmanager
def _output_to(path: Path):
    """This process's stdout and stderr, file descriptors included (children write there too), into `path`."""
    sys.stdout.flush(), sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with open(path, "a") as log:
        os.dup2(log.fileno(), 1), os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush(), sys.stderr.flush()
            os.dup2(saved[0], 1), os.dup2(saved[1], 2)
            os.close(saved[0]), os.close(saved[1])


def run_step(step: Step, spec: SweepSpec, root: Path) -> str:
    """Run one step unless its record says done; record done or failed (with the reason and log). Returns its state."""
    folder = SweepFolder(root)
    if folder.state(step.key) == "done":
        return "done"
    start, log = time.perf_counter(), folder.log(step)
    with _output_to(log):
        print(f"== {step.label()} (key {step.key}) on {os.uname().nodename}, {time.strftime('%Y-%m-%d %H:%M:%S')}",
              flush=True)
        try:
            missing = [k for k in step.needs if folder.state(k) != "done"]
            if missing:
                raise RuntimeError(f"its embedding step {missing[0]} is not done (see {folder.root}/logs/embed-{missing[0]}.log)")
            note = _embed(step, spec) if step.kind == "embed" else _score(step, spec, folder.part(step))
        except Exception as exc:  # recorded, never raised: the other steps go on
            traceback.print_exc()
            folder.write(step, "failed", reason=f"{type(exc).__name__}: {exc}".splitlines()[0], log=str(log),
                         seconds=time.perf_counter() - start)
            return "failed"
    folder.write(step, "done", note=note, log=str(log), seconds=time.perf_counter() - start)
    return "done"


def run_steps(steps: list[Step], spec: SweepSpec, root: Path) -> list[str]:
    """Several steps one after another: one job's worth."""
    return [run_step(step, spec, root) for step in steps]


def _run_config(step: Step, spec: SweepSpec, **extra):
    from bench.runner import RunConfig
    return RunConfig(data=Path(step.data), preset=spec.preset, device=spec.device, cache=Path(spec.cache),
                     seeds=step.seeds, embedder=step.embedder, task=step.task, overrides=dict(spec.overrides), **extra)


def _embed(step: Step, spec: SweepSpec) -> str:
    from bench.device import resolve_device
    from bench.runner import load_data, make_embedder
    config = _run_config(step, spec)
    device = resolve_device(spec.device)
    cache = make_embedder(step.embedder, spec.preset, device).build(load_data(config)[2], config.cache, step.seeds[0],
                                                                    config.overrides)
    return f"embedding cache {cache.path}"


def _score(step: Step, spec: SweepSpec, part: Path) -> str:
    from bench.runner import run
    shutil.rmtree(part, ignore_errors=True)  # what an interrupted try left is never merged, nor appended to
    try:
        rows = run(_run_config(step, spec, methods=step.method, results=part, leaderboard=part / "LEADERBOARD.md",
                               render=False))
    except NotApplicable as exc:
        return f"not applicable: {exc}"
    return f"{len(rows)} result rows in {part}"


def merge(folder: SweepFolder, steps: list[Step]) -> Path | None:
    """The done score steps' parts, in plan order, as one results store (and one plots folder); None when no part
    has rows. Written beside, then renamed into place."""
    parts = [folder.part(s) for s in steps if s.kind == "score" and folder.state(s.key) == "done"]
    parts = [p for p in parts if (p / "results.csv").is_file()]
    if not parts:
        return None
    out = folder.root / "results"
    with atomic.atomic_folder(out) as tmp:
        for part in parts:
            shutil.copytree(part, tmp, dirs_exist_ok=True, ignore=shutil.ignore_patterns(
                "results.csv*", "scores.parquet*", "LEADERBOARD.*", "plots"))
        pd.concat([pd.read_csv(p / "results.csv") for p in parts], ignore_index=True).to_csv(tmp / "results.csv", index=False)
        scores = [p / "scores.parquet" for p in parts if (p / "scores.parquet").is_file()]
        if scores:
            pd.concat([pd.read_parquet(s) for s in scores], ignore_index=True).to_parquet(tmp / "scores.parquet", index=False)
    plots = folder.root / "plots"
    for part in parts:
        if (part / "plots").is_dir():
            shutil.copytree(part / "plots", plots, dirs_exist_ok=True)
    return out


def render(folder: SweepFolder, steps: list[Step]) -> Path | None:
    """Merge and draw the leaderboard, unless the done steps are those it was last drawn from."""
    from leaderboard.render import render as draw
    done = [s.key for s in steps if s.kind == "score" and folder.state(s.key) == "done"]
    board, stamp = folder.root / "LEADERBOARD.md", folder.root / "rendered.json"
    if board.is_file() and stamp.is_file() and json.loads(stamp.read_text()) == done:
        return board
    results = merge(folder, steps)
    if results is None:
        return None
    draw(results, board)
    atomic.write_text(stamp, json.dumps(done))
    return board
