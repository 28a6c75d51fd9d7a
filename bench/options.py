"""Option values of the command line that need parsing: `--set FIELD=VALUE` and `--seeds 0,1,2`."""
from __future__ import annotations

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
