"""Embedders as plugins: imported embeddings, a HEAR-API module, the registry and the leaderboard per embedder."""
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from bench.cli import main
from core.errors import DataError
from embeddings.embedders import available, get_embedder
from embeddings.embedders.imported import read_embedding_file
from leaderboard.results import read_results


def _keys(cache):
    return ["/".join(p.split("/")[-3:]) for p in cache.clips.path]  # <type>/<train|test>/<file>: unique in 2020


def test_imported_npz_npy_and_parquet_give_the_embeddings_back(tiny_embeddings, tmp_path):
    table, cache = tiny_embeddings
    keys = _keys(cache)
    np.savez(tmp_path / "e.npz", files=np.array(keys[::-1]), embeddings=cache.embeddings[::-1])  # any row order
    np.save(tmp_path / "e.npy", cache.embeddings)
    (tmp_path / "e.files.txt").write_text("\n".join(keys))
    pd.DataFrame({"file": keys, "embedding": list(cache.embeddings)}).to_parquet(tmp_path / "e.parquet")
    order = cache.clips.path.reset_index(drop=True)
    for name in ("e.npz", "e.npy", "e.parquet"):
        got = get_embedder("imported", path=str(tmp_path / name)).build(table, tmp_path / f"cache-{name}")
        assert got.logits.shape == (len(table), 0)
        by_path = dict(zip(got.clips.path, got.embeddings))
        np.testing.assert_array_equal(np.stack([by_path[p] for p in order]), cache.embeddings)


@pytest.mark.parametrize("damage, message", [
    (lambda keys, emb: (keys[1:], emb[1:]), "no embedding for"),
    (lambda keys, emb: ([k.split("/")[-1] for k in keys], emb), r"names \d+ clips"),
    (lambda keys, emb: (keys, np.where(np.arange(len(emb))[:, None] == 5, np.nan, emb)), "gave NaN or inf"),
])
def test_imported_embeddings_are_refused_with_the_clip_named(tiny_embeddings, tmp_path, damage, message):
    table, cache = tiny_embeddings
    keys, emb = damage(_keys(cache), cache.embeddings.copy())
    np.savez(tmp_path / "bad.npz", files=np.array(keys), embeddings=emb)
    with pytest.raises(DataError, match=message) as err:
        get_embedder("imported", path=str(tmp_path / "bad.npz")).build(table, tmp_path / "cache")
    assert ".wav" in str(err.value) and "\n" not in str(err.value)
    assert not any((tmp_path / "cache" / "embeddings").glob("*/manifest.json")), "nothing half-built is left"


def test_imported_parquet_with_ragged_dimensions_is_refused(tmp_path):
    pd.DataFrame({"file": ["a.wav", "b.wav"], "embedding": [np.zeros(4), np.zeros(3)]}).to_parquet(tmp_path / "r.parquet")
    with pytest.raises(DataError, match="b.wav has 3 values, the first has 4"):
        read_embedding_file(tmp_path / "r.parquet")


HEAR_MODULE = '''
import torch

class Model(torch.nn.Module):
    sample_rate = 8000
    scene_embedding_size = 16

    def __init__(self):
        super().__init__()
        self.proj = torch.nn.Linear(64, 16)
        torch.nn.init.normal_(self.proj.weight, generator=torch.Generator().manual_seed(0))

def load_model(model_file_path=""):
    return Model()

def get_scene_embeddings(audio, model):
    frames = audio[:, : audio.shape[1] // 64 * 64].reshape(len(audio), -1, 64)
    return model.proj(torch.fft.rfft(frames, n=126).abs()).mean(1)
'''


def test_a_hear_module_embeds_at_its_own_rate_and_is_cached(tiny_table, tmp_path, monkeypatch):
    table = tiny_table
    (tmp_path / "tiny_hear.py").write_text(textwrap.dedent(HEAR_MODULE))
    monkeypatch.syspath_prepend(str(tmp_path))
    embedder = get_embedder("hear", module="tiny_hear")
    first = embedder.build(table, tmp_path / "cache")
    assert first.embeddings.shape == (len(table), 16) and np.isfinite(first.embeddings).all()
    monkeypatch.setattr(sys.modules["tiny_hear"], "get_scene_embeddings", lambda a, m: pytest.fail("not cached"))
    again = get_embedder("hear", module="tiny_hear").build(table, tmp_path / "cache")
    np.testing.assert_array_equal(again.embeddings, first.embeddings)
    assert again.manifest["weights"] == embedder.fingerprint() and again.manifest["options"]["module"] == "tiny_hear"


@pytest.mark.slow
def test_run_with_an_imported_embedder_ranks_beside_arcface(built, tiny_data, cache_root, tmp_path, capsys):
    from conftest import CONFIG

    from bench.runner import RunConfig, run
    table, cache = built
    np.savez(tmp_path / "e.npz", files=np.array(_keys(cache)), embeddings=cache.embeddings)
    results, board = tmp_path / "results", tmp_path / "LB.md"
    common = dict(data=tiny_data, preset="tiny", device="cpu", results=results, leaderboard=board, cache=cache_root,
                  methods="softmax,knn")
    overrides = {k: getattr(CONFIG, k) for k in ("epochs", "first_cycle")}  # the `built` model, from the cache
    run(RunConfig(**common, overrides=overrides))
    run(RunConfig(**common, embedder=f"imported:path={tmp_path / 'e.npz'}"))
    assert "softmax: not applicable on embedder imported" in capsys.readouterr().out
    rows = read_results(results / "results.csv")
    assert set(zip(rows.embedder, rows.method)) == {("arcface(preset=tiny)", "softmax"), ("arcface(preset=tiny)", "knn"),
                                                    (f"imported(path={tmp_path / 'e.npz'})", "knn")}
    knn = rows[rows.method == "knn"].pivot_table(index=["split", "machine_type", "section"], columns="embedder", values="auc")
    assert (knn.iloc[:, 0] == knn.iloc[:, 1]).all(), "the same embeddings, imported, give the same AUCs"
    assert (results / "knn" / "dev").is_dir() and (results / "softmax" / "dev").is_dir()
    [imported_files] = [p for p in results.iterdir() if p.name.startswith("knn_imported")]
    assert sorted(p.name for p in (imported_files / "dev").iterdir()) == sorted(p.name for p in (results / "knn" / "dev").iterdir())
    text = board.read_text()
    assert "| knn @ arcface(preset=tiny) " in text and "| knn @ imported(path=" in text and "- embedders: " in text


def test_embedders_are_listed_and_an_unknown_one_is_a_usage_error(capsys, tmp_path):
    assert {"arcface", "imported", "hear"} <= set(available())
    main(["embedders"])
    out = capsys.readouterr().out
    assert "imported" in out and "path=''" in out and "per seed" in out
    with pytest.raises(SystemExit) as exit_:
        main(["run", "--embedder", "eat", "--cache", str(tmp_path)])
    assert exit_.value.code == 2 and "unknown embedder 'eat'" in capsys.readouterr().err


@pytest.mark.parametrize("spec, says", [("beats", "checkpoint '(none given)' not found"),
                                         ("dasheng:checkpoint=missing.pt", "checkpoint 'missing.pt' not found"),
                                         ("imported:path=missing.npz", "missing.npz: embedding file not found")])
def test_a_missing_embedder_file_fails_the_run_before_its_data_is_made(spec, says, tmp_path, capsys):
    cache = tmp_path / "cache"
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--preset", "tiny", "--cache", str(cache), "--embedder", spec,
              "--results", str(tmp_path / "r"), "--leaderboard", str(tmp_path / "LB.md")])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2 and len(err) == 1 and says in err[0], err
    assert not cache.exists(), "the generated data set was made before the embedder was checked"
