"""The scorers current systems use, each against an independent reference on the same data."""
import numpy as np
import pytest
import torch
from sklearn.cluster import KMeans, kmeans_plusplus
from sklearn.covariance import EmpiricalCovariance, LedoitWolf
from sklearn.neighbors import NearestNeighbors

from core.errors import DataError
from core.plugins import PluginError
from methods import Bundle, get_scorer
from methods.kmeans import kmeans, lloyd, plusplus, tolerance
from methods.mahalanobis import covariance
from methods.smote_knn import smote


def _bundle(x, domain=None, name="fan section 00 training clips"):
    n = len(x)
    return Bundle(x.astype(np.float32), np.zeros((n, 0), np.float32), np.zeros(n, int), name, 1,
                  None if domain is None else np.asarray(domain))


@pytest.fixture
def shifted():
    """Source clips around one point, a few target clips around another, test clips of both."""
    rng = np.random.default_rng(0)
    d = 16
    source, target = rng.normal(size=d) * 3, rng.normal(size=d) * 3
    train = np.r_[source + rng.normal(size=(60, d)), target + rng.normal(size=(6, d))]
    domain = np.array(["source"] * 60 + ["target"] * 6)
    test = np.r_[source + rng.normal(size=(10, d)), target + rng.normal(size=(10, d))]
    return train, domain, test


def _sk_knn(bank, test, k, metric="cosine"):
    nn = NearestNeighbors(n_neighbors=min(k, len(bank)), metric=metric).fit(bank)
    return nn.kneighbors(test)[0].mean(1)


def test_knn_banks_take_the_smaller_distance_and_equal_scikit_learn(shifted):
    train, domain, test = shifted
    scores = get_scorer("knn", k=3).fit(_bundle(train, domain)).score(_bundle(test))
    expected = np.minimum(_sk_knn(train[domain == "source"], test, 3), _sk_knn(train[domain == "target"], test, 3))
    np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-6)
    mean = get_scorer("knn", k=3, combine="mean").fit(_bundle(train, domain)).score(_bundle(test))
    np.testing.assert_allclose(mean, (_sk_knn(train[domain == "source"], test, 3) + _sk_knn(train[domain == "target"], test, 3)) / 2,
                               rtol=1e-5, atol=1e-6)


def test_a_target_clip_near_the_target_bank_scores_normal(shifted):
    train, domain, test = shifted
    banked = get_scorer("knn", k=5).fit(_bundle(train, domain)).score(_bundle(test))
    pooled = get_scorer("knn", k=5, combine="pooled").fit(_bundle(train, domain)).score(_bundle(test))
    # with 6 target clips, 5 neighbours in the pooled bank are target ones, so the pooled score looks fine too;
    # k = 10 pulls source clips into a target clip's neighbours in the pooled bank, not in the target bank
    far = get_scorer("knn", k=10, combine="pooled").fit(_bundle(train, domain)).score(_bundle(test))
    near = get_scorer("knn", k=10).fit(_bundle(train, domain)).score(_bundle(test))
    assert (near[10:] < far[10:]).all() and np.allclose(near[:10], far[:10], atol=1e-6)
    assert np.allclose(banked[:10], pooled[:10], atol=1e-6)


@pytest.mark.parametrize("name, options", [("knn", {"k": 3}), ("knn", {"normalize": "ratio"}),
                                           ("kmeans_knn", {"n_centres": 4}), ("smote_knn", {}),
                                           ("mahalanobis", {})])
def test_without_domains_every_banked_scorer_is_its_one_bank_form(shifted, name, options):
    train, _, test = shifted
    all_source = get_scorer(name, **options).fit(_bundle(train, ["source"] * len(train))).score(_bundle(test))
    no_domain = get_scorer(name, **options).fit(_bundle(train)).score(_bundle(test))
    pooled_options = {**options, "combine": "pooled"} if name != "mahalanobis" else {**options, "selective": False}
    pooled = get_scorer(name, **pooled_options).fit(_bundle(train, ["source"] * len(train))).score(_bundle(test))
    np.testing.assert_allclose(all_source, no_domain, rtol=1e-6)
    np.testing.assert_allclose(all_source, pooled, rtol=1e-6)


@pytest.mark.parametrize("normalize", ["ratio", "difference"])
def test_local_density_normalisation_by_hand(shifted, normalize):
    train, _, test = shifted
    bank = train[:60]
    scores = get_scorer("knn", k=1, metric="l2", normalize=normalize, density_k=4).fit(_bundle(bank)).score(_bundle(test))
    nn = NearestNeighbors(n_neighbors=5, metric="euclidean").fit(bank)
    own = nn.kneighbors(bank)[0][:, 1:].mean(1)  # each member's mean distance to its 4 nearest other members
    dist, idx = nn.kneighbors(test, n_neighbors=1)
    expected = dist[:, 0] / own[idx[:, 0]] if normalize == "ratio" else dist[:, 0] - own[idx[:, 0]]
    np.testing.assert_allclose(scores, expected, rtol=1e-4, atol=1e-5)


def test_kmeans_equals_scikit_learn_from_the_same_start():
    rng = np.random.default_rng(1)
    x = np.r_[rng.normal(size=(200, 8)), rng.normal(size=(200, 8)) + 4]
    start, _ = kmeans_plusplus(x, 16, random_state=0)
    reference = KMeans(16, init=start, n_init=1, algorithm="lloyd", tol=1e-4, max_iter=300).fit(x).cluster_centers_
    data = torch.as_tensor(x, dtype=torch.float32)[None]
    mask = torch.ones(data.shape[:2])
    centres = lloyd(data, mask, torch.as_tensor(start, dtype=torch.float32)[None], tolerance(data, mask))[0][0]
    np.testing.assert_allclose(centres.numpy(), reference, rtol=1e-5, atol=1e-5)


def test_padded_sets_cluster_in_one_batch_exactly_as_each_alone():
    rng = np.random.default_rng(3)
    sets = [(rng.normal(size=(n, 6)) + 3 * (rng.random((n, 1)) > 0.5)).astype(np.float32) for n in (40, 25, 33)]
    x, mask = torch.zeros(3, 40, 6), torch.zeros(3, 40)
    for i, a in enumerate(sets):
        x[i, :len(a)], mask[i, :len(a)] = torch.from_numpy(a), 1
    centres, resp, _ = kmeans(x, mask, 4, seed=2, n_init=3)
    for i, a in enumerate(sets):
        alone, alone_resp, _ = kmeans(torch.from_numpy(a)[None], torch.ones(1, len(a)), 4, seed=2, n_init=3)
        torch.testing.assert_close(centres[i], alone[0], rtol=1e-5, atol=1e-5)
        assert torch.equal(resp[i, :len(a)], alone_resp[0]) and not resp[i, len(a):].any()  # padding joins no cluster


def test_plusplus_draws_distinct_spread_out_reproducible_centres():
    rng = np.random.default_rng(6)
    blobs = np.concatenate([rng.normal(size=(50, 4)) * 0.05 + 10 * i for i in range(4)])
    start = plusplus(torch.from_numpy(blobs), 4, seed=1).numpy()
    np.testing.assert_array_equal(start, plusplus(torch.from_numpy(blobs), 4, seed=1).numpy())
    assert sorted(np.round(start.mean(1) / 10).astype(int)) == [0, 1, 2, 3]  # one centre in each far-apart blob
    assert all(any(np.array_equal(c, p) for p in blobs) for c in start)  # starting centres are data points


def test_kmeans_knn_banks_centres_and_every_target_clip(shifted):
    train, domain, test = shifted
    scorer = get_scorer("kmeans_knn", n_centres=8, metric="l2").fit(_bundle(train, domain))
    sizes = sorted(b.size for _, b in scorer.banks_)
    assert sizes == [6, 8]
    source = train[domain == "source"]
    start = plusplus(torch.from_numpy(source.astype(np.float32)), 8, seed=0).numpy()
    centres = KMeans(8, init=start, n_init=1, algorithm="lloyd").fit(source.astype(np.float64)).cluster_centers_
    expected = np.minimum(_sk_knn(centres, test, 1, "euclidean"), _sk_knn(train[domain == "target"], test, 1, "euclidean"))
    np.testing.assert_allclose(scorer.score(_bundle(test)), expected, rtol=1e-4, atol=1e-4)


def test_smote_points_lie_between_real_neighbours_in_the_requested_number():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(6, 4)).astype(np.float32)
    synthetic = smote(x, 50, neighbours=2, seed=3)
    assert synthetic.shape == (50, 4)
    np.testing.assert_array_equal(synthetic, smote(x, 50, neighbours=2, seed=3))
    nn = NearestNeighbors(n_neighbors=3).fit(x).kneighbors(x)[1][:, 1:]  # each point's 2 nearest others
    for p in synthetic:
        on_segment = False
        for i in range(len(x)):
            for j in nn[i]:
                d = x[j] - x[i]
                t = float(np.dot(p - x[i], d) / np.dot(d, d))
                if 0 <= t <= 1 and np.allclose(x[i] + t * d, p, atol=1e-5):
                    on_segment = True
        assert on_segment, "a synthetic point off every segment between neighbours"


def test_smote_knn_fills_the_target_bank_to_the_ratio(shifted):
    train, domain, _ = shifted
    scorer = get_scorer("smote_knn", ratio=0.5).fit(_bundle(train, domain))
    assert sorted(b.size for _, b in scorer.banks_) == [30, 60]


@pytest.mark.parametrize("kind, reference", [("ledoit_wolf", LedoitWolf), ("empirical", EmpiricalCovariance)])
def test_covariances_equal_scikit_learn(kind, reference):
    import torch
    x = np.random.default_rng(4).normal(size=(40, 12)) @ np.random.default_rng(5).normal(size=(12, 12))
    mean, cov = covariance(torch.from_numpy(x), kind)
    ref = reference().fit(x)
    np.testing.assert_allclose(cov.numpy(), ref.covariance_, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(mean.numpy(), ref.location_, rtol=1e-12)


def test_selective_mahalanobis_is_the_smaller_of_the_domains_distances(shifted):
    train, domain, test = shifted
    scores = get_scorer("mahalanobis").fit(_bundle(train, domain)).score(_bundle(test))
    per_domain = [LedoitWolf().fit(train[domain == d].astype(np.float32).astype(np.float64)).mahalanobis(
        test.astype(np.float32).astype(np.float64)) for d in ("source", "target")]
    np.testing.assert_allclose(scores, np.minimum(*per_domain), rtol=1e-6)


def test_fusion_standardises_members_on_held_out_training_clips(shifted):
    train, domain, test = shifted
    fused = get_scorer("fusion", members="knn+mahalanobis").fit(_bundle(train, domain))
    rows = np.random.default_rng(0).permutation(len(train))
    held, kept = rows[:7], rows[7:]
    parts = []
    for name in ("knn", "mahalanobis"):
        probe = get_scorer(name).fit(_bundle(train[kept], domain[kept])).score(_bundle(train[held], domain[held]))
        full = get_scorer(name).fit(_bundle(train, domain)).score(_bundle(test))
        parts.append((full - probe.mean()) / probe.std())
    np.testing.assert_allclose(fused.score(_bundle(test)), np.mean(parts, 0), rtol=1e-5)


def test_bad_input_is_one_line_naming_the_section(shifted):
    train, domain, _ = shifted
    with pytest.raises(PluginError, match="fusion: unknown member 'bogus'"):
        get_scorer("fusion", members="knn+bogus")
    with pytest.raises(DataError, match="fan section 00 training clips: 3 training clips, but"):
        get_scorer("knn", k=5).fit_many([_bundle(train[:3], domain[:3])])


def test_option_values_share_banks_densities_and_searches_and_score_as_they_do_alone(shifted, monkeypatch):
    import methods.knn as knn_module
    train, domain, test = shifted
    built, searched = [], []
    real_index = knn_module.flat_index

    def counting_index(base, *args, **kwargs):
        index = real_index(base, *args, **kwargs)
        built.append(len(base))
        real_search = index.search
        index.search = lambda q, k, name="embeddings": searched.append((name, k)) or real_search(q, k, name)
        return index
    monkeypatch.setattr(knn_module, "flat_index", counting_index)
    specs = [("knn", {"k": 5}), ("knn", {"k": 1}), ("knn", {"k": 1, "normalize": "ratio"}),
             ("knn", {"k": 1, "normalize": "difference"}), ("kmeans_knn", {"n_centres": 8}),
             ("smote_knn", {}), ("knn", {"combine": "pooled"})]
    tr, te = _bundle(train, domain), _bundle(test, np.r_[["source"] * 10, ["target"] * 10])
    together = [get_scorer(n, **o).fit(tr).score(te) for n, o in specs]
    # banks: raw source and target, k-means source, SMOTE target, pooled: five indexes for seven scorers
    assert sorted(built) == sorted([60, 6, 8, 60, 66])
    # test searches: raw banks once each (k=5 serves k=1), one per changed bank and the pooled one
    test_searches = [k for name, k in searched if name != "embeddings"]  # the test bundle names its searches
    assert sorted(test_searches) == [1, 1, 5, 5, 5]
    # density: one search of the found members per raw bank, shared by ratio and difference
    assert sorted(k for name, k in searched if name == "embeddings") == [6, 6]
    for (n, o), scores in zip(specs, together):  # fresh bundles: nothing shared
        alone = get_scorer(n, **o).fit(_bundle(train, domain)).score(_bundle(test, np.r_[["source"] * 10, ["target"] * 10]))
        np.testing.assert_allclose(scores, alone, rtol=1e-6, err_msg=f"{n} {o}")


def test_selective_mahalanobis_on_a_one_clip_domain_uses_the_pooled_covariance_and_says_so():
    rng = np.random.default_rng(4)
    source = rng.normal(size=(40, 6))
    target = rng.normal(size=(1, 6)) + 3.0
    train = Bundle(np.vstack([source, target]), np.zeros((41, 0)), np.zeros(41, int), "fan section 00",
                   domain=np.array(["source"] * 40 + ["target"]))
    test = rng.normal(size=(5, 6))
    with pytest.warns(UserWarning, match="fan section 00: the target domain has one training clip; mahalanobis uses the pooled"):
        scorer = get_scorer("mahalanobis").fit(train)
    pooled = LedoitWolf().fit(train.embeddings)
    near_target = ((test - target[0]) @ np.linalg.inv(pooled.covariance_) * (test - target[0])).sum(1)
    alone = LedoitWolf().fit(source)
    near_source = alone.mahalanobis(test)
    np.testing.assert_allclose(scorer.score(Bundle(test, np.zeros((5, 0)), np.zeros(5, int))),
                               np.minimum(near_source, near_target), rtol=1e-6)
