"""The DCASE 2020 baseline autoencoder (`ae2020`) and the `mse` scorer, against hand-derived values."""
import sys

import numpy as np
import pytest
import torch

from embeddings.embedders import get_embedder
from embeddings.embedders.autoencoder import DenseAutoencoder, frame_vectors, log_mel, train_autoencoder
from embeddings.features import read_wav
from methods import Bundle, get_scorer


def test_frame_vectors_concatenate_five_frames_frame_after_frame():
    logmel = torch.arange(2 * 7, dtype=torch.float32).reshape(2, 7)  # 2 bands, 7 frames: value = 7 * band + frame
    vectors = frame_vectors(logmel, frames=5)
    assert vectors.shape == (3, 10)
    # vector t = [frame t (band 0, band 1), frame t+1 (band 0, band 1), ...]
    assert vectors[1].tolist() == [1, 8, 2, 9, 3, 10, 4, 11, 5, 12]


def test_log_mel_is_ten_log10_of_power_plus_epsilon():
    silence = log_mel(torch.zeros(16000))
    assert silence.shape == (64, 32)  # 1 s at hop 512, centred: 1 + 16000 // 512 frames
    np.testing.assert_allclose(silence.numpy(), 10 * np.log10(sys.float_info.epsilon), rtol=1e-6)
    # a full-scale 1 kHz tone: Parseval puts its power in the band around 1 kHz, far above the others
    tone = log_mel(torch.sin(2 * torch.pi * 1000 * torch.arange(16000) / 16000))
    assert int(tone[:, 16].argmax()) in range(20, 30) and float(tone[:, 16].max()) > 20


def test_the_autoencoder_has_the_baseline_layers():
    model = DenseAutoencoder()
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert [(l.in_features, l.out_features) for l in linears] == [
        (320, 128), (128, 128), (128, 128), (128, 128), (128, 8), (8, 128), (128, 128), (128, 128), (128, 128), (128, 320)]
    assert sum(isinstance(m, torch.nn.BatchNorm1d) for m in model.modules()) == 9
    assert sum(isinstance(m, torch.nn.ReLU) for m in model.modules()) == 9


def test_training_reduces_the_loss():
    rng = torch.Generator().manual_seed(0)
    low_rank = torch.randn(3000, 4, generator=rng) @ torch.randn(4, 320, generator=rng)
    _, log = train_autoencoder(low_rank, epochs=8, batch_size=256, lr=1e-3, seed=0)
    assert log[-1]["loss"] < 0.5 * log[0]["loss"] and np.isfinite(log[-1]["val_loss"])


@pytest.mark.slow
def test_the_mse_score_is_the_mean_squared_reconstruction_error(built, tmp_path, monkeypatch):
    import embeddings.embedders.autoencoder as ae
    table, _ = built
    table = table[table.machine_type == "valve"].reset_index(drop=True)
    models = {}
    real_train = ae.train_autoencoder

    def keep(*args, **kwargs):
        models["valve"] = real_train(*args, **kwargs)[0]
        return models["valve"], []
    monkeypatch.setattr(ae, "train_autoencoder", keep)
    cache = get_embedder("ae2020", epochs=3).build(table, tmp_path)
    assert cache.embeddings.shape == (len(table), 320) and cache.logits.shape == (len(table), 0)
    scores = get_scorer("mse").fit(Bundle(cache.embeddings, cache.logits, np.zeros(len(table)))).score(
        Bundle(cache.embeddings, cache.logits, np.zeros(len(table))))
    for i in (0, len(table) // 2, len(table) - 1):  # the baseline's score, in plain NumPy from the reconstructions
        x = frame_vectors(log_mel(torch.from_numpy(read_wav(table.path[i])))).numpy()
        with torch.no_grad():
            r = models["valve"](torch.from_numpy(x)).numpy()
        assert scores[i] == pytest.approx(np.mean(np.mean((x - r) ** 2, axis=1)), rel=1e-4)
