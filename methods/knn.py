"""The kNN family: distance to the nearest normal training embeddings, with a memory bank per domain and an
optional local-density normalisation. `kmeans_knn` and `smote_knn` change only what goes into the banks."""
import numpy as np

from core.errors import DataError
from methods.base import Bundle, Scorer
from methods.neighbors import flat_index
from methods.registry import register

COMBINE = ("min", "mean", "pooled")
NORMALIZE = (None, "ratio", "difference")


class Bank:
    """One memory bank: an exact index over its embeddings and, for density normalisation, each member's mean
    distance to its `density_k` nearest other members."""

    def __init__(self, embeddings: np.ndarray, metric: str, device: str, name: str, density_k: int | None):
        self.size = len(embeddings)
        self.index = flat_index(embeddings, metric, device, name=name)
        self.density = None
        if density_k:
            k = min(density_k + 1, self.size)  # each member finds itself first
            dist, _ = self.index.search_self(k)
            self.density = dist[:, 1:].mean(1) if k > 1 else np.zeros(self.size)


class NeighbourScorer(Scorer):
    """Shared by the kNN family: `banks_of` says which embeddings form which bank; scoring is the same for all."""

    reads = ("embeddings",)
    checks_finite = ("embeddings",)  # by the index, from its row norms

    def __init__(self, k=5, metric="cosine", aggregate="mean", combine="min", normalize=None, density_k=5,
                 device="cpu"):
        super().__init__(device)
        if aggregate not in ("mean", "kth"):
            raise ValueError(f"aggregate must be mean or kth, not {aggregate!r}")
        if combine not in COMBINE:
            raise ValueError(f"combine must be one of {', '.join(COMBINE)}, not {combine!r}")
        if normalize not in NORMALIZE:
            raise ValueError(f"normalize must be ratio or difference (or None), not {normalize!r}")
        self.k, self.metric, self.aggregate, self.combine = k, metric, aggregate, combine
        self.normalize, self.density_k = normalize, density_k

    def min_train_clips(self) -> int:
        return self.k

    def banks_of(self, train: Bundle) -> dict[str, np.ndarray]:
        """Bank name -> embeddings: one per domain of the training clips (a single one without domains)."""
        if train.domain is None or self.combine == "pooled":
            return {"all": train.embeddings}
        return {d: train.embeddings[train.domain == d] for d in sorted(set(train.domain))}

    def fit(self, train: Bundle):
        density_k = self.density_k if self.normalize else None
        banks = {name: x for name, x in self.banks_of(train).items() if len(x)}
        where = (lambda name: f"{train.name} ({name} bank)") if len(banks) > 1 else (lambda name: train.name)
        self.banks_ = [Bank(x, self.metric, self.device, f"{where(name)}: embeddings", density_k) for name, x in banks.items()]
        if self.normalize and any(b.size < 2 for b in self.banks_):
            raise DataError(f"{train.name}: a memory bank of one clip has no neighbour to normalise by; use "
                            "combine=pooled, or drop normalize")
        return self

    def score(self, test: Bundle) -> np.ndarray:
        per_bank = []
        for bank in self.banks_:
            # a bank smaller than k (a target domain of 3 clips) contributes all its clips
            dist, idx = bank.index.search(test.embeddings, min(self.k, bank.size), f"{test.name}: embeddings")
            if self.normalize == "ratio":
                dist = dist / np.maximum(bank.density[idx], 1e-12)
            elif self.normalize == "difference":
                dist = dist - bank.density[idx]
            per_bank.append(dist.mean(1) if self.aggregate == "mean" else dist[:, -1])
        per_bank = np.stack(per_bank)
        return per_bank.min(0) if self.combine == "min" else per_bank.mean(0)


@register
class KNNScorer(NeighbourScorer):
    """Distance to the k nearest normal training embeddings (their mean, or the k-th); one memory bank per domain,
    combined by min or mean (pooled: one bank); normalize=ratio|difference divides by / subtracts the neighbour's own
    mean distance to its density_k nearest bank members."""

    name = "knn"
