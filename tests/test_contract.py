"""Every registered scorer and embedder under one contract, as scikit-learn's `check_estimator` holds every estimator to its
own: a plugin is checked the moment it is registered (its name is in the test ids). Bad input is refused with a
`DataError` naming the clips; awkward but valid input (constant embeddings, a target domain of one clip) gives a
finite score per clip. An embedder gives one finite row per clip, reads its cache the second time, and
another cache entry when an option (or, for one that trains, the seed) changes."""
import numpy as np
import pytest

from core.errors import DataError
from embeddings.embedders import EMBEDDERS, get_embedder
from methods import Bundle, available, get_scorer

SCORERS = list(available())
DIM, CLASSES = 8, 3


def _bundle(rng, n=24, d=DIM, name="fan section 00 training clips", domain=None, constant=False):
    x = np.ones((n, d)) if constant else rng.standard_normal((n, d))
    logits = rng.standard_normal((n, CLASSES))
    return Bundle(x.astype(np.float32), logits.astype(np.float32), np.zeros(n, int), name, domain=domain)


def _reads(name: str) -> list[str]:
    return [f for f in get_scorer(name).reads if f in ("embeddings", "logits")]


@pytest.mark.parametrize("name", SCORERS)
@pytest.mark.parametrize("split", ["training", "test"])
def test_a_nan_in_what_the_scorer_reads_is_refused_naming_the_clips(name, split):
    for field in _reads(name):
        rng = np.random.default_rng(0)
        train, test = _bundle(rng), _bundle(rng, name="fan section 00 test clips")
        getattr(train if split == "training" else test, field)[5, 2] = np.nan
        with pytest.raises(DataError, match=f"fan section 00 {split} clips: .*NaN or inf"):
            get_scorer(name).fit_many([train]).score_many([test])


@pytest.mark.parametrize("name", SCORERS)
def test_test_embeddings_of_another_dimension_are_refused(name):
    if "embeddings" not in _reads(name):
        pytest.skip(f"{name} reads no embeddings")
    rng = np.random.default_rng(0)
    scorer = get_scorer(name).fit_many([_bundle(rng)])
    with pytest.raises(DataError, match="16-dimensional embeddings, but .* fitted on 8-dimensional"):
        scorer.score_many([_bundle(rng, d=16, name="fan section 00 test clips")])


@pytest.mark.parametrize("name", SCORERS)
@pytest.mark.parametrize("case", ["constant embeddings", "a target domain of one clip", "one training clip"])
def test_awkward_input_gives_finite_scores_or_a_data_error(name, case):
    rng = np.random.default_rng(0)
    domain = np.array(["source"] * 23 + ["target"])
    train = {"constant embeddings": _bundle(rng, constant=True, domain=domain),
             "a target domain of one clip": _bundle(rng, domain=domain),
             "one training clip": _bundle(rng, n=1)}[case]
    test = _bundle(rng, n=10, name="fan section 00 test clips", domain=np.array(["source", "target"] * 5))
    try:
        scores = get_scorer(name).fit_many([train]).score_many([test])[0]
    except DataError as exc:  # a refusal is fine if it names the clips
        assert "fan section 00" in str(exc)
        return
    assert scores.shape == (10,) and np.isfinite(scores).all()


# ---------------------------------------------------------------- embedders
HEAR_MODULE = '''
import torch

class Model(torch.nn.Module):
    sample_rate = 16000
    scene_embedding_size = 8

    def __init__(self):
        super().__init__()
        self.proj = torch.nn.Linear(64, 8)

def load_model(model_file_path=""):
    torch.manual_seed(0)
    return Model()

def get_scene_embeddings(audio, model):
    frames = audio[:, : audio.shape[1] // 64 * 64].reshape(len(audio), -1, 64)
    return model.proj(torch.fft.rfft(frames, n=126).abs()).mean(1)
'''


@pytest.fixture(scope="module")
def valve(tiny_data):
    """One machine type of the tiny set: every embedder, trained ones included, in seconds."""
    from dcase.reader import load_clips
    table = load_clips(tiny_data)[1]
    return table[table.machine_type == "valve"].reset_index(drop=True)


@pytest.fixture(scope="module")
def embedder_files(valve, tmp_path_factory):
    """The files the embedders' cases read (imported embeddings, a HEAR module, tiny random checkpoints), written once."""
    import torch
    from beats_tiny import save_tiny_beats
    from dasheng.pretrained.pretrained import Dasheng
    from hf_tiny import save_tiny
    folder = tmp_path_factory.mktemp("embedder_files")
    rng = np.random.default_rng(0)
    for i in (1, 2):
        np.savez(folder / f"emb{i}.npz", files=np.array(["/".join(p.split("/")[-4:]) for p in valve.path]),
                 embeddings=rng.standard_normal((len(valve), 8)).astype(np.float32))
    (folder / "contract_hear.py").write_text(HEAR_MODULE)
    torch.manual_seed(0)
    torch.save({"model": Dasheng(embed_dim=32, depth=1, num_heads=2).state_dict(),
                "config": {"embed_dim": 32, "depth": 1, "num_heads": 2}}, folder / "dasheng.pt")
    save_tiny("ast", folder / "ast")
    save_tiny_beats(folder / "beats.pt")
    return folder


def _embedder_cases(folder, monkeypatch) -> dict[str, tuple[dict, dict]]:
    """Per registered embedder: options that build it here without a download, and a change of one that must
    give another cache entry (for one that trains, the seed)."""
    monkeypatch.syspath_prepend(str(folder))
    return {"arcface": ({"preset": "tiny"}, {"seed": 1}), "ae2020": ({"epochs": 1}, {"seed": 1}),
            "ae2023": ({"epochs": 1}, {"output": "whitened"}),
            "imported": ({"path": str(folder / "emb1.npz")}, {"path": str(folder / "emb2.npz")}),
            "hear": ({"module": "contract_hear"}, {"batch_size": 2}),
            "hf": ({"model": str(folder / "ast")}, {"pooling": "max"}),
            "dasheng": ({"checkpoint": str(folder / "dasheng.pt")}, {"pooling": "stats"}),
            "beats": ({"checkpoint": str(folder / "beats.pt")}, {"layer": "1"})}


def test_every_registered_embedder_has_a_contract_case(embedder_files, monkeypatch):
    assert set(EMBEDDERS.available()) == set(_embedder_cases(embedder_files, monkeypatch))


@pytest.mark.parametrize("name", sorted(EMBEDDERS.available()))
def test_every_registered_embedder_keeps_the_contract(name, valve, embedder_files, tmp_path, monkeypatch):
    options, change = _embedder_cases(embedder_files, monkeypatch)[name]
    seed = change.pop("seed", 0)
    cache = tmp_path / "cache"
    first = get_embedder(name, **options).build(valve, cache, 0)
    assert first.embeddings.shape[0] == len(valve) and first.embeddings.ndim == 2
    assert np.isfinite(first.embeddings).all() and np.isfinite(first.logits).all() and len(first.logits) == len(valve)
    again = get_embedder(name, **options).build(valve, cache, 0)
    assert again.manifest == first.manifest, "the same embedder and data must read the cache, not embed again"
    np.testing.assert_array_equal(again.embeddings, first.embeddings)
    other = get_embedder(name, **{**options, **change}).build(valve, cache, seed)
    assert other.manifest["key"] != first.manifest["key"]
