"""`bench methods`, `bench embedders` and `bench tasks`: what the registries hold, as tables."""
from __future__ import annotations

import sys

from tabulate import tabulate


def _plugin_table(registry, first: str, describes: str, extra: dict | None = None) -> str:
    """Name, module, options, whether it can run here (and `extra` columns) of every plugin of a registry."""
    from core.plugins import missing_requirements
    extra = extra or {}
    rows = []
    for name, cls in registry.available().items():
        missing = missing_requirements(cls)
        rows.append([name, cls.__module__, ", ".join(f"{k}={v!r}" for k, v in cls.params().items()),
                     "yes" if not missing else f"no (needs {', '.join(missing)})", *(f(cls) for f in extra.values()),
                     (cls.__doc__ or "").strip().splitlines()[0]])
    return tabulate(rows, headers=[first, "module", "options", "available", *extra, describes], tablefmt="github")


def cmd_methods(args) -> None:
    from methods.registry import SCORERS
    print(_plugin_table(SCORERS, "method", "what it scores"))


def cmd_embedders(args) -> None:
    from embeddings.embedders import EMBEDDERS
    print(_plugin_table(EMBEDDERS, "embedder", "what it embeds",
                        {"model": lambda cls: "per seed" if cls.trains else "frozen"}))


def cmd_tasks(args) -> None:
    from dcase.tasks import TASKS
    rows = []
    for name, cls in TASKS.available().items():
        task = cls()
        about = (cls.__doc__ or sys.modules[cls.__module__].__doc__ or "-").strip().splitlines()[0]
        rows.append([name, cls.__module__, ", ".join(task.dev_types), ", ".join(t for t in task.eval_types if t not in task.dev_types)
                     or "(same)", task.aux_label, about])
    print(tabulate(rows, headers=["task", "module", "development types", "evaluation-only types", "classifier target",
                                  "what it is"], tablefmt="github"))
