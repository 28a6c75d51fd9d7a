"""Exact k-nearest-neighbour search: torch matrix products (CPU or CUDA), or faiss flat indexes (CPU or GPU).

Both are indexes in the faiss sense: built once on the training embeddings (`fit`), then searched
with test embeddings, or with the training embeddings themselves (`search_self`, for LOF). Both refuse
NaN/inf rows, found from the row norms they compute anyway, naming the array as `name`.
"""
from __future__ import annotations

import numpy as np
import torch

from methods.finite import require_finite

GRAM_ROWS = 128  # row block of the training Gram matrix; each block computes only its upper part


def _faiss():
    try:
        import faiss
    except ImportError:
        return None
    return faiss


class TorchIndex:
    """Distances from one matrix product per search; terms constant along a query row (its squared norm
    for L2, its inverse norm for cosine) do not change the ranking and are applied to the k kept values only."""

    def __init__(self, base: np.ndarray, metric: str, device: str = "cpu", name: str = "embeddings"):
        self.metric, self.device = metric, device
        b = torch.as_tensor(base, dtype=torch.float32, device=device)
        if metric == "l2":  # distances do not change under a shift; centring keeps |q|^2 + |b|^2 - 2 q.b accurate
            self.centre = b.mean(0)
            self.base = b - self.centre
            norms = torch.linalg.vector_norm(self.base, dim=1)
            self.row_term = norms.square()
        else:
            self.base = b
            norms = torch.linalg.vector_norm(b, dim=1)
            self.row_term = 1.0 / norms.clamp_min(1e-12)
        require_finite(norms, base, name)

    def search(self, query: np.ndarray, k: int, name: str = "embeddings") -> tuple[np.ndarray, np.ndarray]:
        q = torch.as_tensor(query, dtype=torch.float32, device=self.device)
        if self.metric == "l2":
            q = q - self.centre
        norms = torch.linalg.vector_norm(q, dim=1)
        require_finite(norms, query, name)
        query_term = norms.square() if self.metric == "l2" else 1.0 / norms.clamp_min(1e-12)
        return self._finish(q @ self.base.T, query_term, k)

    def search_self(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The training set against itself (each row finds itself first, up to ties)."""
        return self._finish(self._gram(), self.row_term, k)

    def _gram(self) -> torch.Tensor:
        """base @ base.T, computing each row block from its diagonal on and mirroring: about half the work."""
        b, n = self.base, len(self.base)
        gram = torch.empty(n, n, device=b.device)
        for s in range(0, n, GRAM_ROWS):
            e = min(s + GRAM_ROWS, n)
            torch.mm(b[s:e], b[s:].T, out=gram[s:e, s:])
            gram[e:, s:e] = gram[s:e, e:].T
        return gram

    def _finish(self, dots: torch.Tensor, query_term: torch.Tensor, k: int):
        k = min(k, dots.shape[1])
        if self.metric == "l2":  # |q - b|^2 = |q|^2 + (|b|^2 - 2 q.b)
            part, idx = torch.topk(torch.add(self.row_term, dots, alpha=-2.0, out=dots), k, dim=1, largest=False)
            dist = (part + query_term[:, None]).clamp_min(0.0).sqrt()
        else:  # 1 - q.b / (|q| |b|)
            sim, idx = torch.topk(dots.mul_(self.row_term), k, dim=1)
            dist = (1.0 - sim * query_term[:, None]).clamp_min(0.0)
        return dist.double().cpu().numpy(), idx.cpu().numpy()


class FaissIndex:
    """A faiss flat index (exact), on all GPUs when `device` is cuda."""

    def __init__(self, base: np.ndarray, metric: str, device: str = "cpu", name: str = "embeddings"):
        faiss = _faiss()
        if faiss is None:
            raise ImportError("faiss is not installed: pip install faiss-cpu (or faiss-gpu-cu12)")
        self.faiss, self.metric = faiss, metric
        self.base = self._prepare(base, name)
        index = faiss.IndexFlatIP(base.shape[1]) if metric == "cosine" else faiss.IndexFlatL2(base.shape[1])
        self.index = faiss.index_cpu_to_all_gpus(index) if device == "cuda" else index
        self.index.add(self.base)

    def _prepare(self, x, name):
        x = np.array(x, dtype=np.float32, order="C", copy=True)
        norms = np.linalg.norm(x, axis=1, keepdims=True)
        require_finite(torch.from_numpy(norms), x, name)
        return x / np.maximum(norms, 1e-12) if self.metric == "cosine" else x

    def search(self, query: np.ndarray, k: int, name: str = "embeddings") -> tuple[np.ndarray, np.ndarray]:
        return self._search(self._prepare(query, name), k)

    def search_self(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        return self._search(self.base, k)

    def _search(self, query, k):
        sim, idx = self.index.search(query, min(k, len(self.base)))
        dist = 1.0 - sim if self.metric == "cosine" else np.sqrt(np.maximum(sim, 0.0))
        return np.maximum(dist, 0.0).astype(np.float64), idx


def backend_for(device: str) -> str:
    """"faiss" where a faiss GPU index can run on `device`, else "torch"."""
    faiss = _faiss()
    return "faiss" if device == "cuda" and faiss is not None and faiss.get_num_gpus() > 0 else "torch"


def flat_index(base: np.ndarray, metric: str = "l2", device: str = "cpu", backend: str = "auto",
               name: str = "embeddings"):
    """An exact index over `base` for cosine distance or Euclidean distance.

    `backend="auto"` takes a faiss GPU index on CUDA when faiss has GPUs, else torch (on the CPU torch's
    matrix product beats faiss-cpu's flat index at these sizes: see leaderboard/SPEED.md); "faiss" or
    "torch" force one.
    """
    if metric not in ("cosine", "l2"):
        raise ValueError(f"unknown metric {metric!r}; use cosine or l2")
    backend = backend_for(device) if backend == "auto" else backend
    return (FaissIndex if backend == "faiss" else TorchIndex)(base, metric, device, name)
