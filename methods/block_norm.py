import numpy as np

from core.errors import DataError
from methods.base import Bundle, Scorer
from methods.registry import register


@register
class BlockNormScorer(Scorer):
    """Squared norm of each of the embedding's `blocks` equal parts, combined by min or mean. On
    `ae2023:output=whitened` (one block per domain, each already whitened by that domain's covariance) it is the
    official 2023-2025 baseline's selective Mahalanobis score; it learns nothing from the training clips."""

    name = "block_norm"
    reads = ("embeddings",)

    def __init__(self, blocks: int = 2, combine: str = "min", device: str = "cpu"):
        super().__init__(device)
        if combine not in ("min", "mean"):
            raise ValueError(f"combine must be min or mean, not {combine!r}")
        self.blocks, self.combine = blocks, combine

    def fit(self, train: Bundle):
        if train.embeddings.shape[1] % self.blocks:
            raise DataError(f"{train.name}: {train.embeddings.shape[1]}-dimensional embeddings do not split into "
                            f"{self.blocks} equal blocks; set block_norm:blocks= to a divisor")
        return self

    def score(self, test: Bundle) -> np.ndarray:
        x = test.embeddings.astype(np.float64).reshape(len(test.embeddings), self.blocks, -1)
        norms = (x * x).sum(2)
        return norms.min(1) if self.combine == "min" else norms.mean(1)
