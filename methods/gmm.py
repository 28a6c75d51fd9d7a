"""Gaussian mixture scorer: EM in torch, batched over machine IDs, on the GPU or the CPU."""
from __future__ import annotations

import math

import numpy as np
import torch

from methods.base import Bundle, Scorer, check_bundles
from methods.kmeans import kmeans
from methods.registry import register

_DTYPES = {"float32": torch.float32, "float64": torch.float64}


@register
class GMMScorer(Scorer):
    """Negative log-likelihood under a Gaussian mixture fitted to the ID's normal embeddings.

    EM as in scikit-learn's GaussianMixture (k-means start, `reg_covar` added to the diagonal, stop when
    the mean log-likelihood gains less than `tol`), run for a batch of IDs at once with padded inputs.
    """

    name = "gmm"
    reads = ("embeddings",)

    def __init__(self, n_components=2, covariance="full", reg_covar=1e-6, max_iter=100, tol=1e-3, seed=0,
                 n_init=None, dtype="float64", memory_gb=1.0, device="cpu"):
        super().__init__(device)
        if covariance not in ("full", "diag"):
            raise ValueError(f"covariance must be full or diag, not {covariance!r}")
        self.n_components, self.covariance, self.reg_covar = n_components, covariance, reg_covar
        self.max_iter, self.tol, self.seed, self.n_init = max_iter, tol, seed, n_init
        self.dtype, self.memory_gb = dtype, memory_gb

    # -- sklearn-style single ID: a batch of one
    def fit(self, train: Bundle):
        return self.fit_many([train])

    def score(self, test: Bundle) -> np.ndarray:
        return self.score_many([test])[0]

    def min_train_clips(self) -> int:
        return self.n_components

    def fit_many(self, trains: list[Bundle]):
        self.check_train(trains)
        self.trains_ = [t.embeddings for t in trains]
        self.state_, self.lower_bound_ = [], []
        for chunk in self._chunks():
            x, mask = self._pad([self.trains_[i] for i in chunk])
            params, resp, lower = self._em(x, mask)
            self.lower_bound_ += lower.tolist()
            for j, i in enumerate(chunk):
                # the low-rank form is as big as the data: keep the responsibilities, rebuild it when scoring
                self.state_.append({"resp": resp[j, : len(self.trains_[i])]} if "A" in params else
                                   {k: v[j] for k, v in params.items()})
        return self

    def score_many(self, tests: list[Bundle]) -> list[np.ndarray]:
        check_bundles(self, tests, self.dim_)
        out = []
        for chunk in self._chunks():
            if "resp" in self.state_[chunk[0]]:
                x, mask = self._pad([self.trains_[i] for i in chunk])
                resp = torch.zeros(*x.shape[:2], self.n_components, dtype=x.dtype, device=x.device)
                for j, i in enumerate(chunk):
                    resp[j, : len(self.trains_[i])] = self.state_[i]["resp"]
                params = self._m_step(x, resp)
            else:
                params = {k: torch.stack([self.state_[i][k] for i in chunk]) for k in self.state_[chunk[0]]}
            x, _ = self._pad([tests[i].embeddings for i in chunk])
            nll = -torch.logsumexp(self._log_prob(x, params), dim=2).double().cpu().numpy()
            out += [nll[j, : len(tests[i].embeddings)] for j, i in enumerate(chunk)]
        return out

    def mean_log_likelihood(self, train: Bundle) -> float:
        """Average log-likelihood per sample of `train` under the fitted mixture (scikit-learn's `score`)."""
        return float(-self.score_many([train])[0].mean())

    def _chunks(self) -> list[list[int]]:
        """IDs per batched call, so that the covariance factors of a batch fit in `memory_gb`."""
        n, d = max(len(t) for t in self.trains_), self.trains_[0].shape[1]
        per_id = self.n_components * (min(n, d) * d if self.covariance == "full" else n * d) * 8 * 4
        size = max(1, int(self.memory_gb * 2**30 // per_id))
        ids = list(range(len(self.trains_)))
        return [ids[i:i + size] for i in range(0, len(ids), size)]

    # -- batched EM on (B, N, D) with a (B, N) mask of real rows
    def _pad(self, arrays):
        n = max(len(a) for a in arrays)
        x = torch.zeros(len(arrays), n, arrays[0].shape[1], dtype=_DTYPES[self.dtype], device=self.device)
        mask = torch.zeros(len(arrays), n, dtype=x.dtype, device=self.device)
        for i, a in enumerate(arrays):
            x[i, :len(a)] = torch.from_numpy(np.asarray(a)).to(x)
            mask[i, :len(a)] = 1
        return x, mask

    def _kmeans_resp(self, x, mask):
        """Hard responsibilities from the best of `n_init` k-means runs (`methods.kmeans`).

        scikit-learn starts EM from one k-means run from its greedy k-means++; that is the default for diagonal
        covariances, whose EM steps cost less than k-means restarts. For full covariances the default is the
        lowest-inertia of 4 runs: they cost little next to one full-covariance EM step and land in a better
        optimum more often, and with those restarts each k-means++ centre is one plain draw (trials=1), not the
        best of several. Assignments need no float64.
        """
        n_init = self.n_init or (4 if self.covariance == "full" else 1)
        trials = 1 if n_init > 1 else 0
        resp = kmeans(x.float(), mask.float(), self.n_components, self.seed, n_init, max_iter=100, trials=trials)[1]
        return resp.to(x.dtype)

    def _m_step(self, x, resp, squares=None):
        """Weights, means and covariance factors from responsibilities; `squares` is x * x when already at hand."""
        eps = 10 * torch.finfo(x.dtype).eps
        nk = resp.sum(1) + eps                                     # (B, K)
        means = resp.transpose(1, 2) @ x / nk[..., None]           # (B, K, D)
        params = {"weights": nk / nk.sum(1, keepdim=True), "means": means}
        n, d = x.shape[1:]
        lam = self.reg_covar
        if self.covariance == "diag":
            var = (resp.transpose(1, 2) @ (x * x if squares is None else squares)) / nk[..., None] - means**2 + lam
            return {**params, "var": var.clamp_min(lam)}
        factors, logdets = [], []
        for k in range(self.n_components):
            a = (x - means[:, k:k + 1]) * (resp[:, :, k:k + 1] / nk[:, k, None, None]).sqrt()   # Sigma = a'a + lam I
            if n < d:
                # fewer clips than dimensions: factor the N x N Gram matrix instead of the D x D covariance
                # (matrix determinant lemma and Woodbury identity), O(N^2 D) instead of O(N D^2 + D^3)
                chol = torch.linalg.cholesky(a @ a.transpose(1, 2) + lam * torch.eye(n, dtype=x.dtype, device=x.device))
                factors.append((a, chol))
                logdets.append((d - n) * math.log(lam) + 2 * chol.diagonal(dim1=-2, dim2=-1).log().sum(-1))
            else:
                chol = torch.linalg.cholesky(a.transpose(1, 2) @ a + lam * torch.eye(d, dtype=x.dtype, device=x.device))
                factors.append(chol)
                logdets.append(2 * chol.diagonal(dim1=-2, dim2=-1).log().sum(-1))
        params["logdet"] = torch.stack(logdets, 1)
        if n < d:
            return {**params, "A": torch.stack([f[0] for f in factors], 1), "L": torch.stack([f[1] for f in factors], 1)}
        return {**params, "chol": torch.stack(factors, 1)}

    def _log_prob(self, x, p, squares=None):
        """log w_k + log N(x | mu_k, Sigma_k): (B, M, K); `squares` is x * x when already at hand."""
        d = x.shape[2]
        if "var" in p:
            prec = 1.0 / p["var"]                                                       # (B, K, D)
            maha = ((x * x if squares is None else squares) @ prec.transpose(1, 2) - x @ (2 * p["means"] * prec).transpose(1, 2)
                    + (p["means"] ** 2 * prec).sum(-1)[:, None])
            logdet = p["var"].log().sum(-1)[:, None]
        else:
            cols = []
            for k in range(p["means"].shape[1]):
                diff = x - p["means"][:, k:k + 1]                                       # (B, M, D)
                if "A" in p:
                    w = torch.linalg.solve_triangular(p["L"][:, k], p["A"][:, k] @ diff.transpose(1, 2), upper=False)
                    cols.append(((diff * diff).sum(2) - (w * w).sum(1)) / self.reg_covar)
                else:
                    y = torch.linalg.solve_triangular(p["chol"][:, k], diff.transpose(1, 2), upper=False)
                    cols.append((y * y).sum(1))
            maha = torch.stack(cols, 2)
            logdet = p["logdet"][:, None]
        return p["weights"].log()[:, None] - 0.5 * (d * math.log(2 * math.pi) + logdet + maha)

    def _em(self, x, mask):
        """EM from the k-means start; an ID leaves the batch when it converges, keeping the parameters it
        converged with, so each ID gets exactly what fitting it alone gives and no work is spent on it after."""
        resp = self._kmeans_resp(x, mask)
        squares = x * x if self.covariance == "diag" else None  # read by every diagonal E and M step
        params = self._m_step(x, resp, squares)
        lower = torch.full((x.shape[0],), -torch.inf, dtype=x.dtype, device=x.device)
        ids = torch.arange(x.shape[0], device=x.device)            # the IDs still iterating
        xa, ma, ra, pa, sa = x, mask, resp, params, squares
        for _ in range(self.max_iter):
            log_prob = self._log_prob(xa, pa, sa)
            lse = torch.logsumexp(log_prob, dim=2)
            new_lower = (lse * ma).sum(1) / ma.sum(1)
            going = (new_lower - lower[ids]).abs() >= self.tol
            lower[ids] = new_lower
            if not bool(going.all()):
                self._write_back(params, resp, ids[~going], pa, ra, ~going)
                ids, xa, ma, ra, log_prob, lse = ids[going], xa[going], ma[going], ra[going], log_prob[going], lse[going]
                pa = {k: v[going] for k, v in pa.items()}
                sa = None if sa is None else sa[going]
                if len(ids) == 0:
                    break
            ra = (log_prob - lse[..., None]).exp() * ma[..., None]
            pa = self._m_step(xa, ra, sa)
        self._write_back(params, resp, ids, pa, ra, slice(None))
        return params, resp, lower

    @staticmethod
    def _write_back(params, resp, ids, part_params, part_resp, rows):
        for k, v in params.items():
            v[ids] = part_params[k][rows]
        resp[ids] = part_resp[rows]
