"""The sweep's own silhouette, Davies-Bouldin and Calinski-Harabasz equal scikit-learn's."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import (
    calinski_harabasz_score,
    davies_bouldin_score,
    pairwise_distances,
    silhouette_score,
)

from segmentation.cluster_scores import davies_bouldin_calinski_harabasz, silhouette_precomputed


@pytest.mark.parametrize("seed", range(40))
def test_silhouette_equals_scikit_learns(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(4, 300))
    k = int(rng.integers(2, min(n - 1, 12)))  # at most n - 2 labels, so with the singleton still < n
    z = rng.normal(size=(n, 3)) + rng.integers(0, 3, size=(n, 1))
    labels = rng.integers(0, k, n) * 7 + 3  # any label values, not 0..k-1
    labels[1:3] = [3, 10]  # at least two clusters
    if seed % 3 == 0:
        labels[0] = -5  # a one-member cluster scores 0, as in scikit-learn
    d = pairwise_distances(z)
    assert silhouette_precomputed(d, labels) == pytest.approx(
        silhouette_score(d, labels, metric="precomputed"), abs=1e-12
    )


def test_silhouette_is_none_for_one_cluster_or_all_singletons() -> None:
    d = pairwise_distances(np.arange(6.0).reshape(3, 2))
    assert silhouette_precomputed(d, np.array([1, 1, 1])) is None
    assert silhouette_precomputed(d, np.array([0, 1, 2])) is None


@pytest.mark.parametrize("seed", range(40))
def test_davies_bouldin_and_calinski_harabasz_equal_scikit_learns(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(4, 3000))
    k = int(rng.integers(2, min(n, 12)))
    z = rng.normal(size=(n, 5)) * rng.uniform(0.1, 10, 5)
    labels = rng.integers(0, k, n)
    labels[:2] = [0, 1]  # at least two clusters
    dbi, chi = davies_bouldin_calinski_harabasz(z, labels)
    assert dbi == pytest.approx(davies_bouldin_score(z, labels), rel=1e-7)
    assert chi == pytest.approx(calinski_harabasz_score(z, labels), rel=1e-9)


def test_coincident_points_and_centroids_follow_scikit_learn() -> None:
    z = np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 1.0], [1.0, 1.0]])
    labels = np.array([0, 0, 1, 1])
    assert davies_bouldin_calinski_harabasz(z, labels) == (
        davies_bouldin_score(z, labels),
        calinski_harabasz_score(z, labels),
    )
