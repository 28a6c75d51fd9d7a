import numpy as np
import pytest
from generated import generated

from dcase.reader import load_clips
from embeddings.cache import EmbeddingCache
from embeddings.config import preset
from embeddings.pipeline import build

CONFIG = preset("tiny", epochs=8, first_cycle=7)  # the model the training and fault tests share


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory):
    """The generated `tiny` data set, copied once per test session."""
    return generated(tmp_path_factory.mktemp("data") / "tiny", "dcase2020", "tiny", workers=2)


@pytest.fixture(scope="session")
def cache_root(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="session")
def built(tiny_data, cache_root):
    """The tiny data set's clip table and its embedding cache under `cache_root`, trained once per session."""
    table = load_clips(tiny_data)[1]
    return table, build(table, CONFIG, cache_root)


@pytest.fixture(scope="session")
def tiny_table(tiny_data):
    """The tiny data set's clip table, with no model trained on it."""
    return load_clips(tiny_data)[1]


@pytest.fixture(scope="session")
def tiny_embeddings(tiny_table):
    """The tiny clip table with stand-in embeddings: any fixed numbers serve a test that only moves them around."""
    emb = np.random.default_rng(0).standard_normal((len(tiny_table), 32)).astype(np.float32)
    return tiny_table, EmbeddingCache(tiny_table, emb, np.zeros((len(emb), 0), np.float32))
