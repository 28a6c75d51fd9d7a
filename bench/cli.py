"""`bench`: the command line. Each sub-command is a thin wrapper over a library function."""
from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from tabulate import tabulate

from bench.data_commands import add_parsers as add_data_parsers
from bench.isolation import DEFAULT_TIMEOUT, ISOLATION
from bench.list_commands import cmd_embedders, cmd_methods, cmd_tasks
from bench.options import PRESETS, overrides, seeds, task_arguments
from bench.sweep_driver import add_parser as sweep_parser
from core.errors import DataError, ScorerError, SweepError, UsageError


def cmd_evaluate(args) -> None:
    import json

    from core.atomic import write_text
    from dcase import submission
    from dcase.reader import load_clips
    if args.data is not None:
        task, table = load_clips(args.data, args.task, ground_truth_path=args.ground_truth, check_audio=False)
    else:
        task = _task_named(args.task, "with no --data")
        table = submission.clip_table(task, args.folder, truth_path=args.ground_truth)
    result = submission.evaluate(task, args.folder, table)
    rows = [[t, *(100 * v for v in figures.values())] for t, figures in result["per_type"].items()]
    print(tabulate(rows, headers=["type", *next(iter(result["per_type"].values()))], floatfmt=".2f", tablefmt="github"))
    for key, value in result.items():
        if isinstance(value, float):
            print(f"{key}: {100 * value:.2f} %")
    if args.json:
        write_text(args.json, json.dumps(result, indent=1, default=float))
        print(f"wrote {args.json}")


def _task_named(name: str | None, why: str):
    from dcase.tasks import get_task
    if name is None:
        raise UsageError(f"{why}, name the year with --task (`bench tasks` lists them)")
    return get_task(name)


def cmd_rank(args) -> None:
    from leaderboard.ranking import rank, write
    task = _task_named(args.task, "bench rank")
    systems = rank(task, args.dirs, args.data, args.ground_truth, args.split, args.resamples,
                   progress=lambda m: print(m, file=sys.stderr))
    print(write(task, systems, args.out, args.split, args.resamples))
    print(f"wrote {args.out}/RANKING.md, RANKING.html, ranking.json")


def _train_config(args):
    from embeddings.config import preset
    return preset(args.preset, **overrides(args.set))


def _data_table(args):
    from bench.runner import RunConfig, load_data
    return load_data(RunConfig(data=args.data, preset=args.preset, cache=args.cache, skip_bad=args.skip_bad, task=args.task,
                               ground_truth=args.ground_truth, aux_label=args.aux_label, supplemental=args.supplemental,
                               channel=args.channel))[2]


def _device(args) -> str:
    """The resolved device; under torchrun, also joins the process group."""
    from bench.device import resolve_device
    from embeddings.distributed import init_from_env
    device = resolve_device(args.device)
    init_from_env(device)
    return device


def cmd_train(args) -> None:
    from core.torchrun import is_main
    from embeddings.features import load_features
    from embeddings.pipeline import run_dir
    from embeddings.train import train
    device = _device(args)
    features = load_features(_data_table(args), args.cache, device=device)
    config = _train_config(args)
    out = train(config, features, run_dir(args.cache, features, config), device)
    if is_main():
        print(out)


def cmd_embed(args) -> None:
    from core.torchrun import is_main
    from embeddings.pipeline import build
    device = _device(args)
    cache = build(_data_table(args), _train_config(args), args.cache, device)
    if not is_main():
        return
    print(f"{cache.path}: {len(cache.clips)} clips, embeddings {cache.embeddings.shape}, logits {cache.logits.shape}")
    if args.tsne:
        from leaderboard.plots import tsne
        tsne(cache, args.tsne)
        print(f"wrote {args.tsne}")


def cmd_run(args) -> None:
    from bench.runner import RunConfig, run
    from methods.registry import MethodError
    try:
        rows = run(RunConfig(data=args.data, preset=args.preset, methods=args.methods, device=args.device,
                             results=args.results, leaderboard=args.leaderboard, render=not args.no_render,
                             cache=args.cache, skip_bad=args.skip_bad,
                             seeds=seeds(args.seeds), embedder=args.embedder, task=args.task, ground_truth=args.ground_truth,
                             aux_label=args.aux_label, supplemental=args.supplemental, channel=args.channel,
                             overrides=overrides(args.set), isolate=args.isolate, timeout=args.timeout,
                             rescore=args.rescore))
    except MethodError as exc:
        raise UsageError(str(exc)) from None
    if rows.empty:  # a rank other than 0 under torchrun
        return
    _print_summary(rows)
    print(f"leaderboard: {args.leaderboard}" + (" (not re-rendered: --no-render)" if args.no_render else ""))


def cmd_runs(args) -> None:
    """Each line of the file is one `bench run`'s arguments; all of them run in this one process (no interpreter
    start-up per run), every line parsed before the first trains, and the leaderboard is rendered once, by the last."""
    path = args.file
    if not path.is_file():
        raise UsageError(f"{path}: no such file; write one `bench run`'s arguments per line")
    lines = [(i, shlex.split(text, comments=True)) for i, text in enumerate(path.read_text().splitlines(), 1)]
    lines = [(i, words) for i, words in lines if words]
    if not lines:
        raise UsageError(f"{path}: no runs in it; write one `bench run`'s arguments per line")
    parser, runs = build_parser(), []
    for i, words in lines:
        try:
            runs.append(parser.parse_args(["run", *words]))
        except SystemExit:
            raise UsageError(f"{path}:{i}: not `bench run` arguments: {' '.join(words)}") from None
    for number, ((i, words), run_args) in enumerate(zip(lines, runs), 1):
        run_args.no_render = run_args.no_render or number < len(runs)
        print(f"[{number}/{len(runs)}] bench run {' '.join(words)}  ({path}:{i})", flush=True)
        cmd_run(run_args)


def _print_summary(rows) -> None:
    """Per method and split, the year's official score and its summary figures (means over seeds), in %."""
    from dcase.tasks import get_task
    scoring = get_task(rows.task.iloc[0]).scoring
    table = [[method, split, *(100 * v for v in scoring.summary_of([r for _, r in g.groupby("seed")]).values())]
             for (method, split), g in rows.groupby(["method", "split"])]
    table.sort(key=lambda r: (r[1], -r[2]))
    print(f"{rows.task.iloc[0]}, in %:")
    print(tabulate(table, headers=["method", "split", "official score", *scoring.summary_names], floatfmt=".2f",
                   tablefmt="github"))


def cmd_leaderboard(args) -> None:
    from leaderboard.render import render
    if not (args.results / "results.csv").is_file():
        raise UsageError(f"{args.results}/results.csv not found; run `bench run` first or pass --results DIR")
    render(args.results, args.leaderboard)
    print(f"wrote {args.leaderboard}")


def cmd_speed(args) -> None:
    from bench.speed import run_speed
    _, _, text = run_speed(quick=args.quick, dims=args.dims, devices=args.devices, repeats=args.repeats,
                           json_path=args.json, out=args.out, argv=" ".join(sys.argv[2:]), embeddings=args.embeddings,
                           progress=lambda m: print(m, file=sys.stderr))
    print(text)


def _scoring_parsers(sub) -> None:
    """`bench evaluate|rank|tasks`: official scores of submission files."""
    evaluate = sub.add_parser("evaluate", help="the official scores of a folder of DCASE submission files, as that "
                              "year's evaluator computes them")
    evaluate.add_argument("folder", type=Path, help="one method's dev/ or eval/ folder of anomaly_score_*.csv (and "
                          "decision_result_*.csv) files")
    evaluate.add_argument("--data", type=Path, default=None, help="the data root whose labels to use (no audio is "
                          "read); without it, --ground-truth labels evaluation files, and development clip names "
                          "label themselves")
    evaluate.add_argument("--task", default=None, help="a task year, `bench tasks` (default: the year the names fit)")
    evaluate.add_argument("--ground-truth", type=Path, default=None, help="eval_data_list_20XX.csv or the evaluator's "
                          "ground-truth folder (default: found in the data root)")
    evaluate.add_argument("--json", type=Path, default=None, help='also write {"official_score": ..., "per_type": ...} '
                          "(fractions) here")
    evaluate.set_defaults(func=cmd_evaluate)
    ranking = sub.add_parser("rank", help="rank systems' submission folders with official scores, CI95, ties with "
                             "the leader and a critical-difference picture")
    ranking.add_argument("dirs", type=Path, nargs="+", help="system folders, or trees of them (teams/<team>/<system>/, "
                         "results/<task>/)")
    ranking.add_argument("--task", required=True, help="a task year (`bench tasks`)")
    ranking.add_argument("--ground-truth", type=Path, default=None, help="eval_data_list_20XX.csv or the evaluator's "
                         "ground-truth folder")
    ranking.add_argument("--data", type=Path, default=None, help="a data root whose labels to use instead (no audio read)")
    ranking.add_argument("--split", default="eval", choices=["dev", "eval"], help="which <split>/ folder of a harness "
                         "results tree, and which clips of the data root")
    ranking.add_argument("--resamples", type=int, default=1000)
    ranking.add_argument("--out", type=Path, default=Path("ranking"))
    ranking.set_defaults(func=cmd_rank)
    tasks = sub.add_parser("tasks", help="list the DCASE task years")
    tasks.set_defaults(func=cmd_tasks)


def _common_parser() -> argparse.ArgumentParser:
    """The options every command that reads a data set takes."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data", type=Path, default=None, help="DCASE-format data root (default: the generated set)")
    common.add_argument("--preset", default="small", choices=PRESETS, help="size of the generated data set and the "
                        "training config for it: tiny (tests), small, full (the real sizes and the seed paper's system)")
    common.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    common.add_argument("--cache", type=Path, default=Path(".cache"), help="features, models and embeddings live here")
    common.add_argument("--skip-bad", action="store_true", help="leave out bad WAV files with a warning instead of failing")
    task_arguments(common)
    common.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="override a training setting of the preset, e.g. --set head=cosface --set integrated=False")
    return common


def _run_parsers(sub, common) -> None:
    """`bench run|runs|train|embed`: the benchmark and its stages."""
    run = sub.add_parser("run", parents=[common], help="train (or reuse) the embedding, score with each method, write the leaderboard")
    run.add_argument("--methods", default="softmax,centroid,gmm,knn,lof",
                     help="comma-separated scorers with options, e.g. gmm:n_components=4,knn:k=5")
    run.add_argument("--seeds", default="0", help="training seeds, e.g. 0,1,2: one embedding model each, every scorer "
                     "on each; the leaderboard shows mean ± std over them")
    run.add_argument("--embedder", default="arcface", metavar="NAME[:opt=value...]",
                     help="what embeds the clips (`bench embedders`): arcface (trained here), imported:path=FILE, "
                          "hear:module=NAME")
    run.add_argument("--results", type=Path, default=Path("results"))
    run.add_argument("--leaderboard", type=Path, default=Path("leaderboard/LEADERBOARD.md"))
    run.add_argument("--no-render", action="store_true", help="store the rows and draw the plots but leave the leaderboard "
                     "as it is, for a later run or `bench leaderboard` to render (make run renders once, at its end)")
    run.add_argument("--isolate", default="process", choices=ISOLATION, help="run each scorer (per seed) in a child "
                     "process, so one that hangs or runs out of memory fails alone; none: in this process, for a debugger")
    run.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                     help="seconds a scorer may take per seed (fit and score, both splits) before it fails as timed out")
    run.add_argument("--rescore", action="store_true", help="score again the methods whose rows for the same "
                     "embedding are stored (by default they are reused, and only new methods are scored)")
    run.set_defaults(func=cmd_run)
    runs = sub.add_parser("runs", help="several `bench run`s in one process, one line of arguments each (make run: "
                          "scripts/first-run.txt); the leaderboard is rendered once, at the end")
    runs.add_argument("file", type=Path)
    runs.set_defaults(func=cmd_runs)

    train = sub.add_parser("train", parents=[common], help="train the ID classifier (resumes an interrupted run)")
    train.set_defaults(func=cmd_train)
    embed = sub.add_parser("embed", parents=[common], help="train if needed, then cache embeddings and logits for every clip")
    embed.add_argument("--tsne", type=Path, default=None, help="also write a t-SNE PNG of the test embeddings here")
    embed.set_defaults(func=cmd_embed)


def _listing_parsers(sub) -> None:
    """`bench methods|embedders|leaderboard|speed`."""
    sub.add_parser("methods", help="list the scorers and their options").set_defaults(func=cmd_methods)
    sub.add_parser("embedders", help="list the embedders and their options").set_defaults(func=cmd_embedders)
    board = sub.add_parser("leaderboard", help="re-render the leaderboard from stored results")
    board.add_argument("--results", type=Path, default=Path("results"))
    board.add_argument("--leaderboard", type=Path, default=Path("leaderboard/LEADERBOARD.md"))
    board.set_defaults(func=cmd_leaderboard)

    speed = sub.add_parser("speed", help="time every scorer against scikit-learn, and log-mel/training throughput")
    speed.add_argument("--quick", action="store_true", help="reduced sizes, under a minute (for CI)")
    speed.add_argument("--dims", type=int, nargs="+", default=None, help="embedding sizes (default 2048 512)")
    speed.add_argument("--devices", nargs="+", choices=["cpu", "cuda"], default=None)
    speed.add_argument("--repeats", type=int, default=3)
    speed.add_argument("--embeddings", type=Path, default=None, metavar="CACHE",
                       help="time the scorers on a real embedding cache (a folder under .cache/embeddings/) "
                            "instead of synthetic DCASE-scale embeddings")
    speed.add_argument("--json", type=Path, default=None, help="also write the rows as JSON here")
    speed.add_argument("--out", type=Path, default=Path("leaderboard/SPEED.md"))
    speed.set_defaults(func=cmd_speed)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    data = sub.add_parser("data", help="generate or check a DCASE-format data set").add_subparsers(dest="data_command", required=True)
    add_data_parsers(data)
    _scoring_parsers(sub)
    _run_parsers(sub, _common_parser())
    sweep_parser(sub)
    _listing_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> None:
    from embeddings.distributed import shutdown
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (DataError, UsageError, ScorerError, SweepError, FileExistsError) as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    finally:
        shutdown()


if __name__ == "__main__":
    main()
