import warnings

import numpy as np
import torch

from methods.base import Bundle, Scorer
from methods.registry import register

COVARIANCES = ("ledoit_wolf", "empirical")


def covariance(x: torch.Tensor, kind: str = "ledoit_wolf") -> tuple[torch.Tensor, torch.Tensor]:
    """(mean, covariance) of the rows of `x`: the maximum-likelihood covariance, or shrunk towards a scaled identity
    by the Ledoit-Wolf amount, as scikit-learn's `EmpiricalCovariance` and `LedoitWolf` compute them."""
    mean = x.mean(0)
    c = x - mean
    n, p = c.shape
    emp = c.T @ c / n
    if kind == "empirical":
        return mean, emp
    mu = torch.trace(emp) / p
    # the sum of every entry of (c^2)^T (c^2), which scikit-learn forms as a p x p product, is the sum over clips
    # of |c_n|^4: O(n p) instead of O(n p^2), half of the fit at p = 2048
    beta = (torch.sum((c * c).sum(1) ** 2) / n - torch.sum(emp * emp)) / (p * n)
    delta = (torch.sum(emp * emp) - 2 * mu * torch.trace(emp) + p * mu * mu) / p
    beta = torch.minimum(beta, delta)
    shrinkage = torch.where(delta > 0, beta / delta, torch.zeros_like(delta))
    return mean, (1 - shrinkage) * emp + shrinkage * mu * torch.eye(p, dtype=x.dtype, device=x.device)


def precision(cov: torch.Tensor) -> torch.Tensor:
    """The inverse of a covariance: through its Cholesky factor when it is positive definite (a shrunk one always
    is; a third of an eigendecomposition's work), else the pseudo-inverse, as scikit-learn's `pinvh`."""
    factor, info = torch.linalg.cholesky_ex(cov)
    return torch.cholesky_inverse(factor) if int(info) == 0 else torch.linalg.pinv(cov, hermitian=True)


@register
class MahalanobisScorer(Scorer):
    """Squared Mahalanobis distance to the normal training embeddings, covariance Ledoit-Wolf-shrunk (or empirical);
    selective=True: one mean and covariance per domain, score = the smaller distance (the official 2023+ baseline's
    rule), one without domains."""

    name = "mahalanobis"
    reads = ("embeddings",)

    def __init__(self, covariance="ledoit_wolf", selective=True, device="cpu"):
        super().__init__(device)
        if covariance not in COVARIANCES:
            raise ValueError(f"covariance must be one of {', '.join(COVARIANCES)}, not {covariance!r}")
        self.covariance, self.selective = covariance, selective

    def min_train_clips(self) -> int:
        return 2

    def fit(self, train: Bundle):
        domains = train.domain if self.selective and train.domain is not None else np.full(len(train.embeddings), "all")
        self.models_, pooled = [], None
        for domain in sorted(set(domains)):
            x = torch.as_tensor(train.embeddings[domains == domain], dtype=torch.float64, device=self.device)
            if len(x) < 2:  # one clip has no covariance: its own mean, the covariance of every training clip
                if pooled is None:
                    pooled = precision(covariance(torch.as_tensor(train.embeddings, dtype=torch.float64,
                                                                  device=self.device), self.covariance)[1])
                warnings.warn(f"{train.name}: the {domain} domain has one training clip; mahalanobis uses the pooled "
                              "covariance of all its training clips there", stacklevel=2)
                self.models_.append((x.mean(0), pooled))
                continue
            mean, cov = covariance(x, self.covariance)
            self.models_.append((mean, precision(cov)))
        return self

    def score(self, test: Bundle) -> np.ndarray:
        x = torch.as_tensor(test.embeddings, dtype=torch.float64, device=self.device)
        distances = []
        for mean, precision in self.models_:
            d = x - mean
            distances.append(((d @ precision) * d).sum(1))
        return torch.stack(distances).min(0).values.cpu().numpy()
