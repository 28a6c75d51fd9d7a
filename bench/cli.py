"""`bench`: the command line. Each sub-command is a thin wrapper over a library function."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from tabulate import tabulate

from bench.dcase import DataError


class UsageError(ValueError):
    """Bad command-line input; the message says what to type instead."""


def cmd_data_generate(args) -> None:
    from bench.synth import generate
    start = time.perf_counter()
    out = generate(args.out, args.preset, args.seed, workers=args.workers)
    size = sum(p.stat().st_size for p in Path(out).rglob("*.wav"))
    print(f"wrote {out} ({size / 2**20:.1f} MiB) in {time.perf_counter() - start:.1f} s")


def cmd_data_check(args) -> None:
    import warnings
    from bench.dcase import load_dataset, summarize
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = load_dataset(args.dir, skip_bad=True)
    print(tabulate(summarize(table).reset_index(), headers="keys", tablefmt="github", showindex=False, disable_numparse=True))
    print(f"{table.class_index.max() + 1} classes (machine type, ID) in training data")
    for w in caught:
        print(f"problem: {w.message}")
    if caught:
        raise SystemExit(1)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    data = sub.add_parser("data", help="generate or check a DCASE-format data set").add_subparsers(dest="data_command", required=True)
    gen = data.add_parser("generate", help="write the generated DCASE 2020 Task 2 stand-in")
    gen.add_argument("--preset", default="small", choices=["tiny", "small", "full"])
    gen.add_argument("--out", required=True, type=Path)
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--workers", type=int, default=None)
    gen.set_defaults(func=cmd_data_generate)
    check = data.add_parser("check", help="print what the loader finds in a data root, and the problems")
    check.add_argument("dir", type=Path)
    check.set_defaults(func=cmd_data_check)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (DataError, UsageError, FileExistsError) as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
