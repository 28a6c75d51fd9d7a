import numpy as np

from methods.base import Bundle, Scorer
from methods.neighbors import flat_index
from methods.registry import register


@register
class LOFScorer(Scorer):
    """Local outlier factor in novelty mode (train = normal), computed from k-nearest-neighbour search.

    Same definition as scikit-learn's LocalOutlierFactor(novelty=True): the score is -score_samples.
    """

    name = "lof"
    reads = ("embeddings",)
    checks_finite = ("embeddings",)  # by the index, from its row norms
    searches = True

    def __init__(self, k=5, metric="l2", device="cpu"):
        super().__init__(device)
        self.k, self.metric = k, metric

    def min_train_clips(self) -> int:
        return self.k + 1

    def fit(self, train: Bundle):
        x = train.embeddings
        k = min(self.k, len(x) - 1)
        self.index_ = flat_index(x, self.metric, self.device, name=f"{train.name}: embeddings")
        dist, idx = self.index_.search_self(k + 1)
        # drop each point's match with itself (first column, or wherever a duplicate put it)
        keep = idx != np.arange(len(x))[:, None]
        keep[keep.sum(1) > k, -1] = False  # no self match found among k+1: drop the farthest instead
        dist, idx = dist[keep].reshape(len(x), k), idx[keep].reshape(len(x), k)
        self.k_distance_ = dist[:, -1]
        self.lrd_ = self._lrd(dist, idx)
        self.k_ = k
        return self

    def _lrd(self, dist, idx):
        reach = np.maximum(dist, self.k_distance_[idx])
        return 1.0 / (reach.mean(1) + 1e-10)

    def score(self, test: Bundle) -> np.ndarray:
        dist, idx = self.index_.search(test.embeddings, self.k_, f"{test.name}: embeddings")
        return self.lrd_[idx].mean(1) / self._lrd(dist, idx)
