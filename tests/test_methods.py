import numpy as np
import pytest

from methods import Bundle, available, get_scorer, parse_methods
from methods.registry import MethodError, label


def make_bundle(x, n_classes=4, own=0, confident=True):
    logits = np.zeros((len(x), n_classes), np.float32)
    logits[:, own] = 5.0 if confident else 0.0
    return Bundle(x.astype(np.float32), logits, np.full(len(x), own))


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    mean = rng.normal(size=16) * 3
    train = make_bundle(mean + rng.normal(size=(300, 16)))
    inliers = mean + rng.normal(size=(20, 16))
    outliers = mean + rng.normal(size=(20, 16)) * 4 + 6
    test = Bundle(np.r_[inliers, outliers].astype(np.float32),
                  np.r_[make_bundle(inliers).logits, make_bundle(outliers, confident=False).logits],
                  np.zeros(40, int))
    return train, test


@pytest.mark.parametrize("name", list(available()))
def test_every_registered_scorer_keeps_the_contract(name, data):
    train, test = data
    scorer = get_scorer(name)
    scores = scorer.fit(train).score(test)
    assert scores.shape == (40,) and np.isfinite(scores).all()
    assert scores[20:].mean() > scores[:20].mean(), "outliers must score higher"
    many = get_scorer(name).fit_many([train, train]).score_many([test, test])
    np.testing.assert_allclose(many[0], scores, rtol=1e-5, atol=1e-6)
    scorer.close()


@pytest.mark.parametrize("metric, ref_metric", [("l2", "euclidean"), ("cosine", "cosine")])
def test_lof_equals_scikit_learn(data, metric, ref_metric):
    train, test = data
    ours = get_scorer("lof", k=7, metric=metric).fit(train).score(test)
    ref = get_scorer("sklearn_lof", k=7, metric=ref_metric).fit(train).score(test)
    np.testing.assert_allclose(ours, ref, rtol=1e-4)


@pytest.mark.parametrize("metric", ["l2", "cosine"])
def test_knn_distances_equal_scikit_learn(data, metric):
    train, test = data
    ours = get_scorer("knn", k=3, metric=metric).fit(train).score(test)
    ref = get_scorer("sklearn_knn", k=3, metric="euclidean" if metric == "l2" else "cosine").fit(train).score(test)
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-5)


def test_centroid_equals_numpy(data):
    train, test = data
    np.testing.assert_allclose(get_scorer("centroid").fit(train).score(test),
                               get_scorer("numpy_centroid").fit(train).score(test), atol=1e-5)


@pytest.mark.parametrize("covariance", ["full", "diag"])
def test_gmm_reaches_scikit_learn_log_likelihood(covariance):
    rng = np.random.default_rng(1)
    x = np.r_[rng.normal(size=(400, 24)), rng.normal(size=(300, 24)) * 0.5 + 3].astype(np.float32)
    train = make_bundle(x)
    ours = get_scorer("gmm", n_components=3, covariance=covariance).fit(train)
    ref = get_scorer("sklearn_gmm", n_components=3, covariance=covariance).fit(train)
    assert ours.mean_log_likelihood(train) >= ref.model_.score(x) - 1e-3 * abs(ref.model_.score(x))


def test_gmm_batched_over_ids_equals_one_at_a_time():
    rng = np.random.default_rng(2)
    trains = [make_bundle(rng.normal(size=(n, 8)) + i) for i, n in enumerate((50, 80, 65))]
    tests = [make_bundle(rng.normal(size=(10, 8)) + i) for i in range(3)]
    batched = get_scorer("gmm", n_components=2).fit_many(trains).score_many(tests)
    single = [get_scorer("gmm", n_components=2).fit(t).score(s) for t, s in zip(trains, tests)]
    for a, b in zip(batched, single):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_method_spec_parsing_and_errors():
    assert parse_methods("softmax, gmm:n_components=4,covariance='diag',knn:k=5:metric=l2") == [
        ("softmax", {}), ("gmm", {"n_components": 4, "covariance": "diag"}), ("knn", {"k": 5, "metric": "l2"})]
    assert label("knn", {"k": 5, "metric": "l2"}) == "knn(k=5, metric=l2)"
    with pytest.raises(MethodError, match="unknown method 'nope'; known: block_norm, centroid"):
        get_scorer("nope")
    with pytest.raises(MethodError, match="no option n_comp.*n_components=2"):
        get_scorer("gmm", n_comp=3)
    with pytest.raises(MethodError, match="before any method"):
        parse_methods("k=5")
    with pytest.raises(MethodError, match="not key=value"):
        parse_methods("knn:k")


def test_gmm_low_rank_form_equals_dense_gaussian_mixture():
    from scipy.special import logsumexp
    from scipy.stats import multivariate_normal
    rng = np.random.default_rng(3)
    train = make_bundle(rng.normal(size=(30, 40)) @ rng.normal(size=(40, 40)) * 0.3)   # N = 30 < D = 40
    test = make_bundle(rng.normal(size=(5, 40)))
    scorer = get_scorer("gmm", n_components=2, reg_covar=1e-3).fit(train)
    x, _ = scorer._pad([train.embeddings])
    params = scorer._m_step(x, scorer.state_[0]["resp"][None])
    assert "A" in params, "N < D must take the low-rank path"
    dense = []
    for k in range(2):
        a = params["A"][0, k].numpy()
        cov = a.T @ a + 1e-3 * np.eye(40)
        dense.append(np.log(params["weights"][0, k].item())
                     + multivariate_normal(params["means"][0, k].numpy(), cov).logpdf(test.embeddings.astype(np.float64)))
    np.testing.assert_allclose(scorer.score(test), -logsumexp(np.stack(dense), axis=0), rtol=1e-6)


def test_an_option_value_a_plugin_refuses_is_a_one_line_error_naming_it(capsys):
    from bench.cli import main
    from embeddings.embedders import get_embedder
    with pytest.raises(MethodError, match="knn: combine must be one of min, mean, pooled, not 'bad'"):
        get_scorer("knn", combine="bad")
    with pytest.raises(MethodError, match="ae2023: output must be one of error, whitened, not 'nope'"):
        get_embedder("ae2023", output="nope")
    with pytest.raises(SystemExit) as exit_:
        main(["run", "--methods", "knn:combine=bad"])
    assert exit_.value.code == 2 and "knn: combine must be" in capsys.readouterr().err
