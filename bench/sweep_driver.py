"""`bench sweep`'s driver: plan the grid, say what is done, hand the missing steps to an executor, render once."""
from __future__ import annotations

import time
from pathlib import Path

from tabulate import tabulate

from bench.executors import LocalExecutor, Progress, SlurmExecutor
from bench.sweep import STATES, Step, SweepFolder, SweepSpec, plan, render
from core.errors import SweepError


def describe(folder: SweepFolder, steps: list[Step], every: bool) -> str:
    """Per kind, the count in each state; with `every`, one line per step too (and a failed one's reason and log)."""
    counts = [[kind, *(sum(folder.state(s.key) == st for s in steps if s.kind == kind) for st in STATES)]
              for kind in ("embed", "score")]
    text = tabulate(counts, headers=["kind", *STATES], tablefmt="github")
    if every:
        rows = [[s.label(), s.key, folder.state(s.key), (folder.record(s.key) or {}).get("reason", "")] for s in steps]
        text = tabulate(rows, headers=["step", "key", "state", "reason"], tablefmt="github") + "\n\n" + text
    return text


def _jobs(steps: list[Step], per_job: int) -> list[list[Step]]:
    return [steps[i:i + per_job] for i in range(0, len(steps), per_job)]


def drive(spec: SweepSpec, root: Path, executor: LocalExecutor | SlurmExecutor, *, dry_run: bool = False,
          status: bool = False, retry_failed: bool = False) -> Path | None:
    """Run what is missing of the sweep and render its leaderboard; returns the leaderboard's path."""
    start, steps_per_job = time.perf_counter(), executor.steps_per_job
    folder, steps = SweepFolder(root), plan(spec)
    wanted = ("pending", "failed") if retry_failed else ("pending",)
    todo = [s for s in steps if folder.state(s.key) in wanted]
    embeds, scores = [s for s in todo if s.kind == "embed"], [s for s in todo if s.kind == "score"]
    waves = [w for w in ([[s] for s in embeds], _jobs(scores, steps_per_job)) if w]  # an embed is a GPU job of its own
    if dry_run or status:
        print(describe(folder, steps, every=dry_run))
        if dry_run:
            print(f"\nto run: {len(embeds)} embed jobs, {len(_jobs(scores, steps_per_job))} score jobs "
                  f"({len(scores)} steps, up to {steps_per_job} a job)" + ("" if retry_failed else "; failed steps "
                  "stay failed without --retry-failed"))
        return None
    for step in todo:
        if folder.state(step.key) == "failed":
            (folder.root / "steps" / f"{step.key}.json").unlink()
    progress = Progress(folder, steps)
    if waves:
        executor.execute(waves, spec, folder, progress)
    board = render(folder, steps)
    failed = [s for s in steps if folder.state(s.key) == "failed"]
    print(f"sweep: {len(steps) - len(failed)} of {len(steps)} steps done ({len(todo)} run now) in "
          f"{time.perf_counter() - start:.1f} s; leaderboard: {board or 'none yet (no score step done)'}")
    if failed:
        rows = [[s.label(), folder.record(s.key)["reason"], folder.record(s.key).get("log", "")] for s in failed]
        print(tabulate(rows, headers=["failed step", "reason", "log"], tablefmt="github"))
        raise SweepError(f"{len(failed)} of {len(steps)} steps failed (table above; logs under {folder.root}/logs); "
                         "fix and rerun with --retry-failed")
    return board


def add_parser(sub) -> None:
    from bench.executors import EXECUTORS
    p = sub.add_parser("sweep", help="a grid of runs (tasks x embedders x seeds x methods) as resumable steps, on this "
                       "machine or on Slurm; reruns run only what is missing")
    p.add_argument("spec", type=Path, nargs="?", default=None, help="a TOML file: tasks, embedders, seeds, methods, "
                   "preset, cache, device, overrides (flags below override its entries)")
    p.add_argument("--tasks", help="comma-separated task years (their generated sets), e.g. dcase2020,dcase2023")
    p.add_argument("--embedders", help="semicolon-separated embedders with options, e.g. 'arcface;ae2020'")
    p.add_argument("--seeds", help="training seeds, e.g. 0,1")
    p.add_argument("--methods", help="scorers as `bench run --methods` takes them; one scoring step each")
    p.add_argument("--preset", choices=["tiny", "small", "full"])
    p.add_argument("--cache", help="the cache folder every job reads and writes (on a shared filesystem for Slurm)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"])
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="override a training setting of the preset for every embed step, as `bench run --set`")
    p.add_argument("--out", type=Path, default=None, help="the sweep's folder (default: sweeps/<spec name>)")
    p.add_argument("--dry-run", action="store_true", help="print every step with its state and the jobs a run would submit")
    p.add_argument("--status", action="store_true", help="print the counts of done, failed and pending steps; submit nothing")
    p.add_argument("--retry-failed", action="store_true", help="run failed steps again (else they stay failed)")
    p.add_argument("--executor", default="local", choices=EXECUTORS)
    p.add_argument("--jobs", type=int, default=1, help="local executor: jobs at once")
    p.add_argument("--steps-per-job", type=int, default=None, help="scoring steps batched into one job (default: "
                   "1 on the local executor, 16 on Slurm)")
    p.add_argument("--slurm-partition", default=None)
    p.add_argument("--gpus-per-job", type=int, default=0)
    p.add_argument("--slurm-time", type=int, default=240, metavar="MINUTES", help="each job's time limit; a job that "
                   "meets it is requeued and resumes")
    p.add_argument("--slurm-mem", type=float, default=None, metavar="GB")
    p.add_argument("--slurm-cpus", type=int, default=1, help="CPUs per job")
    p.add_argument("--slurm-parallelism", type=int, default=64, help="array tasks running at once")
    p.set_defaults(func=cmd_sweep)


def spec_of(args) -> SweepSpec:
    """The spec file's entries, overridden by the flags given."""
    from bench.options import overrides
    from core.errors import UsageError
    from methods.registry import parse_methods
    raw = SweepSpec.read(args.spec) if args.spec else None
    flags = {"tasks": args.tasks and args.tasks.split(","), "embedders": args.embedders and args.embedders.split(";"),
             "seeds": args.seeds and [int(s) for s in args.seeds.split(",")],
             "methods": args.methods and [name + "".join(f":{k}={v}" for k, v in options.items())
                                          for name, options in parse_methods(args.methods)],
             "preset": args.preset, "cache": args.cache, "device": args.device, "overrides": overrides(args.set)}
    flags = {k: v for k, v in flags.items() if v}
    if raw is None and "tasks" not in flags:
        raise UsageError("bench sweep: give a SPEC file or --tasks (e.g. bench sweep --tasks dcase2020 --methods knn)")
    base = {} if raw is None else {k: getattr(raw, k) for k in raw.__dataclass_fields__}
    if "tasks" in flags:
        flags["tasks"] = [{"name": t} for t in flags["tasks"]]
    elif raw is not None:
        base["tasks"] = [vars(t) for t in raw.tasks]
    return SweepSpec.from_dict({**base, **flags}, str(args.spec or "bench sweep"))


def cmd_sweep(args) -> None:
    executor = (LocalExecutor(args.jobs) if args.executor == "local" else
                SlurmExecutor(args.slurm_partition, args.gpus_per_job, args.slurm_time, args.slurm_mem, args.slurm_cpus,
                              args.slurm_parallelism))
    if args.steps_per_job:
        executor.steps_per_job = args.steps_per_job
    root = args.out or Path("sweeps") / (args.spec.stem if args.spec else "sweep")
    drive(spec_of(args), root, executor, dry_run=args.dry_run, status=args.status, retry_failed=args.retry_failed)
