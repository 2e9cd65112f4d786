"""What the Compare page shows: segment profiles, box-plot quantiles, top countries and the RFM cross tab.

Profiles (mean, median, quartiles, min, max per segment and feature; segment -1 = the whole population) are
read from seg.segment_profiles, which the run computed once, when no filter narrows the customers; under
filters (Germany, tenure over a year...) they are computed from the filtered customers, as are box-plot
quantiles, top countries and the cross tab (queries.filtered's cte(f), so every page filters alike).
Every query returns at most segments x features (or x countries, LIMITed) rows, never customers. The SQL
is static; segment ids and feature names arrive as bound lists that the caller has checked against the run.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from dashboard import queries
from dashboard.filters import Filters, as_filters
from dashboard.queries import feature_stats as stats_query
from dashboard.queries import result_cache
from dashboard.queries.filtered import cte
from segmentation.config import TRANSACTION_FEATURES
from segmentation.rfm_groups import RFM_GROUPS

POPULATION = stats_query.POPULATION  # segment_profiles' segment id of the whole population
TOP_COUNTRIES_MAX = 10
# The stored feature columns of a sales-lines run, in display order (segment_profiles uses these names).
FEATURE_COLUMNS: tuple[str, ...] = TRANSACTION_FEATURES
# Classic RFM groups in their usual order (best first); others follow alphabetically.
RFM_ORDER: tuple[str, ...] = RFM_GROUPS


def _ids(segment_ids: Iterable[int]) -> list[int]:
    """Segment ids as plain ints for a bound list (the caller has validated them against the run)."""
    return [int(s) for s in segment_ids]


def segments(run_id: int) -> pd.DataFrame:
    """The run's segments by id: segment_id, name, description, action, size, share, revenue_share,
    outliers."""
    return queries.fetch_df(
        """SELECT segment_id, coalesce(name, 'Segment ' || segment_id) AS name, description, action,
                  size, share, revenue_share, outliers
           FROM seg.segments WHERE run_id = ? ORDER BY segment_id""",
        [int(run_id)],
    )


def features(run_id: int) -> list[str]:
    """The profiled features of the run, model features first in the run's order, then the rest."""
    rows = queries.fetch_all(
        """SELECT p.feature FROM seg.segment_profiles AS p, seg.runs AS r
           WHERE p.run_id = $run_id AND r.id = $run_id AND p.segment_id = -1
           ORDER BY coalesce(list_position(r.features, p.feature), 1000),
                    coalesce(list_position($columns, p.feature), 1000), p.feature""",
        {"run_id": int(run_id), "columns": list(FEATURE_COLUMNS)},
    )
    return [str(r[0]) for r in rows]


def profiles(run: int | Filters, segment_ids: Iterable[int], population: bool = True) -> pd.DataFrame:
    """Profiles of the given segments (and the population, id -1): one row per segment and feature; the
    run's stored ones without filters, computed from the filtered customers (and the filtered population)
    otherwise.

    Columns: segment_id, feature, mean, median, p25, p75, min, max; ordered by segment id, then feature.
    """
    f = as_filters(run)
    if not f.is_default():
        return _live_profiles(f, _ids(segment_ids), population)
    run_id = f.run_id
    ids = _ids(segment_ids) + ([POPULATION] if population else [])
    return queries.fetch_df(
        """SELECT segment_id, feature, mean, median, p25, p75, min, max
           FROM seg.segment_profiles
           WHERE run_id = $run_id AND list_contains($ids, segment_id)
           ORDER BY segment_id, feature""",
        {"run_id": int(run_id), "ids": ids},
    )


def _live_profiles(f: Filters, ids: list[int], population: bool) -> pd.DataFrame:
    """profiles() computed from the filtered customers (same columns and order as the stored ones)."""
    return _select(feature_stats(f, ids, True), population, PROFILE_COLUMNS)


def _select(stats: pd.DataFrame, population: bool, columns: tuple[str, ...]) -> pd.DataFrame:
    """Some columns of feature_stats, without the population's rows unless asked."""
    if not population:
        stats = stats[stats["segment_id"] != POPULATION]
    return stats[list(columns)].reset_index(drop=True)


PROFILE_COLUMNS = ("segment_id", "feature", "mean", "median", "p25", "p75", "min", "max")
BOX_COLUMNS = ("segment_id", "feature", "n", "mean", "p05", "p25", "median", "p75", "p95", "q_n")


def feature_stats(run: int | Filters, segment_ids: Iterable[int], population: bool) -> pd.DataFrame:
    """Per segment (and the population, -1, when asked) and feature of the (filtered) customers: n, mean,
    min, max and the 5th, 25th, 50th, 75th and 95th percentiles (q_n: how many values those came from, fewer
    than n for a group over feature_stats.QUANTILE_SAMPLE customers). Serves the Compare table's profiles
    and its box plots."""
    f = as_filters(run)
    ids = _ids(segment_ids)
    key = {**f.params(), "ids": ids, "population": bool(population)}
    return result_cache.memo("feature_stats", key, lambda: stats_query.feature_stats(f, ids, population))


# Per segment (and -1, the population) and category attribute: its commonest value and that value's share
# of the segment's (filtered) customers; a customer without the value counts as "no value" (NULL).
_CATEGORY_TOPS = """, long AS (
    SELECT c.segment_id, unnest($names::VARCHAR[]) AS attribute,
           unnest(coalesce(c.attr_texts, list_transform($names::VARCHAR[], lambda x: NULL::VARCHAR))) AS value
    FROM filtered AS c
), counts AS (
    SELECT CASE WHEN grouping(segment_id) = 1 THEN -1 ELSE segment_id END AS segment_id, attribute, value,
           count(*) AS n
    FROM long GROUP BY GROUPING SETS ((segment_id, attribute, value), (attribute, value))
)
SELECT segment_id, attribute, value, n / sum(n) OVER (PARTITION BY segment_id, attribute) AS share
FROM counts
QUALIFY row_number() OVER (PARTITION BY segment_id, attribute ORDER BY n DESC, value NULLS LAST) = 1
ORDER BY segment_id, attribute
"""


def category_tops(run: int | Filters) -> pd.DataFrame:
    """Each segment's (and the population's, -1) commonest value per category attribute, with its share:
    stored by the run without filters, computed from the filtered customers otherwise. Columns: segment_id,
    attribute, value (None: no value), share. Empty when the run has no category attributes."""
    f = as_filters(run)
    names = stats_query.attribute_names(f.run_id, "category")
    if not names:
        return pd.DataFrame(columns=["segment_id", "attribute", "value", "share"])
    if f.is_default():
        return queries.fetch_df(
            """SELECT segment_id, attribute, value, share FROM seg.segment_categories
               WHERE run_id = $run_id AND rank = 1 ORDER BY segment_id, attribute""",
            {"run_id": int(f.run_id)},
        )
    key = {**f.params(), "names": names}
    return result_cache.memo(
        "category_tops",
        key,
        lambda: queries.fetch_df(
            queries.sql(cte(f, rows=False), _CATEGORY_TOPS), {**f.params(), "names": names}
        ),
    )


def profiles_and_boxes(
    run: int | Filters, segment_ids: Iterable[int], box_population: bool
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(profiles(run, ids, population=True), box_stats(run, ids, box_population)) from one query when the
    customers are filtered (stored profiles and one query otherwise): what the Compare page draws."""
    f = as_filters(run)
    ids = _ids(segment_ids)
    if f.is_default():
        return profiles(f, ids, True), box_stats(f, ids, box_population)
    stats = feature_stats(f, ids, True)
    return _select(stats, True, PROFILE_COLUMNS), _select(stats, box_population, BOX_COLUMNS)


def normalise(df: pd.DataFrame) -> pd.DataFrame:
    """Each segment's median as a robust z-score against the population: (median - pop median) / pop IQR.

    df is profiles() output including segment -1. Where the population's IQR is zero the full range is
    used, and 1 if that is zero too, so a constant feature scores 0. Returns segment_id, feature, median,
    population_median, score (the population itself is left out: it scores 0 everywhere).
    """
    pop = df[df["segment_id"] == POPULATION].set_index("feature")
    spread = (pop["p75"] - pop["p25"]).where(lambda s: s > 0, pop["max"] - pop["min"])
    spread = spread.where(spread > 0, 1.0).fillna(1.0)
    rows = df[df["segment_id"] != POPULATION][["segment_id", "feature", "median"]].copy()
    # astype(float): with no customers under the filters both frames are empty, and mapping an empty string
    # column gives a string column, which cannot be subtracted (Compare answered 500 to such a filter set)
    rows["median"] = rows["median"].astype(float)
    rows["population_median"] = rows["feature"].map(pop["median"]).astype(float)
    rows["score"] = (rows["median"] - rows["population_median"]) / rows["feature"].map(spread).astype(float)
    return rows.reset_index(drop=True)


def box_stats(run: int | Filters, segment_ids: Iterable[int], population: bool = True) -> pd.DataFrame:
    """Box-plot quantiles per segment and feature, computed in DuckDB over the run's (filtered) customers.

    Columns: segment_id (-1 = population), feature, n, mean, p05, p25, median, p75, p95 (whiskers at the 5th
    and 95th percentiles, so a few huge customers do not flatten the boxes), q_n (values the percentiles
    came from). NULL values are skipped.
    """
    return _select(feature_stats(run, segment_ids, population), population, BOX_COLUMNS)


def top_countries(run: int | Filters, segment_ids: Iterable[int], n: int = 5) -> pd.DataFrame:
    """The n (at most TOP_COUNTRIES_MAX) largest countries of each segment by (filtered) customers.

    Columns: segment_id, rank (1 = largest), country (None = unknown), customers, share (of the segment's
    customers). Ties are broken by country name so the list is stable.
    """
    limit = min(max(int(n), 1), TOP_COUNTRIES_MAX)
    f = as_filters(run)
    ids = _ids(segment_ids)
    key = {**f.params(), "ids": ids, "limit": limit}
    return result_cache.memo("top_countries", key, lambda: _top_countries(f, ids, limit))


def _top_countries(f: Filters, ids: list[int], limit: int) -> pd.DataFrame:
    return queries.fetch_df(
        queries.sql(
            cte(f, rows=False),
            """, counts AS (
               SELECT segment_id, country, count(*) AS customers
               FROM filtered WHERE list_contains($ids, segment_id)
               GROUP BY segment_id, country
           ),
           ranked AS (
               SELECT segment_id, country, customers,
                      customers / sum(customers) OVER (PARTITION BY segment_id) AS share,
                      row_number() OVER (PARTITION BY segment_id
                                         ORDER BY customers DESC, country NULLS LAST) AS rank
               FROM counts
           )
           SELECT segment_id, rank, country, customers, share FROM ranked
           WHERE rank <= $limit ORDER BY segment_id, rank""",
        ),
        {**f.params(), "ids": ids, "limit": limit},
    )


def rfm_crosstab(run: int | Filters) -> pd.DataFrame:
    """Learned segment x rule-based RFM group over the (filtered) customers: customers and share of the
    segment, one row per pair present.

    Columns: segment_id, segment_name, rfm_group (None where the run has none), customers, share.
    """
    f = as_filters(run)
    return result_cache.memo("rfm_crosstab", f.params(), lambda: _rfm_crosstab(f))


def _rfm_crosstab(f: Filters) -> pd.DataFrame:
    return queries.fetch_df(
        queries.sql(
            cte(f, rows=False),  # counts ids and groups only; the names come from its own join below
            """, counts AS (
               SELECT segment_id, rfm_group, count(*) AS customers
               FROM filtered GROUP BY segment_id, rfm_group
           )
           SELECT c.segment_id, coalesce(s.name, 'Segment ' || c.segment_id) AS segment_name, c.rfm_group,
                  c.customers, c.customers / sum(c.customers) OVER (PARTITION BY c.segment_id) AS share
           FROM counts AS c
           LEFT JOIN seg.segments AS s ON s.run_id = $run_id AND s.segment_id = c.segment_id
           ORDER BY c.segment_id, coalesce(list_position($order, c.rfm_group), 1000), c.rfm_group""",
        ),
        {**f.params(), "order": list(RFM_ORDER)},
    )


def rfm_columns(crosstab: pd.DataFrame) -> list[str | None]:
    """The RFM groups present, in the classic order (others alphabetically, None last)."""
    present = set(crosstab["rfm_group"].dropna()) if not crosstab.empty else set()
    known = [g for g in RFM_ORDER if g in present]
    rest = sorted(present - set(RFM_ORDER))
    has_none = not crosstab.empty and bool(crosstab["rfm_group"].isna().any())
    return [*known, *rest, *([None] if has_none else [])]
