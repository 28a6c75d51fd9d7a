"""One registry pattern for every kind of plugin (scorers, embedders): built-ins register with a decorator,
third-party ones come from an entry-point group, and a name with options builds an instance."""
from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
from functools import partial
from importlib.metadata import entry_points


class PluginError(ValueError):
    """An unknown plugin, option or missing dependency; the message lists what is accepted."""


def literal(text: str):
    """A command-line value as a Python literal where it is one (`4`, `False`, `'diag'`), else the string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def params(cls) -> dict[str, object]:
    """A plugin's options and their defaults, read from `__init__`."""
    sig = inspect.signature(cls.__init__)
    return {n: p.default for n, p in sig.parameters.items()
            if n not in ("self", "device") and p.default is not inspect.Parameter.empty}


def missing_requirements(cls) -> list[str]:
    return [pkg for pkg in getattr(cls, "requires", ()) if importlib.util.find_spec(pkg) is None]


class Registry:
    """Plugins of one kind by name: `kind` names them in messages, `group` is the entry-point group."""

    def __init__(self, kind: str, group: str, builtins: tuple[str, ...], listing: str, device: bool = True):
        self.kind, self.group, self.builtins, self.listing = kind, group, builtins, listing
        self.device = device  # whether plugins of this kind are built for a device
        self.entries: dict[str, type] = {}
        self.loaded = False

    def register(self, cls: type) -> type:
        if not cls.name:
            raise ValueError(f"{cls.__name__} needs a `name`")
        if self.entries.get(cls.name, cls) is not cls:
            raise ValueError(f"{self.kind} name {cls.name!r} is already taken by {self.entries[cls.name].__module__}")
        self.entries[cls.name] = cls
        return cls

    def available(self) -> dict[str, type]:
        if not self.loaded:  # marked only once every import succeeded, so a failed one fails again, not silently
            for module in self.builtins:
                importlib.import_module(module)
            for ep in entry_points(group=self.group):
                try:
                    plugin = ep.load()
                except Exception as exc:
                    raise PluginError(f"{self.kind} plugin {ep.name!r} (entry point {ep.value} in group {self.group}) "
                                      f"failed to import: {type(exc).__name__}: {exc}; fix or uninstall its package") from exc
                self.register(plugin)
            self.loaded = True
        return dict(sorted(self.entries.items()))

    def factory(self, name: str, device: str = "cpu", **options) -> partial:
        """What `get` would build, as a call that pickles: the class travels by reference, so a child process
        builds the very plugin this registry knows (one registered at run time or found on a path included)."""
        known = self.available()
        if name not in known:
            raise PluginError(f"unknown {self.kind} {name!r}; known: {', '.join(known)} (`{self.listing}` lists their options)")
        cls = known[name]
        bad = set(options) - set(params(cls))
        if bad:
            raise PluginError(f"{name} has no option {', '.join(sorted(bad))}; its options: "
                              + ", ".join(f"{k}={v!r}" for k, v in params(cls).items()))
        missing = missing_requirements(cls)
        if missing:
            raise PluginError(f"{name} needs {', '.join(missing)}, which is not installed (pip install {' '.join(missing)})")
        return partial(_build, name, cls, {"device": device, **options} if self.device else options)

    def get(self, name: str, device: str = "cpu", **options):
        return self.factory(name, device, **options)()


def _build(name: str, cls: type, options: dict):
    try:
        return cls(**options)
    except ValueError as exc:  # how a plugin refuses an option value; any other error is a bug and surfaces as itself
        raise PluginError(f"{name}: {exc}") from None


def parse_spec(spec: str) -> list[tuple[str, dict]]:
    """`"gmm:n_components=4,covariance=diag,knn:k=5"` -> [("gmm", {...}), ("knn", {"k": 5})].

    Commas separate plugins; a comma-separated `key=value` with no name continues the previous plugin.
    """
    out: list[tuple[str, dict]] = []
    for token in filter(None, (t.strip() for t in spec.split(","))):
        if ":" not in token and "=" in token:
            if not out:
                raise PluginError(f"option {token!r} comes before any name; write e.g. knn:{token}")
            options = [token]
        else:
            name, *options = token.split(":")
            out.append((name, {}))
        for option in options:
            key, sep, value = option.partition("=")
            if not sep:
                raise PluginError(f"option {option!r} of {out[-1][0]} is not key=value")
            out[-1][1][key.strip()] = literal(value.strip())
    return out


def label(name: str, options: dict) -> str:
    """The leaderboard name of a configured plugin: `knn(k=5)`."""
    return name if not options else f"{name}({', '.join(f'{k}={v}' for k, v in sorted(options.items()))})"


def parse_label(text: str) -> tuple[str, dict]:
    """The inverse of `label`: `knn(k=5)` -> ("knn", {"k": 5})."""
    name, sep, rest = text.partition("(")
    if not sep:
        return text, {}
    pairs = (p.partition("=") for p in rest.rstrip(")").split(", "))
    return name, {k: literal(v) for k, _, v in pairs}
