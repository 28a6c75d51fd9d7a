import numpy as np

from methods.base import Bundle, Scorer
from methods.registry import register


@register
class MSEScorer(Scorer):
    """Mean of the embedding: on the reconstruction-error profile of `ae2020` or `ae2023`, the DCASE baselines' MSE score."""

    name = "mse"
    reads = ("embeddings",)

    def fit(self, train: Bundle):
        return self

    def score(self, test: Bundle) -> np.ndarray:
        return test.embeddings.astype(np.float64).mean(1)
