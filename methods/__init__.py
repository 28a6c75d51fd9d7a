"""Anomaly scorers: fit on one section's normal embeddings (a machine ID in 2020), score clips, higher = more anomalous.

Importing this package imports no optional backend; built-ins register on first use of the registry.
"""
from methods.base import Bundle, Scorer
from methods.registry import available, get_scorer, parse_methods, register

__all__ = ["Bundle", "Scorer", "available", "get_scorer", "parse_methods", "register"]
