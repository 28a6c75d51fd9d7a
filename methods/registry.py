"""Scorers by name: built-ins register with `@register`; third-party ones come from an entry-point group."""
from __future__ import annotations

import ast
import re
import importlib
import importlib.util
from importlib.metadata import entry_points

from methods.base import Scorer

ENTRY_POINT_GROUP = "asd_bench.scorers"
BUILTINS = ("methods.softmax", "methods.centroid", "methods.gmm", "methods.knn", "methods.lof", "methods.reference")
_REGISTRY: dict[str, type[Scorer]] = {}
_loaded = False


def register(cls: type[Scorer]) -> type[Scorer]:
    if not cls.name:
        raise ValueError(f"{cls.__name__} needs a `name`")
    if _REGISTRY.get(cls.name, cls) is not cls:
        raise ValueError(f"scorer name {cls.name!r} is already taken by {_REGISTRY[cls.name].__module__}")
    _REGISTRY[cls.name] = cls
    return cls


def _load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module in BUILTINS:
        importlib.import_module(module)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        register(ep.load())


def available() -> dict[str, type[Scorer]]:
    _load()
    return dict(sorted(_REGISTRY.items()))


def missing_requirements(cls: type[Scorer]) -> list[str]:
    return [pkg for pkg in cls.requires if importlib.util.find_spec(pkg) is None]


class MethodError(ValueError):
    """A bad `--methods` value; the message lists what is accepted."""


def literal(text: str):
    """A command-line value as a Python literal where it is one (`4`, `False`, `'diag'`), else the string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def parse_methods(spec: str) -> list[tuple[str, dict]]:
    """`"gmm:n_components=4,covariance=diag,knn:k=5"` -> [("gmm", {...}), ("knn", {"k": 5})].

    Commas separate methods; a comma-separated `key=value` with no method name continues the previous method.
    """
    out: list[tuple[str, dict]] = []
    for token in filter(None, (t.strip() for t in spec.split(","))):
        if ":" not in token and "=" in token:
            if not out:
                raise MethodError(f"option {token!r} comes before any method name; write e.g. knn:{token}")
            options = [token]
        else:
            name, *options = token.split(":")
            out.append((name, {}))
        for option in options:
            key, sep, value = option.partition("=")
            if not sep:
                raise MethodError(f"option {option!r} of {out[-1][0]} is not key=value")
            out[-1][1][key.strip()] = literal(value.strip())
    return out


def get_scorer(name: str, device: str = "cpu", **options) -> Scorer:
    scorers = available()
    if name not in scorers:
        raise MethodError(f"unknown method {name!r}; known: {', '.join(scorers)} (`bench methods` lists their options)")
    cls = scorers[name]
    bad = set(options) - set(cls.params())
    if bad:
        raise MethodError(f"{name} has no option {', '.join(sorted(bad))}; its options: "
                          + ", ".join(f"{k}={v!r}" for k, v in cls.params().items()))
    missing = missing_requirements(cls)
    if missing:
        raise MethodError(f"{name} needs {', '.join(missing)}, which is not installed (pip install {' '.join(missing)})")
    return cls(device=device, **options)


def label(name: str, options: dict) -> str:
    """The leaderboard name of a configured method: `knn(k=5)`."""
    return name if not options else f"{name}({', '.join(f'{k}={v}' for k, v in sorted(options.items()))})"


def slug(method_label: str) -> str:
    """A file-name-safe form of a method label: `knn(k=5)` -> `knn_k=5`."""
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", method_label).strip("_")
