"""CUDA against the CPU: every scorer, the log-mel front end, a bf16 training step and bf16 inference.

They run where torch sees a GPU. `ASD_BENCH_GPU_DRY=1` runs them with the CPU in the GPU's place (the
bf16 autocast included), the rehearsal `bench.gpu_check --dry` does, so they keep working between loans.
"""
import os

import numpy as np
import pytest
import torch

from embeddings.classifier import Classifier, infer
from embeddings.config import preset
from embeddings.features import LogMel
from embeddings.heads import cross_entropy
from methods import Bundle, get_scorer

DEVICE = "cuda" if torch.cuda.is_available() else ("cpu" if os.environ.get("ASD_BENCH_GPU_DRY") else None)
pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(DEVICE is None, reason="needs a CUDA device (ASD_BENCH_GPU_DRY=1 rehearses on the CPU)")]
CONFIG = preset("tiny", dropout=0.0)  # dropout masks would differ between the two passes


def _cosine(a, b):
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


@pytest.mark.parametrize("name", ["softmax", "centroid", "gmm", "knn", "lof"])
def test_scorers_on_the_device_equal_the_cpu(name):
    rng = np.random.default_rng(0)

    def bundle(n):
        return Bundle(rng.normal(size=(n, 64)).astype(np.float32), rng.normal(size=(n, 4)).astype(np.float32), np.zeros(n, int))
    trains, tests = [bundle(300) for _ in range(3)], [bundle(50) for _ in range(3)]
    cpu = get_scorer(name, "cpu").fit_many(trains).score_many(tests)
    dev = get_scorer(name, DEVICE).fit_many(trains).score_many(tests)
    for a, b in zip(cpu, dev):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)


def test_log_mel_on_the_device_equals_the_cpu():
    wave = torch.from_numpy(np.random.default_rng(0).normal(0, 0.1, (4, 32000)).astype(np.float32))
    cpu = LogMel()(wave)
    dev = LogMel().to(DEVICE)(wave.to(DEVICE)).cpu()
    np.testing.assert_allclose(dev.numpy(), cpu.numpy(), atol=0.05)  # dB; cuFFT and pocketfft round differently


def test_a_bf16_training_step_is_finite_and_close_to_fp32():
    if DEVICE == "cpu":  # measured here: 1 of 20 bf16 forwards of the backbone gives NaN on the CPU, none in fp32
        pytest.skip("torch 2.14.1's CPU bf16 autocast kernels give sporadic NaN; the bf16 step is checked on a GPU")
    torch.manual_seed(0)
    net = Classifier(CONFIG, 41).to(DEVICE)
    x = torch.randn(16, 128, CONFIG.crop_frames, device=DEVICE) * 10 - 40
    y = torch.arange(16, device=DEVICE) % 41
    losses, grads = {}, {}
    for bf16 in (False, True):
        net.zero_grad(set_to_none=True)
        with torch.autocast(DEVICE, torch.bfloat16, enabled=bf16):
            _, logits = net(x, y)
            loss = cross_entropy(logits, y, 0.05)
        loss.backward()
        losses[bf16] = float(loss)
        grads[bf16] = torch.cat([p.grad.float().ravel() for p in net.parameters() if p.grad is not None]).cpu()
    assert np.isfinite(losses[True]) and bool(torch.isfinite(grads[True]).all())
    assert losses[True] == pytest.approx(losses[False], rel=0.05)
    assert _cosine(grads[True], grads[False]) > 0.9


def test_bf16_inference_on_the_device_is_close_to_fp32_on_the_cpu():
    torch.manual_seed(0)
    net = Classifier(CONFIG, 41)
    logmel = (np.random.default_rng(0).normal(size=(6, 128, 80)) * 10 - 40).astype(np.float16)
    frames = np.array([80, 80, 64, 50, 40, 80])
    cpu_emb, cpu_logits = infer(net, logmel, frames, CONFIG.crop_frames, "cpu")
    dev_emb, dev_logits = infer(net.to(DEVICE), logmel, frames, CONFIG.crop_frames, DEVICE)
    assert np.isfinite(dev_emb).all() and np.isfinite(dev_logits).all()
    assert min(_cosine(a, b) for a, b in zip(dev_emb, cpu_emb)) > 0.99
