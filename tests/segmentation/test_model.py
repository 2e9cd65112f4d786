"""Model: the k rule, density outliers equal to DBSCAN's noise, reproducibility, stored transform."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.cluster import DBSCAN
from sklearn.datasets import make_blobs

from segmentation.model import KScore, choose_k, density_outliers, fit_model, fit_transform


def blobs(n: int = 1500, seed: int = 3) -> np.ndarray:
    x, _ = make_blobs(n_samples=n, centers=4, n_features=3, cluster_std=0.6, random_state=seed)
    return np.abs(x * 10)


def score(k: int, inertia: float, sil: float) -> KScore:
    return KScore("kmeans", k, inertia, sil, 1.0, 100.0, None, 100, 0.1)


def test_k_rule_picks_the_elbow_and_says_why() -> None:
    scores = [score(2, 100, 0.5), score(3, 60, 0.4), score(4, 30, 0.35), score(5, 25, 0.3), score(6, 22, 0.3)]
    k, reason = choose_k(scores)
    assert k == 4
    assert reason.startswith("k = 4 is the elbow of the inertia curve over k = 2..6")
    assert "the best silhouette is 0.500 at k = 2" in reason


def test_k_rule_with_two_candidates_uses_silhouette() -> None:
    assert choose_k([score(2, 100, 0.2), score(3, 50, 0.4)])[0] == 3


def test_density_outliers_equal_sklearn_dbscan_noise() -> None:
    rng = np.random.default_rng(0)
    z = np.vstack([rng.normal(0, 1, (800, 3)), rng.uniform(-8, 8, (40, 3))])
    noise, eps = density_outliers(z, min_samples=10, quantile=0.95)
    reference = DBSCAN(eps=eps, min_samples=10).fit_predict(z) == -1
    assert noise.sum() > 0
    assert np.array_equal(noise, reference)


def test_transform_apply_reproduces_the_fitted_scaled_data() -> None:
    x = blobs()
    x[:, 0] = np.exp(x[:, 0] / 10)  # strongly skewed: gets the log
    for scaler in ("standard", "robust", "minmax"):
        transform, z = fit_transform(x, ("a", "b", "c"), scaler)
        assert transform.log_transform[0] is True
        assert np.allclose(transform.apply(x), z)


def test_log_features_rule_skewed_all_or_none() -> None:
    x = blobs()
    x[:, 0] = np.exp(x[:, 0] / 10)  # strongly skewed
    x[:, 1] = np.abs(x[:, 1])
    assert fit_transform(x, ("a", "b", "c"), "standard")[0].log_transform == (True, False, False)
    every, z = fit_transform(x, ("a", "b", "c"), "standard", "all")
    assert every.log_transform == (True, True, True)
    expected = np.log1p(np.clip(x, 0, None))
    assert np.allclose(z, (expected - expected.mean(axis=0)) / expected.std(axis=0))
    assert np.allclose(every.apply(x), z)
    assert fit_transform(x, ("a", "b", "c"), "standard", "none")[0].log_transform == (False, False, False)


def test_same_seed_same_assignments_and_segments_ordered_by_size() -> None:
    x = blobs()
    a = fit_model(x, ("a", "b", "c"), seed=7, k_range=(2, 6))
    b = fit_model(x, ("a", "b", "c"), seed=7, k_range=(2, 6))
    assert np.array_equal(a.labels, b.labels)
    assert a.k == 4
    sizes = np.bincount(a.labels)
    assert list(sizes) == sorted(sizes, reverse=True)
    assert a.stability_ari > 0.95
    assert np.all(a.dist_own <= a.dist_next)
    assert not np.any(a.next_segment == a.labels)
    chosen = [s for s in a.scores if s.chosen]
    assert len(chosen) == 1 and chosen[0].algorithm == "kmeans" and chosen[0].k == 4
    assert {s.algorithm for s in a.scores} == {"kmeans", "agglomerative", "dbscan"}


def test_fixed_k_and_agglomerative_model() -> None:
    x = blobs()
    m = fit_model(x, ("a", "b", "c"), k=3, algorithm="agglomerative")
    assert m.k == 3 and len(np.unique(m.labels)) == 3
    assert m.k_reason == "k = 3 was fixed by --k."
    assert [s.chosen for s in m.scores if s.algorithm == "agglomerative"] == [True]


def test_pca_columns_are_nested_and_projection_is_reproducible() -> None:
    x = blobs()
    m = fit_model(x, ("a", "b", "c"), k=4)
    z = m.transform.apply(x)
    assert np.allclose((z - m.pca_mean) @ m.pca_components.T, m.pcs)
    two = fit_model(x[:, :2], ("a", "b"), k=4)
    assert np.isnan(two.pcs[:, 2]).all() and not np.isnan(two.pcs[:, :2]).any()


@pytest.mark.parametrize("seed", [0, 1])
def test_centroids_score_new_customers_like_the_stored_labels(seed: int) -> None:
    x = blobs(seed=seed)
    m = fit_model(x, ("a", "b", "c"), k=4, seed=seed)
    z = m.transform.apply(x)
    nearest = ((z[:, None, :] - m.centroids[None, :, :]) ** 2).sum(axis=2).argmin(axis=1)
    assert np.array_equal(nearest, m.labels)
