import json

import pytest

from bench.speed import domain_cases, render, run_speed, scorer_rows, synthetic_embeddings


def test_synthetic_embeddings_have_dcase_shape():
    pairs = synthetic_embeddings(n_ids=3, n_train=50, n_test=20, dim=16)
    assert len(pairs) == 3
    train, test = pairs[0]
    assert train.embeddings.shape == (50, 16) and test.embeddings.shape == (20, 16) and train.logits.shape == (50, 41)


def test_every_scorer_agrees_with_its_reference_on_the_speed_data():
    rows = scorer_rows([synthetic_embeddings(n_ids=3, n_train=120, n_test=30, dim=24)], devices=["cpu"], repeats=1,
                       n_components=2, progress=lambda m: None)
    checked = [r for r in rows if r["reference"]]
    assert {r["scorer"].split("(")[0] for r in checked} == {"centroid", "knn", "lof", "gmm"}
    assert all(r["agrees"] for r in checked), [r for r in checked if not r["agrees"]]
    assert all(r["seconds"] > 0 and r["speedup"] == r["reference_seconds"] / r["seconds"] for r in checked)
    text = render(rows, [], dict(argv="", source="synthetic", repeats=1))
    assert text.count("| yes |") == len(checked)


def test_every_domain_aware_scorer_agrees_with_its_reference_on_domain_data():
    data = synthetic_embeddings(n_ids=3, n_train=120, n_test=30, dim=24, n_classes=3, n_target=10)
    assert set(data[0][0].domain) == {"source", "target"} and (data[0][0].domain == "target").sum() == 10
    rows = scorer_rows([data], devices=["cpu"], repeats=1, n_components=2, progress=lambda m: None,
                       case_list=domain_cases(), total_name="all six")
    checked = [r for r in rows if r["reference"]]
    assert {r["scorer"].split("(")[0] for r in checked} == {"knn", "kmeans_knn", "mahalanobis"} and len(checked) == 4
    assert all(r["agrees"] for r in checked), [r for r in checked if not r["agrees"]]


@pytest.mark.slow  # a whole `bench speed --quick`: the full lane's, not the edit loop's
def test_quick_run_writes_markdown_and_json(tmp_path, monkeypatch):
    import bench.speed as speed
    monkeypatch.setattr(speed, "feature_throughput", lambda devices, n_clips: [
        {"stage": "decode + log-mel", "device": "cpu", "clips_per_s": 1.0}])
    monkeypatch.setattr(speed, "training_throughput", lambda device, model, steps: [])
    monkeypatch.setattr(speed, "embedder_throughput", lambda device, quick: [])
    monkeypatch.setattr(speed, "autoencoder_throughput", lambda device, quick: [])
    rows, _, text = run_speed(quick=True, dims=[16], json_path=tmp_path / "speed.json", out=tmp_path / "SPEED.md",
                              progress=lambda m: None)
    stored = json.loads((tmp_path / "speed.json").read_text())
    assert [set(r) for r in stored] == [{"scorer", "backend", "dim", "seconds", "reference_seconds", "speedup", "agrees"}] * len(rows)
    assert (tmp_path / "SPEED.md").read_text() == text and "| stage | device | clips/s |" in text
    assert "| RANKING.html MiB |" in text, "the ranking row times the page too"


@pytest.mark.slow  # a whole `bench speed --quick`: the full lane's, not the edit loop's
def test_speed_runs_on_a_real_embedding_cache(built, tmp_path, monkeypatch):
    """`bench speed --embeddings CACHE`: the trained cache's IDs and clips, not synthetic ones."""
    import bench.speed as speed
    from bench.cli import main
    monkeypatch.setattr(speed, "feature_throughput", lambda devices, n_clips: [])
    monkeypatch.setattr(speed, "training_throughput", lambda device, model, steps: [])
    monkeypatch.setattr(speed, "embedder_throughput", lambda device, quick: [])
    monkeypatch.setattr(speed, "autoencoder_throughput", lambda device, quick: [])
    table, cache = built
    main(["speed", "--quick", "--embeddings", str(cache.path), "--out", str(tmp_path / "SPEED.md"),
          "--json", str(tmp_path / "speed.json")])
    text, rows = (tmp_path / "SPEED.md").read_text(), json.loads((tmp_path / "speed.json").read_text())
    n_ids = table[table.split != "train"].groupby(["machine_type", "section"]).ngroups
    assert f"Embeddings of the cache `{cache.path}`: {n_ids} IDs x " in text
    assert {r["dim"] for r in rows} == {cache.embeddings.shape[1]}
    # equal scores where the reference is exact; the GMMs' likelihood comparison is not asserted here: with 12
    # clips per ID in 128 dimensions each k-means partition is its own optimum, and which side wins is a draw
    # (per ID from -48 to +10 nats on one trained cache); test_every_scorer_agrees... checks GMMs on clustered data
    exact = [r for r in rows if r["reference_seconds"] is not None and not r["scorer"].startswith("gmm")]
    # centroid, knn, lof; 4 domain-aware rows; the kNN family sharing work against each alone
    assert len(exact) == 8 and all(r["agrees"] for r in exact), rows
    assert all(r["agrees"] is not None for r in rows if r["scorer"].startswith("gmm"))


def test_speed_refuses_a_folder_that_is_not_an_embedding_cache(tmp_path, capsys):
    from bench.cli import main
    with pytest.raises(SystemExit) as exit_:
        main(["speed", "--quick", "--embeddings", str(tmp_path)])
    assert exit_.value.code == 2
    assert f"{tmp_path}: not an embedding cache" in capsys.readouterr().err


def test_the_knn_family_shares_work_and_scores_as_each_alone():
    from bench.speed import shared_work_rows
    data = synthetic_embeddings(n_ids=2, n_train=120, n_test=40, dim=32, n_classes=2, n_target=10)
    row, = shared_work_rows(data, ["cpu"], repeats=1)
    assert row["agrees"] is True and row["reference"] == "each alone" and row["seconds"] > 0
