"""Option values of the command line that need parsing: `--set FIELD=VALUE` and `--seeds 0,1,2`."""
from __future__ import annotations

from pathlib import Path

from core.errors import UsageError


def overrides(pairs: list[str]) -> dict:
    """`--set head=cosface --set integrated=False` -> TrainConfig field overrides."""
    from dataclasses import fields

    from embeddings.config import TrainConfig
    from methods.registry import literal
    known = {f.name for f in fields(TrainConfig)}
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or key not in known:
            raise UsageError(f"--set {pair!r}: expected FIELD=VALUE with FIELD one of {', '.join(sorted(known))}")
        out[key] = literal(value)
    return out


def seeds(text: str) -> tuple[int, ...]:
    """`--seeds 0,1,2` -> (0, 1, 2)."""
    try:
        parsed = tuple(int(s) for s in text.split(","))
    except ValueError:
        raise UsageError(f"--seeds {text!r}: expected comma-separated integers, e.g. --seeds 0,1,2") from None
    if len(set(parsed)) != len(parsed):
        raise UsageError(f"--seeds {text!r}: a seed is repeated; list each once")
    return parsed


PRESETS = ["tiny", "small", "full"]  # `--preset` of every command: generated data size and its training config


def task_arguments(parser) -> None:
    parser.add_argument("--task", default=None, help="a task year, `bench tasks` (default: the year the file names "
                        "fit; for generated data, dcase2020)")
    parser.add_argument("--ground-truth", type=Path, default=None, help="evaluation ground truth: eval_data_list_20XX.csv "
                        "or the folder holding the evaluator's ground_truth_data/ (default: found in the data root)")
    parser.add_argument("--aux-label", default=None, choices=["section", "attribute"], help="what the classifier learns: "
                        "sections (machine IDs in 2020) or section x attribute combinations (default: the year's)")
    parser.add_argument("--supplemental", action="store_true", help="train on 2025's supplemental clips too")
    parser.add_argument("--channel", default=None, choices=["left", "right", "mean", "stack", "near", "far"],
                        help="which microphone of two-microphone clips (2026: near = left, far = right; stack = both, "
                        "for embedders that take them); default: the year's (2026: left, as the official baseline)")
