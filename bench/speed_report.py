"""`bench speed`'s page: the machine, the scorer tables against their references, and the throughput rows."""
from __future__ import annotations

import os
import platform
import time

import numpy as np
import torch


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    gpu = f", GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ", no GPU"
    try:
        import faiss
        gpu += f", faiss {faiss.__version__} with {faiss.get_num_gpus()} GPUs"
    except ImportError:
        gpu += ", faiss not installed"
    return f"{cpu} with {os.cpu_count()} cores, {torch.get_num_threads()} torch threads{gpu}"


def render(rows, throughput, config: dict, domain_rows=(), ranking=None) -> str:
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
    if ranking:
        lines += ["", "## bench rank", "",
                  "| systems | clips | resamples | seconds | writing s | RANKING.html MiB | target |",
                  "|---|---|---|---|---|---|---|",
                  f"| {ranking['systems']} | {ranking['clips']:,} | {ranking['resamples']:,} | {ranking['seconds']:.1f} | "
                  f"{ranking['write_seconds']:.1f} | {ranking['page_mib']:.2f} | "
                  "30 systems x the 2024 evaluation set x 1,000 resamples under 30 s on 2 cores |",
                  "", "Official scores from the submission files (read and checked as `bench evaluate` does), the "
                  "evaluators' jackknife, the stratified bootstrap of every official score with paired differences "
                  "to the leader, and the Friedman test. Writing: RANKING.md, RANKING.html (one offline page), "
                  "ranking.json, the forest plot and the critical-difference picture."]
    return "\n".join(lines) + "\n"


def describe(pairs, source: str) -> str:
    """What the embeddings are, for the page: their source, IDs and clips per ID."""
    def span(sizes):
        return f"{min(sizes)}" if min(sizes) == max(sizes) else f"{min(sizes)}-{max(sizes)}"
    return (f"{source}: {len(pairs)} IDs x {span([len(t.embeddings) for t, _ in pairs])} normal training and "
            f"{span([len(t.embeddings) for _, t in pairs])} test embeddings")
