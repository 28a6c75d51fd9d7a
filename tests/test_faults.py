"""The fault matrix: every kind of bad input or interruption, and what the user sees for it."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch
from conftest import CONFIG
from openmp_probe import faiss_neighbours

import embeddings.pipeline as cache_mod
import embeddings.train as train_mod
import methods.registry as registry
from bench import isolation
from bench.cli import main
from core.errors import DataError, ScorerError
from core.locking import exclusive
from dcase import submission as submission_files
from dcase.reader import load_clips
from dcase.tasks import get_task
from embeddings.cache import EmbeddingCache, StaleCacheError
from embeddings.classifier import infer
from embeddings.features import LogMelConfig, feature_key, load_features
from embeddings.pipeline import build, run_dir
from methods import Bundle, Scorer, get_scorer

VALVE = "dev_data/valve"


@pytest.fixture
def root(tiny_data, tmp_path):
    """A writable copy of one machine type (development and evaluation parts, and the ground truth), to break."""
    out = tmp_path / "root"
    for part in (VALVE, "eval_data/valve"):
        shutil.copytree(tiny_data / part, out / part)
    shutil.copy(tiny_data / "eval_data_list.csv", out)
    return out


def first(root, folder=f"{VALVE}/train"):
    return sorted((root / folder).glob("*.wav"))[0]


def _edit_truth(root, edit):
    path = root / "eval_data_list.csv"
    path.write_text(edit(path.read_text().splitlines(keepends=True)))


def _valve_rows(lines):
    start = lines.index("valve\n")
    return start, [i for i in range(start + 1, len(lines)) if "," in lines[i]][:1000]


def _drop_first_valve_row(lines):
    _, rows = _valve_rows(lines)
    return "".join(l for i, l in enumerate(lines) if i != rows[0])


def _add_valve_row(lines, row):
    start, _ = _valve_rows(lines)
    return "".join(lines[:start + 1] + [row] + lines[start + 1:])


def _relabel_first_valve_row(lines):
    _, rows = _valve_rows(lines)
    lines[rows[0]] = lines[rows[0]].rstrip("\n").rsplit(",", 1)[0] + ",2\n"
    return "".join(lines)


def _repeat_first_valve_row(lines):
    _, rows = _valve_rows(lines)
    return _add_valve_row(lines, lines[rows[0]])


# (fault, damage, what the message says, where it points, whether --skip-bad can leave it out)
DATA_FAULTS = [
    ("missing split folder", lambda r: shutil.rmtree(r / VALVE / "train"), "has test clips but no training clips",
     "valve/test/", True),
    ("type folder without WAVs", lambda r: (r / "dev_data/pump/train").mkdir(parents=True), "no WAV files",
     "dev_data/pump", True),
    ("empty WAV", lambda r: sf.write(first(r), np.zeros(0, np.int16), 16000, subtype="PCM_16"), "empty WAV",
     "valve/train/", True),
    ("truncated WAV", lambda r: first(r).write_bytes(first(r).read_bytes()[:5000]), "truncated", "valve/train/", True),
    ("not RIFF (garbage)", lambda r: first(r).write_bytes(b"not a wav at all"), "unreadable WAV", "valve/train/", True),
    ("not RIFF (FLAC inside)", lambda r: sf.write(first(r), np.zeros(16000), 16000, format="FLAC"), "not a RIFF WAV",
     "valve/train/", True),
    ("stereo", lambda r: sf.write(first(r), np.zeros((16000, 2)), 16000, subtype="PCM_16"), "2 channels",
     "valve/train/", True),
    ("44.1 kHz", lambda r: sf.write(first(r), np.zeros(44100), 44100, subtype="PCM_16"), "sample rate 44100 Hz",
     "valve/train/", True),
    ("8-bit", lambda r: sf.write(first(r), np.zeros(16000), 16000, subtype="PCM_U8"), "sample format PCM_U8",
     "valve/train/", True),
    ("float", lambda r: sf.write(first(r), np.zeros(16000), 16000, subtype="FLOAT"), "sample format FLOAT",
     "valve/train/", True),
    ("unparseable name", lambda r: first(r).rename(first(r).with_name("normal_00.wav")), "not a dcase2020 file name",
     "normal_00.wav", True),
    ("duplicated file", lambda r: shutil.copy(first(r), first(r).with_name("normal_id_00_00099999.wav")),
     "same audio as", "normal_id_00_00099999.wav", True),
    ("training clip copied into the test set", lambda r: shutil.copy(first(r), r / VALVE / "test/normal_id_00_00099999.wav"),
     "same audio as", "normal_id_00_00099999.wav", True),
    ("ground truth misses a row", lambda r: _edit_truth(r, _drop_first_valve_row), "no row in the ground truth",
     "eval_data/valve/test/", True),
    ("ground truth has an extra row", lambda r: _edit_truth(r, lambda l: _add_valve_row(l, "id_01_00099999.wav,x.wav,0\n")),
     "which is not in eval_data/valve/", "eval_data_list.csv", True),
    ("ground truth mislabelled", lambda r: _edit_truth(r, _relabel_first_valve_row), "expected a machine-type line",
     "eval_data_list.csv:", False),
    ("ground truth repeats a row", lambda r: _edit_truth(r, _repeat_first_valve_row), "listed twice",
     "eval_data_list.csv:", False),
    ("no normal test clips", lambda r: [p.unlink() for p in (r / VALVE / "test").glob("normal_*.wav")],
     "dev split has no normal clips", "valve", False),
]


@pytest.mark.parametrize("fault, damage, message, where, skippable", DATA_FAULTS, ids=[f[0] for f in DATA_FAULTS])
def test_bad_data_is_one_line_exit_2_and_nothing_written(root, tmp_path, capsys, fault, damage, message, where, skippable):
    damage(root)
    results = tmp_path / "results"
    with pytest.raises(SystemExit) as exit_:
        main(["run", "--data", str(root), "--preset", "tiny", "--cache", str(tmp_path / "cache"), "--results", str(results),
              "--leaderboard", str(tmp_path / "board" / "LEADERBOARD.md")])
    err = capsys.readouterr().err.strip()
    assert exit_.value.code == 2
    assert len(err.splitlines()) == 1 and message in err and where in err, err
    assert not results.exists() and not (tmp_path / "board").exists() and not (tmp_path / "cache" / "features").exists()
    if skippable:
        with pytest.warns(UserWarning, match="skipped .* bad inputs") as caught:
            table = load_clips(root, skip_bad=True)[1]
        assert message in str(caught[0].message)
        assert len(table) > 0
    else:
        with pytest.raises(DataError, match=message):
            load_clips(root, skip_bad=True)[1]


def test_missing_root_is_one_line_exit_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["data", "spectrum-distance", str(tmp_path / "nowhere")])
    assert exit_.value.code == 2
    assert "nowhere: data folder not found" in capsys.readouterr().err


def test_skip_bad_leaves_out_exactly_the_bad_files(root):
    bad = first(root)
    bad.write_bytes(b"junk")
    table = pytest.warns(UserWarning, load_clips, root, skip_bad=True)[1]
    assert str(bad) not in set(table.path)
    assert len(table) == len(list(root.rglob("*.wav"))) - 1


# ---------------------------------------------------------------- submission files (bench evaluate)
@pytest.fixture
def submission(root, tmp_path):
    """A perfect submission for valve id_00 (dev): the label as the score."""
    table = load_clips(root, check_audio=False)[1]
    clips = table[(table.split == "dev") & (table.section == "00")]
    folder = tmp_path / "sub"
    folder.mkdir()
    pd.DataFrame({"f": clips.file, "s": clips.label.astype(float)}).to_csv(
        folder / "anomaly_score_valve_id_00.csv", header=False, index=False)
    return table, folder / "anomaly_score_valve_id_00.csv"


def test_a_correct_submission_evaluates(submission):
    table, path = submission
    result = submission_files.evaluate(get_task("dcase2020"), path.parent, table)
    assert result["per_type"] == {"valve": {"auc": 1.0, "pauc": 1.0}}


@pytest.mark.parametrize("edit, message", [
    (lambda t: t + "id_01_00000000.wav,0.5\n", "not in the ground truth"),
    (lambda t: t + t.splitlines(keepends=True)[0], "scored twice"),
    (lambda t: "".join(t.splitlines(keepends=True)[1:]), "no score for"),
    (lambda t: t.replace(",1.0", ",nan", 1), "NaN or inf"),
    (lambda t: t + "just-a-name\n", "not rows of"),
])
def test_bad_submission_names_the_file_and_the_clip(submission, edit, message):
    table, path = submission
    path.write_text(edit(path.read_text()))
    with pytest.raises(DataError, match=message) as err:
        submission_files.evaluate(get_task("dcase2020"), path.parent, table)
    assert str(path) in str(err.value)


# ---------------------------------------------------------------- embeddings given to scorers
def _bundles(rng, n=20, d=8, name="fan id_00 training clips"):
    return Bundle(rng.standard_normal((n, d)).astype(np.float32), np.zeros((n, 3), np.float32), np.zeros(n, int), name)


FIELDS_READ = {"centroid": "embeddings", "gmm": "embeddings", "knn": "embeddings", "lof": "embeddings",
               "knn:metric=l2": "embeddings", "lof:metric=cosine": "embeddings", "softmax": "logits"}


@pytest.mark.parametrize("spec", FIELDS_READ)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("split", ["training", "test"])
def test_nan_inputs_are_refused_naming_the_id_and_row(spec, bad, split):
    """Whether checked up front or from the norms a scorer computes anyway (kNN, LOF), the error is the same."""
    from methods.registry import parse_methods
    [(name, options)] = parse_methods(spec)
    field, rng = FIELDS_READ[spec], np.random.default_rng(0)
    scorer = get_scorer(name, **options)
    train, test = _bundles(rng), _bundles(rng, name="fan id_00 dev test clips")
    getattr(train if split == "training" else test, field)[3, 1] = bad
    with pytest.raises(DataError, match=f"fan id_00 .*{split} clips: {field} row 3 \\(and 0 more\\) is NaN or inf"):
        scorer.fit_many([train]).score_many([test])


def test_overflowing_embeddings_are_refused_as_such():
    train = _bundles(np.random.default_rng(0))
    train.embeddings[3] = 1e30
    with pytest.raises(DataError, match="training clips: embeddings: values up to 1e\\+30 overflow float32"):
        get_scorer("knn").fit_many([train])


@pytest.mark.parametrize("method", ["centroid", "gmm", "knn", "lof"])
def test_dimension_mismatch_between_train_and_test_is_refused(method):
    rng = np.random.default_rng(0)
    scorer = get_scorer(method).fit_many([_bundles(rng)])
    with pytest.raises(DataError, match="16-dimensional embeddings, but .* fitted on 8-dimensional"):
        scorer.score_many([_bundles(rng, d=16, name="fan id_00 dev test clips")])


@pytest.mark.parametrize("spec, needs", [("knn:k=30", 30), ("lof:k=20", 21), ("gmm:n_components=25", 25),
                                         ("sklearn_lof:k=20", 21), ("sklearn_gmm:n_components=25", 25)])
def test_too_few_training_clips_for_the_options_is_refused(spec, needs):
    from methods.registry import parse_methods
    [(name, options)] = parse_methods(spec)
    with pytest.raises(DataError, match=f"20 training clips, but .* needs at least {needs}"):
        get_scorer(name, **options).fit_many([_bundles(np.random.default_rng(0))])


# ---------------------------------------------------------------- caches, interruptions, concurrent runs
def _bench(*args, stderr=subprocess.PIPE):
    """`bench ARGS` as a child process with one thread (two of them share the 2 CI cores)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    return subprocess.Popen([sys.executable, "-m", "bench.cli", *map(str, args)], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=stderr)


@pytest.fixture
def cache_copy(built, cache_root, tmp_path):
    """A private copy of the session's trained cache, to damage: (clip table, cache root, the trained entry's
    embedding folder). Other tests may have added entries to the session cache, so the folder is named by key."""
    shutil.copytree(cache_root, tmp_path / "cache", ignore=shutil.ignore_patterns("*.lock"))
    return built[0], tmp_path / "cache", tmp_path / "cache" / "embeddings" / built[1].manifest["key"]


@pytest.mark.slow
def test_half_written_caches_are_rebuilt_never_read(cache_copy, monkeypatch):
    table, root, emb_dir = cache_copy
    features = load_features(table, root)
    feat_dir = root / "features" / features.key
    # what a kill leaves: the final folder without its manifest (and a stray temp folder)
    (emb_dir / "manifest.json").unlink()
    (emb_dir / "embeddings.npy").write_bytes(b"half")
    (feat_dir / "manifest.json").unlink()
    (feat_dir / "train.npy").write_bytes(b"half")
    (root / "embeddings" / f".{emb_dir.name}.xyz").mkdir()
    monkeypatch.setattr(train_mod, "fit", lambda *a, **k: pytest.fail("retrained although model.pt is complete"))
    monkeypatch.setattr(cache_mod, "embed", _counting(cache_mod.embed, calls := []))
    cache = build(table, CONFIG, root)
    assert calls and np.isfinite(cache.embeddings).all() and len(cache.clips) == len(table)
    assert (feat_dir / "manifest.json").is_file() and np.load(feat_dir / "train.npy").shape[0] == (table.split == "train").sum()


def _counting(fn, calls):
    def wrapped(*a, **k):
        calls.append(1)
        return fn(*a, **k)
    return wrapped


@pytest.mark.slow
def test_cache_of_another_config_or_version_is_detected(cache_copy):
    table, root, emb_dir = cache_copy
    emb_manifest = emb_dir / "manifest.json"
    manifest = json.loads(emb_manifest.read_text())
    emb_manifest.write_text(json.dumps({**manifest, "config": {**manifest["config"], "epochs": 99}}))
    with pytest.raises(StaleCacheError, match="describes another embedder, data set or config.*config differ"):
        build(table, CONFIG, root)
    features = load_features(table, root)
    feat_manifest = root / "features" / features.key / "manifest.json"
    feat_manifest.write_text(json.dumps({**json.loads(feat_manifest.read_text()), "version": 0}))
    with pytest.raises(DataError, match="feature cache written for .* delete the folder"):
        load_features(table, root)


@pytest.mark.slow
def test_two_runs_on_one_cache_wait_for_each_other(tiny_data, tmp_path):
    args = ["embed", "--data", tiny_data, "--preset", "tiny", "--device", "cpu", "--cache", tmp_path / "cache",
            "--set", "epochs=2"]
    features_lock = tmp_path / "cache" / "features" / f"{feature_key(load_clips(tiny_data)[1], LogMelConfig())}.lock"
    logs = [tmp_path / f"stderr{i}.txt" for i in range(2)]
    with exclusive(features_lock):  # both must queue behind it, so the race is certain, not likely
        procs = [_bench(*args, stderr=open(log, "w")) for log in logs]
        deadline = time.time() + 120
        while not all("waiting for" in log.read_text() for log in logs) and time.time() < deadline:
            time.sleep(0.1)
    assert [p.wait(timeout=300) for p in procs] == [0, 0], [log.read_text()[-2000:] for log in logs]
    assert all("waiting for" in log.read_text() for log in logs)
    [log] = (tmp_path / "cache" / "runs").glob("*/all/metrics.jsonl")
    assert [json.loads(l)["epoch"] for l in log.read_text().splitlines()] == [1, 2]  # trained once, not twice
    [emb] = [p for p in (tmp_path / "cache" / "embeddings").iterdir() if p.is_dir()]
    assert EmbeddingCache.load(emb).embeddings.shape == (984, 128)


@pytest.mark.slow
def test_killed_training_resumes_from_its_last_checkpoint(tiny_data, tmp_path):
    args = ["train", "--data", tiny_data, "--preset", "tiny", "--device", "cpu", "--cache", tmp_path, "--set", "epochs=12"]
    proc = _bench(*args)
    deadline = time.time() + 120
    while not list(tmp_path.glob("runs/*/all/last.pt")) and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    [run] = tmp_path.glob("runs/*")
    done = torch.load(run / "all" / "last.pt", weights_only=False)["state"]["epoch"]
    assert 1 <= done < 12 and not (run / "model.pt").exists()
    again = _bench(*args)
    assert again.wait(timeout=300) == 0, again.stderr.read()
    epochs = [json.loads(l)["epoch"] for l in (run / "all" / "metrics.jsonl").read_text().splitlines()]
    assert epochs == list(range(1, 13)), "each epoch logged once: resumed, not restarted"
    assert (run / "model.pt").is_file()


@pytest.mark.slow
def test_interrupted_embedding_redoes_only_missing_parts(built, cache_root, tmp_path, monkeypatch):
    table, whole = built
    features = load_features(table, cache_root)
    checkpoint = run_dir(cache_root, features, CONFIG) / "model.pt"
    monkeypatch.setattr(cache_mod, "PART_CLIPS", 200)
    n_parts = len(list(cache_mod._parts(features, {"all": sorted(table.machine_type.unique())})))
    calls = []

    def interrupted(*a, **k):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(1)
        return infer(*a, **k)

    monkeypatch.setattr(cache_mod, "infer", interrupted)
    with pytest.raises(KeyboardInterrupt):
        cache_mod.embed(checkpoint, features, parts_dir=tmp_path / "parts")
    assert len(list((tmp_path / "parts").glob("*.npz"))) == 2
    monkeypatch.setattr(cache_mod, "infer", _counting(infer, rest := []))
    cache = cache_mod.embed(checkpoint, features, parts_dir=tmp_path / "parts")
    assert n_parts > 3 and len(rest) == n_parts - 2
    assert cache.clips.file.tolist() == whole.clips.file.tolist()
    np.testing.assert_allclose(cache.embeddings, whole.embeddings, rtol=1e-4, atol=1e-4)


class _Crashing(Scorer):
    """Fails while scoring (a buggy plugin)."""
    name = "crashing"

    def fit(self, train):
        return self

    def score(self, test):
        raise FloatingPointError("boom")


@pytest.mark.slow
def test_a_crashing_scorer_fails_alone_the_others_finish_and_the_run_exits_non_zero(tiny_data, cache_root, tmp_path,
                                                                                     capsys, monkeypatch):
    monkeypatch.setitem(registry.SCORERS.entries, "crashing", _Crashing)
    common = ["run", "--data", tiny_data, "--preset", "tiny", "--device", "cpu", "--cache", cache_root,
              "--results", tmp_path / "results", "--leaderboard", tmp_path / "LEADERBOARD.md"]
    main([*map(str, common), "--methods", "softmax"])
    with pytest.raises(SystemExit) as exit_:
        main([*map(str, common), "--methods", "crashing,centroid,knn:k=99"])
    err = capsys.readouterr().err.strip().splitlines()[-1]  # after the progress bars
    assert exit_.value.code == 2 and err.startswith("bench: error: 2 of 3 methods failed") and "boom" in err
    assert "knn(k=99) on the dev split" in err and "99" in err  # too few training clips for k: that method alone
    rows = pd.read_csv(tmp_path / "results" / "results.csv")
    assert rows.groupby("method").size().to_dict() == {"softmax": 41, "centroid": 41}
    board = (tmp_path / "LEADERBOARD.md").read_text()
    assert "| centroid " in board and "- **crashing**: crashing failed on the dev split (FloatingPointError: boom)" in board
    assert not list(tmp_path.rglob("*.tmp"))


class _Hanging(Scorer):
    """Never finishes fitting (a scorer stuck in a loop)."""
    name = "hanging"

    def fit(self, train):
        time.sleep(600)
        return self

    def score(self, test):
        return np.zeros(len(test.embeddings))


class _Killed(Scorer):
    """Dies as the kernel's out-of-memory killer would have it die."""
    name = "killed"

    def fit(self, train):
        return self

    def score(self, test):
        os.kill(os.getpid(), signal.SIGKILL)


def test_a_scorer_process_uses_openmp_after_this_one_has(monkeypatch):
    """A child forked from a process whose OpenMP threads have run deadlocks in GNU libgomp (seen with faiss):
    the fork server's children must not."""
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    x = np.random.default_rng(0).random((20000, 64), dtype=np.float32)
    here = faiss_neighbours(x)  # starts this process's OpenMP pool
    assert isolation.call(faiss_neighbours, (x,), "faiss", timeout=120) == pytest.approx(here, rel=1e-6)


def test_a_scorer_that_cannot_be_pickled_is_named_with_what_to_do():
    with pytest.raises(ScorerError, match=r"^lambda: cannot be sent to its own process .*--isolate none"):
        isolation.call(lambda: 1, (), "lambda")


@pytest.mark.slow
def test_a_hanging_or_killed_scorer_fails_alone_with_its_reason_and_isolation_changes_no_number(
        tiny_data, cache_root, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(registry.SCORERS.entries, "hanging", _Hanging)
    monkeypatch.setitem(registry.SCORERS.entries, "killed", _Killed)
    common = ["run", "--data", tiny_data, "--preset", "tiny", "--device", "cpu", "--cache", cache_root]
    out = {mode: tmp_path / mode for mode in ("process", "none")}
    main([*map(str, [*common, "--results", out["none"], "--leaderboard", out["none"] / "LEADERBOARD.md"]),
          "--methods", "centroid,knn:k=2", "--isolate", "none"])
    start = time.perf_counter()
    with pytest.raises(SystemExit) as exit_:
        main([*map(str, [*common, "--results", out["process"], "--leaderboard", out["process"] / "LEADERBOARD.md"]),
              "--methods", "hanging,centroid,killed,knn:k=2", "--timeout", "3"])
    assert time.perf_counter() - start < 120, "the hanging scorer was stopped, not waited for"
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert exit_.value.code == 2 and err.startswith("bench: error: 2 of 4 methods failed")
    board = (out["process"] / "LEADERBOARD.md").read_text()
    assert "- **hanging**: hanging: timeout after 3 s" in board
    assert "- **killed**: killed: killed (out of memory?) by SIGKILL" in board
    rows = {mode: pd.read_csv(path / "results.csv").drop(columns=["run_id", "fit_seconds", "score_seconds"])
            for mode, path in out.items()}
    assert set(rows["process"].method) == {"centroid", "knn(k=2)"}
    pd.testing.assert_frame_equal(rows["process"], rows["none"], check_exact=True)
