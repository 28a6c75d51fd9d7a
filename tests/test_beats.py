"""The `beats` embedder against ESPnet's `beats_encoder` (the reference code, installed for the tests without its
training stack): the same random weights, saved in the authors' checkpoint format and read by our loader, give the
same hidden states at every layer, pooled as asked (no network). Those comparisons are slow-lane tests; the rest
read a checkpoint our own model writes in the same format, so the quick lane never imports ESPnet."""
import functools
import warnings

import numpy as np
import pytest
import soundfile as sf
import torch
from beats_tiny import TINY, reference_beats, save_reference_beats, save_tiny_beats
from generated import noise_clips

from core.errors import DataError
from embeddings.embedders import get_embedder
from embeddings.embedders.base import build_cache
from embeddings.embedders.beats_model import relative_buckets

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")  # ESPnet's weight_norm and autocast calls


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return save_tiny_beats(tmp_path_factory.mktemp("beats") / "BEATs_random.pt")


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """ESPnet's random BEATs saved in the authors' format: the checkpoint the comparisons read."""
    pytest.importorskip("espnet2.asr.encoder.beats_encoder")
    return save_reference_beats(tmp_path_factory.mktemp("beats") / "BEATs_reference.pt")


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """Two 10 s clips and two 6 s ones (the length of a 2023+ clip), so a batch never mixes lengths."""
    return noise_clips(tmp_path_factory.mktemp("clips"), [10, 6, 10, 6])


@functools.cache
def _reference_states(clip: str) -> list[torch.Tensor]:
    """ESPnet's hidden states of one clip: `max_layer=k` returns the k-th (0 = the blocks' input). Kept per clip for
    the module: every test reads the same reference."""
    model = reference_beats()
    audio = torch.from_numpy(sf.read(clip, dtype="float32")[0])[None]
    with torch.inference_mode():
        return [model.extract_features(audio, None, max_layer=k)[0][0] for k in range(TINY["encoder_layers"] + 1)]


@pytest.mark.slow
def test_every_layer_equals_espnets_within_1e5(reference, clips):
    embedder = get_embedder("beats", checkpoint=str(reference))
    audio = torch.from_numpy(sf.read(clips.path[0], dtype="float32")[0])[None]
    with torch.inference_mode():
        ours = embedder.states(audio)
    reference = _reference_states(clips.path[0])
    assert len(ours) == len(reference) == 4 and ours[0].shape == (1, 62 * 8, 96)  # 998 frames, 128 bins: 62 x 8 patches
    worst = max((o[0] - r).abs().max().item() for o, r in zip(ours, reference))
    assert worst < 1e-5, worst
    model = reference_beats()
    with torch.inference_mode():
        final = model.extract_features(audio, None)[0][0]
    np.testing.assert_allclose(ours[-1][0], final, atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("pooling", ["mean", "max", "stats"])
def test_the_embeddings_are_the_reference_tokens_pooled(reference, clips, pooling):
    ours, logits = get_embedder("beats", checkpoint=str(reference), pooling=pooling, batch_size=2).embed(clips)
    assert logits is None and ours.shape == (4, 192 if pooling == "stats" else 96)
    tokens = [_reference_states(p)[-1] for p in clips.path]
    assert [len(t) for t in tokens] == [496, 296, 496, 296]
    reference = {"mean": [t.mean(0) for t in tokens], "max": [t.amax(0) for t in tokens],
                 "stats": [torch.cat([t.mean(0), t.std(0, unbiased=False)]) for t in tokens]}[pooling]
    np.testing.assert_allclose(ours, torch.stack(reference).numpy(), atol=1e-5, rtol=0)


@pytest.mark.slow
def test_a_layer_range_is_the_mean_of_those_layers(reference, checkpoint, clips):
    states = _reference_states(clips.path[1])
    middle = get_embedder("beats", checkpoint=str(reference), layer="1:3").embed(clips.iloc[1:2])[0][0]
    np.testing.assert_allclose(middle, ((states[1] + states[2]) / 2).mean(0), atol=1e-5)
    with pytest.raises(DataError, match="beats: layer='7' picks no hidden state"):
        get_embedder("beats", checkpoint=str(checkpoint), layer=7).embed(clips.iloc[:1])


@pytest.mark.slow
def test_our_tiny_checkpoint_is_in_the_authors_format(reference, checkpoint, clips):
    """The file `save_tiny_beats` writes holds the names and shapes ESPnet's model has (less the unused copies of
    the shared position bias), and ESPnet, loading it strictly but for those, gives our hidden states."""
    ours, espnets = torch.load(checkpoint)["model"], torch.load(reference)["model"]
    assert set(ours) <= set(espnets) and all(ours[k].shape == espnets[k].shape for k in ours)
    copies = {k for k in set(espnets) - set(ours) if k.endswith("relative_attention_bias.weight")}
    assert set(espnets) - set(ours) == copies and len(copies) == TINY["encoder_layers"] - 1
    model = reference_beats()
    missing, unexpected = model.load_state_dict(ours, strict=False)
    assert not unexpected and set(missing) == copies
    audio = torch.from_numpy(sf.read(clips.path[1], dtype="float32")[0])[None]
    with torch.inference_mode():
        final = model.extract_features(audio, None)[0][0]
        mine = get_embedder("beats", checkpoint=str(checkpoint)).states(audio)[-1][0]
    np.testing.assert_allclose(mine, final, atol=1e-5)


def test_relative_position_buckets_by_hand():
    # 16 buckets: 8 per sign, exact below 4, then log-spaced up to max_distance 16 (4 -> 4, 8 -> 6, >= 16 -> 7)
    buckets = relative_buckets(20, 16, 16)
    assert buckets[0, :5].tolist() == [0, 9, 10, 11, 12]      # keys after the query: upper half
    assert buckets[4, :5].tolist() == [4, 3, 2, 1, 0]         # keys before it: lower half
    assert buckets[0, 8].item() == 8 + 6 and buckets[19, 0].item() == 7 and buckets[0, 19].item() == 15


def test_a_missing_or_foreign_checkpoint_says_where_the_authors_publish_theirs(tmp_path, clips, checkpoint):
    with pytest.raises(DataError, match=r"not found; download it from https://github.com/microsoft/unilm"):
        get_embedder("beats", checkpoint=str(tmp_path / "nope.pt")).embed(clips)
    torch.save({"weights": {}}, tmp_path / "other.pt")
    with pytest.raises(DataError, match=r"other.pt: not a beats checkpoint \(KeyError"):
        get_embedder("beats", checkpoint=str(tmp_path / "other.pt")).embed(clips)
    broken = torch.load(checkpoint)
    del broken["model"]["encoder.layers.1.fc1.weight"]
    torch.save(broken, tmp_path / "broken.pt")
    with pytest.raises(DataError, match=r"missing encoder weights: layers.1.fc1.weight"):
        get_embedder("beats", checkpoint=str(tmp_path / "broken.pt")).embed(clips)


def test_the_cache_key_follows_the_weights_and_options(checkpoint, clips, tmp_path):
    clips = clips.iloc[1:2]  # one 6 s clip: the key, not the tokens, is under test
    first = build_cache(get_embedder("beats", checkpoint=str(checkpoint)), clips, tmp_path)
    again = build_cache(get_embedder("beats", checkpoint=str(checkpoint)), clips, tmp_path)
    layer = build_cache(get_embedder("beats", checkpoint=str(checkpoint), layer="2"), clips, tmp_path)
    assert first.manifest["key"] == again.manifest["key"] != layer.manifest["key"]
    changed = build_cache(get_embedder("beats", checkpoint=str(save_tiny_beats(tmp_path / "b.pt", seed=1))), clips, tmp_path)
    assert changed.manifest["key"] != first.manifest["key"]


def test_a_known_name_must_hold_its_published_hash_and_any_other_file_is_used_with_its_hash_printed(
        checkpoint, tmp_path, monkeypatch):
    import hashlib
    import shutil

    from embeddings.embedders import checkpointed
    sha = hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    monkeypatch.setattr(checkpointed, "_WARNED", set())
    with pytest.warns(UserWarning, match=rf"not a checkpoint this harness knows by name and hash \(SHA-256 {sha}\)"):
        assert get_embedder("beats", checkpoint=str(checkpoint)).fingerprint() == sha
    published = tmp_path / "BEATs_iter3.pt"
    shutil.copy(checkpoint, published)
    beats = type(get_embedder("beats", checkpoint=str(published)))
    monkeypatch.setattr(beats, "known", {"BEATs_iter3.pt": sha})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a known file is used without a word
        assert get_embedder("beats", checkpoint=str(published)).fingerprint() == sha
    monkeypatch.setattr(beats, "known", {"BEATs_iter3.pt": "0" * 64})
    with pytest.raises(DataError, match=rf"BEATs_iter3.pt: SHA-256 {sha}, but the published BEATs_iter3.pt has 0{{64}}; "
                                        r"download it again from https://github.com/microsoft/unilm"):
        get_embedder("beats", checkpoint=str(published)).fingerprint()
