"""Clustering: transform and scale, sweep k, fit, compare algorithms, mark outliers, project, score stability.

Every random choice takes the run's seed, so the same input and seed give the same assignments.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.spatial import cKDTree
from scipy.stats import skew
from sklearn.cluster import DBSCAN, AgglomerativeClustering, KMeans
from sklearn.decomposition import PCA
from sklearn.metrics import (
    adjusted_rand_score,
    pairwise_distances,
)
from sklearn.preprocessing import MinMaxScaler, RobustScaler, StandardScaler

from segmentation import cluster_scores
from segmentation.phases import PhaseClock

SWEEP_ROWS = 50_000  # above this many customers the k sweep fits on a sample (scored on all rows)
SKEW_LIMIT = 1.0  # a feature whose skewness exceeds this (and has no large negative mass) is log-scaled


@dataclass(frozen=True)
class Transform:
    """The fitted preprocessing, as plain numbers: scaled = (log1p-if-flagged(x) - center) / scale."""

    features: tuple[str, ...]
    log_transform: tuple[bool, ...]
    center: np.ndarray
    scale: np.ndarray

    def apply(self, x: np.ndarray) -> np.ndarray:
        """Transform raw feature rows into the scaled space the model clusters in."""
        x = np.array(x, dtype=float, copy=True)
        for i, flag in enumerate(self.log_transform):
            if flag:
                x[:, i] = np.log1p(np.clip(x[:, i], 0, None))
        return (x - self.center) / self.scale


@dataclass(frozen=True)
class KScore:
    """Quality of one algorithm at one k."""

    algorithm: str
    k: int
    inertia: float | None
    silhouette: float | None
    davies_bouldin: float | None
    calinski_harabasz: float | None
    noise_share: float | None
    n_scored: int
    fit_seconds: float
    chosen: bool = False


@dataclass
class ModelResult:
    """Everything the run stores about the model, per customer and per run."""

    transform: Transform
    k: int
    k_reason: str
    labels: np.ndarray  # segment ids 0..k-1, largest segment first
    centroids: np.ndarray  # k x features, scaled space, indexed by segment id
    dist_own: np.ndarray
    dist_next: np.ndarray
    next_segment: np.ndarray
    is_outlier: np.ndarray
    pcs: np.ndarray  # n x 3 (NaN columns when fewer features)
    pca_mean: np.ndarray
    pca_components: np.ndarray
    pca_explained: np.ndarray  # share of the scaled data's variance per component (fit sample)
    scores: list[KScore]
    stability_ari: float
    eps: float
    timings: dict[str, float] = field(default_factory=dict)


def fit_transform(
    x: np.ndarray, features: tuple[str, ...], scaler: str, log_features: str = "skewed"
) -> tuple[Transform, np.ndarray]:
    """Log-scale features (log1p of the value clipped at 0), then fit the chosen scaler; returns the
    transform and the scaled data. log_features: "skewed" logs a feature whose skewness exceeds
    SKEW_LIMIT and that is (almost) never negative; "all" logs every feature, as the usual notebook
    pipeline does; "none" logs none."""
    flags = []
    logged = np.array(x, dtype=float, copy=True)
    for i in range(x.shape[1]):
        column = x[:, i]
        mostly_non_negative = np.mean(column < 0) < 0.01
        if log_features == "skewed":
            is_skewed = column.std() > 0 and float(skew(column)) > SKEW_LIMIT
            flags.append(bool(mostly_non_negative and is_skewed))
        else:
            flags.append(log_features == "all")
        if flags[-1]:
            logged[:, i] = np.log1p(np.clip(column, 0, None))
    if scaler == "standard":
        fitted = StandardScaler().fit(logged)
        center, scale = fitted.mean_, fitted.scale_
    elif scaler == "robust":
        fitted = RobustScaler().fit(logged)
        center, scale = fitted.center_, fitted.scale_
    elif scaler == "minmax":
        fitted = MinMaxScaler().fit(logged)
        center, scale = -fitted.min_ / fitted.scale_, 1 / fitted.scale_
    else:
        raise ValueError(f"unknown scaler {scaler!r}")
    scale = np.where(np.asarray(scale) == 0, 1.0, scale)
    transform = Transform(features, tuple(flags), np.asarray(center, float), np.asarray(scale, float))
    return transform, (logged - transform.center) / transform.scale


def choose_k(scores: list[KScore], algorithm: str = "kmeans") -> tuple[int, str]:
    """The stated rule: the elbow of the inertia curve (the kneedle point), reported beside silhouette.

    Inertia and k are scaled to 0-1 over the sweep; the elbow is the k whose inertia lies farthest below
    the straight line from the first to the last k (ties: the smaller k). Silhouette and
    Calinski-Harabasz fall almost steadily with k on customer data, which is a continuum rather than
    separate blobs, so picking by them gives two segments, too coarse to act on. With fewer than three
    k values there is no elbow and the best silhouette decides.
    """
    ks = sorted((s for s in scores if s.algorithm == algorithm), key=lambda s: s.k)
    best_sil = max(ks, key=lambda s: (s.silhouette if s.silhouette is not None else -2.0, -s.k))
    if len(ks) == 1:
        return ks[0].k, f"k = {ks[0].k} was the only candidate."
    if len(ks) == 2:
        return (
            best_sil.k,
            f"k = {best_sil.k} has the higher silhouette ({best_sil.silhouette:.3f}) of the two.",
        )
    inertia = np.array([s.inertia for s in ks], dtype=float)
    x = np.linspace(0, 1, len(ks))
    span = inertia[0] - inertia[-1]
    y = (inertia - inertia[-1]) / span if span > 0 else np.zeros(len(ks))
    gap = (1 - x) - y  # how far below the first-to-last line each k lies
    pick = ks[int(np.argmax(gap))]
    reason = (
        f"k = {pick.k} is the elbow of the inertia curve over k = {ks[0].k}..{ks[-1].k} (the k farthest "
        f"below the line from the first to the last k); silhouette {_fmt(pick.silhouette)} there, "
        f"Davies-Bouldin {_fmt(pick.davies_bouldin)}; the best silhouette is {_fmt(best_sil.silhouette)} "
        f"at k = {best_sil.k}."
    )
    return pick.k, reason


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _sample(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    return np.sort(rng.choice(n, size=size, replace=False)) if n > size else np.arange(n)


def _nearest(z: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Distances from every row to every centroid, computed in chunks to bound memory."""
    out = np.empty((len(z), len(centroids)))
    for start in range(0, len(z), 200_000):
        out[start : start + 200_000] = pairwise_distances(z[start : start + 200_000], centroids)
    return out


def _kmeans(z: np.ndarray, k: int, n_init: int, seed: int) -> KMeans:
    return KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit(z)


def _agglomerative(z: np.ndarray, k: int, fit_rows: np.ndarray) -> np.ndarray:
    """Ward clustering of a sample; every row then joins the nearest sample-cluster centroid."""
    sample_labels = AgglomerativeClustering(n_clusters=k, linkage="ward").fit_predict(z[fit_rows])
    return np.stack([z[fit_rows][sample_labels == c].mean(axis=0) for c in range(k)])


def density_outliers(z: np.ndarray, min_samples: int, quantile: float) -> tuple[np.ndarray, float]:
    """DBSCAN's noise set in O(n) memory: core points and nearest-core reach, with eps from a stated rule.

    eps is the `quantile` of every customer's distance to its min_samples-th nearest neighbour (itself
    included, as in DBSCAN); a core point has min_samples neighbours within eps; a customer is noise when
    it is not a core point and no core point lies within eps. This equals scikit-learn's DBSCAN noise for
    the same eps and min_samples, without its neighbour lists (3.4 GB at 200k customers).
    """
    n = len(z)
    if n <= min_samples:
        return np.zeros(n, dtype=bool), 0.0
    tree = cKDTree(z)
    kdist = tree.query(z, k=min_samples, workers=-1)[0][:, -1]
    eps = float(np.quantile(kdist, quantile))
    core = kdist <= eps
    noise = np.zeros(n, dtype=bool)
    if (~core).any():
        reach = cKDTree(z[core]).query(z[~core], k=1, distance_upper_bound=eps * (1 + 1e-12), workers=-1)[0]
        noise[~core] = ~np.isfinite(reach)
    return noise, eps


def _dbscan_scores(
    z: np.ndarray, rows: np.ndarray, distances: np.ndarray, min_samples: int, quantile: float
) -> KScore:
    """scikit-learn's DBSCAN on the comparison sample, with eps set by the same rule on that sample;
    `distances` are the sample's pairwise distances (the silhouette sample's, of which it is the start)."""
    started = time.perf_counter()
    zs = z[rows]
    _, eps = density_outliers(zs, min_samples, quantile)
    labels = DBSCAN(eps=max(eps, 1e-9), min_samples=min_samples).fit_predict(zs)
    clustered = labels >= 0
    found = len(set(labels[clustered]))
    sil = dbi = chi = None
    if found >= 2 and clustered.sum() > found:
        sil = cluster_scores.silhouette_precomputed(
            distances[np.ix_(clustered, clustered)], labels[clustered]
        )
        dbi, chi = cluster_scores.davies_bouldin_calinski_harabasz(zs[clustered], labels[clustered])
    return KScore(
        "dbscan",
        found,
        None,
        sil,
        dbi,
        chi,
        float((~clustered).mean()),
        len(rows),
        time.perf_counter() - started,
    )


def fit_model(
    x: np.ndarray,
    features: tuple[str, ...],
    *,
    scaler: str = "standard",
    log_features: str = "skewed",
    algorithm: str = "kmeans",
    k: int | None = None,
    k_range: tuple[int, int] = (2, 10),
    n_init: int = 3,
    seed: int = 0,
    silhouette_sample: int = 6000,
    sample_size: int = 5000,
    min_samples: int = 10,
    noise_quantile: float = 0.99,
    stability_rounds: int = 5,
    progress: Callable[[str], None] = lambda message: None,
    clock: PhaseClock | None = None,
    final_kmeans: Callable[[np.ndarray, int, int], np.ndarray] | None = None,
) -> ModelResult:
    """Fit the whole model on raw feature rows `x` (customers x features).

    K-Means is swept over k_range (or fitted at the given k) on every customer, with silhouette on one
    seeded sample whose distance matrix is computed once and reused for every k. Agglomerative (Ward, on a
    sample, then nearest centroid) and DBSCAN (on a sample) are scored beside it on the same features;
    the density rule marks outlier customers over all rows. `algorithm` picks the model whose segments are
    stored. `final_kmeans(z, k, seed)`, when given, makes the final K-Means fit on every row at the chosen k
    (the Spark engine's MLlib fit past --spark-kmeans-above customers).
    """
    clock = clock or PhaseClock()
    rng = np.random.default_rng(seed)
    with clock.phase("scale"):
        transform, z = fit_transform(x, features, scaler, log_features)
        n = len(z)
        sil_rows = _sample(n, silhouette_sample, rng)
        # float32: half the memory of the sample's distance matrix (144 MB at 6,000 rows)
        sil_distances = pairwise_distances(z[sil_rows].astype(np.float32))
        cmp_rows = sil_rows[: min(sample_size, len(sil_rows))]
    ks = [k] if k is not None else list(range(k_range[0], k_range[1] + 1))

    scores: list[KScore] = []
    kmeans_fits: dict[int, KMeans] = {}
    agglo_centroids: dict[int, np.ndarray] = {}
    # Above SWEEP_ROWS customers, each k is fitted on one seeded sample and scored on every customer
    # (inertia and the indices from all rows' nearest centroid); the chosen k is then refined on all rows.
    sweep_rows = _sample(n, SWEEP_ROWS, rng) if n > SWEEP_ROWS else None
    with clock.phase("sweep"):
        for kk in ks:
            started = time.perf_counter()
            if sweep_rows is None:
                fitted = _kmeans(z, kk, n_init, seed)
                labels, inertia = fitted.labels_, float(fitted.inertia_)
            else:
                fitted = _kmeans(z[sweep_rows].astype(np.float32), kk, n_init, seed)
                distances = _nearest(z, fitted.cluster_centers_)
                labels = distances.argmin(axis=1)
                inertia = float((distances[np.arange(n), labels] ** 2).sum())
            elapsed = time.perf_counter() - started
            kmeans_fits[kk] = fitted
            sil, dbi, chi = cluster_scores.scores(z, labels, sil_rows, sil_distances)
            scores.append(KScore("kmeans", kk, inertia, sil, dbi, chi, None, n, elapsed))
            progress(f"k-means k={kk}: silhouette {sil if sil is None else round(sil, 3)}, {elapsed:.1f}s")

    chosen_k, reason = (k, f"k = {k} was fixed by --k.") if k is not None else choose_k(scores)
    with clock.phase("compare"):
        # Agglomerative is swept too when it is the model to store; otherwise scored at K-Means' k.
        for kk in ks if algorithm == "agglomerative" else [chosen_k]:
            started = time.perf_counter()
            centroids = _agglomerative(z, kk, cmp_rows)
            labels = _nearest(z, centroids).argmin(axis=1)
            agglo_centroids[kk] = centroids
            sil, dbi, chi = cluster_scores.scores(z, labels, sil_rows, sil_distances)
            inertia = float(((z - centroids[labels]) ** 2).sum())
            scores.append(
                KScore("agglomerative", kk, inertia, sil, dbi, chi, None, n, time.perf_counter() - started)
            )
        if algorithm == "agglomerative" and k is None:
            chosen_k, reason = choose_k(scores, "agglomerative")
        m = len(cmp_rows)
        scores.append(_dbscan_scores(z, cmp_rows, sil_distances[:m, :m], min_samples, noise_quantile))

    with clock.phase("final fit"):
        if algorithm != "kmeans":
            centroids = agglo_centroids[chosen_k]
        elif final_kmeans is not None:
            centroids = final_kmeans(z, chosen_k, seed)
        elif sweep_rows is None:
            centroids = kmeans_fits[chosen_k].cluster_centers_
        else:  # Lloyd's iterations on every row, from the sample's centroids
            start = kmeans_fits[chosen_k].cluster_centers_.astype(z.dtype)
            centroids = (
                KMeans(n_clusters=chosen_k, init=start, n_init=1, random_state=seed).fit(z).cluster_centers_
            )
        labels, centroids, dist_own, dist_next, next_segment = _assign(z, centroids, chosen_k)
    scores = [
        KScore(**{**s.__dict__, "chosen": s.algorithm == algorithm and s.k == chosen_k}) for s in scores
    ]

    with clock.phase("outliers"):
        is_outlier, eps = density_outliers(z, min_samples, noise_quantile)

    with clock.phase("PCA"):
        n_comp = min(3, z.shape[1])
        pca = PCA(n_components=n_comp, random_state=seed).fit(z[_sample(n, 200_000, rng)])
        pcs = np.full((n, 3), np.nan)
        pcs[:, :n_comp] = pca.transform(z)

    with clock.phase("stability"):
        stability = _stability(
            z, labels, centroids, chosen_k, algorithm, n_init, seed, stability_rounds, sample_size, rng
        )
    return ModelResult(
        transform=transform,
        k=chosen_k,
        k_reason=reason,
        labels=labels,
        centroids=centroids,
        dist_own=dist_own,
        dist_next=dist_next,
        next_segment=next_segment,
        is_outlier=is_outlier,
        pcs=pcs,
        pca_mean=pca.mean_,
        pca_components=pca.components_,
        pca_explained=pca.explained_variance_ratio_,
        scores=scores,
        stability_ari=stability,
        eps=eps,
        timings=clock.seconds(),
    )


def _assign(
    z: np.ndarray, centroids: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each row's segment (ids by size, largest first; ties: lower original label, so ids read the same
    every run), the reordered centroids, the distance to its own and to the next-nearest centroid, and
    that next segment."""
    n = len(z)
    distances = _nearest(z, centroids)
    raw_labels = distances.argmin(axis=1)
    sizes = np.bincount(raw_labels, minlength=k)
    order = sorted(range(k), key=lambda c: (-sizes[c], c))
    relabel = np.empty(k, dtype=int)
    relabel[order] = np.arange(k)
    labels = relabel[raw_labels]
    centroids = centroids[order]
    distances = distances[:, order]
    dist_own = distances[np.arange(n), labels]
    if k == 1:
        return labels, centroids, dist_own, np.full(n, np.nan), np.full(n, -1)
    masked = distances.copy()
    masked[np.arange(n), labels] = np.inf
    next_segment = masked.argmin(axis=1)
    dist_next = masked[np.arange(n), next_segment]
    return labels, centroids, dist_own, dist_next, next_segment


def _stability(
    z: np.ndarray,
    labels: np.ndarray,
    centroids: np.ndarray,
    k: int,
    algorithm: str,
    n_init: int,
    seed: int,
    rounds: int,
    sample_size: int,
    rng: np.random.Generator,
) -> float:
    """Mean adjusted Rand index between the model's labels and refits on seeded 80% subsamples.

    Each refit (capped at SWEEP_ROWS rows) assigns a common evaluation sample of up to 20,000 customers,
    whose labels are compared with the stored ones. 1.0 means the segments do not depend on which
    customers happened to be in the data.
    """
    n = len(z)
    if rounds <= 0 or k < 2:
        return float("nan")
    evaluate = _sample(n, 20_000, rng)
    values = []
    for r in range(rounds):
        rows = _sample(n, min(int(0.8 * n), SWEEP_ROWS), rng)
        if algorithm == "kmeans":
            # float32 on large inputs, as in the sweep: half the memory traffic, same partitions
            sub = z[rows] if n <= SWEEP_ROWS else z[rows].astype(np.float32)
            refit = _kmeans(sub, k, n_init, seed + r + 1).cluster_centers_
        else:
            refit = _agglomerative(z, k, rows[: min(sample_size, len(rows))])
        refit_labels = _nearest(z[evaluate], refit).argmin(axis=1)
        values.append(adjusted_rand_score(labels[evaluate], refit_labels))
    return float(np.mean(values))
