import shutil

import numpy as np
import soundfile as sf
import torch

import embeddings.features as features
from dcase.reader import load_clips


def test_logmel_shape_and_tone_lands_in_the_right_band():
    t = torch.arange(16000) / 16000
    mel = features.LogMel()(torch.sin(2 * np.pi * 1000 * t)[None])
    assert mel.shape == (1, 128, 1 + 16000 // 512)
    fb = features.LogMel().mel.mel_scale.fb  # (freq bins, mels)
    expected_band = int(fb[round(1000 / (16000 / 1024))].argmax())
    assert abs(int(mel[0].mean(-1).argmax()) - expected_band) <= 1
    silent = features.LogMel()(torch.zeros(1, 16000))
    assert float(silent.min()) == -100.0, "log floor"


def test_feature_cache_is_computed_once_and_keyed_on_data(tiny_data, tmp_path, monkeypatch):
    shutil.copytree(tiny_data / "dev_data" / "valve", tmp_path / "data" / "dev_data" / "valve")  # a clip gets rewritten
    table = load_clips(tmp_path / "data")[1]
    first = features.load_features(table, tmp_path)
    _, train = first.split("train")
    assert train.dtype == np.float16 and train.shape[1:] == (128, 32)
    calls = []
    monkeypatch.setattr(features, "compute_logmel", lambda *a, **k: calls.append(1))
    again = features.load_features(table, tmp_path)
    assert calls == [] and again.key == first.key
    assert np.array_equal(again.logmel["dev"], first.logmel["dev"])
    changed = table.copy()
    sf.write(changed.path[0], np.zeros(16000, np.float32), 16000)  # rewrite a clip: new fingerprint
    assert features.feature_key(changed, features.LogMelConfig()) != first.key


def test_unequal_lengths_are_padded_with_the_floor(tmp_path):
    a, b = tmp_path / "a.wav", tmp_path / "b.wav"
    sf.write(a, np.random.default_rng(0).normal(size=16000).astype(np.float32) * 0.1, 16000)
    sf.write(b, np.random.default_rng(1).normal(size=8000).astype(np.float32) * 0.1, 16000)
    mel, frames = features.compute_logmel([str(a), str(b)])
    assert list(frames) == [32, 16]
    assert (mel[1, :, 16:] == -100).all() and (mel[1, :, :16] > -100).any()
