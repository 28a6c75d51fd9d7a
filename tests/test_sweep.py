"""`bench sweep`: the grid as resumable steps, on the local executor and on a real one-node Slurm cluster
(scripts/slurm-up.sh; `make test` starts it). In CI a missing cluster fails the Slurm tests instead of skipping them."""
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from bench.cli import main

pytestmark = pytest.mark.slow  # trains eight tiny models and runs a cluster

TASKS, EMBEDDERS, SEEDS, METHODS = "dcase2023,dcase2024", "arcface;ae2020:epochs=2", "0,1", "centroid,knn:k=2,gmm:n_components=2"
TIMING = ["run_id", "fit_seconds", "score_seconds"]
BENCH = str(Path(sys.executable).with_name("bench"))


def _grid(cache, out, *extra):
    return ["sweep", "--tasks", TASKS, "--embedders", EMBEDDERS, "--seeds", SEEDS, "--methods", METHODS, "--preset",
            "tiny", "--device", "cpu", "--cache", str(cache), "--out", str(out), *map(str, extra)]


def _run_now(text: str) -> int:
    return int(re.findall(r"\((\d+) run now\)", text)[-1])


def _rows(results: Path) -> pd.DataFrame:
    rows = pd.read_csv(results / "results.csv").drop(columns=TIMING)
    return rows.sort_values(list(rows.columns)).reset_index(drop=True)


def _scores(results: Path) -> pd.DataFrame:
    scores = pd.read_parquet(results / "scores.parquet").drop(columns=["run_id"])
    return scores.sort_values(["task", "method", "embedder", "seed", "split", "file"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    """2 tasks x 2 embedders x 2 seeds x 3 methods on the local executor; the cache is shared by every test here."""
    root = tmp_path_factory.mktemp("sweep")
    main(_grid(root / "cache", root / "local", "--jobs", 2))
    return root


def test_the_sweep_equals_its_runs_one_by_one_and_a_rerun_runs_nothing(local, tmp_path, capsys):
    board = (local / "local" / "LEADERBOARD.md").read_text()
    assert "dcase2023-tiny" in board and "dcase2024-tiny" in board
    for task in TASKS.split(","):
        for embedder in EMBEDDERS.split(";"):
            main(["run", "--task", task, "--preset", "tiny", "--device", "cpu", "--cache", str(local / "cache"),
                  "--embedder", embedder, "--seeds", SEEDS, "--methods", METHODS, "--results", str(tmp_path),
                  "--leaderboard", str(tmp_path / "LEADERBOARD.md"), "--no-render"])
    swept = local / "local" / "results"
    assert len(_rows(swept)) > 0 and set(_rows(swept).task) == set(TASKS.split(","))
    pd.testing.assert_frame_equal(_rows(swept), _rows(tmp_path), check_exact=True)
    pd.testing.assert_frame_equal(_scores(swept), _scores(tmp_path), check_exact=True)

    records = {p: p.stat().st_mtime_ns for p in (local / "local" / "steps").iterdir()}
    capsys.readouterr()
    main(_grid(local / "cache", local / "local"))
    out = capsys.readouterr().out
    assert _run_now(out) == 0 and "20 of 20 steps done" in out
    assert {p: p.stat().st_mtime_ns for p in (local / "local" / "steps").iterdir()} == records


def test_dry_run_and_status_list_every_step_and_submit_nothing(local, capsys):
    main(_grid(local / "cache", local / "fresh", "--dry-run"))
    out = capsys.readouterr().out
    assert out.count("| pending |") == 20 and "to run: 8 embed jobs, 12 score jobs (12 steps" in out
    main(_grid(local / "cache", local / "local", "--status"))
    out = capsys.readouterr().out
    assert re.search(r"\| embed\s+\|\s+8 \|\s+0 \|\s+0 \|", out) and re.search(r"\| score\s+\|\s+12 \|\s+0 \|\s+0 \|", out)
    assert not (local / "fresh" / "steps").exists() or not any((local / "fresh" / "steps").iterdir())


def test_a_killed_sweep_rerun_runs_only_the_missing_steps(local, capsys):
    out = local / "killed"
    sweep = subprocess.Popen([BENCH, *_grid(local / "cache", out)], start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    steps = out / "steps"
    deadline = time.time() + 300
    while (not steps.is_dir() or len(list(steps.glob("*.json"))) < 10) and time.time() < deadline:
        time.sleep(0.2)
    os.killpg(sweep.pid, signal.SIGKILL)  # the driver and its workers, as a lost node or a ctrl-\ would
    sweep.wait()
    time.sleep(1)
    done_before = len(list(steps.glob("*.json")))
    assert 10 <= done_before < 20
    main(_grid(local / "cache", out))
    assert _run_now(capsys.readouterr().out) == 20 - done_before
    pd.testing.assert_frame_equal(_rows(out / "results"), _rows(local / "local" / "results"), check_exact=True)


def test_a_step_that_fails_is_reported_and_retried_only_when_asked(local, capsys):
    out = local / "failing"
    with pytest.raises(SystemExit) as exit_:
        main(["sweep", "--tasks", "dcase2023", "--embedders", "arcface", "--seeds", "0", "--methods", "centroid,knn:k=500",
              "--preset", "tiny", "--device", "cpu", "--cache", str(local / "cache"), "--out", str(out)])
    captured = capsys.readouterr()
    assert exit_.value.code == 2
    assert "bench: error: 1 of 3 steps failed" in captured.err.splitlines()[-1]
    assert "| score dcase2023 arcface knn:k=500 |" in captured.out and str(out / "logs") in captured.out
    with pytest.raises(SystemExit):
        main(["sweep", "--tasks", "dcase2023", "--embedders", "arcface", "--seeds", "0", "--methods", "centroid,knn:k=500",
              "--preset", "tiny", "--device", "cpu", "--cache", str(local / "cache"), "--out", str(out), "--retry-failed"])
    assert _run_now(capsys.readouterr().out) == 1


def _cluster() -> None:
    up = shutil.which("sinfo") and "idle" in subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True,
                                                             text=True).stdout
    if not up:
        message = "no Slurm cluster here (bash scripts/slurm-up.sh starts one)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.mark.slurm
def test_on_slurm_the_sweep_gives_the_local_numbers_and_a_cancelled_job_reruns_alone(local, capsys):
    _cluster()
    slurm = ["--executor", "slurm", "--slurm-mem", 2]
    main(_grid(local / "cache", local / "slurm", *slurm))
    pd.testing.assert_frame_equal(_rows(local / "slurm" / "results"), _rows(local / "local" / "results"), check_exact=True)
    pd.testing.assert_frame_equal(_scores(local / "slurm" / "results"), _scores(local / "local" / "results"),
                                  check_exact=True)
    assert list((local / "slurm" / "slurm").iterdir()), "submitit's per-job logs are kept in the sweep folder"

    # a training of 300 epochs (about 40 s) is a job long enough to cancel midway
    grid = ["sweep", "--tasks", "dcase2023", "--embedders", "arcface", "--seeds", "2", "--methods", "centroid",
            "--set", "epochs=300", "--preset", "tiny", "--device", "cpu", "--cache", str(local / "cache"),
            "--out", str(local / "cancel"), *map(str, slurm)]
    sweep = subprocess.Popen([BENCH, *grid], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline, cancelled = time.time() + 300, None
    while cancelled is None and time.time() < deadline:
        queue = subprocess.run(["squeue", "-h", "-r", "-n", "bench-sweep-0", "-o", "%i %T"], capture_output=True,
                               text=True).stdout.split("\n")
        running = [line.split()[0] for line in queue if line.endswith("RUNNING")]
        if running:
            time.sleep(4)  # into the training; submitit outlives SIGTERM, Slurm kills it KillWait (5 s) later
            subprocess.run(["scancel", running[0]], check=True)
            cancelled = running[0]
        time.sleep(0.5)
    out, err = sweep.communicate(timeout=300)
    assert cancelled and sweep.returncode == 2, (cancelled, out, err)
    assert f"Slurm job {cancelled} ended without a result" in out
    assert "2 of 2 steps failed" in err  # the cancelled embedding and the scoring that needed it
    assert "is not done" in out
    capsys.readouterr()
    main([*grid, "--retry-failed"])
    text = capsys.readouterr().out
    assert _run_now(text) == 2 and "2 of 2 steps done" in text
