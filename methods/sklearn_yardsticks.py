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
    """scikit-learn NearestNeighbors: mean distance to the k nearest training embeddings, per domain bank (min or
    mean over banks, or one pooled bank), optionally density-normalised, optionally with the source bank replaced by
    scikit-learn KMeans centres (from kmeans_knn's k-means++ start)."""

    name = "sklearn_knn"
    reads = ("embeddings",)

    def __init__(self, k=5, metric="cosine", combine="pooled", normalize=None, density_k=5, n_centres=0, seed=0,
                 device="cpu"):
        super().__init__(device)
        self.k, self.metric, self.combine, self.normalize = k, metric, combine, normalize
        self.density_k, self.n_centres, self.seed = density_k, n_centres, seed

    def min_train_clips(self) -> int:
        return self.k

    def fit(self, train: Bundle):
        from sklearn.neighbors import NearestNeighbors
        domains = train.domain if train.domain is not None and self.combine != "pooled" else np.full(len(train.embeddings), "all")
        self.banks_ = []
        for domain in sorted(set(domains)):
            x = train.embeddings[domains == domain].astype(np.float64)
            if self.n_centres and domain in ("source", "all") and len(x) > self.n_centres:
                x = self._centres(x)
            nn = NearestNeighbors(n_neighbors=min(self.k, len(x)), metric=self.metric).fit(x)
            density = None
            if self.normalize:
                density = nn.kneighbors(x, n_neighbors=min(self.density_k + 1, len(x)))[0][:, 1:].mean(1)
            self.banks_.append((nn, density))
        return self

    def _centres(self, x):
        import torch
        from sklearn.cluster import KMeans

        from methods.kmeans import plusplus
        if self.metric == "cosine":
            x = x / np.linalg.norm(x, axis=1, keepdims=True)
        # the same start as kmeans_knn's first (and only) k-means run
        start = plusplus(torch.as_tensor(x, dtype=torch.float32), self.n_centres, self.seed * 1000).double().numpy()
        return KMeans(self.n_centres, init=start, n_init=1, algorithm="lloyd").fit(x).cluster_centers_

    def score(self, test: Bundle) -> np.ndarray:
        per_bank = []
        for nn, density in self.banks_:
            dist, idx = nn.kneighbors(test.embeddings.astype(np.float64))
            if self.normalize == "ratio":
                dist = dist / density[idx]
            elif self.normalize == "difference":
                dist = dist - density[idx]
            per_bank.append(dist.mean(1))
        return np.min(per_bank, 0) if self.combine == "min" else np.mean(per_bank, 0)


@register
class SklearnMahalanobisScorer(Scorer):
    """scikit-learn LedoitWolf (or EmpiricalCovariance) per domain; score = the smaller squared Mahalanobis distance."""

    name = "sklearn_mahalanobis"
    reads = ("embeddings",)

    def __init__(self, covariance="ledoit_wolf", selective=True, device="cpu"):
        super().__init__(device)
        self.covariance, self.selective = covariance, selective

    def fit(self, train: Bundle):
        from sklearn.covariance import EmpiricalCovariance, LedoitWolf
        model = LedoitWolf if self.covariance == "ledoit_wolf" else EmpiricalCovariance
        domains = train.domain if self.selective and train.domain is not None else np.full(len(train.embeddings), "all")
        self.models_ = [model().fit(train.embeddings[domains == d].astype(np.float64)) for d in sorted(set(domains))]
        return self

    def score(self, test: Bundle) -> np.ndarray:
        return np.min([m.mahalanobis(test.embeddings.astype(np.float64)) for m in self.models_], 0)


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
