import numpy as np

from embeddings.classifier import softmax_score
from methods.base import Bundle, Scorer
from methods.registry import register


@register
class SoftmaxScorer(Scorer):
    """1 - softmax probability of the clip's own section (machine ID in 2020), summed over its attribute classes."""

    name = "softmax"
    reads = ("logits",)

    def backend(self) -> str:
        return "cpu (scipy)"

    def fit(self, train: Bundle):
        return self

    def score(self, test: Bundle) -> np.ndarray:
        return softmax_score(test.logits, test.first_class, test.n_classes)
