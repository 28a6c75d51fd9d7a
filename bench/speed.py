"""`bench speed`: every scorer against its scikit-learn/NumPy reference on DCASE-scale embeddings,
plus log-mel and training throughput. Medians of repeated runs, one table, `leaderboard/SPEED.md`."""
from __future__ import annotations

import contextlib
import json
import os
import platform
import resource
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from core.atomic import write_text
from methods import Bundle, get_scorer
from methods.registry import label


@dataclass(frozen=True)
class Case:
    scorer: str
    options: dict
    reference: str | None
    check: str | None  # "scores": equal scores; "loglik": mean log-likelihood not worse than the reference's
    in_total: bool = True  # one of the five default scorers, counted in the "all five" row
    reference_options: dict | None = None  # when the reference spells the same settings differently


def cases(n_components: int = 4) -> list[Case]:
    gmm = dict(n_components=n_components)
    return [
        Case("softmax", {}, None, None),
        Case("centroid", {}, "numpy_centroid", "scores"),
        Case("knn", dict(k=5, metric="cosine"), "sklearn_knn", "scores"),
        Case("lof", dict(k=5, metric="l2"), "sklearn_lof", "scores", reference_options=dict(k=5, metric="euclidean")),
        Case("gmm", {**gmm, "covariance": "full"}, "sklearn_gmm", "loglik"),
        Case("gmm", {**gmm, "covariance": "diag"}, "sklearn_gmm", "loglik", in_total=False),
    ]


def domain_cases() -> list[Case]:
    """The domain-aware scorers at a DCASE 2023-like scale, each against its scikit-learn form."""
    banks = dict(k=1, combine="min")
    return [
        Case("knn", dict(k=1), "sklearn_knn", "scores", reference_options=banks),
        Case("knn", dict(k=1, normalize="ratio"), "sklearn_knn", "scores", reference_options={**banks, "normalize": "ratio"}),
        Case("kmeans_knn", dict(n_centres=16), "sklearn_knn", "scores", reference_options={**banks, "n_centres": 16}),
        Case("smote_knn", {}, None, None),
        Case("mahalanobis", {}, "sklearn_mahalanobis", "scores"),
        Case("fusion", dict(members="knn+mahalanobis"), None, None),
    ]


# the kNN-family configurations `make run` scores on its DCASE 2023 stand-in
KNN_FAMILY = [("knn", dict(combine="pooled")), ("knn", {}), ("knn", dict(k=1)), ("knn", dict(k=1, normalize="ratio")),
              ("kmeans_knn", {}), ("smote_knn", {})]


def shared_work_rows(pairs, devices, repeats) -> list[dict]:
    """The kNN family scored one after another on the same bundles, sharing banks, densities and searches, against
    the same configurations each on its own; agreement = the same scores."""
    rows = []
    for device in devices:
        alone, together = [], []
        for _ in range(repeats):
            alone.append(sum(_run_once(n, o, device, pairs)[2] for n, o in KNN_FAMILY))
            _forget_shared(pairs)
            runs = [_run_once(n, o, device, pairs, share=True) for n, o in KNN_FAMILY]
            together.append(sum(r[2] for r in runs))
        separate = [_run_once(n, o, device, pairs)[1] for n, o in KNN_FAMILY]
        same = all(np.allclose(a, b, rtol=1e-5) for r, sep in zip(runs, separate) for a, b in zip(r[1], sep))
        rows.append({"scorer": f"the kNN family of `make run` ({len(KNN_FAMILY)} configurations), sharing work",
                     "backend": get_scorer("knn", device).backend(), "dim": pairs[0][0].embeddings.shape[1],
                     "seconds": statistics.median(together), "runs": repeats, "peak_mib": None,
                     "reference": "each alone", "reference_seconds": statistics.median(alone),
                     "speedup": statistics.median(alone) / statistics.median(together), "agrees": same})
    return rows


def synthetic_embeddings(n_ids=41, n_train=1000, n_test=250, dim=2048, n_classes=41, seed=0, n_target=0):
    """Per ID: a few clusters on a 64-d subspace plus isotropic noise, like a trained embedding; test clips
    are a mix of normal ones and shifted ones. Logits put most mass on the own class. With `n_target`, that many
    training clips and half the test clips come from a target domain: the same machine, displaced."""
    rng = np.random.default_rng(seed)
    basis = rng.normal(size=(64, dim)) / 8
    out = []
    for i in range(n_ids):
        centers = rng.normal(size=(3, dim))

        def draw(n, shift=0.0):
            z = rng.normal(size=(n, 64))
            x = z @ basis + centers[rng.integers(0, 3, n)] + 0.1 * rng.normal(size=(n, dim)) + shift
            logits = rng.normal(size=(n, n_classes))
            logits[:, i % n_classes] += 4.0 - 2 * float(np.mean(shift != 0))
            return Bundle(x.astype(np.float32), logits.astype(np.float32), np.full(n, i % n_classes))

        train = draw(n_train)
        normal, abnormal = draw(n_test // 2), draw(n_test - n_test // 2, shift=rng.normal(size=dim) * 0.3)
        test = Bundle(*(np.concatenate([getattr(normal, f), getattr(abnormal, f)])
                        for f in ("embeddings", "logits", "first_class")))
        if n_target:
            offset = rng.normal(size=dim) * 0.5
            train.embeddings[-n_target:] += offset.astype(np.float32)
            test.embeddings[::2] += offset.astype(np.float32)
            train.domain = np.array(["source"] * (n_train - n_target) + ["target"] * n_target)
            test.domain = np.where(np.arange(n_test) % 2 == 0, "target", "source")
        out.append((train, test))
    return out


def _forget_shared(pairs) -> None:
    """Drop the work earlier runs left on the bundles (`Bundle.shared`), so the next run does all of its own."""
    for pair in pairs:
        for b in pair:
            b.shared.clear()


def _run_once(name, options, device, pairs, share=False):
    """One fit + score over all pairs; unless `share`, with nothing kept from earlier runs on the same bundles."""
    from bench.runner import fit_and_score
    if not share:
        _forget_shared(pairs)
    scorer = get_scorer(name, device, **options)
    scores, fit_s, score_s = fit_and_score(scorer, [p[0] for p in pairs], [p[1] for p in pairs], device)
    return scorer, scores, fit_s + score_s


def _reset_peak_rss() -> None:
    """Linux: restart the process's peak-RSS counter (VmHWM), so the next reading is this measurement's."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass  # not Linux, or not allowed: the reading stays the process's lifetime peak


def _peak_rss_mib() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(name, options, device, pairs, repeats, check):
    """(median seconds, runs, scores, train log-likelihood per ID or None, peak memory in MiB)."""
    _run_once(name, options, device, pairs[:1])  # warm-up: imports, kernels, thread pools
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    _reset_peak_rss()
    times = []
    for _ in range(repeats):
        scorer, scores, seconds = _run_once(name, options, device, pairs)
        times.append(seconds)
        if seconds > 20:  # one run of a slow reference is already a long, stable sample
            break
    peak = torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else _peak_rss_mib()
    loglik = [-s.mean() for s in scorer.score_many([p[0] for p in pairs])] if check == "loglik" else None
    return statistics.median(times), len(times), scores, loglik, peak


def agrees(check, ours, ref) -> bool:
    if check == "scores":
        return all(np.allclose(a, b, rtol=1e-3, atol=1e-4) for a, b in zip(ours[2], ref[2]))
    if check == "loglik":
        a, b = np.mean(ours[3]), np.mean(ref[3])
        return bool(a >= b - 1e-3 * abs(b))
    return True


def cache_embeddings(path) -> list[tuple[Bundle, Bundle]]:
    """(training, test) bundles per machine ID of a real embedding cache, the folder `bench embed` writes."""
    from bench.runner import split_bundles
    from embeddings.cache import EmbeddingCache
    cache = EmbeddingCache.load(path)
    return [pair for split in ("dev", "eval") for pair in zip(*split_bundles(cache, split)[2:])]


def scorer_rows(datasets, devices, repeats, n_components, progress=print, case_list=None,
                total_name="all five (softmax, centroid, knn, lof, gmm full)"):
    """One row per scorer and device for each data set (a list of (training, test) bundles per ID)."""
    rows = []
    for pairs in datasets:
        dim = pairs[0][0].embeddings.shape[1]
        totals = {device: 0.0 for device in devices}
        for case in case_list or cases(n_components):
            ref = None
            if case.reference:
                ref_options = case.options if case.reference_options is None else case.reference_options
                progress(f"  D={dim} {label(case.reference, ref_options)} on cpu ...")
                ref = measure(case.reference, ref_options, "cpu", pairs, repeats, case.check)
            for device in devices:
                progress(f"  D={dim} {label(case.scorer, case.options)} on {device} ...")
                ours = measure(case.scorer, case.options, device, pairs, repeats, case.check)
                totals[device] += ours[0] if case.in_total else 0.0
                rows.append({
                    "scorer": label(case.scorer, case.options), "backend": get_scorer(case.scorer, device, **case.options).backend(), "dim": dim,
                    "seconds": ours[0], "runs": ours[1], "peak_mib": ours[4],
                    "reference": case.reference,
                    "reference_seconds": ref[0] if ref else None,
                    "speedup": ref[0] / ours[0] if ref else None,
                    "agrees": agrees(case.check, ours, ref) if ref else None,
                })
        rows += [{"scorer": total_name, "backend": device, "dim": dim,
                  "seconds": total, "runs": None, "peak_mib": None, "reference": None, "reference_seconds": None,
                  "speedup": None, "agrees": None} for device, total in totals.items()]
    return rows


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
    """Inference clips/s of the arcface model and of base-size transformers encoders (AST, wav2vec 2.0; random
    weights: speed does not depend on them), with TFLOP/s and their share of the fp32 matrix-product rate."""
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
        rows += [{"stage": f"{name} (official baseline): training (clips per second of one epoch), batch {batch}",
                  "device": "cpu", "clips_per_s": n_clips / train_s},
                 {"stage": f"{name} (official baseline): scoring (reconstruction errors)", "device": device,
                  "clips_per_s": n_clips / score_s}]
    return rows


def _crops(logmel: torch.Tensor, crop: int = 64) -> torch.Tensor:
    """Half-overlapping crops of every clip, stacked: what `infer` feeds the classifier."""
    from embeddings.classifier import windows
    return torch.cat([logmel[:, :, s:s + crop] for s in windows(logmel.shape[-1], crop)])


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    gpu = f", GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ", no GPU"
    try:
        import faiss
        gpu += f", faiss {faiss.__version__} with {faiss.get_num_gpus()} GPUs"
    except ImportError:
        gpu += ", faiss not installed"
    return f"{cpu} with {os.cpu_count()} cores, {torch.get_num_threads()} torch threads{gpu}"


def render(rows, throughput, config: dict, domain_rows=()) -> str:
    def fmt(v, spec):
        return "-" if v is None else format(v, spec)

    def table(rows):
        return [f"| {r['scorer']} | {r['backend']} | {r['dim']} | {r['seconds']:.3f} | {fmt(r['runs'], 'd')} | "
                f"{fmt(r['peak_mib'], '.0f')} | {r['reference'] or '-'} | {fmt(r['reference_seconds'], '.3f')} | "
                f"{fmt(r['speedup'], '.1f')} | {'-' if r['agrees'] is None else ('yes' if r['agrees'] else 'NO')} |"
                for r in rows]

    lines = ["# Speed", "",
             f"Measured {time.strftime('%Y-%m-%d %H:%M')} by `bench speed {config['argv']}` on {machine()}; "
             f"torch {torch.__version__}, numpy {np.__version__}, python {platform.python_version()}.", "",
             f"{config['source']}. Seconds are fit + score over all IDs, median of up to "
             f"{config['repeats']} runs after a warm-up (runs = how many); peak = the process's peak RSS during the runs (data included) on the CPU, "
             "peak allocated on the GPU. `agrees`: equal scores (LOF, kNN, centroid) or a mean log-likelihood "
             "not worse than scikit-learn's (GMM), on the same data.", "",
             "| scorer | backend | D | seconds | runs | peak MiB | reference | reference s | speedup | agrees |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    lines += table(rows)
    if domain_rows:
        sizes = sorted({r["dim"] for r in domain_rows})
        lines += ["", "## Domain-aware scorers", "",
                  "A DCASE 2023-like scale: 7 sections x (990 source + 10 target) normal training and 200 test embeddings "
                  f"(half of them target-domain), D = {' and '.join(map(str, sizes))}. References: scikit-learn "
                  "NearestNeighbors per domain bank (with its own density normalisation, or on scikit-learn KMeans "
                  "centres from the same k-means++ start) and LedoitWolf per domain; `smote_knn` and `fusion` have "
                  "no scikit-learn form and are timed alone. Every scorer's own row is timed with nothing shared; the "
                  "kNN-family row times its configurations one after another on the same bundles, which share "
                  "neighbour banks, density normalisers and searches (k = 5 serves k = 1), against the sum of the "
                  "same configurations each on its own.", "",
                  "| scorer | backend | D | seconds | runs | peak MiB | reference | reference s | speedup | agrees |",
                  "|---|---|---|---|---|---|---|---|---|---|"] + table(domain_rows)
    lines += ["", "Of bf16 peak: the GPU's dense bf16 tensor-core peak. Of fp32 matmul: this machine's own rate on a "
              "2048-cubed fp32 matrix product, measured in the same run (the rate an encoder's FLOPs could reach).", "",
              "| stage | device | clips/s | TFLOP/s | of bf16 peak | of fp32 matmul |", "|---|---|---|---|---|---|"]
    lines += [f"| {t['stage']} | {t['device']} | {t['clips_per_s']:.1f} | {fmt(t.get('tflops'), '.2f')} | "
              f"{fmt(t.get('bf16_peak_fraction'), '.1%')} | {fmt(t.get('matmul_fraction'), '.1%')} |" for t in throughput]
    return "\n".join(lines) + "\n"


def describe(pairs, source: str) -> str:
    """What the embeddings are, for the page: their source, IDs and clips per ID."""
    def span(sizes):
        return f"{min(sizes)}" if min(sizes) == max(sizes) else f"{min(sizes)}-{max(sizes)}"
    return (f"{source}: {len(pairs)} IDs x {span([len(t.embeddings) for t, _ in pairs])} normal training and "
            f"{span([len(t.embeddings) for _, t in pairs])} test embeddings")


def run_speed(quick=False, dims=None, devices=None, repeats=3, json_path=None, out=Path("leaderboard/SPEED.md"),
              argv="", embeddings=None, progress=print):
    """`embeddings`: a real embedding cache folder to time the scorers on, instead of synthetic embeddings."""
    devices = devices or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    if quick:
        dims, ids, train, test, repeats, components = dims or [512], 8, 400, 100, 1, 2
    else:
        dims, ids, train, test, components = dims or [2048, 512], 41, 1000, 250, 4
    if embeddings:
        datasets = [cache_embeddings(embeddings)]
        source = describe(datasets[0], f"Embeddings of the cache `{embeddings}`")
    else:
        datasets = [synthetic_embeddings(ids, train, test, dim) for dim in dims]
        source = describe(datasets[0], "Synthetic DCASE-scale embeddings")
    rows = scorer_rows(datasets, devices, repeats, components, progress)
    if embeddings:  # the cache's own domains (none in 2020 data: one bank each)
        domain_sets = datasets
    else:
        domain_sets = [synthetic_embeddings(7, 400 if quick else 1000, 100 if quick else 200, dim, 7, n_target=10)
                       for dim in ([512] if quick else [2048, 768])]
    domain_rows = scorer_rows(domain_sets, devices, repeats, components, progress, domain_cases(),
                              "all six domain-aware scorers")
    for pairs in domain_sets:
        progress(f"  D={pairs[0][0].embeddings.shape[1]} the kNN family, sharing work ...")
        domain_rows += shared_work_rows(pairs, devices, repeats)
    progress("  throughput: log-mel and training ...")
    throughput = feature_throughput(devices, n_clips=16 if quick else 64)
    for device in devices:
        throughput += training_throughput(device, model="iresnet_small" if quick else "iresnet50", steps=2 if quick else 4)
        throughput += embedder_throughput(device, quick=quick)
        throughput += autoencoder_throughput(device, quick=quick)
    text = render(rows, throughput, dict(argv=argv, source=source, repeats=repeats), domain_rows)
    if out:
        write_text(out, text)
    if json_path:
        keys = ("scorer", "backend", "dim", "seconds", "reference_seconds", "speedup", "agrees")
        write_text(json_path, json.dumps([{k: r[k] for k in keys} for r in rows + domain_rows], indent=2))
    return rows + domain_rows, throughput, text
