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
    counts, revenue and outliers only (the segments' means and value columns are NaN)."""
    names = {code: name for name, code in allowed(f.run_id).country_codes.items()}
    sql = _SQL[(lean, bool(names))]
    rows = result_cache.memo(
        "summary_lean" if lean else "summary",
        f.params(),
        lambda: queries.fetch_df(cte(f, rows=False) + sql, f.params()),
    )
    total = rows[rows["g"] == 3]
    if total.empty or pd.isna(total["customers"].iloc[0]):  # no customer passes: one all-NULL total row
        run_customers = int(total["run_customers"].iloc[0]) if not total.empty else 0
        kpis = Kpis(0, 0.0, 0, 0, None, run_customers)
    else:
        t = total.iloc[0]
        kpis = Kpis(
            int(t["customers"]),
            float(t["revenue"]),
            int(t["segments"]),
            int(t["outliers"]),
            None if pd.isna(t["monetary"]) else float(t["monetary"]),
            int(t["run_customers"]),
        )
    countries = rows[rows["g"] == 2][["country", "customers", "revenue"]].reset_index(drop=True)
    if names:
        countries["country"] = [names.get(int(c)) if pd.notna(c) else None for c in countries["country"]]
    countries["country"] = countries["country"].astype(object).where(countries["country"].notna(), None)
    return Summary(kpis, _segments(f.run_id, rows[rows["g"] == 1]), countries)


def _segments(run_id: int, per_segment: pd.DataFrame) -> pd.DataFrame:
    """Every segment of the run (zeros included, by id) with its aggregates and shares of the set's total."""
    meta = segment_meta(run_id)
    agg = per_segment.drop(columns=["g", "country", "segments", "run_customers"])
    agg = agg[agg["segment_id"].notna()].astype({"segment_id": "int64"})  # as the join from segments did
    out = meta.merge(agg, on="segment_id", how="left")
    out["customers"] = out["customers"].fillna(0).astype("int64")
    out["revenue"] = out["revenue"].fillna(0.0).astype(float)
    out["outliers"] = out["outliers"].fillna(0).astype("int64")
    total_customers, total_revenue = out["customers"].sum(), out["revenue"].sum()
    out["share"] = out["customers"] / total_customers if total_customers else 0.0
    out["revenue_share"] = out["revenue"] / total_revenue if total_revenue else 0.0
    for column in (*_SEGMENT_MEANS, *_SEGMENT_VALUES):
        out[column] = out[column].astype(float)
    return out[[*_SEGMENT_COLUMNS, *_SEGMENT_MEANS, *_SEGMENT_VALUES]].astype({"share": float})


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
