"""Gaussian mixture scorer: EM in torch, batched over machine IDs, on the GPU or the CPU."""
from __future__ import annotations

import math

import numpy as np
import torch

from methods.base import Bundle, Scorer
from methods.registry import register

_DTYPES = {"float32": torch.float32, "float64": torch.float64}


@register
class GMMScorer(Scorer):
    """Negative log-likelihood under a Gaussian mixture fitted to the ID's normal embeddings.

    EM as in scikit-learn's GaussianMixture (k-means start, `reg_covar` added to the diagonal, stop when
    the mean log-likelihood gains less than `tol`), run for a batch of IDs at once with padded inputs.
    """

    name = "gmm"

    def __init__(self, n_components=2, covariance="full", reg_covar=1e-6, max_iter=100, tol=1e-3, seed=0,
                 dtype="float64", memory_gb=1.0, device="cpu"):
        super().__init__(device)
        if covariance not in ("full", "diag"):
            raise ValueError(f"covariance must be full or diag, not {covariance!r}")
        self.n_components, self.covariance, self.reg_covar = n_components, covariance, reg_covar
        self.max_iter, self.tol, self.seed, self.dtype, self.memory_gb = max_iter, tol, seed, dtype, memory_gb

    # -- sklearn-style single ID: a batch of one
    def fit(self, train: Bundle):
        return self.fit_many([train])

    def score(self, test: Bundle) -> np.ndarray:
        return self.score_many([test])[0]

    def fit_many(self, trains: list[Bundle]):
        d = trains[0].embeddings.shape[1]
        per_id = self.n_components * (d * d if self.covariance == "full" else d) * 8 * 3
        chunk = max(1, int(self.memory_gb * 2**30 // per_id))
        self.params_ = []
        for start in range(0, len(trains), chunk):
            x, mask = self._pad([t.embeddings for t in trains[start:start + chunk]])
            params, self.lower_bound_ = self._em(x, mask)
            self.params_ += [{k: v[i] for k, v in params.items()} for i in range(len(x))]
        return self

    def score_many(self, tests: list[Bundle]) -> list[np.ndarray]:
        out = []
        for p, t in zip(self.params_, tests):
            x = torch.from_numpy(t.embeddings).to(self.device, _DTYPES[self.dtype])[None]
            params = {k: v[None] for k, v in p.items()}
            out.append((-torch.logsumexp(self._log_prob(x, params), dim=2))[0].double().cpu().numpy())
        return out

    def mean_log_likelihood(self, train: Bundle) -> float:
        """Average log-likelihood per sample of `train` under the fitted mixture (scikit-learn's `score`)."""
        return float(-self.score_many([train])[0].mean())

    # -- batched EM on (B, N, D) with a (B, N) mask of real rows
    def _pad(self, arrays):
        n = max(len(a) for a in arrays)
        x = torch.zeros(len(arrays), n, arrays[0].shape[1], dtype=_DTYPES[self.dtype], device=self.device)
        mask = torch.zeros(len(arrays), n, dtype=x.dtype, device=self.device)
        for i, a in enumerate(arrays):
            x[i, :len(a)] = torch.from_numpy(a).to(x)
            mask[i, :len(a)] = 1
        return x, mask

    def _kmeans_resp(self, x, mask, iters=10):
        k = self.n_components
        counts = mask.sum(1).long().cpu()
        # one generator per ID: its start does not depend on which other IDs share the batch
        starts = torch.stack([torch.randperm(int(c), generator=torch.Generator().manual_seed(self.seed))[:k]
                              for c in counts]).to(x.device)
        centers = torch.gather(x, 1, starts[..., None].expand(-1, -1, x.shape[2]))
        for _ in range(iters):
            assign = torch.cdist(x, centers).argmin(2)
            resp = torch.nn.functional.one_hot(assign, k).to(x.dtype) * mask[..., None]
            nk = resp.sum(1)
            centers = torch.where(nk[..., None] > 0, resp.transpose(1, 2) @ x / nk.clamp_min(1)[..., None], centers)
        return resp

    def _m_step(self, x, resp):
        eps = 10 * torch.finfo(x.dtype).eps
        nk = resp.sum(1) + eps                                     # (B, K)
        means = resp.transpose(1, 2) @ x / nk[..., None]           # (B, K, D)
        weights = nk / nk.sum(1, keepdim=True)
        d = x.shape[2]
        if self.covariance == "diag":
            var = (resp.transpose(1, 2) @ (x * x)) / nk[..., None] - means**2 + self.reg_covar
            return {"weights": weights, "means": means, "var": var.clamp_min(self.reg_covar)}
        chol = []
        eye = torch.eye(d, dtype=x.dtype, device=x.device)
        for k in range(self.n_components):
            diff = (x - means[:, k:k + 1]) * resp[:, :, k:k + 1].sqrt()
            cov = diff.transpose(1, 2) @ diff / nk[:, k, None, None] + self.reg_covar * eye
            chol.append(torch.linalg.cholesky(cov))
        return {"weights": weights, "means": means, "chol": torch.stack(chol, 1)}

    def _log_prob(self, x, p):
        """log w_k + log N(x | mu_k, Sigma_k): (B, N, K)."""
        d = x.shape[2]
        const = d * math.log(2 * math.pi)
        if "var" in p:
            var = p["var"]
            maha = ((x[:, :, None, :] - p["means"][:, None]) ** 2 / var[:, None]).sum(-1)
            logdet = var.log().sum(-1)[:, None]
        else:
            cols = []
            for k in range(p["means"].shape[1]):
                diff = (x - p["means"][:, k:k + 1]).transpose(1, 2)          # (B, D, N)
                y = torch.linalg.solve_triangular(p["chol"][:, k], diff, upper=False)
                cols.append((y * y).sum(1))
            maha = torch.stack(cols, 2)
            logdet = 2 * p["chol"].diagonal(dim1=-2, dim2=-1).log().sum(-1)[:, None]
        return p["weights"].log()[:, None] - 0.5 * (const + logdet + maha)

    def _em(self, x, mask):
        resp = self._kmeans_resp(x, mask)
        params = self._m_step(x, resp)
        lower = torch.full((x.shape[0],), -torch.inf, dtype=x.dtype, device=x.device)
        n = mask.sum(1)
        active = torch.ones(x.shape[0], dtype=torch.bool, device=x.device)
        for _ in range(self.max_iter):
            log_prob = self._log_prob(x, params)
            lse = torch.logsumexp(log_prob, dim=2)
            new_lower = (lse * mask).sum(1) / n
            gain = (new_lower - lower).abs()
            lower = torch.where(active, new_lower, lower)
            active &= gain >= self.tol
            if not active.any():
                break
            resp = (log_prob - lse[..., None]).exp() * mask[..., None]
            new = self._m_step(x, resp)
            # an ID that has converged keeps its parameters, exactly as if it were fitted alone
            params = {k: torch.where(active.view(-1, *[1] * (v.dim() - 1)), new[k], v) for k, v in params.items()}
        return params, lower
