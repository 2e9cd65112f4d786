"""Quality indices of a labelling: silhouette from a precomputed distance matrix, in one matrix product.

scikit-learn's silhouette_score(metric="precomputed") walks the matrix in chunks per call; the k sweep
scores the same seeded sample's distances at every k, so the per-cluster distance sums are one product
of the matrix with the labels' one-hot matrix (BLAS), and the rest is arithmetic on n x k numbers.
Davies-Bouldin and Calinski-Harabasz need only the cluster means and each row's distance to its own, two
passes over the rows (scikit-learn's versions compute per-cluster pairwise distances). All three equal
scikit-learn's to rounding (tests/segmentation/test_cluster_scores.py).
"""

from __future__ import annotations

import numpy as np


def silhouette_precomputed(distances: np.ndarray, labels: np.ndarray) -> float | None:
    """Mean silhouette coefficient of `labels` given the square `distances` among the same rows.

    Same definition as scikit-learn's: a = mean distance to the other members of one's own cluster, b =
    the smallest mean distance to another cluster's members, s = (b - a) / max(a, b), and 0 for a member
    of a one-member cluster. None when there are fewer than 2 clusters or as many clusters as rows.
    """
    codes, labels = np.unique(labels, return_inverse=True)
    n, k = len(labels), len(codes)
    if not 1 < k < n:
        return None
    onehot = np.zeros((n, k), dtype=distances.dtype)  # the matrix's own type: no upcast copy of it
    onehot[np.arange(n), labels] = 1.0
    sums = (distances @ onehot).astype(float)  # row i, cluster c: sum of i's distances to c's members
    sizes = onehot.sum(axis=0)
    rows = np.arange(n)
    own_size = sizes[labels]
    a = sums[rows, labels] / np.maximum(own_size - 1, 1)
    means = sums / sizes
    means[rows, labels] = np.inf
    b = means.min(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        s = (b - a) / np.maximum(a, b)
    s = np.where(own_size > 1, np.nan_to_num(s), 0.0)
    return float(s.mean())


def scores(
    z: np.ndarray, labels: np.ndarray, sample: np.ndarray, distances: np.ndarray
) -> tuple[float | None, float | None, float | None]:
    """Silhouette on the sample's precomputed distances; Davies-Bouldin and Calinski-Harabasz on all rows."""
    if len(np.unique(labels)) < 2:
        return None, None, None
    sil = silhouette_precomputed(distances, labels[sample])
    return sil, *davies_bouldin_calinski_harabasz(z, labels)


def davies_bouldin_calinski_harabasz(z: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Davies-Bouldin and Calinski-Harabasz indices of `labels` on rows `z` (at least 2 clusters).

    Definitions as scikit-learn's: DB is the mean over clusters of the largest (s_i + s_j) / d(c_i, c_j),
    s the mean distance of a cluster's rows to its centroid (coincident centroids count as infinitely
    far; 0 when every s or every d is 0); CH is between-cluster over within-cluster dispersion, each
    divided by its degrees of freedom (1 when the within dispersion is 0).
    """
    _, labels = np.unique(labels, return_inverse=True)
    n, k = len(z), int(labels.max()) + 1
    sizes = np.bincount(labels, minlength=k).astype(float)
    centroids = np.stack([np.bincount(labels, weights=z[:, j], minlength=k) for j in range(z.shape[1])], 1)
    centroids /= sizes[:, None]
    offsets = z - centroids[labels]
    squared = np.einsum("ij,ij->i", offsets, offsets)
    spread = np.bincount(labels, weights=np.sqrt(squared), minlength=k) / sizes
    gaps = np.sqrt(((centroids[:, None, :] - centroids[None, :, :]) ** 2).sum(axis=2))
    if np.allclose(spread, 0) or np.allclose(gaps, 0):
        dbi = 0.0
    else:
        gaps[gaps == 0] = np.inf
        ratio = (spread[:, None] + spread[None, :]) / gaps
        np.fill_diagonal(ratio, -np.inf)
        dbi = float(ratio.max(axis=1).mean())
    within = float(squared.sum())
    between = float((sizes * ((centroids - z.mean(axis=0)) ** 2).sum(axis=1)).sum())
    chi = 1.0 if within == 0 else between * (n - k) / (within * (k - 1))
    return dbi, chi
