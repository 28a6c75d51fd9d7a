import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import CONFIG
from scipy.stats import hmean

import embeddings.pipeline as cache_mod
from dcase import metrics
from embeddings.cache import EmbeddingCache, StaleCacheError
from embeddings.classifier import softmax_score
from embeddings.features import LogMelConfig, load_features
from embeddings.pipeline import build, cache_key
from embeddings.train import _select, fit, train

pytestmark = pytest.mark.slow


def test_loss_decreases_and_validation_is_logged(built, cache_root):
    _, cache = built
    log = [json.loads(line) for line in (cache_root / "runs" / cache.manifest["key"] / "all" / "metrics.jsonl").open()]
    assert [r["epoch"] for r in log] == list(range(1, CONFIG.epochs + 1))
    assert log[-1]["loss"] < 0.7 * log[0]["loss"]
    assert sum("select" in r for r in log) == CONFIG.epochs // CONFIG.eval_every


def test_classifier_separates_ids_on_held_out_normal_clips(built):
    _, cache = built
    dev = cache.split("dev")
    normal = dev.clips.label.to_numpy() == 0
    accuracy = np.mean(dev.logits[normal].argmax(1) == dev.clips.class_index.to_numpy()[normal])
    assert accuracy > 10 / 41, f"accuracy {accuracy:.2f} is near chance (1/41)"


def test_softmax_score_detects_anomalies(built):
    _, cache = built
    dev = cache.split("dev")
    summary = metrics.summarize(metrics.per_section(dev.clips, softmax_score(dev.logits, dev.clips.class_index)))
    assert summary.loc["mean", "auc"] > 0.55


def test_cache_layout_and_second_run_does_not_train(built, cache_root, monkeypatch):
    table, first = built
    assert first.embeddings.shape == (len(table), 128) and first.logits.shape == (len(table), 41)
    assert set(first.manifest) >= {"config", "checkpoint_sha256", "created", "versions", "key"}
    monkeypatch.setattr(cache_mod, "train", lambda *a, **k: pytest.fail("trained again despite a cached model"))
    again = build(table, CONFIG, cache_root)
    assert np.array_equal(again.embeddings, first.embeddings)
    features = load_features(table, cache_root)
    assert cache_key(features, replace(CONFIG, margin=0.5)) != cache_key(features, CONFIG)


def test_incompatible_or_damaged_cache_is_refused(built, tmp_path):
    _, cache = built
    path = cache.save(tmp_path / "copy")
    manifest = json.loads((path / "manifest.json").read_text())
    (path / "manifest.json").write_text(json.dumps({**manifest, "cache_version": 0}))
    with pytest.raises(StaleCacheError, match="cache version 0"):
        EmbeddingCache.load(path)
    broken = EmbeddingCache(cache.clips, cache.embeddings.copy(), cache.logits, cache.manifest)
    broken.embeddings[3, 0] = np.nan
    with pytest.raises(StaleCacheError, match="NaN"):
        EmbeddingCache.load(broken.save(tmp_path / "nan"))


def _two_types(table, cache_root):
    features = load_features(table, cache_root, LogMelConfig())
    pick = lambda split: _select(features.split(split), ["valve", "ToyCar"])  # noqa: E731
    return features, pick("train"), pick("dev")


def test_resumed_run_matches_uninterrupted_run(built, cache_root, tmp_path):
    table, _ = built
    _, train_split, dev_split = _two_types(table, cache_root)
    config = replace(CONFIG, epochs=4, eval_every=2)
    whole = fit(config, train_split, dev_split, 41, tmp_path / "whole")
    fit(config, train_split, dev_split, 41, tmp_path / "cut", stop_after=1)  # "interrupted" after epoch 1
    assert json.loads((tmp_path / "cut" / "metrics.jsonl").read_text().splitlines()[-1])["epoch"] == 1
    resumed = fit(config, train_split, dev_split, 41, tmp_path / "cut")
    for (name, a), b in zip(whole.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name


def test_per_type_models_and_finetuned_heads(built, cache_root, tmp_path):
    table, _ = built
    subset = table[table.machine_type.isin(["valve", "ToyCar"])].reset_index(drop=True)
    features = load_features(subset, cache_root, LogMelConfig())
    config = replace(CONFIG, epochs=2, integrated=False, finetune_epochs=2)
    saved = torch.load(train(config, features, tmp_path / "run"), weights_only=False)
    assert set(saved["models"]) == {"ToyCar", "valve"} and set(saved["heads"]) == {"ToyCar", "valve"}
    cache = cache_mod.embed(tmp_path / "run" / "model.pt", features)
    assert len(cache.clips) == len(subset) and np.isfinite(cache.logits).all()


def _section(machine_type, order):
    """One 2023-format section's test clips, scored in the given order from highest: `a` anomaly, `s` source
    normal, `t` target normal; anomalies alternate source and target."""
    domains = {"s": "source", "t": "target"}
    anomalies = iter(["source", "target"] * 4)
    return pd.DataFrame({"machine_type": machine_type, "section": "00", "task": "dcase2023",
                         "domain": [domains.get(c) or next(anomalies) for c in order],
                         "label": [int(c == "a") for c in order], "score": np.arange(len(order), 0, -1.0)})


def test_checkpoint_selection_maximises_the_years_own_score(monkeypatch):
    import embeddings.train as training
    # epoch A: section fan perfect; in pump every target normal outscores every anomaly (AUC-target 0), so the
    # official harmonic mean is near 0 while the 2020 rule, mean AUC + mean pAUC, gives 0.75 + 0.7368 = 1.4868
    a = pd.concat([_section("fan", "aaaassssssss".replace("ssssssss", "sssstttt")), _section("pump", "ttttaaaassss")])
    # epoch B: in both sections a, s, t interleaved: AUC-source = AUC-target = 10/16, pAUC = 0.5 (1 + 0.02 / 0.095)
    b = pd.concat([_section(t, "astastastast") for t in ("fan", "pump")])
    picked = {}
    for year in ("dcase2023", "dcase2020"):
        val = {}
        for epoch, clips in (("A", a), ("B", b)):
            clips = clips.assign(task=year, n_frames=1, first_class=0, n_classes=1).reset_index(drop=True)
            monkeypatch.setattr(training, "infer", lambda *args, c=clips: (None, None))
            monkeypatch.setattr(training, "softmax_score", lambda logits, first, n, c=clips: c.score.to_numpy())
            val[epoch] = training.validate_on_dev(None, CONFIG, (clips, None), "cpu")
        picked[year] = max(val, key=lambda e: val[e]["select"])
        if year == "dcase2020":  # the seed paper's rule: mean AUC + mean pAUC
            # fan: AUC 1, pAUC 1; pump: each anomaly above half the normals, no anomaly above the first normal
            assert val["A"]["select"] == pytest.approx((1 + 0.5) / 2 + (1 + 0.5 * (1 - 0.005 / 0.095)) / 2, abs=1e-9)
        else:
            pauc = 0.5 * (1 + 0.02 / 0.095)
            assert val["B"]["select"] == pytest.approx(hmean([0.625, 0.625, pauc] * 2), abs=1e-9)
            assert val["A"]["select"] < 1e-6
    assert picked == {"dcase2023": "B", "dcase2020": "A"}
