"""`bench speed`: every scorer against its scikit-learn/NumPy reference on DCASE-scale embeddings,
plus log-mel and training throughput. Medians of repeated runs, one table, `leaderboard/SPEED.md`."""
from __future__ import annotations

import json
import resource
import statistics
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from bench.speed_report import describe, render
from bench.throughput import autoencoder_throughput, embedder_throughput, feature_throughput, rank_timing, training_throughput
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
    from bench.scoring import fit_and_score
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
    from bench.scoring import split_bundles
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
    progress("  bench rank ...")
    ranking = rank_timing(n_systems=4 if quick else 30, resamples=100 if quick else 1000)
    text = render(rows, throughput, dict(argv=argv, source=source, repeats=repeats), domain_rows, ranking)
    if out:
        write_text(out, text)
    if json_path:
        keys = ("scorer", "backend", "dim", "seconds", "reference_seconds", "speedup", "agrees")
        write_text(json_path, json.dumps([{k: r[k] for k in keys} for r in rows + domain_rows], indent=2))
    return rows + domain_rows, throughput, text
