"""Throughput rows of `bench speed`: log-mel, training steps, embedder inference and the baseline autoencoders."""
from __future__ import annotations

import contextlib
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def _noise_clips(folder, n_clips, seconds) -> list[str]:
    """`n_clips` 16-bit WAVs of white noise in `folder`: stand-ins for real clips where only the size matters."""
    import soundfile as sf
    rng = np.random.default_rng(0)
    paths = [f"{folder}/c{i}.wav" for i in range(n_clips)]
    for path in paths:
        sf.write(path, (0.1 * rng.normal(size=int(seconds * 16000))).astype(np.float32), 16000, subtype="PCM_16")
    return paths


def feature_throughput(devices, n_clips=64, seconds=10.0):
    """Decode + log-mel clips/s for 10 s clips."""
    from embeddings.features import compute_logmel
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        paths = _noise_clips(tmp, n_clips, seconds)
        for device in devices:
            compute_logmel(paths[:8], device=device)
            start = time.perf_counter()
            compute_logmel(paths, device=device)
            rows.append({"stage": "decode + log-mel (10 s clips)", "device": device,
                         "clips_per_s": n_clips / (time.perf_counter() - start)})
    return rows


# dense bf16 tensor-core peaks (TFLOP/s) of the GPUs this project is measured on
BF16_PEAK_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0}


class WavCrops(torch.utils.data.Dataset):
    """The plain loop's input: every access decodes a WAV and computes its log-mel, then crops it."""

    def __init__(self, paths, crop):
        from embeddings.features import LogMel
        self.paths, self.crop, self.logmel = paths, crop, LogMel()

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        from embeddings.features import read_wav
        mel = self.logmel(torch.from_numpy(read_wav(self.paths[i]))[None])[0]
        start = int(torch.randint(mel.shape[1] - self.crop + 1, ()))
        return mel[:, start:start + self.crop], i % 41


def _train_steps(net, opt, batches, device, fast):
    """Seconds for all but the first (warm-up) batch, and the FLOPs of one step."""
    from torch.utils.flop_counter import FlopCounterMode

    from embeddings.heads import cross_entropy

    def step(x, y, count=False):
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        with FlopCounterMode(display=False) if count else contextlib.nullcontext() as counter:
            with torch.autocast(device, torch.bfloat16, enabled=fast):
                _, logits = net(x, y)
                loss = cross_entropy(logits, y, 0.05)
            opt.zero_grad(set_to_none=True)
            loss.backward()
        opt.step()
        return counter.get_total_flops() if count else None

    it = iter(batches)
    flops = step(*next(it), count=True)
    if device == "cuda":
        torch.cuda.synchronize()
    start, n = time.perf_counter(), 0
    for x, y in it:
        step(x, y)
        n += len(x)
    if device == "cuda":
        torch.cuda.synchronize()
    return n, time.perf_counter() - start, flops


def training_throughput(device, model="iresnet50", batch=64, steps=4, crop=64, seconds=10.0):
    """Training clips/s: a plain fp32 loop decoding audio in a DataLoader, against log-mel resident on the
    device with (on CUDA) bf16 autocast and channels-last."""
    from dataclasses import replace

    from embeddings.classifier import Classifier
    from embeddings.config import TrainConfig
    from embeddings.features import compute_logmel
    from embeddings.train import random_crops
    config = replace(TrainConfig(), model=model, crop_frames=crop)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        paths = _noise_clips(tmp, batch * (steps + 1), seconds)
        labels = torch.arange(len(paths)) % 41
        resident = torch.from_numpy(compute_logmel(paths, device=device)[0]).to(device)
        frames = torch.full((len(paths),), resident.shape[-1], device=device)
        gen = torch.Generator().manual_seed(0)

        def resident_batches():
            for b in range(steps + 1):
                idx = torch.arange(b * batch, (b + 1) * batch, device=device)
                yield random_crops(resident, frames, idx, crop, gen), labels[idx.cpu()]

        loader = torch.utils.data.DataLoader(WavCrops(paths, crop), batch_size=batch, num_workers=min(4, os.cpu_count() or 1),
                                             pin_memory=device == "cuda")
        fast = device == "cuda"
        for name, batches, use_fast in (("plain: fp32, DataLoader decoding WAVs", loader, False),
                                        ("resident log-mel" + (", bf16 autocast, channels-last" if fast else ", fp32"),
                                         resident_batches(), fast)):
            torch.manual_seed(0)
            net = Classifier(config, 41).to(device)
            if use_fast:
                net = net.to(memory_format=torch.channels_last)
            opt = torch.optim.Adam(net.parameters(), lr=1e-4)
            n, secs, flops = _train_steps(net, opt, batches, device, use_fast)
            tflops = flops / batch * n / secs / 1e12
            peak = next((v for k, v in BF16_PEAK_TFLOPS.items() if device == "cuda" and k in torch.cuda.get_device_name(0)), None)
            rows.append({"stage": f"train {model}, batch {batch}: {name}", "device": device, "clips_per_s": n / secs,
                         "tflops": tflops, "bf16_peak_fraction": tflops / peak if peak else None})
    return rows


def matmul_rate(device: str, n: int = 2048) -> float:
    """This machine's fp32 matrix-product rate in TFLOP/s: the yardstick for an encoder's CPU inference."""
    a = torch.randn(n, n, device=device)
    a @ a
    if device == "cuda":
        torch.cuda.synchronize()
    start, reps = time.perf_counter(), 0
    while time.perf_counter() - start < 1.0:
        a @ a
        reps += 1
    if device == "cuda":
        torch.cuda.synchronize()
    return 2 * n**3 * reps / (time.perf_counter() - start) / 1e12


def embedder_throughput(device, quick=False, batch=4, seconds=10.0):
    """Inference clips/s of the arcface model and of base-size pretrained encoders (AST, wav2vec 2.0, BEATs, Dasheng when
    its package is installed; random weights: speed does not depend on them), with TFLOP/s and their share of the
    fp32 matrix-product rate."""
    from torch.utils.flop_counter import FlopCounterMode
    from transformers import ASTConfig, ASTModel, Wav2Vec2Config, Wav2Vec2Model

    from embeddings.classifier import Classifier
    from embeddings.config import TrainConfig
    from embeddings.features import LogMel
    tiny = dict(num_hidden_layers=2) if quick else {}
    models = {
        "iresnet50 (arcface), 64-frame crops": (Classifier(TrainConfig(model="iresnet_small" if quick else "iresnet50"), 41),
                                                 lambda wave: {"x": _crops(LogMel().to(device)(wave))}),
        "AST base, 10.24 s of 128-band fbank": (ASTModel(ASTConfig(**tiny)), lambda wave: {"input_values": torch.randn(
            len(wave), 1024, 128, device=device)}),
        "wav2vec 2.0 base, raw 16 kHz audio": (Wav2Vec2Model(Wav2Vec2Config(**tiny)), lambda wave: {"input_values": wave}),
    }
    try:
        from dasheng.pretrained.pretrained import Dasheng
        models["Dasheng base, raw 16 kHz audio (its own front end)"] = (
            Dasheng(embed_dim=768, depth=2 if quick else 12, num_heads=12), lambda wave: {"x": wave})
    except ImportError:
        pass
    from embeddings.embedders.beats_model import BEATs, BEATsConfig
    models["BEATs (iter3 size), raw 16 kHz audio (its own fbank front end)"] = (
        BEATs(BEATsConfig(encoder_layers=2 if quick else 12)), lambda wave: {"audio": wave})
    rate = matmul_rate(device)
    rows = []
    wave = torch.randn(batch, int(seconds * 16000), device=device) * 0.1
    with torch.no_grad():  # not inference_mode: wav2vec 2.0's weight-normed convolution fails under the FLOP counter there
        for name, (model, inputs) in models.items():
            model = model.eval().to(device)
            forward = (lambda kw: model.embed(kw["x"])) if isinstance(model, Classifier) else (lambda kw: model(**kw))
            with torch.autocast("cuda", torch.bfloat16, enabled=device == "cuda"):
                with FlopCounterMode(display=False) as counter:
                    forward(inputs(wave))
                flops = counter.get_total_flops()
                start, n = time.perf_counter(), 0
                while time.perf_counter() - start < (1.0 if quick else 5.0) or n == 0:
                    forward(inputs(wave))
                    n += batch
                if device == "cuda":
                    torch.cuda.synchronize()
                secs = time.perf_counter() - start
            tflops = flops / batch * n / secs / 1e12
            rows.append({"stage": f"embed: {name}, batch {batch}", "device": device, "clips_per_s": n / secs,
                         "tflops": tflops, "matmul_fraction": tflops / rate})
    return rows


def autoencoder_throughput(device, quick=False, n_clips=None, seconds=10.0):
    """The official baseline autoencoders (2020: 64 bands, batch 512; 2023: 128 bands, batch 256): training clips/s
    (per epoch) and scoring clips/s, on 10 s clips."""
    from embeddings.embedders.autoencoder import frame_vectors, log_mel, train_autoencoder, validation_split
    from embeddings.embedders.batched_ae import train_autoencoders
    n_clips = n_clips or (8 if quick else 64)
    waves = torch.randn(n_clips, int(seconds * 16000)) * 0.1
    epochs = 1 if quick else 3
    rows = []
    for name, n_mels, batch in (("ae2020", 64, 512), ("ae2023", 128, 256)):
        clips = [frame_vectors(log_mel(w, n_mels)) for w in waves]
        vectors = torch.cat(clips)
        fit, held = validation_split(len(vectors), 0, shuffled=name == "ae2023")
        start = time.perf_counter()
        model, _ = train_autoencoder(vectors[fit], vectors[held], epochs=epochs, batch_size=batch, lr=1e-3, seed=0)
        train_s = (time.perf_counter() - start) / epochs
        model = model.to(device)
        start = time.perf_counter()
        with torch.no_grad():
            for v in clips:
                ((v.to(device) - model(v.to(device))) ** 2).mean(0).cpu()
        if device == "cuda":
            torch.cuda.synchronize()
        score_s = time.perf_counter() - start
        types = 7  # a DCASE 2023 set's development machine types, trained one after another or all at once
        data = [(vectors[fit], vectors[held])] * types
        start = time.perf_counter()
        for f, h in data:
            train_autoencoder(f, h, epochs=epochs, batch_size=batch, lr=1e-3, seed=0)
        alone_s = (time.perf_counter() - start) / epochs
        start = time.perf_counter()
        train_autoencoders(data, epochs=epochs, batch_size=batch, lr=1e-3, seed=0)
        together_s = (time.perf_counter() - start) / epochs
        rows += [{"stage": f"{name} (official baseline): training (clips per second of one epoch), batch {batch}",
                  "device": "cpu", "clips_per_s": n_clips / train_s},
                 {"stage": f"{name}: {types} machine types one after another (clips/s of an epoch of all)",
                  "device": "cpu", "clips_per_s": types * n_clips / alone_s},
                 {"stage": f"{name}: the same {types} trained together, batched ({alone_s / together_s:.1f}x)",
                  "device": "cpu", "clips_per_s": types * n_clips / together_s},
                 {"stage": f"{name} (official baseline): scoring (reconstruction errors)", "device": device,
                  "clips_per_s": n_clips / score_s}]
    return rows


def _crops(logmel: torch.Tensor, crop: int = 64) -> torch.Tensor:
    """Half-overlapping crops of every clip, stacked: what `infer` feeds the classifier."""
    from embeddings.classifier import windows
    return torch.cat([logmel[:, :, s:s + crop] for s in windows(logmel.shape[-1], crop)])


def rank_timing(n_systems: int = 30, resamples: int = 1000, per_cell: int = 50) -> dict:
    """`bench rank` on a DCASE 2024-sized evaluation set (9 machine types x 2 domains x 2 labels x `per_cell`
    clips), `n_systems` systems of noisy scores with decision files, ground truth in the evaluators' folders."""
    import csv
    import tempfile

    import pandas as pd

    from dcase import submission
    from dcase.tasks import get_task
    from leaderboard.ranking import rank, write
    task = get_task("dcase2024")
    types = sorted(task.eval_types)
    cells = [(t, d, y) for t in types for d in ("source", "target") for y in (0, 1)]
    table = pd.DataFrame([dict(machine_type=t, section="00", domain=d, label=y, split="eval",
                               file=f"section_00_{1 + i * per_cell + j:04d}.wav")
                          for t in types for i, (_, d, y) in enumerate(c for c in cells if c[0] == t) for j in range(per_cell)])
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for folder, column in (("ground_truth_data", "label"), ("ground_truth_domain", "target")):
            (tmp / folder).mkdir()
            for t, rows in table.assign(target=(table.domain == "target").astype(int)).groupby("machine_type"):
                with open(tmp / folder / f"ground_truth_{t}_section_00_test.csv", "w", newline="") as f:
                    csv.writer(f).writerows(zip(rows.file, rows[column]))
        for i in range(n_systems):
            scores = table.label.to_numpy() * rng.uniform(0.2, 2) + rng.normal(size=len(table))
            submission.write(task, tmp / "teams" / f"system{i:02d}", table, scores, (scores > 1).astype(int))
        start = time.perf_counter()
        ranked = rank(task, [tmp / "teams"], truth=tmp, resamples=resamples, progress=lambda m: None)
        seconds = time.perf_counter() - start
        write(task, ranked, tmp / "ranking", "eval", resamples)
        written = time.perf_counter() - start - seconds
        page_mib = (tmp / "ranking" / "RANKING.html").stat().st_size / 2**20
    return {"systems": n_systems, "scored": sum(not s.reason for s in ranked), "clips": len(table),
            "resamples": resamples, "seconds": seconds, "write_seconds": written, "page_mib": page_mib}
