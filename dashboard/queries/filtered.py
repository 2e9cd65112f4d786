"""What the filter set selects: allowed values, the filter CTE, the count, the paged customer table, sampled
points and export rows (queries.aggregates has the KPIs and per-segment and per-country aggregates).

The SQL is made of constant fragments: cte(f) puts together the filter CTE's conditions for the filters f
sets, with their values bound as named parameters (lists with list_contains), so every filtered query
(here and in queries.customer, aggregates, profiles, ...) binds `Filters.params()` plus its own few
parameters. Only identifiers from the fixed dicts below (sort columns) are ever placed into SQL text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from dashboard import attribute_filters, queries
from dashboard.filters import SORT_KEYS, Allowed, Filters, TableView
from dashboard.queries import allowed_values, result_cache

PAGE_SIZE_MAX = 100
LATE_ROWS = 20_000  # filtered customers past which a block's rows are built late (_block)
SAMPLE_MAX = 5000

# The filter CTE every filtered query starts with: cte(f) = `WITH ... filtered AS (...)`, the customers of one
# run that pass f's filters (with rows=True joined to their segment's name and given the list's reason and
# action). The text is made of the constant fragments below, never of user text; values are bound as
# $params of Filters.params() (queries binds those the text names). Only the conditions of the filters f
# sets are in the text: DuckDB cannot drop a NULL-guarded condition whose parameter is unset, and on 1M
# customers an unfiltered scan through all of them took 26 ms instead of 2.

# The at-risk list's two facts (the at-risk condition and the rows' list_reason and action use them).
_AT_RISK_CTES = """
named_at_risk AS (
    SELECT segment_id FROM seg.segments
    WHERE run_id = $run_id AND list_contains($at_risk_names, lower(name))
),
by_value AS (
    -- the at-risk list follows the value model when the run has one and it finds anyone below the threshold
    SELECT $value_ready AND EXISTS (
        SELECT 1 FROM seg.customers WHERE run_id = $run_id AND p_alive * 100 < $at_risk_alive
    ) AS yes
),"""
# list_reason and action follow the list's purpose. With a value model that finds customers below the
# threshold, the at-risk list is those whose chance of still being active is below $at_risk_alive percent,
# ranked by value at risk, each with the retention action. Otherwise it is the learned segments named At
# Risk / Can't Lose (their action fits), or, when the run has none, the RFM groups of those names (the RFM
# group's win-back action, never the learned segment's "upsell").
_ROW_COLUMNS = """, s.name AS segment_name,
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
    LEFT JOIN seg.segments AS s ON s.run_id = c.run_id AND s.segment_id = c.segment_id"""
_COUNTRY_TEXT = "list_contains($countries, c.country)"
# Each filter's condition on `c` (seg.customers), in the text only when Filters.params() sets its key.
_CONDITIONS: tuple[tuple[str, str], ...] = (
    ("countries", _COUNTRY_TEXT),
    ("segments", "list_contains($segments, c.segment_id)"),
    ("tenure_min", "c.tenure_days >= $tenure_min"),
    ("tenure_max", "c.tenure_days <= $tenure_max"),
    ("recency_min", "c.recency_days >= $recency_min"),
    ("recency_max", "c.recency_days <= $recency_max"),
    ("frequency_min", "c.frequency >= $frequency_min"),
    ("frequency_max", "c.frequency <= $frequency_max"),
    ("monetary_min", "c.monetary >= $monetary_min"),
    ("monetary_max", "c.monetary <= $monetary_max"),
    ("value_min", "c.predicted_value >= $value_min"),
    ("value_max", "c.predicted_value <= $value_max"),
    ("alive_min", "c.p_alive * 100 >= $alive_min"),
    ("alive_max", "c.p_alive * 100 <= $alive_max"),
    ("outliers_only", "coalesce(c.is_outlier, false)"),
    ("outliers_exclude", "NOT coalesce(c.is_outlier, false)"),
    (
        "at_risk",
        """CASE WHEN (SELECT yes FROM by_value) THEN c.p_alive * 100 < $at_risk_alive
            WHEN EXISTS (SELECT 1 FROM named_at_risk)
                THEN c.segment_id IN (SELECT segment_id FROM named_at_risk)
            ELSE coalesce(list_contains($at_risk_names, lower(c.rfm_group)), false) END""",
    ),
)


ROW_IDS_PARAM = "SELECT unnest($row_ids)"  # cte's `among` for stored row numbers bound as $row_ids


def cte(f: Filters, rows: bool = True, row_ids: bool = False, among: str | None = None) -> str:
    """`WITH ... filtered AS (...)` for f: its run's customers that pass its filters. rows=True adds the
    columns a list shows (segment_name, list_reason, action); aggregates leave them out (no join).
    row_ids=True adds `row_id`, the stored row's number (systematic samples, late row building).
    among, a constant query of stored row numbers (ROW_IDS_PARAM, or a registered table's column), keeps
    only those rows, found under f's filters by an earlier query, instead of testing the filters again
    (their list columns still follow f's list)."""
    params = f.params()
    if among is not None:
        conditions = [f"c.rowid IN ({among})"]
    else:
        conditions = [c for key, c in _CONDITIONS if params[key] is not None and params[key] is not False]
        if params["country_codes"] is not None:  # the run's codes: the same countries, compared as integers
            conditions[conditions.index(_COUNTRY_TEXT)] = "list_contains($country_codes, c.country_code)"
        conditions += attribute_filters.conditions(f.attributes)
    at_risk = rows or bool(params["at_risk"])
    columns = _ROW_COLUMNS if rows else "\n    FROM seg.customers AS c"
    where = "".join(f"\n      AND ({c})" for c in conditions)
    return (
        "\nWITH"
        + (_AT_RISK_CTES if at_risk else "")
        + "\nfiltered AS (\n    SELECT c.*"
        + (", c.rowid AS row_id" if row_ids else "")
        + columns
        + "\n    WHERE c.run_id = $run_id"
        + where
        + "\n)\n"
    )


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
_TABLE_ROWS = queries.sql("SELECT", _TABLE_SELECT, "FROM filtered AS c")  # a grid block's rows (late_rows)


# ---------------------------------------------------------------------------------------------------------
# Allowed values and the filter set


def allowed(run_id: int) -> Allowed:
    """The run's valid filter values: countries, segment id -> name, and min/max of each range column.

    Kept per (file identity, run): every callback validates against it (three scans saved each time).
    """
    return result_cache.memo(
        "allowed", {"run": int(run_id)}, lambda: allowed_values.read(run_id), always=True
    )


def filters_from_query(query: Mapping[str, Any]) -> Filters:
    """Resolve the run (URL `run` or the latest) and validate the whole query against it."""
    run_id = queries.resolve_run(query.get("run") if isinstance(query, Mapping) else None)
    return Filters.from_query(query, allowed(run_id))


# ---------------------------------------------------------------------------------------------------------
# The count (the paged table's total; queries.aggregates has the rest of the aggregates)


def count(f: Filters) -> int:
    """How many customers the filters select."""

    def compute() -> int:
        row = queries.fetch_one(queries.sql(cte(f, rows=False), "SELECT count(*) FROM filtered"), f.params())
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
    return _block(f, sort_key, descending, (page - 1) * size, size, total), total


def customers_block(
    f: Filters, sort_key: str | None, descending: bool | None, offset: int, limit: int
) -> tuple[pd.DataFrame, int]:
    """Rows offset .. offset+limit (at most PAGE_SIZE_MAX, none past the end) of the sorted filtered
    customers, and the total count: one block of the Customers grid's infinite scroll."""
    total = count(f)
    return _block(f, sort_key, descending, min(max(int(offset), 0), total), limit, total), total


def _block(
    f: Filters, sort_key: str | None, descending: bool | None, offset: int, limit: int, total: int
) -> pd.DataFrame:
    """LIMIT/OFFSET rows in ORDER BY a whitelisted column (an unknown sort_key means the default order) of
    the `total` filtered customers.

    Past LATE_ROWS customers the rows are built late: the first query sorts only the filtered customers'
    sort keys and stored row numbers, the second builds the block's rows (segment name, list reason,
    action) for those rows alone. On 1M customers (one thread, 60 random filters, sorts and offsets) that
    took the median from 76 to 41 ms and p95 from 748 to 264 ms, with identical blocks; on a few hundred
    customers the second query costs more than it saves."""
    view = TableView(sort=sort_key if sort_key in SORT_COLUMNS else None, descending=descending)
    order = _order_by(f, view)
    params = {**f.params(), "limit": min(max(int(limit), 1), PAGE_SIZE_MAX), "offset": max(int(offset), 0)}
    if total <= LATE_ROWS:
        return queries.fetch_df(
            queries.sql(cte(f), _TABLE_ROWS, order, "LIMIT $limit OFFSET $offset"), params
        )
    return late_rows(
        f,
        _TABLE_ROWS,
        order,
        "LIMIT $limit OFFSET $offset",
        params,
        sort_rows=view.sort == "segment",  # the segment's name needs the rows' join
    )


def late_rows(
    f: Filters, select: str, order: str, window: str, params: Mapping[str, Any], sort_rows: bool = False
) -> pd.DataFrame:
    """`select` (constant text over `filtered AS c`) of the customers f keeps that fall in `window` (LIMIT
    text) of `order`, built late: one query sorts only the sort keys and stored row numbers (with the list
    columns when sort_rows, e.g. to sort by segment name), a second builds the rows of those customers
    alone. params binds f's filters and the window's values."""
    ids = queries.fetch_all(
        queries.sql(
            cte(f, rows=sort_rows, row_ids=True), "SELECT c.row_id FROM filtered AS c", order, window
        ),
        params,
    )
    return queries.fetch_df(
        queries.sql(cte(f, row_ids=True, among=ROW_IDS_PARAM), select, order),
        {**f.params(), "row_ids": [int(r[0]) for r in ids]},
    )


def sample_customers(f: Filters, n: int = SAMPLE_MAX) -> pd.DataFrame:
    """A repeatable sample (at most SAMPLE_MAX) of filtered customers for scatter plots, with PCA columns."""
    params = {**f.params(), "n": min(max(int(n), 0), SAMPLE_MAX)}
    return queries.fetch_df(
        queries.sql(
            cte(f),
            """SELECT customer_id, country, segment_id, segment_name, is_outlier, recency_days, frequency,
                      monetary, tenure_days, pc1, pc2, pc3
               FROM filtered ORDER BY hash(customer_id), customer_id LIMIT $n""",
        ),
        params,
    )


def _export_sql(f: Filters, view: TableView | None) -> str:
    """Every filtered customer's EXPORT_COLUMNS in the table's order, at most $top of them (NULL: all)."""
    return queries.sql(
        cte(f),
        "SELECT",
        _EXPORT_SELECT + attribute_export(f.run_id)[0],
        "FROM filtered",
        _order_by(f, view or TableView()),
        "LIMIT $top",
    )


def export_frame(f: Filters, view: TableView | None = None) -> pd.DataFrame:
    """Every filtered customer as one DataFrame (EXPORT_COLUMNS, then the run's attributes), for small sets
    and tests."""
    frame = queries.fetch_df(_export_sql(f, view), {**f.params(), "top": None})
    return frame.rename(columns=attribute_export(f.run_id)[1])


def attribute_export(run_id: int) -> tuple[str, dict[str, str]]:
    """The run's attribute columns for an export: SQL select items over `filtered` (`, attr_numbers[2] AS
    "attr_1"`: only stored slots and generated aliases in the text) and each alias's attribute name."""
    items, names = [], {}
    for i, a in enumerate(allowed(run_id).attributes):
        alias = f"attr_{i}"
        column = "attr_numbers" if a.kind == "number" else "attr_texts"
        items.append(f', {column}[{int(a.slot)}] AS "{alias}"')
        names[alias] = a.name
    return "".join(items), names
