"""scikit-learn and NumPy reference scorers: the correctness and speed yardstick for the fast ones."""
import numpy as np

from methods.base import Bundle, Scorer
from methods.registry import register


@register
class SklearnLOFScorer(Scorer):
    """scikit-learn LocalOutlierFactor(novelty=True); score = -score_samples."""

    name = "sklearn_lof"
    reads = ("embeddings",)

    def __init__(self, k=5, metric="euclidean", device="cpu"):
        super().__init__(device)
        self.k, self.metric = k, metric

    def min_train_clips(self) -> int:
        return self.k + 1

    def fit(self, train: Bundle):
        from sklearn.neighbors import LocalOutlierFactor
        self.model_ = LocalOutlierFactor(n_neighbors=self.k, metric=self.metric, novelty=True).fit(train.embeddings)
        return self

    def score(self, test: Bundle) -> np.ndarray:
        return -self.model_.score_samples(test.embeddings)


@register
class SklearnGMMScorer(Scorer):
    """scikit-learn GaussianMixture; score = -score_samples (negative log-likelihood)."""

    name = "sklearn_gmm"
    reads = ("embeddings",)

    def __init__(self, n_components=2, covariance="full", reg_covar=1e-6, max_iter=100, tol=1e-3, seed=0, device="cpu"):
        super().__init__(device)
        self.n_components, self.covariance, self.reg_covar = n_components, covariance, reg_covar
        self.max_iter, self.tol, self.seed = max_iter, tol, seed

    def min_train_clips(self) -> int:
        return self.n_components

    def fit(self, train: Bundle):
        from sklearn.mixture import GaussianMixture
        self.model_ = GaussianMixture(self.n_components, covariance_type=self.covariance, reg_covar=self.reg_covar,
                                      max_iter=self.max_iter, tol=self.tol, random_state=self.seed)
        # float32 input makes scikit-learn run EM in float32, where full covariances at D >> 100 fail
        self.model_.fit(train.embeddings.astype(np.float64))
        return self

    def score(self, test: Bundle) -> np.ndarray:
        return -self.model_.score_samples(test.embeddings.astype(np.float64))


@register
class SklearnKNNScorer(Scorer):
    """scikit-learn NearestNeighbors: mean distance to the k nearest training embeddings."""

    name = "sklearn_knn"
    reads = ("embeddings",)

    def __init__(self, k=5, metric="cosine", device="cpu"):
        super().__init__(device)
        self.k, self.metric = k, metric

    def min_train_clips(self) -> int:
        return self.k

    def fit(self, train: Bundle):
        from sklearn.neighbors import NearestNeighbors
        self.model_ = NearestNeighbors(n_neighbors=self.k, metric=self.metric).fit(train.embeddings)
        return self

    def score(self, test: Bundle) -> np.ndarray:
        return self.model_.kneighbors(test.embeddings)[0].mean(1)


@register
class NumpyCentroidScorer(Scorer):
    """Cosine distance to the mean training embedding, in NumPy."""

    name = "numpy_centroid"
    reads = ("embeddings",)

    def fit(self, train: Bundle):
        c = train.embeddings.astype(np.float64).mean(0)
        self.centroid_ = c / np.linalg.norm(c)
        return self

    def score(self, test: Bundle) -> np.ndarray:
        x = test.embeddings.astype(np.float64)
        return 1.0 - x @ self.centroid_ / np.linalg.norm(x, axis=1)
