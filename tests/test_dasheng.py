"""The `dasheng` embedder against its authors' package: the same random weights, saved in the authors' checkpoint
format and loaded by their `Dasheng.from_pretrained`, give the same tokens, pooled as asked (no network)."""
import numpy as np
import pytest
import soundfile as sf
import torch
from generated import noise_clips

from core.errors import DataError
from embeddings.embedders import get_embedder
from embeddings.embedders.base import build_cache

Dasheng = pytest.importorskip("dasheng.pretrained.pretrained").Dasheng
CONFIG = {"embed_dim": 64, "depth": 3, "num_heads": 4}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    model = Dasheng(**CONFIG)
    bn = model.init_bn[1]  # non-trivial normalisation statistics, so the front end's own mean and std matter
    bn.running_mean.uniform_(-60, -20), bn.running_var.uniform_(50, 200)
    path = tmp_path_factory.mktemp("dasheng") / "dasheng_random.pt"
    torch.save({"model": model.state_dict(), "config": CONFIG}, path)
    return path


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """Two 10 s clips (one chunk of 1008 frames) and two 12 s ones (two chunks)."""
    return noise_clips(tmp_path_factory.mktemp("clips"), [10, 10, 12, 12])


def _reference_tokens(checkpoint, clips) -> list[torch.Tensor]:
    model = Dasheng.from_pretrained(str(checkpoint)).eval()
    with torch.inference_mode():
        return [model(torch.from_numpy(sf.read(p, dtype="float32")[0])[None])[0] for p in clips.path]


@pytest.mark.parametrize("pooling", ["mean", "max", "stats"])
def test_the_embeddings_are_the_authors_models_tokens_pooled(checkpoint, clips, pooling):
    ours, logits = get_embedder("dasheng", checkpoint=str(checkpoint), pooling=pooling, batch_size=2).embed(clips)
    assert logits is None and ours.shape == (4, 128 if pooling == "stats" else 64)
    tokens = _reference_tokens(checkpoint, clips)
    assert [len(t) for t in tokens] == [250, 250, 300, 300]  # 4 frames a token; 12 s clips are two chunks
    reference = {"mean": [t.mean(0) for t in tokens], "max": [t.amax(0) for t in tokens],
                 "stats": [torch.cat([t.mean(0), t.std(0, unbiased=False)]) for t in tokens]}[pooling]
    np.testing.assert_allclose(ours, torch.stack(reference).numpy(), atol=1e-5, rtol=0)


def test_layers_are_the_blocks_in_order_and_the_last_is_the_models_output(checkpoint, clips):
    embedder = get_embedder("dasheng", checkpoint=str(checkpoint))
    audio = torch.from_numpy(sf.read(clips.path[2], dtype="float32")[0])[None]
    with torch.inference_mode():
        states = embedder.states(audio)
        assert len(states) == CONFIG["depth"] + 2 and all(s.shape == (1, 300, 64) for s in states)
        np.testing.assert_allclose(embedder.load().norm(states[-2]), states[-1], atol=1e-6)
        np.testing.assert_allclose(states[-1][0], _reference_tokens(checkpoint, clips)[2], atol=1e-6)
    middle = get_embedder("dasheng", checkpoint=str(checkpoint), layer="1:3").embed(clips.iloc[2:3])[0][0]
    np.testing.assert_allclose(middle, ((states[1] + states[2]) / 2).mean(1)[0], atol=1e-5)
    with pytest.raises(DataError, match="dasheng: layer='9' picks no hidden state"):
        get_embedder("dasheng", checkpoint=str(checkpoint), layer=9).embed(clips.iloc[:1])


def test_a_missing_or_foreign_checkpoint_says_where_the_authors_publish_theirs(tmp_path, clips):
    with pytest.raises(DataError, match=r"not found; download it from https://zenodo.org/records/11511780"):
        get_embedder("dasheng", checkpoint=str(tmp_path / "nope.pt")).embed(clips)
    torch.save({"weights": {}}, tmp_path / "other.pt")
    with pytest.raises(DataError, match=r"other.pt: not a dasheng checkpoint"):
        get_embedder("dasheng", checkpoint=str(tmp_path / "other.pt")).embed(clips)


def test_the_cache_key_follows_the_weights_and_options(checkpoint, clips, tmp_path):
    first = build_cache(get_embedder("dasheng", checkpoint=str(checkpoint)), clips, tmp_path)
    again = build_cache(get_embedder("dasheng", checkpoint=str(checkpoint)), clips, tmp_path)
    pooled = build_cache(get_embedder("dasheng", checkpoint=str(checkpoint), pooling="max"), clips, tmp_path)
    assert first.manifest["key"] == again.manifest["key"] != pooled.manifest["key"]
    other = tmp_path / "other.pt"
    dump = torch.load(checkpoint)
    dump["model"]["norm.weight"] = dump["model"]["norm.weight"] * 2
    torch.save(dump, other)
    changed = build_cache(get_embedder("dasheng", checkpoint=str(other)), clips, tmp_path)
    assert changed.manifest["key"] != first.manifest["key"]
