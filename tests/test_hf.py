"""`hf`: every supported transformers family, from tiny randomly initialised models saved in the test."""
import numpy as np
import pytest
import torch
from hf_tiny import FAMILIES, save_tiny

from core.errors import DataError
from embeddings.embedders import get_embedder
from embeddings.embedders.hf import parse_layers, pool


@pytest.fixture(scope="module")
def subset(tiny_table):
    return tiny_table.groupby(["machine_type", "split"]).head(1).reset_index(drop=True)  # 18 clips of 1 s


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_loads_from_a_folder_and_embeds_every_clip(family, subset, tmp_path):
    folder = save_tiny(family, tmp_path / family)
    cache = get_embedder("hf", model=str(folder)).build(subset, tmp_path / "cache")
    assert cache.embeddings.shape[0] == len(subset) and np.isfinite(cache.embeddings).all()
    assert cache.embeddings.std(0).max() > 0, "different clips must embed differently"
    stats = get_embedder("hf", model=str(folder), pooling="stats").build(subset, tmp_path / "cache")
    assert stats.embeddings.shape[1] == 2 * cache.embeddings.shape[1]
    np.testing.assert_allclose(stats.embeddings[:, : cache.embeddings.shape[1]], cache.embeddings, rtol=1e-5, atol=1e-6)


def test_pooling_and_layer_choice_by_hand():
    tokens = torch.tensor([[[1.0, 4.0], [3.0, 0.0]]])
    assert pool(tokens, "mean").tolist() == [[2.0, 2.0]]
    assert pool(tokens, "max").tolist() == [[3.0, 4.0]]
    assert pool(tokens, "stats").tolist() == [[2.0, 2.0, 1.0, 2.0]]
    assert parse_layers(-1, 5) == [4] and parse_layers("1:3", 5) == [1, 2] and parse_layers("all", 5) == [1, 2, 3, 4]
    with pytest.raises(DataError, match="picks no hidden state; this model has 5"):
        parse_layers(7, 5)


def test_a_layer_range_is_the_mean_of_its_layers(subset, tmp_path):
    folder = str(save_tiny("wav2vec2", tmp_path / "w"))
    one, two = (get_embedder("hf", model=folder, layer=i).build(subset, tmp_path / "c").embeddings for i in (1, 2))
    both = get_embedder("hf", model=folder, layer="1:3").build(subset, tmp_path / "c").embeddings
    np.testing.assert_allclose(both, (one + two) / 2, rtol=1e-4, atol=1e-5)


def test_other_weights_under_the_same_name_are_another_cache_entry(subset, tmp_path):
    folder = save_tiny("hubert", tmp_path / "m")
    first = get_embedder("hf", model=str(folder)).build(subset, tmp_path / "c")
    torch.manual_seed(1)
    from transformers import HubertModel
    model = HubertModel.from_pretrained(folder)
    torch.nn.init.normal_(model.feature_projection.projection.weight)
    model.save_pretrained(folder)
    second = get_embedder("hf", model=str(folder)).build(subset, tmp_path / "c")
    assert second.manifest["key"] != first.manifest["key"]
    assert not np.allclose(second.embeddings, first.embeddings)


def test_a_missing_model_is_one_line_naming_it(subset, tmp_path):
    with pytest.raises(DataError, match=f"hf: cannot load '{tmp_path / 'nope'}'") as err:
        get_embedder("hf", model=str(tmp_path / "nope")).build(subset, tmp_path / "c")
    assert "\n" not in str(err.value)


@pytest.mark.slow
def test_bench_run_with_a_tiny_hf_encoder(tiny_data, tmp_path, capsys):
    from bench.cli import main
    from leaderboard.results import read_results
    folder = save_tiny("wav2vec2", tmp_path / "w2v")
    main(["run", "--data", str(tiny_data), "--preset", "tiny", "--device", "cpu", "--methods", "softmax,knn,centroid",
          "--embedder", f"hf:model={folder},pooling=stats", "--cache", str(tmp_path / "cache"),
          "--results", str(tmp_path / "results"), "--leaderboard", str(tmp_path / "LB.md")])
    assert "softmax: not applicable" in capsys.readouterr().out
    rows = read_results(tmp_path / "results" / "results.csv")
    assert set(rows.method) == {"knn", "centroid"} and len(rows) == 2 * 41
    assert set(rows.embedder) == {f"hf(model={folder}, pooling=stats)"}
    assert rows.auc.between(0, 1).all()
