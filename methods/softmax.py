import numpy as np
from scipy.special import softmax

from methods.base import Bundle, Scorer
from methods.registry import register


@register
class SoftmaxScorer(Scorer):
    """1 - softmax probability of the clip's own machine ID (the classifier's own score)."""

    name = "softmax"

    def __init__(self, device="cpu"):
        super().__init__(device)

    def fit(self, train: Bundle):
        return self

    def score(self, test: Bundle) -> np.ndarray:
        return 1.0 - softmax(test.logits.astype(np.float64), axis=1)[np.arange(len(test.logits)), test.class_index]
