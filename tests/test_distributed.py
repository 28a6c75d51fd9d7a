"""`bench run` on two gloo processes (torchrun) trains what one process trains on the whole batch."""
import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from embeddings.cache import EmbeddingCache

pytestmark = pytest.mark.slow
# dropout masks depend on the split; two epochs, because float rounding that differs between one and two
# processes grows with every step at the tiny preset's learning rate (after six epochs some clips sit at cosine 0.82)
ARGS = ["--preset", "tiny", "--device", "cpu", "--set", "dropout=0.0", "--set", "epochs=2", "--set", "first_cycle=2"]


def _embed(data, cache, processes, *command):
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"] if processes > 1 else [sys.executable]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    done = subprocess.run([*launcher, "-m", "bench.cli", *map(str, command), *ARGS, "--data", str(data), "--cache", str(cache)],
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    [folder] = [p for p in (cache / "embeddings").iterdir() if p.is_dir()]
    [log] = (cache / "runs").glob("*/all/metrics.jsonl")
    return EmbeddingCache.load(folder), [json.loads(line) for line in log.read_text().splitlines()]


def test_two_gloo_processes_match_one(tiny_data, tmp_path):
    one, one_log = _embed(tiny_data, tmp_path / "one", 1, "embed")
    two, two_log = _embed(tiny_data, tmp_path / "two", 2, "run", "--methods", "centroid", "--results", tmp_path / "results",
                          "--leaderboard", tmp_path / "LEADERBOARD.md")
    assert len(pd.read_csv(tmp_path / "results" / "results.csv")) == 41  # scored once, by rank 0
    assert (one.manifest["world_size"], two.manifest["world_size"]) == (1, 2)
    assert [r["epoch"] for r in two_log] == [r["epoch"] for r in one_log]
    np.testing.assert_allclose([r["loss"] for r in two_log], [r["loss"] for r in one_log], rtol=1e-2)
    assert two.clips.file.tolist() == one.clips.file.tolist()  # every clip embedded once, gathered in order
    a, b = one.embeddings, two.embeddings
    cosine = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert cosine.min() > 0.99, cosine.min()
    x, y = one.logits, two.logits  # (after two epochs many clips' top classes are near ties, so compare the values)
    assert ((x * y).sum(1) / np.linalg.norm(x, axis=1) / np.linalg.norm(y, axis=1)).min() > 0.99
