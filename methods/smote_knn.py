import numpy as np

from methods.knn import NeighbourScorer
from methods.neighbors import flat_index
from methods.registry import register


def smote(x: np.ndarray, count: int, neighbours: int = 5, seed: int = 0) -> np.ndarray:
    """`count` synthetic points, each on the segment from a random member of `x` to one of its `neighbours`
    nearest other members (Euclidean), at a uniform random position: SMOTE's interpolation."""
    if count <= 0 or len(x) < 2:
        return np.empty((0, x.shape[1]), np.float32)
    rng = np.random.default_rng(seed)
    k = min(neighbours, len(x) - 1)
    _, idx = flat_index(x, "l2").search_self(k + 1)  # each row finds itself first
    base = rng.integers(0, len(x), count)
    partner = idx[base, 1 + rng.integers(0, k, count)]
    gap = rng.random((count, 1))
    return (x[base] + gap * (x[partner] - x[base])).astype(np.float32)


@register
class SMOTEKNNScorer(NeighbourScorer):
    """kNN with the target bank oversampled by SMOTE until it holds `ratio` x the source bank's size (never fewer
    than its real clips); without a target domain it is plain kNN."""

    name = "smote_knn"

    def __init__(self, ratio=1.0, neighbours=5, k=1, metric="cosine", combine="min", normalize=None, density_k=5,
                 seed=0, device="cpu"):
        super().__init__(k=k, metric=metric, combine=combine, normalize=normalize, density_k=density_k, device=device)
        self.ratio, self.neighbours, self.seed = ratio, neighbours, seed

    def bank_change(self, name: str, banks: dict[str, np.ndarray]) -> tuple | None:
        if name != "target" or "source" not in banks:
            return None
        return "smote", self.ratio, self.neighbours, self.seed

    def changed_bank(self, name: str, banks: dict[str, np.ndarray]) -> np.ndarray:
        target = banks["target"]
        extra = smote(target, int(round(self.ratio * len(banks["source"]))) - len(target), self.neighbours, self.seed)
        return np.concatenate([target, extra])
