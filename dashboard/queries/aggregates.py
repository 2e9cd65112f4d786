"""The filtered set's aggregates from one scan: KPIs, the per-segment summary and the per-country summary.

Explore and Overview draw all three for every filter change. Each used to be its own query over the
customers (three scans of up to a million rows); now one query groups the filtered customers by segment and
country into a few hundred cells and rolls those up with GROUPING SETS, so every figure comes from the same
scan and the money stays exact DECIMAL until it is shown. summary() returns all three; kpis(),
segment_summary() and country_summary() are its parts for callers that need one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from dashboard import queries
from dashboard.filters import Filters
from dashboard.queries import result_cache
from dashboard.queries.filtered import allowed, cte

# Map metric key -> fixed column of country_summary.
METRICS: dict[str, str] = {"customers": "customers", "revenue": "revenue"}

# Cells of (segment, country), then the whole set (g = 3), per segment (g = 1) and per country (g = 2).
# Sums stay DECIMAL (exact); means are sums over counts of non-NULL values, as avg() would give.
_SUMMARY = """
, cells AS (
    SELECT segment_id, country, count(*) AS customers,
           sum(monetary) AS revenue, count(monetary) AS monetary_n,
           count(*) FILTER (WHERE coalesce(is_outlier, false)) AS outliers,
           sum(recency_days) AS recency_sum, count(recency_days) AS recency_n,
           sum(frequency) AS frequency_sum, count(frequency) AS frequency_n,
           sum(tenure_days) AS tenure_sum, count(tenure_days) AS tenure_n,
           sum(predicted_value) AS value, count(predicted_value) AS value_n,
           sum(value_at_risk) AS value_at_risk, count(value_at_risk) AS value_at_risk_n
    FROM filtered GROUP BY segment_id, country
)
SELECT GROUPING(segment_id, country) AS g, segment_id, country,
       sum(customers)::BIGINT AS customers, coalesce(sum(revenue), 0)::DOUBLE AS revenue,
       sum(outliers)::BIGINT AS outliers, count(DISTINCT segment_id) AS segments,
       (sum(revenue) / nullif(sum(monetary_n), 0))::DOUBLE AS monetary,
       (sum(recency_sum) / nullif(sum(recency_n), 0))::DOUBLE AS recency_days,
       (sum(frequency_sum) / nullif(sum(frequency_n), 0))::DOUBLE AS frequency,
       (sum(tenure_sum) / nullif(sum(tenure_n), 0))::DOUBLE AS tenure_days,
       sum(value)::DOUBLE AS value, (sum(value) / nullif(sum(value_n), 0))::DOUBLE AS mean_value,
       sum(value_at_risk)::DOUBLE AS value_at_risk,
       (sum(value_at_risk) / nullif(sum(value_at_risk_n), 0))::DOUBLE AS mean_value_at_risk,
       (SELECT count(*) FROM seg.customers WHERE run_id = $run_id) AS run_customers
FROM cells GROUP BY GROUPING SETS ((), (segment_id), (country))
"""
# Explore's and the Overview map's lean summary: counts, revenue and outliers only (the segment means and
# value sums stay NULL); on 1M customers one thread groups them in about a third of the full one's time.
_SUMMARY_LEAN = """
, cells AS (
    SELECT segment_id, country, count(*) AS customers,
           sum(monetary) AS revenue, count(monetary) AS monetary_n,
           count(*) FILTER (WHERE coalesce(is_outlier, false)) AS outliers
    FROM filtered GROUP BY segment_id, country
)
SELECT GROUPING(segment_id, country) AS g, segment_id, country,
       sum(customers)::BIGINT AS customers, coalesce(sum(revenue), 0)::DOUBLE AS revenue,
       sum(outliers)::BIGINT AS outliers, count(DISTINCT segment_id) AS segments,
       (sum(revenue) / nullif(sum(monetary_n), 0))::DOUBLE AS monetary,
       NULL::DOUBLE AS recency_days, NULL::DOUBLE AS frequency, NULL::DOUBLE AS tenure_days,
       NULL::DOUBLE AS value, NULL::DOUBLE AS mean_value, NULL::DOUBLE AS value_at_risk,
       NULL::DOUBLE AS mean_value_at_risk,
       (SELECT count(*) FROM seg.customers WHERE run_id = $run_id) AS run_customers
FROM cells GROUP BY GROUPING SETS ((), (segment_id), (country))
"""


def _coded(sql: str) -> str:
    """The summary over the run's country codes (customers.country_code, v6+): a 2-byte integer groups 3-8x
    faster than the text on 1M customers (one thread); the codes become names in Python."""
    return sql.replace(
        "SELECT segment_id, country, count(*)", "SELECT segment_id, country_code AS country, count(*)", 1
    ).replace(
        "FROM filtered GROUP BY segment_id, country", "FROM filtered GROUP BY segment_id, country_code", 1
    )


# (lean, coded) -> the summary's SQL
_SQL = {
    (False, False): _SUMMARY,
    (False, True): _coded(_SUMMARY),
    (True, False): _SUMMARY_LEAN,
    (True, True): _coded(_SUMMARY_LEAN),
}
_SEGMENT_COLUMNS = (
    "segment_id",
    "name",
    "description",
    "action",
    "customers",
    "revenue",
    "share",
    "revenue_share",
    "outliers",
)
_SEGMENT_MEANS = ("recency_days", "frequency", "monetary", "tenure_days")
_SEGMENT_VALUES = ("value", "mean_value", "value_at_risk", "mean_value_at_risk")


@dataclass(frozen=True)
class Kpis:
    """Headline numbers of the filtered customers."""

    customers: int
    revenue: float
    segments: int
    outliers: int
    avg_monetary: float | None
    run_customers: int  # all customers of the run, for "x of y"


@dataclass(frozen=True)
class Summary:
    """kpis, per-segment and per-country aggregates of one filter set (one scan)."""

    kpis: Kpis
    segments: pd.DataFrame  # segment_summary's columns
    countries: pd.DataFrame  # country, customers, revenue (largest first by customers)

    def country_summary(self, metric: Any = "customers") -> pd.DataFrame:
        """country, customers, revenue and `value` = the metric ('customers' or 'revenue'), largest first."""
        column = METRICS.get(metric, "customers") if isinstance(metric, str) else "customers"
        out = self.countries.assign(value=self.countries[column])
        return out.sort_values(["value", "country"], ascending=[False, True], na_position="last").reset_index(
            drop=True
        )


def summary(f: Filters, lean: bool = False) -> Summary:
    """KPIs, segment_summary and the per-country aggregates of the customers f keeps, from one scan; lean:
    counts, revenue and outliers only (the segments' means and value columns are NaN).

    The few hundred result rows are read as tuples and each frame is built once from lists: pandas
    filtering, merging and casting of the same rows cost about 15 ms per call on Explore and the map."""
    names = {code: name for name, code in allowed(f.run_id).country_codes.items()}
    sql = _SQL[(lean, bool(names))]
    rows = result_cache.memo(
        "summary_lean" if lean else "summary",
        f.params(),
        lambda: queries.fetch_all(cte(f, rows=False) + sql, f.params()),
    )
    total = next((r for r in rows if r[0] == 3), None)
    if total is None or total[_AT["customers"]] is None:  # no customer passes: one all-NULL total row
        kpis = Kpis(0, 0.0, 0, 0, None, int(total[_AT["run_customers"]]) if total is not None else 0)
    else:
        kpis = Kpis(
            int(total[_AT["customers"]]),
            float(total[_AT["revenue"]]),
            int(total[_AT["segments"]]),
            int(total[_AT["outliers"]]),
            _number(total[_AT["monetary"]]),
            int(total[_AT["run_customers"]]),
        )
    by_country = [r for r in rows if r[0] == 2]
    countries = pd.DataFrame(
        {
            "country": [
                (names.get(int(r[2])) if names else r[2]) if r[2] is not None else None for r in by_country
            ],
            "customers": pd.Series([int(r[_AT["customers"]]) for r in by_country], dtype="int64"),
            "revenue": pd.Series([float(r[_AT["revenue"]]) for r in by_country], dtype=float),
        }
    )
    countries["country"] = countries["country"].astype(object)
    per_segment = {int(r[1]): r for r in rows if r[0] == 1 and r[1] is not None}
    return Summary(kpis, _segments(f.run_id, per_segment), countries)


# The summary query's columns, in order.
_RESULT = (
    "g",
    "segment_id",
    "country",
    "customers",
    "revenue",
    "outliers",
    "segments",
    "monetary",
    "recency_days",
    "frequency",
    "tenure_days",
    "value",
    "mean_value",
    "value_at_risk",
    "mean_value_at_risk",
    "run_customers",
)
_AT = {name: i for i, name in enumerate(_RESULT)}  # column name -> position in a result row


def _number(value: Any) -> float | None:
    """A stored aggregate as a float, None for NULL."""
    return None if value is None else float(value)


def _segments(run_id: int, per_segment: dict[int, tuple[Any, ...]]) -> pd.DataFrame:
    """Every segment of the run (zeros included, by id) with its aggregates and shares of the set's total."""
    meta = segment_meta(run_id)
    ids = [int(i) for i in meta["segment_id"]]
    found = [per_segment.get(i) for i in ids]
    customers = [int(r[_AT["customers"]]) if r is not None else 0 for r in found]
    revenue = [float(r[_AT["revenue"]] or 0.0) if r is not None else 0.0 for r in found]
    total_customers, total_revenue = sum(customers), sum(revenue)
    out: dict[str, Any] = {
        "segment_id": pd.Series(ids, dtype="int64"),
        "name": meta["name"].to_numpy(),
        "description": meta["description"].to_numpy(),
        "action": meta["action"].to_numpy(),
        "customers": pd.Series(customers, dtype="int64"),
        "revenue": pd.Series(revenue, dtype=float),
        "share": pd.Series([c / total_customers if total_customers else 0.0 for c in customers], dtype=float),
        "revenue_share": pd.Series(
            [r / total_revenue if total_revenue else 0.0 for r in revenue], dtype=float
        ),
        "outliers": pd.Series(
            [int(r[_AT["outliers"]]) if r is not None else 0 for r in found], dtype="int64"
        ),
    }
    for column in (*_SEGMENT_MEANS, *_SEGMENT_VALUES):
        out[column] = pd.Series(
            [_number(r[_AT[column]]) if r is not None else None for r in found], dtype=float
        )
    return pd.DataFrame(out, columns=[*_SEGMENT_COLUMNS, *_SEGMENT_MEANS, *_SEGMENT_VALUES])


def segment_meta(run_id: int) -> pd.DataFrame:
    """The run's segments: segment_id, name ('Segment <id>' where none is stored), description, action."""
    return result_cache.memo(
        "segment_meta",
        {"run": int(run_id)},
        lambda: queries.fetch_df(
            """SELECT segment_id::BIGINT AS segment_id, coalesce(name, 'Segment ' || segment_id) AS name,
                      description, action
               FROM seg.segments WHERE run_id = ? ORDER BY segment_id""",
            [int(run_id)],
        ),
        always=True,
    )


def kpis(f: Filters) -> Kpis:
    """Customers, revenue, segments present and outliers among the filtered customers."""
    return summary(f).kpis


def segment_summary(f: Filters) -> pd.DataFrame:
    """Per segment of the run (zeros included, by id): customers, revenue, shares and means under the filters.

    Columns: segment_id, name, description, action, customers, revenue, share, revenue_share, outliers,
    recency_days, frequency, monetary, tenure_days (means), value, mean_value, value_at_risk,
    mean_value_at_risk (predicted 12-month value and value at risk, NaN without a value model). Shares are
    of the filtered total.
    """
    return summary(f).segments


def country_summary(f: Filters, metric: Any = "customers") -> pd.DataFrame:
    """Per country (NULL as None): customers, revenue and `value` = the chosen metric, largest first.

    metric is 'customers' or 'revenue'; anything else counts customers (it may come from a browser).
    """
    return summary(f).country_summary(metric)
