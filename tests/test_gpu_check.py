"""`make gpu-check`: one line and exit 3 without CUDA; the whole sequence on the CPU in its dry mode."""
import json
import re

import pytest
import torch

from bench.gpu_check import NO_CUDA, main


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_without_cuda_it_says_so_in_one_line_and_fails(tmp_path, capsys):
    assert main(["--out", str(tmp_path)]) == NO_CUDA
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no CUDA device" in err and "--dry" in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_the_dry_run_goes_through_every_step_and_writes_the_labelled_results(tmp_path, capsys):
    assert main(["--dry", "--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "SPEED-dry-run-cpu.md", "gpu-check.json", "gpu-tests.log", "speed-dry-run-cpu.json"]
    report = json.loads((tmp_path / "gpu-check.json").read_text())
    summary = report["tests"]["summary"]  # the bf16 training step is skipped on the CPU (sporadic NaN there)
    passed = re.search(r"(\d+) passed", summary)
    assert report["tests"]["returncode"] == 0 and passed and int(passed.group(1)) >= 1
    assert not re.search(r"\d+ (failed|error)", summary), summary
    assert {"gpu", "driver", "cuda", "torch", "faiss", "neighbour_search"} <= set(report["environment"])
    kinds = [t["target"] for t in report["targets"]]
    assert any(k.startswith("all five scorers") for k in kinds) and any(k.startswith("training at least 3x") for k in kinds)
    assert any(k.startswith("all six domain-aware scorers") for k in kinds)
    assert {k.split()[0] for k in kinds if " 50x " in k} == {"knn", "lof"}
    page = (tmp_path / "SPEED-dry-run-cpu.md").read_text()
    assert page.startswith("# Speed on CPU (dry run), driver") and "| knn(k=5, metric=cosine) | cpu (torch) | 32 |" in page
    assert "| embed: wav2vec 2.0 base" in page and "| embed: AST base" in page and "| embed: Dasheng base" in page and "| ae2020 (official baseline)" in page
    rows = json.loads((tmp_path / "speed-dry-run-cpu.json").read_text())
    assert all(r["agrees"] for r in rows if r["reference_seconds"] is not None)
