"""What the filter set selects: allowed values, the filter CTE, the count, the paged customer table, sampled
points and export rows (queries.aggregates has the KPIs and per-segment and per-country aggregates).

The SQL is static. `FILTERED_CTE` is one constant CTE whose optional filters are NULL-guarded named
parameters (lists bound with list_contains), so every filtered query (here and in queries.customer) takes
exactly `Filters.params()` plus its own few parameters. Only identifiers from the fixed dicts below (sort
columns, metrics) are ever placed into SQL text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from dashboard import queries
from dashboard.filters import RANGE_COLUMNS, SORT_KEYS, Allowed, Filters, TableView
from dashboard.queries import result_cache

PAGE_SIZE_MAX = 100
SAMPLE_MAX = 5000

# The filter CTE every filtered query starts with (public: queries.customer builds on it too): `filtered` =
# the customers of one run that pass the filters, joined to their segment's name and action. It uses every
# $param of Filters.params(), so a query made of FILTERED_CTE + its own SELECT binds f.params() (+ its own).
FILTERED_CTE = """
WITH named_at_risk AS (
    SELECT segment_id FROM seg.segments
    WHERE run_id = $run_id AND list_contains($at_risk_names, lower(name))
),
by_value AS (
    -- the at-risk list follows the value model when the run has one and it finds anyone below the threshold
    SELECT $value_ready AND EXISTS (
        SELECT 1 FROM seg.customers WHERE run_id = $run_id AND p_alive * 100 < $at_risk_alive
    ) AS yes
),
filtered AS (
    -- list_reason and action follow the list's purpose. With a value model that finds customers below the
    -- threshold, the at-risk list is those whose chance of still being active is below $at_risk_alive
    -- percent, ranked by value at risk, each with the retention action. Otherwise it is the learned
    -- segments named At Risk / Can't Lose (their action fits), or, when the run has none, the RFM groups
    -- of those names (the RFM group's win-back action, never the learned segment's "upsell").
    SELECT c.*, s.name AS segment_name,
           CASE WHEN $at_risk AND (SELECT yes FROM by_value)
                    THEN printf('%.1f%% chance still active; %s of value at risk', c.p_alive * 100,
                                c.value_at_risk::VARCHAR)
                WHEN $at_risk AND EXISTS (SELECT 1 FROM named_at_risk) THEN 'segment ' || s.name
                WHEN $at_risk THEN 'RFM group ' || c.rfm_group || ' (R ' || c.r_score || ', F ' || c.f_score
                                   || ', M ' || c.m_score || ')'
                WHEN $outliers_only THEN 'outlier: far from every segment (density noise)'
           END AS list_reason,
           CASE WHEN $at_risk AND (SELECT yes FROM by_value) THEN $retention_action
                WHEN $at_risk AND NOT EXISTS (SELECT 1 FROM named_at_risk)
                THEN $rfm_actions[list_position($rfm_groups, c.rfm_group)]
                ELSE s.action END AS action
    FROM seg.customers AS c
    LEFT JOIN seg.segments AS s ON s.run_id = c.run_id AND s.segment_id = c.segment_id
    WHERE c.run_id = $run_id
      AND ($countries IS NULL OR list_contains($countries, c.country))
      AND ($segments IS NULL OR list_contains($segments, c.segment_id))
      AND ($tenure_min IS NULL OR c.tenure_days >= $tenure_min)
      AND ($tenure_max IS NULL OR c.tenure_days <= $tenure_max)
      AND ($recency_min IS NULL OR c.recency_days >= $recency_min)
      AND ($recency_max IS NULL OR c.recency_days <= $recency_max)
      AND ($frequency_min IS NULL OR c.frequency >= $frequency_min)
      AND ($frequency_max IS NULL OR c.frequency <= $frequency_max)
      AND ($monetary_min IS NULL OR c.monetary >= $monetary_min)
      AND ($monetary_max IS NULL OR c.monetary <= $monetary_max)
      AND ($value_min IS NULL OR c.predicted_value >= $value_min)
      AND ($value_max IS NULL OR c.predicted_value <= $value_max)
      AND ($alive_min IS NULL OR c.p_alive * 100 >= $alive_min)
      AND ($alive_max IS NULL OR c.p_alive * 100 <= $alive_max)
      AND (NOT $outliers_only OR coalesce(c.is_outlier, false))
      AND (NOT $outliers_exclude OR NOT coalesce(c.is_outlier, false))
      AND (NOT $at_risk OR CASE
            WHEN (SELECT yes FROM by_value) THEN c.p_alive * 100 < $at_risk_alive
            WHEN EXISTS (SELECT 1 FROM named_at_risk)
                THEN c.segment_id IN (SELECT segment_id FROM named_at_risk)
            ELSE coalesce(list_contains($at_risk_names, lower(c.rfm_group)), false) END)
)
"""

# UI sort key -> fixed, quoted column of `filtered` (never user text).
SORT_COLUMNS: dict[str, str] = {
    "customer_id": '"customer_id"',
    "country": '"country"',
    "segment": '"segment_name"',
    "rfm_group": '"rfm_group"',
    "recency": '"recency_days"',
    "frequency": '"frequency"',
    "monetary": '"monetary"',
    "tenure": '"tenure_days"',
    "avg_basket_value": '"avg_basket_value"',
    "return_rate": '"return_rate"',
    "dist_own": '"dist_own"',
    "p_alive": '"p_alive"',
    "predicted_value": '"predicted_value"',
    "value_at_risk": '"value_at_risk"',
}
assert tuple(SORT_COLUMNS) == SORT_KEYS, "filters.SORT_KEYS and SORT_COLUMNS must list the same keys"
DEFAULT_DESC: dict[str, bool] = {  # direction of a sort key given without one (unlisted keys ascend)
    "recency": False,
    "frequency": True,
    "monetary": True,
    "tenure": True,
    "avg_basket_value": True,
    "predicted_value": True,
    "value_at_risk": True,
}

# The customer table's columns (page and export), in order.
TABLE_COLUMNS: tuple[str, ...] = (
    "customer_id",
    "country",
    "segment_id",
    "segment_name",
    "rfm_group",
    "r_score",
    "f_score",
    "m_score",
    "recency_days",
    "frequency",
    "monetary",
    "tenure_days",
    "avg_basket_value",
    "quantity",
    "distinct_products",
    "return_rate",
    "is_outlier",
    "first_purchase",
    "last_purchase",
    "p_alive",
    "expected_purchases",
    "predicted_value",
    "value_at_risk",
    "list_reason",
    "action",
)
EXPORT_COLUMNS: tuple[str, ...] = TABLE_COLUMNS
_TABLE_SELECT = ", ".join(f'"{c}"' for c in TABLE_COLUMNS)
_EXPORT_SELECT = ", ".join(f'"{c}"' for c in EXPORT_COLUMNS)


# ---------------------------------------------------------------------------------------------------------
# Allowed values and the filter set


def allowed(run_id: int) -> Allowed:
    """The run's valid filter values: countries, segment id -> name, and min/max of each range column.

    Kept per (file identity, run): every callback validates against it (three scans saved each time).
    """
    return result_cache.memo("allowed", {"run": int(run_id)}, lambda: _allowed_uncached(run_id), always=True)


def _allowed_uncached(run_id: int) -> Allowed:
    """allowed() read from the file."""
    countries = queries.fetch_all(
        "SELECT DISTINCT country FROM seg.customers WHERE run_id = ? AND country IS NOT NULL "
        "ORDER BY country",
        [int(run_id)],
    )
    segments = queries.fetch_all(
        "SELECT segment_id, coalesce(name, 'Segment ' || segment_id) FROM seg.segments WHERE run_id = ? "
        "ORDER BY segment_id",
        [int(run_id)],
    )
    row = (
        queries.fetch_one(
            """SELECT min(tenure_days), max(tenure_days), min(recency_days), max(recency_days),
                  min(frequency), max(frequency), min(monetary), max(monetary),
                  min(predicted_value), max(predicted_value), min(p_alive) * 100, max(p_alive) * 100
           FROM seg.customers WHERE run_id = ?""",
            [int(run_id)],
        )
        or (None,) * 12
    )
    ranges = {name: (_float(row[2 * i]), _float(row[2 * i + 1])) for i, name in enumerate(RANGE_COLUMNS)}
    return Allowed(
        run_id=int(run_id),
        countries=tuple(r[0] for r in countries),
        segments={int(r[0]): str(r[1]) for r in segments},
        ranges=ranges,
        value_ready=ranges["alive"][0] is not None,
        currency=queries.run_currency(int(run_id)),
    )


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def filters_from_query(query: Mapping[str, Any]) -> Filters:
    """Resolve the run (URL `run` or the latest) and validate the whole query against it."""
    run_id = queries.resolve_run(query.get("run") if isinstance(query, Mapping) else None)
    return Filters.from_query(query, allowed(run_id))


# ---------------------------------------------------------------------------------------------------------
# The count (the paged table's total; queries.aggregates has the rest of the aggregates)


def count(f: Filters) -> int:
    """How many customers the filters select."""

    def compute() -> int:
        row = queries.fetch_one(queries.sql(FILTERED_CTE, "SELECT count(*) FROM filtered"), f.params())
        return int(row[0]) if row else 0

    return result_cache.memo("count", f.params(), compute)


# ---------------------------------------------------------------------------------------------------------
# Rows: the paged table, sampled points and exports


def _order_by(f: Filters, view: TableView) -> str:
    """ORDER BY text from whitelisted columns: the view's sort, else for the at-risk list value at risk
    (revenue without a value model) highest first, else id."""
    at_risk = "value_at_risk" if f.value_ready else "monetary"
    key = view.sort if view.sort in SORT_COLUMNS else (at_risk if f.preset == "at-risk" else "customer_id")
    desc = view.descending if view.descending is not None else DEFAULT_DESC.get(key, False)
    direction = "DESC" if desc else "ASC"
    return f'ORDER BY {SORT_COLUMNS[key]} {direction} NULLS LAST, "customer_id" ASC'


def customers_page(
    f: Filters,
    sort_key: str | None = None,
    descending: bool | None = None,
    page: int = 1,
    page_size: int = 50,
) -> tuple[pd.DataFrame, int]:
    """One page (1-based, clamped to the last page) of the filtered customers and the total count.

    page_size is capped at PAGE_SIZE_MAX; sort_key must be a SORT_KEYS key (others fall back to the default).
    """
    total = count(f)
    size = min(max(int(page_size), 1), PAGE_SIZE_MAX)
    page = min(max(int(page), 1), max((total + size - 1) // size, 1))
    return _block(f, sort_key, descending, (page - 1) * size, size), total


def customers_block(
    f: Filters, sort_key: str | None, descending: bool | None, offset: int, limit: int
) -> tuple[pd.DataFrame, int]:
    """Rows offset .. offset+limit (at most PAGE_SIZE_MAX, none past the end) of the sorted filtered
    customers, and the total count: one block of the Customers grid's infinite scroll."""
    total = count(f)
    return _block(f, sort_key, descending, min(max(int(offset), 0), total), limit), total


def _block(
    f: Filters, sort_key: str | None, descending: bool | None, offset: int, limit: int
) -> pd.DataFrame:
    """LIMIT/OFFSET rows in ORDER BY a whitelisted column (an unknown sort_key means the default order)."""
    view = TableView(sort=sort_key if sort_key in SORT_COLUMNS else None, descending=descending)
    params = {**f.params(), "limit": min(max(int(limit), 1), PAGE_SIZE_MAX), "offset": max(int(offset), 0)}
    return queries.fetch_df(
        queries.sql(
            FILTERED_CTE,
            "SELECT",
            _TABLE_SELECT,
            "FROM filtered",
            _order_by(f, view),
            "LIMIT $limit OFFSET $offset",
        ),
        params,
    )


def sample_customers(f: Filters, n: int = SAMPLE_MAX) -> pd.DataFrame:
    """A repeatable sample (at most SAMPLE_MAX) of filtered customers for scatter plots, with PCA columns."""
    params = {**f.params(), "n": min(max(int(n), 0), SAMPLE_MAX)}
    return queries.fetch_df(
        queries.sql(
            FILTERED_CTE,
            """SELECT customer_id, country, segment_id, segment_name, is_outlier, recency_days, frequency,
                      monetary, tenure_days, pc1, pc2, pc3
               FROM filtered ORDER BY hash(customer_id), customer_id LIMIT $n""",
        ),
        params,
    )


def _export_sql(f: Filters, view: TableView | None) -> str:
    """Every filtered customer's EXPORT_COLUMNS in the table's order, at most $top of them (NULL: all)."""
    return queries.sql(
        FILTERED_CTE,
        "SELECT",
        _EXPORT_SELECT,
        "FROM filtered",
        _order_by(f, view or TableView()),
        "LIMIT $top",
    )


def export_frame(f: Filters, view: TableView | None = None) -> pd.DataFrame:
    """Every filtered customer as one DataFrame (EXPORT_COLUMNS), for small sets and tests."""
    return queries.fetch_df(_export_sql(f, view), {**f.params(), "top": None})
