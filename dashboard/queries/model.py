"""What the Model page shows: the k sweep, the algorithm comparison, sampled PCA points, feature histograms.

Every query returns an aggregate or a LIMITed sample (at most filtered.SAMPLE_MAX customers). The SQL is
static: the histogram's feature arrives as a bound value already checked against the run's features, and
picks its column through a CASE over fixed column names (or an index into the stored features array).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from dashboard import queries
from dashboard.filters import Filters, as_filters
from dashboard.queries import feature_stats, profiles
from dashboard.queries.filtered import SAMPLE_MAX, cte, late_rows

BINS_MAX = 60
SCORE_COLUMNS: tuple[str, ...] = ("inertia", "silhouette", "davies_bouldin", "calinski_harabasz")


@dataclass(frozen=True)
class ModelSummary:
    """A run's model facts: algorithm, chosen k and why, its scores and stability."""

    run_id: int
    mode: str | None
    customers: int | None
    features: tuple[str, ...]
    log_features: tuple[str, ...]
    scaler: str | None
    algorithm: str | None
    k: int | None
    k_reason: str | None
    silhouette: float | None
    davies_bouldin: float | None
    calinski_harabasz: float | None
    inertia: float | None
    stability_ari: float | None
    outliers: int | None
    seed: int | None


def summary(run_id: int) -> ModelSummary:
    """The model facts of one run (NoData if the run does not exist)."""
    row = queries.fetch_one(
        """SELECT id, mode, customers, features, log_features, scaler, algorithm, k, k_reason, silhouette,
                  davies_bouldin, calinski_harabasz, inertia, stability_ari, outliers, seed
           FROM seg.runs WHERE id = ?""",
        [int(run_id)],
    )
    if row is None:
        raise queries.NoData("empty", queries.current_db())
    return ModelSummary(
        run_id=int(row[0]),
        mode=row[1],
        customers=row[2],
        features=tuple(row[3] or ()),
        log_features=tuple(row[4] or ()),
        scaler=row[5],
        algorithm=row[6],
        k=row[7],
        k_reason=row[8],
        silhouette=_num(row[9]),
        davies_bouldin=_num(row[10]),
        calinski_harabasz=_num(row[11]),
        inertia=_num(row[12]),
        stability_ari=_num(row[13]),
        outliers=row[14],
        seed=row[15],
    )


def _num(value: Any) -> float | None:
    """A finite float or None (NaN scores are stored when a metric is undefined)."""
    if value is None:
        return None
    number = float(value)
    return number if number == number and abs(number) != float("inf") else None


def k_sweep(run_id: int) -> pd.DataFrame:
    """The sweep of the run's own algorithm, by k: k, inertia, silhouette, davies_bouldin,
    calinski_harabasz, n_scored, fit_seconds, chosen."""
    return queries.fetch_df(
        """SELECT m.k, m.inertia, m.silhouette, m.davies_bouldin, m.calinski_harabasz, m.n_scored,
                  m.fit_seconds, coalesce(m.chosen, false) AS chosen
           FROM seg.model_scores AS m JOIN seg.runs AS r ON r.id = m.run_id
           WHERE m.run_id = ? AND m.algorithm = r.algorithm
           ORDER BY m.k""",
        [int(run_id)],
    )


def algorithm_comparison(run_id: int) -> pd.DataFrame:
    """One row per algorithm scored: the row at the run's chosen k when it has one, else its smallest k.

    Columns: algorithm, k, inertia, silhouette, davies_bouldin, calinski_harabasz, noise_share, n_scored,
    fit_seconds, chosen. The chosen model first, then by algorithm name.
    """
    return queries.fetch_df(
        """SELECT m.algorithm, m.k, m.inertia, m.silhouette, m.davies_bouldin, m.calinski_harabasz,
                  m.noise_share, m.n_scored, m.fit_seconds, coalesce(m.chosen, false) AS chosen
           FROM seg.model_scores AS m JOIN seg.runs AS r ON r.id = m.run_id
           WHERE m.run_id = ?
           QUALIFY row_number() OVER (PARTITION BY m.algorithm
                                      ORDER BY coalesce(m.chosen, false) DESC, (m.k = r.k) DESC, m.k) = 1
           ORDER BY coalesce(m.chosen, false) DESC, m.algorithm""",
        [int(run_id)],
    )


# The PCA sample's order: outliers first (so every outlier is in it: they are few), then a repeatable
# pseudo-random order. hash(row_id) instead of hash(customer_id): hashing a million ids' text took 70-80 ms
# of the Model page's load, the integer's 25-30 ms.
_SAMPLE_ORDER = "ORDER BY coalesce(c.is_outlier, false) DESC, hash(c.row_id), c.row_id"


def pca_sample(run: int | Filters, n: int = SAMPLE_MAX) -> pd.DataFrame:
    """A repeatable sample of at most SAMPLE_MAX (filtered) customers with their PCA coordinates; outliers
    come first, so every outlier is in it (they are few). Columns: customer_id, country, segment_id,
    segment_name, is_outlier, pc1, pc2, pc3, monetary. Two queries: the sample's stored row numbers from a
    narrow sort, then their rows."""
    limit = min(max(int(n), 0), SAMPLE_MAX)
    f = as_filters(run)
    return late_rows(
        f,
        """SELECT c.customer_id, c.country, c.segment_id,
                  coalesce(c.segment_name, 'Segment ' || c.segment_id) AS segment_name,
                  coalesce(c.is_outlier, false) AS is_outlier, c.pc1, c.pc2, c.pc3, c.monetary
           FROM filtered AS c""",
        _SAMPLE_ORDER,
        "LIMIT $limit",
        {**f.params(), "limit": limit},
    )


@dataclass(frozen=True)
class PcaAxes:
    """What the run stored about its PCA's axes: the model's features, each component's loadings on them
    (components x features) and the share of variance each explains (None for runs stored before it was)."""

    features: tuple[str, ...]
    loadings: tuple[tuple[float, ...], ...]
    explained: tuple[float, ...] | None


def pca_axes(run_id: int) -> PcaAxes | None:
    """The stored PCA's loadings and explained variance (None: the run stored no model). A read only: the
    dashboard never fits; a file from before schema v4 has no pca_explained column, hence SELECT *."""
    row = queries.fetch_df("SELECT * FROM seg.models WHERE run_id = ?", [int(run_id)])
    if row.empty:
        return None
    features, loadings = _listed(row["features"].iloc[0]), _listed(row["pca_components"].iloc[0])
    explained = _listed(row["pca_explained"].iloc[0]) if "pca_explained" in row.columns else None
    if features is None or loadings is None:
        return None
    return PcaAxes(
        features=tuple(str(f) for f in features),
        loadings=tuple(tuple(float(v) for v in c) for c in loadings),
        explained=None if explained is None else tuple(float(v) for v in explained),
    )


def _listed(value: Any) -> Any:
    """A stored list as is; None for SQL NULL (which pandas hands over as None, NaN or pd.NA)."""
    return None if pd.api.types.is_scalar(value) and pd.isna(value) else value


@dataclass(frozen=True)
class Histogram:
    """Binned counts of one feature per segment: bins of equal width between lo and hi.

    counts has columns bin (0-based), segment_id, customers. Values below lo (above hi) are counted in the
    first (last) bin when clipped is True: lo and hi are then the 1st and 99th percentiles.
    """

    feature: str
    lo: float | None
    hi: float | None
    bins: int
    clipped: bool
    below: int  # customers under lo (inside the first bin's count)
    above: int  # customers over hi (inside the last bin's count)
    missing: int  # customers with no value
    counts: pd.DataFrame

    def edges(self) -> list[float]:
        """The bins+1 bin edges."""
        if self.lo is None or self.hi is None:
            return []
        width = (self.hi - self.lo) / self.bins
        return [self.lo + i * width for i in range(self.bins + 1)]


# One feature's value per customer, with its stored row's number (for the sampled range): the expression
# comes from feature_stats.feature_columns (fixed columns and integer list positions, never a name).
_VALUE = """, vals AS (
    SELECT c.segment_id, c.row_id, @EXPR AS v FROM filtered AS c
)
"""


def _expression(run_id: int, feature: str) -> str | None:
    """The value expression of `feature` over the filtered customers `c`, or None if the run does not
    profile such a feature (the Model page lists the profiled ones: profiles.features)."""
    if not isinstance(feature, str) or feature not in profiles.features(run_id):
        return None
    return dict(feature_stats.feature_columns(run_id)).get(feature)


def histogram(run: int | Filters, feature: str, bins: int = 30, clip: bool = True) -> Histogram | None:
    """Counts per segment in equal-width bins of one feature over the (filtered) customers, computed in
    DuckDB (None: unknown feature).

    With clip, the range is the 1st to 99th percentile and the tails fall into the end bins, so one
    huge customer does not squeeze everyone else into a single bar. The percentiles only place the bins:
    past feature_stats.QUANTILE_SAMPLE customers they come from an evenly spaced sample of them (every
    k-th stored row); min, max and every count are exact.
    """
    f = as_filters(run)
    expression = _expression(f.run_id, feature)
    if expression is None:
        return None
    params = f.params()
    values = cte(f, rows=False, row_ids=True) + _VALUE.replace("@EXPR", expression)
    bins = min(max(int(bins), 1), BINS_MAX)
    ((n, missing),) = queries.fetch_all(
        queries.sql(values, "SELECT count(v), count(*) FILTER (WHERE v IS NULL) FROM vals"), params
    )
    ((vmin, vmax, q),) = queries.fetch_all(
        queries.sql(
            values,
            """SELECT min(v), max(v), quantile_cont(v, [0.01, 0.99]) FILTER (WHERE row_id % $every = 0)
               FROM vals""",
        ),
        {**params, "every": feature_stats.sample_every(int(n))},
    )
    empty = pd.DataFrame({"bin": [], "segment_id": [], "customers": []})
    if vmin is None:
        return Histogram(feature, None, None, bins, False, 0, 0, int(missing or 0), empty)
    q01, q99 = (q[0], q[1]) if q is not None else (vmin, vmax)
    lo, hi = (float(q01), float(q99)) if clip and q99 > q01 else (float(vmin), float(vmax))
    clipped = (lo, hi) != (float(vmin), float(vmax))
    if hi <= lo:
        hi = lo + 1.0
    counts = queries.fetch_df(
        queries.sql(
            values,
            """SELECT least(greatest(floor((v - $lo) / ($hi - $lo) * $bins), 0), $bins - 1)::INTEGER AS bin,
                      segment_id, count(*) AS customers,
                      count(*) FILTER (WHERE v < $lo) AS below, count(*) FILTER (WHERE v > $hi) AS above
               FROM vals WHERE v IS NOT NULL GROUP BY ALL ORDER BY bin, segment_id""",
        ),
        {**params, "lo": lo, "hi": hi, "bins": bins},
    )
    below, above = int(counts["below"].sum()), int(counts["above"].sum())
    counts = counts[["bin", "segment_id", "customers"]]
    return Histogram(feature, lo, hi, bins, clipped, below, above, int(missing or 0), counts)


def cleaning_steps(run_id: int) -> pd.DataFrame:
    """The run's cleaning steps in order (queries.CLEANING_COLUMNS)."""
    return queries.cleaning_steps(run_id)
