import numpy as np

from embeddings.classifier import softmax_score
from methods.base import Bundle, Scorer
from methods.registry import register


@register
class SoftmaxScorer(Scorer):
    """1 - softmax probability of the clip's own machine ID (the classifier's own score)."""

    name = "softmax"
    reads = ("logits",)

    def fit(self, train: Bundle):
        return self

    def score(self, test: Bundle) -> np.ndarray:
        return softmax_score(test.logits, test.class_index)
