"""The GPU code paths' logic, run on the CPU (CUDA against the CPU: tests/test_cuda.py)."""
import numpy as np
import pytest

from core.errors import DataError
from methods.neighbors import flat_index


@pytest.mark.parametrize("metric", ["l2", "cosine"])
def test_torch_neighbour_search_equals_faiss(metric):
    rng = np.random.default_rng(0)
    base, query = rng.normal(size=(200, 32)), rng.normal(size=(30, 32))
    d_faiss, i_faiss = flat_index(base, metric, backend="faiss").search(query, 5)
    d_torch, i_torch = flat_index(base, metric, backend="torch").search(query, 5)
    np.testing.assert_allclose(d_torch, d_faiss, rtol=1e-4, atol=1e-5)
    assert (i_torch == i_faiss).mean() > 0.99


@pytest.mark.parametrize("backend", ["faiss", "torch"])
@pytest.mark.parametrize("metric", ["l2", "cosine"])
def test_both_indexes_refuse_a_nan_row_by_name(backend, metric):
    rng = np.random.default_rng(0)
    base, query = rng.normal(size=(50, 8)), rng.normal(size=(10, 8))
    index = flat_index(base, metric, backend=backend, name="pump id_02 training clips: embeddings")
    query[7, 2] = np.nan
    with pytest.raises(DataError, match="pump id_02 test clips: embeddings row 7 .and 0 more. is NaN or inf"):
        index.search(query, 5, "pump id_02 test clips: embeddings")
    base[4, 0] = np.inf
    with pytest.raises(DataError, match="pump id_02 training clips: embeddings row 4 "):
        flat_index(base, metric, backend=backend, name="pump id_02 training clips: embeddings")
