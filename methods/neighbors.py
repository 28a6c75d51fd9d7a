"""k-nearest-neighbour search: faiss (GPU index when faiss has GPUs, else CPU), or torch on CUDA."""
from __future__ import annotations

import numpy as np
import torch


def _faiss():
    try:
        import faiss
    except ImportError:
        return None
    return faiss


def prepare(x: np.ndarray, metric: str) -> np.ndarray:
    x = np.ascontiguousarray(x, dtype=np.float32)
    if metric == "cosine":
        x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    elif metric != "l2":
        raise ValueError(f"unknown metric {metric!r}; use cosine or l2")
    return x


def search(base: np.ndarray, query: np.ndarray, k: int, metric: str = "l2", device: str = "cpu",
           backend: str = "auto") -> tuple[np.ndarray, np.ndarray]:
    """Distances (cosine distance, or Euclidean) and indices of the k nearest `base` rows for each `query` row.

    `backend="auto"` takes faiss where it can run on `device`, else torch; "faiss" or "torch" force one.
    """
    base, query = prepare(base, metric), prepare(query, metric)
    k = min(k, len(base))
    faiss = _faiss()
    if backend == "auto":
        backend = "faiss" if faiss is not None and (device == "cpu" or faiss.get_num_gpus() > 0) else "torch"
    if backend == "faiss":
        index = faiss.IndexFlatIP(base.shape[1]) if metric == "cosine" else faiss.IndexFlatL2(base.shape[1])
        if device == "cuda":
            index = faiss.index_cpu_to_all_gpus(index)
        index.add(base)
        sim, idx = index.search(query, k)
    else:
        b, q = torch.from_numpy(base).to(device), torch.from_numpy(query).to(device)
        sim = q @ b.T if metric == "cosine" else torch.cdist(q, b).square()
        sim, idx = torch.topk(sim, k, dim=1, largest=metric == "cosine")
        sim, idx = sim.cpu().numpy(), idx.cpu().numpy()
    dist = 1.0 - sim if metric == "cosine" else np.sqrt(np.maximum(sim, 0.0))
    return dist.astype(np.float64), idx
