"""The DCASE baseline autoencoders (`ae2020`, `ae2023`) and their scorers (`mse`, `block_norm`), against
hand-derived values and plain NumPy."""
import sys

import numpy as np
import pytest
import torch
from generated import generated

from dcase import generate
from dcase.reader import load_clips
from embeddings.embedders import get_embedder
from embeddings.embedders.autoencoder import DenseAutoencoder, frame_vectors, log_mel, train_autoencoder, validation_split
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
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm1d)]
    # Keras' defaults, which both baselines use: keep 0.99 of the running statistics, eps 1e-3
    assert len(norms) == 9 and all(m.momentum == 0.01 and m.eps == 1e-3 for m in norms)
    assert sum(isinstance(m, torch.nn.ReLU) for m in model.modules()) == 9


def test_training_reduces_the_loss():
    rng = torch.Generator().manual_seed(0)
    low_rank = torch.randn(3000, 4, generator=rng) @ torch.randn(4, 320, generator=rng)
    fit, held = validation_split(len(low_rank), seed=0, shuffled=True)
    _, log = train_autoencoder(low_rank[fit], low_rank[held], epochs=8, batch_size=256, lr=1e-3, seed=0)
    assert log[-1]["loss"] < 0.5 * log[0]["loss"] and np.isfinite(log[-1]["val_loss"])


def test_validation_split_holds_out_the_last_or_a_random_tenth():
    fit, held = validation_split(25, seed=0, shuffled=False)  # Keras: the first int(0.9 n) vectors fit
    assert fit.tolist() == list(range(22)) and held.tolist() == [22, 23, 24]
    fit, held = validation_split(25, seed=0, shuffled=True)  # scikit-learn's test_size=0.1: ceil(2.5) = 3 held out
    assert len(held) == 3 and sorted(fit.tolist() + held.tolist()) == list(range(25)) and held.tolist() != [22, 23, 24]
    assert validation_split(25, seed=0, shuffled=True)[1].tolist() == held.tolist()


def test_block_norm_is_the_smallest_squared_block_norm():
    x = np.array([[3.0, 4.0, 1.0, 0.0], [0.0, 0.0, 2.0, 2.0]])  # blocks: (3, 4) | (1, 0) and (0, 0) | (2, 2)
    bundle = Bundle(x.astype(np.float32), np.zeros((2, 0), np.float32), np.zeros(2))
    assert get_scorer("block_norm").fit(bundle).score(bundle).tolist() == [1.0, 0.0]
    assert get_scorer("block_norm", combine="mean").fit(bundle).score(bundle).tolist() == [13.0, 4.0]
    assert get_scorer("block_norm", blocks=1).fit(bundle).score(bundle).tolist() == [26.0, 8.0]
    with pytest.raises(Exception, match="3 equal blocks"):
        get_scorer("block_norm", blocks=3).fit(bundle)


@pytest.fixture(scope="module")
def fan_2023(tmp_path_factory):
    """One machine type of a generated DCASE 2023 set: 1 s clips, 6 source and 3 target training clips."""
    preset = generate.Preset(seconds=1.0, source_train=6, target_train=3, test_per_cell=2)
    root = generated(tmp_path_factory.mktemp("ae2023") / "data", "dcase2023", preset, workers=2)
    table = load_clips(root, task="dcase2023")[1]
    return table[table.machine_type == "fan"].reset_index(drop=True)


def test_ae2023_selective_mahalanobis_equals_the_baselines_quadratic_form(fan_2023, tmp_path, monkeypatch):
    import embeddings.embedders.batched_ae as batched
    table, trained = fan_2023, []
    real_train = batched.train_autoencoders

    def keep(*args, **kwargs):
        out = real_train(*args, **kwargs)
        trained.extend(model for model, _ in out)
        return out
    monkeypatch.setattr(batched, "train_autoencoders", keep)
    error = get_embedder("ae2023", epochs=2).build(table, tmp_path)
    whitened = get_embedder("ae2023", epochs=2, output="whitened").build(table, tmp_path)
    assert len(trained) == 1, "the second output must reuse the trained model"
    assert error.embeddings.shape == (len(table), 640) and whitened.embeddings.shape == (len(table), 256)
    model = trained[0]

    clips = [frame_vectors(log_mel(torch.from_numpy(read_wav(p)), 128)).numpy().astype(np.float64) for p in table.path]
    train = np.flatnonzero(table.split == "train")
    vectors = np.concatenate([clips[i] for i in train])
    domain = np.repeat(table.domain.to_numpy()[train], [len(clips[i]) for i in train])
    fit = validation_split(len(vectors), seed=0, shuffled=True)[0].numpy()

    def recon(x):
        with torch.no_grad():
            return model(torch.from_numpy(x).float()).double().numpy()
    precisions = {}
    for d in ("source", "target"):  # per domain: scatter of the frame differences over (vectors - 1)
        v = vectors[fit][domain[fit] == d]
        rows = (v - recon(v)).reshape(-1, 128)
        rows = rows - rows.mean(0)
        precisions[d] = np.linalg.inv(rows.T @ rows / (len(v) - 1))
    mse = get_scorer("mse").score(Bundle(error.embeddings, error.logits, np.zeros(len(table))))
    mahala = get_scorer("block_norm").fit(Bundle(whitened.embeddings, whitened.logits, np.zeros(len(table)))).score(
        Bundle(whitened.embeddings, whitened.logits, np.zeros(len(table))))
    for i in (0, len(table) // 2, len(table) - 1):
        delta = (recon(clips[i]) - clips[i]).reshape(-1, 128)  # recon minus input, one row per frame of each vector
        # the baseline's form: the mean over every (row, row) entry of delta P delta^T, the smaller domain
        expected = min(np.mean(delta @ p @ delta.T) for p in precisions.values())
        assert mahala[i] == pytest.approx(expected, rel=1e-3)
        assert mse[i] == pytest.approx(np.mean(delta ** 2), rel=1e-4)


@pytest.mark.slow
def test_the_mse_score_is_the_mean_squared_reconstruction_error(built, tmp_path, monkeypatch):
    import embeddings.embedders.batched_ae as batched
    table, _ = built
    table = table[table.machine_type == "valve"].reset_index(drop=True)
    models = {}
    real_train = batched.train_autoencoders

    def keep(*args, **kwargs):
        out = real_train(*args, **kwargs)
        models["valve"] = out[0][0]
        return out
    monkeypatch.setattr(batched, "train_autoencoders", keep)
    cache = get_embedder("ae2020", epochs=3).build(table, tmp_path)
    assert cache.embeddings.shape == (len(table), 320) and cache.logits.shape == (len(table), 0)
    scores = get_scorer("mse").fit(Bundle(cache.embeddings, cache.logits, np.zeros(len(table)))).score(
        Bundle(cache.embeddings, cache.logits, np.zeros(len(table))))
    for i in (0, len(table) // 2, len(table) - 1):  # the baseline's score, in plain NumPy from the reconstructions
        x = frame_vectors(log_mel(torch.from_numpy(read_wav(table.path[i])))).numpy()
        with torch.no_grad():
            r = models["valve"](torch.from_numpy(x)).numpy()
        assert scores[i] == pytest.approx(np.mean(np.mean((x - r) ** 2, axis=1)), rel=1e-4)


def test_the_batched_training_equals_training_each_machine_type_alone():
    """Four machine types of different sizes (one sits most steps out), three epochs, in float64 so that Adam's
    normalisation does not blow float32 noise in the pre-BatchNorm biases' zero gradients up: every weight, every
    BatchNorm statistic and every logged loss equal to 1e-9."""
    from embeddings.embedders.batched_ae import train_autoencoders
    g = torch.Generator().manual_seed(1)
    data = []
    for n in (1300, 1025, 700, 258):
        vectors = (torch.randn(n, 64, generator=g) @ torch.randn(64, 64, generator=g) * 0.3).double()
        fit, held = validation_split(n, seed=0, shuffled=True)
        data.append((vectors[fit], vectors[held]))
    alone = [train_autoencoder(fit, held, epochs=3, batch_size=256, lr=1e-3, seed=0) for fit, held in data]
    together = train_autoencoders(data, epochs=3, batch_size=256, lr=1e-3, seed=0)
    for (model_a, log_a), (model_b, log_b) in zip(alone, together):
        a, b = model_a.state_dict(), model_b.state_dict()
        assert set(a) == set(b)
        for key in a:
            np.testing.assert_allclose(b[key].numpy(), a[key].numpy(), rtol=0, atol=1e-9, err_msg=key)
        for x, y in zip(log_a, log_b):
            assert x["loss"] == pytest.approx(y["loss"], abs=1e-12) and x["val_loss"] == pytest.approx(y["val_loss"], abs=1e-12)
