import pytest

from bench.synth import generate


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory):
    """The generated `tiny` data set, written once per test session."""
    return generate(tmp_path_factory.mktemp("data") / "tiny", "tiny", seed=0, workers=2)


@pytest.fixture(scope="session")
def cache_root(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")
