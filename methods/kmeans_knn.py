import numpy as np
import torch

from methods.kmeans import kmeans
from methods.knn import NeighbourScorer
from methods.registry import register


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
        data = torch.as_tensor(x, dtype=torch.float32, device=self.device)[None]
        return kmeans(data, torch.ones(data.shape[:2], device=self.device), self.n_centres, self.seed)[0][0].cpu().numpy()
