"""Cleaning: every rule removes rows in a fixed order and is counted, so the counts add up to the input."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb

from segmentation import sql
from segmentation.errors import InputError


@dataclass(frozen=True)
class CleaningStep:
    """One rule of the cleaning report: how many rows it removed and how many were left after it."""

    step: int
    rule: str
    description: str
    removed: int
    rows_left: int


def _count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    row = con.execute(sql.COUNT_TABLE[table]).fetchone()
    assert row is not None
    return int(row[0])


class _Report:
    """Accumulates steps; each removal is the difference between rows before and after the rule."""

    def __init__(self, rows_in: int) -> None:
        self.steps: list[CleaningStep] = []
        self.left = rows_in

    def add(self, rule: str, description: str, left: int) -> None:
        self.steps.append(CleaningStep(len(self.steps) + 1, rule, description, self.left - left, left))
        self.left = left


def clean_sales(
    con: duckdb.DuckDBPyConnection,
    source: str,
    snapshot: date | None = None,
    outlier_factor: float = 20.0,
) -> list[CleaningStep]:
    """Turn `lines` into `sales` (purchases) and `returns`, counting each rule's removals.

    Rules, in order: missing customer id; unparseable date; on or after the snapshot date (only when one
    is given); exact duplicate lines; cancellations and returns (set aside for the return rate);
    non-positive or missing quantity or price; extreme outliers (quantity or unit price above
    `outlier_factor` x its 99th percentile; 0 turns the rule off).
    """
    row = con.execute(sql.COUNT_ROW_RULES, {"snapshot": snapshot}).fetchone()
    assert row is not None
    rows_in, missing_id, bad_date, late = (int(v) for v in row)
    report = _Report(rows_in)
    report.add("missing_customer_id", "no customer id", report.left - missing_id)
    report.add("unparseable_date", "invoice date did not parse", report.left - bad_date)
    if snapshot is not None:
        report.add("after_snapshot", f"dated on or after the snapshot date {snapshot}", report.left - late)
    con.execute(sql.DEDUPLICATE, {"snapshot": snapshot})
    report.add("exact_duplicate", "exact duplicate of an earlier line", _count(con, "dedup"))
    con.execute(sql.SPLIT_RETURNS)
    report.add(
        "cancellation_return",
        "cancellation (invoice starting with C) or negative quantity; kept as the return rate",
        report.left - _count(con, "returns"),
    )
    con.execute(sql.POSITIVE_PURCHASES)
    report.add("non_positive", "quantity or unit price missing, zero or negative", _count(con, "purchases"))
    if outlier_factor > 0:
        limits = con.execute(sql.OUTLIER_LIMITS, {"factor": outlier_factor}).fetchone()
        assert limits is not None
        qty_limit, price_limit = limits
        description = (
            f"quantity above {qty_limit:,.0f} or unit price above {price_limit:,.2f}"
            f" ({outlier_factor:g} x the 99th percentile)"
            if qty_limit is not None
            else "extreme quantity or unit price"
        )
    else:
        qty_limit = price_limit = None
        description = "extreme outliers (rule turned off)"
    con.execute(sql.REMOVE_OUTLIERS, {"qty_limit": qty_limit, "price_limit": price_limit})
    report.add("extreme_outlier", description, _count(con, "sales"))
    if report.left == 0:
        raise InputError(
            f"{source}: every one of the {rows_in:,} rows was removed by cleaning "
            f"({_summary(report.steps)}); expected at least one purchase with a customer id, "
            "a date, and a positive quantity and price."
        )
    return report.steps


def clean_customer_rows(con: duckdb.DuckDBPyConnection, source: str, id_column: str) -> list[CleaningStep]:
    """Turn `customer_rows` into `features`, one row per customer, counting each rule's removals."""
    row = con.execute(sql.CUSTOMER_ROW_RULES).fetchone()
    assert row is not None
    rows_in, missing_id, missing_feature = (int(v) for v in row)
    report = _Report(rows_in)
    report.add("missing_customer_id", "no customer id", report.left - missing_id)
    report.add("missing_feature", "a feature value is empty or not finite", report.left - missing_feature)
    con.execute(sql.CUSTOMER_DEDUP)
    row = con.execute("SELECT count(*) FROM customer_dedup").fetchone()
    assert row is not None
    report.add("exact_duplicate", "exact duplicate of an earlier row", int(row[0]))
    conflict = con.execute(sql.CUSTOMER_CONFLICTS).fetchone()
    if conflict is not None:
        raise InputError(
            f"{source}: column '{id_column}': customer '{conflict[0]}' appears on {conflict[1]} rows "
            "with different values; expected one row per customer."
        )
    if report.left == 0:
        raise InputError(
            f"{source}: every one of the {rows_in:,} rows was removed by cleaning "
            f"({_summary(report.steps)}); expected at least one row with an id and every feature."
        )
    con.execute(sql.CUSTOMER_FEATURES)
    return report.steps


def _summary(steps: list[CleaningStep]) -> str:
    return ", ".join(f"{s.rule} {s.removed:,}" for s in steps if s.removed)
