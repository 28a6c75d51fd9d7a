"""Exact k-nearest-neighbour search: torch matrix products (CPU or CUDA), or faiss flat indexes (CPU or GPU)."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def _faiss():
    try:
        import faiss
    except ImportError:
        return None
    return faiss


def _check_metric(metric: str) -> None:
    if metric not in ("cosine", "l2"):
        raise ValueError(f"unknown metric {metric!r}; use cosine or l2")


def _similarity(q, b, metric):
    """Higher = nearer: cosine similarity of normalised rows, or minus the squared Euclidean distance."""
    if metric == "cosine":
        return F.normalize(q) @ F.normalize(b).T
    # |q - b|^2 = |q|^2 + |b|^2 - 2 q.b: one matrix product, as scikit-learn and faiss compute it
    return -((q * q).sum(1, keepdim=True) + (b * b).sum(1) - 2.0 * q @ b.T)


def _torch_search(base, query, k, metric, device):
    b = torch.as_tensor(base, dtype=torch.float32, device=device)
    q = torch.as_tensor(query, dtype=torch.float32, device=device)
    if metric == "l2":  # distances do not change under a shift; centring keeps the expansion accurate
        centre = b.mean(0)
        b, q = b - centre, q - centre
    sim, idx = torch.topk(_similarity(q, b, metric), k, dim=1)
    dist = (1.0 - sim).clamp_min(0.0) if metric == "cosine" else (-sim).clamp_min(0.0).sqrt()
    return dist, idx


def _faiss_search(faiss, base, query, k, metric, device):
    base, query = np.ascontiguousarray(base, np.float32), np.ascontiguousarray(query, np.float32)
    if metric == "cosine":
        base, query = base.copy(), query.copy()
        faiss.normalize_L2(base)
        faiss.normalize_L2(query)
    index = faiss.IndexFlatIP(base.shape[1]) if metric == "cosine" else faiss.IndexFlatL2(base.shape[1])
    if device == "cuda":
        index = faiss.index_cpu_to_all_gpus(index)
    index.add(base)
    sim, idx = index.search(query, k)
    dist = 1.0 - sim if metric == "cosine" else np.sqrt(np.maximum(sim, 0.0))
    return np.maximum(dist, 0.0), idx


def backend_for(device: str) -> str:
    """"faiss" where a faiss GPU index can run on `device`, else "torch"."""
    faiss = _faiss()
    return "faiss" if device == "cuda" and faiss is not None and faiss.get_num_gpus() > 0 else "torch"


def search(base: np.ndarray, query: np.ndarray, k: int, metric: str = "l2", device: str = "cpu",
           backend: str = "auto") -> tuple[np.ndarray, np.ndarray]:
    """Distances (cosine distance, or Euclidean) and indices of the k nearest `base` rows for each `query` row.

    `backend="auto"` takes a faiss GPU index on CUDA when faiss has GPUs, else torch (on the CPU torch's
    matrix product beats faiss-cpu's flat index at these sizes: see leaderboard/SPEED.md); "faiss" or
    "torch" force one.
    """
    _check_metric(metric)
    k = min(k, len(base))
    faiss = _faiss()
    if backend == "auto":
        backend = backend_for(device)
    if backend == "faiss":
        if faiss is None:
            raise ImportError("faiss is not installed: pip install faiss-cpu (or faiss-gpu-cu12)")
        dist, idx = _faiss_search(faiss, base, query, k, metric, device)
    else:
        dist, idx = _torch_search(base, query, k, metric, device)
        dist, idx = dist.cpu().numpy(), idx.cpu().numpy()
    return dist.astype(np.float64), idx
