"""A faiss search for tests/test_faults.py to run in a scorer's own process: a module of its own, so the child
imports faiss and numpy only, not the test module's torch."""
import faiss
import numpy as np


def faiss_neighbours(x: np.ndarray) -> float:
    index = faiss.IndexFlatL2(x.shape[1])
    index.add(x)
    return float(index.search(x[:2000], 4)[0].sum())
