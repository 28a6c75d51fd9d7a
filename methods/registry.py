"""Scorers by name: built-ins register with `@register`; third-party ones come from the entry-point group
`asd_bench.scorers`. The registry pattern itself is `core.plugins.Registry`, shared with embedders."""
from __future__ import annotations

import re

from core.plugins import PluginError, Registry, label, literal, missing_requirements, parse_spec

MethodError = PluginError  # a bad `--methods` value
SCORERS = Registry("method", "asd_bench.scorers", ("methods.softmax", "methods.centroid", "methods.gmm", "methods.knn",
                                                   "methods.lof", "methods.mse", "methods.sklearn_yardsticks", "methods.kmeans_knn",
                                                   "methods.smote_knn", "methods.mahalanobis", "methods.fusion",
                                                   "methods.block_norm"),
                   "bench methods")
register = SCORERS.register
available = SCORERS.available
get_scorer = SCORERS.get
scorer_factory = SCORERS.factory
__all__ = ["MethodError", "SCORERS", "available", "get_scorer", "label", "literal", "missing_requirements",
           "parse_methods", "register", "scorer_factory", "slug"]


def parse_methods(spec: str) -> list[tuple[str, dict]]:
    """`"gmm:n_components=4,covariance=diag,knn:k=5"` -> [("gmm", {...}), ("knn", {"k": 5})]."""
    try:
        return parse_spec(spec)
    except PluginError as exc:
        raise MethodError(str(exc).replace("before any name", "before any method name")) from None


def slug(method_label: str) -> str:
    """A file-name-safe form of a method label: `knn(k=5)` -> `knn_k=5`."""
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", method_label).strip("_")
