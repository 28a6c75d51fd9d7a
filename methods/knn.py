import numpy as np

from methods.base import Bundle, Scorer
from methods.neighbors import flat_index
from methods.registry import register


@register
class KNNScorer(Scorer):
    """Distance to the k nearest normal training embeddings: their mean, or the k-th (`aggregate="kth"`)."""

    name = "knn"
    reads = ("embeddings",)
    checks_finite = ("embeddings",)  # by the index, from its row norms

    def __init__(self, k=5, metric="cosine", aggregate="mean", device="cpu"):
        super().__init__(device)
        if aggregate not in ("mean", "kth"):
            raise ValueError(f"aggregate must be mean or kth, not {aggregate!r}")
        self.k, self.metric, self.aggregate = k, metric, aggregate

    def min_train_clips(self) -> int:
        return self.k

    def fit(self, train: Bundle):
        self.index_ = flat_index(train.embeddings, self.metric, self.device, name=f"{train.name}: embeddings")
        return self

    def score(self, test: Bundle) -> np.ndarray:
        dist, _ = self.index_.search(test.embeddings, self.k, f"{test.name}: embeddings")
        return dist.mean(1) if self.aggregate == "mean" else dist[:, -1]
