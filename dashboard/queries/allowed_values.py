"""A run's valid filter values (countries and their codes, segments, ranges, attributes), read from the file;
queries.filtered.allowed() keeps them per run."""

from __future__ import annotations

from typing import Any

from dashboard import attribute_filters, queries
from dashboard.filters import RANGE_COLUMNS, Allowed


def read(run_id: int) -> Allowed:
    """The run's valid filter values read from the file (queries.filtered.allowed keeps them per run)."""
    countries = (
        queries.fetch_all(
            "SELECT country, min(country_code) FROM seg.customers WHERE run_id = ? AND country IS NOT NULL "
            "GROUP BY country ORDER BY country",
            [int(run_id)],
        )
        if _has("customers", "country_code")
        else [
            (c, None)
            for (c,) in queries.fetch_all(
                "SELECT DISTINCT country FROM seg.customers WHERE run_id = ? AND country IS NOT NULL "
                "ORDER BY country",
                [int(run_id)],
            )
        ]
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
        # every country's code, or none (a run stored before v6: filters and groups use the text)
        country_codes={r[0]: int(r[1]) for r in countries}
        if all(r[1] is not None for r in countries)
        else {},
        segments={int(r[0]): str(r[1]) for r in segments},
        ranges=ranges,
        value_ready=ranges["alive"][0] is not None,
        currency=queries.run_currency(int(run_id)),
        attributes=_attributes(int(run_id)),
        attribute_source=_attribute_source(int(run_id)),
    )


def _has(table: str, column: str | None = None) -> bool:
    """The served file has the table (and column): files written before schema v6 lack the attribute tables
    and customers.country_code."""
    row = queries.fetch_one(
        "SELECT count(*) FROM duckdb_columns() WHERE database_name = 'seg' AND table_name = ? "
        "AND (? IS NULL OR column_name = ?)",
        [table, column, column],
    )
    return bool(row and row[0])


def _attribute_source(run_id: int) -> str:
    """'From crm.csv: 1,076 of 1,096 customers have attributes', or '' (no attributes)."""
    if not _has("attribute_sources"):
        return ""
    row = queries.fetch_one(
        "SELECT source, customers_matched, customers_missing FROM seg.attribute_sources WHERE run_id = ?",
        [run_id],
    )
    if row is None:
        return ""
    source, matched, missing = row
    return f"From {source}: {matched:,} of {matched + missing:,} customers have attributes."


def _attributes(run_id: int) -> tuple[attribute_filters.AttributeInfo, ...]:
    """The run's attribute columns (none in files written before attributes existed)."""
    if not _has("attribute_columns"):
        return ()
    rows = queries.fetch_all(
        "SELECT name, kind, slot, min_value, max_value, categories FROM seg.attribute_columns "
        "WHERE run_id = ? ORDER BY position",
        [run_id],
    )
    return attribute_filters.info_from_rows(rows)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)
