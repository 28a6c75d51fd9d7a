import numpy as np
import torch
import torch.nn.functional as F

from methods.base import Bundle, Scorer
from methods.registry import register


@register
class CentroidScorer(Scorer):
    """Cosine distance to the mean of the ID's normal training embeddings."""

    name = "centroid"
    reads = ("embeddings",)

    def fit(self, train: Bundle):
        self.centroid_ = torch.from_numpy(train.embeddings).to(self.device).mean(0)
        return self

    def score(self, test: Bundle) -> np.ndarray:
        x = torch.from_numpy(test.embeddings).to(self.device)
        return (1.0 - F.cosine_similarity(x, self.centroid_[None], dim=1)).double().cpu().numpy()
