import numpy as np
import torch

from methods.knn import NeighbourScorer
from methods.registry import register


def kmeans(x: np.ndarray, centres: np.ndarray, iterations: int = 300, tol: float = 1e-4, device: str = "cpu") -> np.ndarray:
    """Lloyd's k-means from the given initial centres, as scikit-learn's `KMeans(init=centres, n_init=1,
    algorithm="lloyd")` runs it: assign, move each centre to its members' mean (an empty cluster keeps its centre),
    stop when the centres move less than `tol` x the mean per-feature variance (squared, summed). In float32, the
    embeddings' own precision."""
    data = torch.as_tensor(x, dtype=torch.float32, device=device)
    c = torch.as_tensor(centres, dtype=torch.float32, device=device).clone()
    # the mean per-feature variance; torch's var over dim 0 is several times slower than this on the CPU
    threshold = tol * float((data - data.mean(0)).square().sum() / data.numel())
    for _ in range(iterations):
        # |x - c|^2 less |x|^2 (the same for every centre), in one fused product
        assign = torch.addmm((c * c).sum(1), data, c.T, alpha=-2).argmin(1)
        sums = torch.zeros_like(c).index_add_(0, assign, data)
        counts = torch.bincount(assign, minlength=len(c)).to(data.dtype)[:, None]
        moved = torch.where(counts > 0, sums / counts.clamp_min(1), c)
        shift = float(((moved - c) ** 2).sum())
        c = moved
        if shift <= threshold:
            break
    return c.cpu().numpy()


def plusplus(x: np.ndarray, n_centres: int, seed: int = 0, device: str = "cpu") -> np.ndarray:
    """k-means++ starting centres, greedy as scikit-learn draws them: each new centre is the best, by the total
    squared distance it leaves, of 2 + log(k) candidates drawn in proportion to their squared distance to the
    nearest centre so far. Seeded by `seed`."""
    rng = np.random.default_rng(seed)
    data = torch.as_tensor(x, dtype=torch.float32, device=device)
    squares = (data * data).sum(1)
    trials = 2 + int(np.log(n_centres))
    chosen = [int(rng.integers(len(data)))]
    closest = (squares + squares[chosen[0]] - 2 * (data @ data[chosen[0]])).clamp_min(0)
    for _ in range(1, n_centres):
        cumulative = torch.cumsum(closest, 0, dtype=torch.float64)
        draws = torch.from_numpy(rng.random(trials)).to(device) * cumulative[-1]
        candidates = torch.searchsorted(cumulative, draws).clamp_max_(len(data) - 1)
        # (N, trials) squared distances in one fused product; data @ candidates.T reads the data once
        d = torch.addmm(squares[:, None] + squares[candidates], data, data[candidates].T, alpha=-2).clamp_min_(0)
        left = torch.minimum(closest[:, None], d, out=d)
        best = int(left.sum(0).argmin())
        closest = left[:, best]
        chosen.append(int(candidates[best]))
    return np.asarray(x)[chosen]


@register
class KMeansKNNScorer(NeighbourScorer):
    """kNN with the source bank replaced by `n_centres` k-means centres (k-means++ start, seeded) and every target
    embedding kept; cosine k-means runs on unit-length embeddings. Without domains the one bank is clustered; a bank
    of no more than `n_centres` clips is kept as it is."""

    name = "kmeans_knn"

    def __init__(self, n_centres=16, k=1, metric="cosine", combine="min", normalize=None, density_k=5, seed=0,
                 device="cpu"):
        super().__init__(k=k, metric=metric, combine=combine, normalize=normalize, density_k=density_k, device=device)
        self.n_centres, self.seed = n_centres, seed

    def bank_change(self, name: str, banks: dict[str, np.ndarray]) -> tuple | None:
        source = "all" if "all" in banks else "source"
        if name != source or len(banks[name]) <= self.n_centres:
            return None
        return "kmeans", self.n_centres, self.seed

    def changed_bank(self, name: str, banks: dict[str, np.ndarray]) -> np.ndarray:
        x = banks[name]
        if self.metric == "cosine":
            x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
        return kmeans(x, plusplus(x, self.n_centres, self.seed, self.device), device=self.device)
