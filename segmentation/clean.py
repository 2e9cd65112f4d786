"""Cleaning: every rule removes rows in a fixed order and is counted, so the counts add up to the input."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import duckdb

from segmentation import sql
from segmentation.config import NON_PRODUCT_CODES
from segmentation.errors import InputError


@dataclass(frozen=True)
class CleaningStep:
    """One rule of the cleaning report: lines it removed and left, customers it touched and lost, money."""

    step: int
    rule: str
    description: str
    removed: int
    rows_left: int
    customers: int = 0  # distinct customers whose lines (or money) the rule removed
    customers_lost: int = 0  # customers who had lines before the rule and none after it
    money: Decimal | None = None  # signed money it removed (returns negative); None for customer tables


@dataclass
class _Stage:
    lines: int
    customers: int
    money: Decimal | None = None


class _Report:
    """Accumulates steps; each removal is the difference between what was there before and after the rule."""

    def __init__(self, start: _Stage) -> None:
        self.steps: list[CleaningStep] = []
        self.left = start

    def add(self, rule: str, description: str, after: _Stage, touched: int = 0) -> None:
        money = None if after.money is None or self.left.money is None else self.left.money - after.money
        self.steps.append(
            CleaningStep(
                len(self.steps) + 1,
                rule,
                description,
                self.left.lines - after.lines,
                after.lines,
                touched,
                self.left.customers - after.customers,
                money,
            )
        )
        self.left = after


def _stage(con: duckdb.DuckDBPyConnection, table: str) -> _Stage:
    row = con.execute(sql.STAGE_TOTALS[table]).fetchone()
    assert row is not None
    return _Stage(int(row[0]), int(row[1]), Decimal(row[2]))


def _one(con: duckdb.DuckDBPyConnection, query: str, params: dict | None = None) -> tuple:
    row = con.execute(query, params or {}).fetchone()
    assert row is not None
    return row


@dataclass(frozen=True)
class SalesCleaning:
    """The steps of a sales cleaning and its exact money: money_in = sum of steps' money + money_kept."""

    steps: list[CleaningStep]
    money_in: Decimal
    money_kept: Decimal


def clean_sales(
    con: duckdb.DuckDBPyConnection,
    source: str,
    snapshot: date | None = None,
    outlier_factor: float = 20.0,
    non_product_codes: tuple[str, ...] = NON_PRODUCT_CODES,
) -> SalesCleaning:
    """Turn `lines` into `sales` (purchase lines kept) and `kept_alloc` (returned units kept), by the nine
    counted rules of docs/cleaning.md; lines and money removed plus kept add up to the input's."""
    r = _one(con, sql.ROW_STAGES, {"snapshot": snapshot})
    stages = [_Stage(int(r[i]), int(r[i + 1]), Decimal(r[i + 2])) for i in (0, 3, 6, 9)]
    report = _Report(stages[0])
    report.add("missing_customer_id", "no customer id", stages[1])
    report.add("unparseable_date", "invoice date did not parse", stages[2], int(r[12]))
    if snapshot is not None:
        report.add("after_snapshot", f"dated on or after the snapshot date {snapshot}", stages[3], int(r[13]))
    for statement in sql.DEDUPLICATE:
        con.execute(statement, {"snapshot": snapshot})
    (dup_customers,) = _one(con, sql.DUPLICATE_CUSTOMERS)
    report.add("exact_duplicate", "exact duplicate of an earlier line", _stage(con, "dedup"), dup_customers)

    codes = sorted({c.strip().upper() for c in non_product_codes if c.strip()})
    con.execute(sql.REMOVE_NON_PRODUCT, {"codes": codes})
    con.execute(sql.PRODUCTS_VIEW)
    (touched,) = _one(con, sql.NON_PRODUCT_CUSTOMERS)
    report.add(
        "non_product",
        "non-product line (stock code " + ", ".join(codes) + ")" if codes else "non-product line (rule off)",
        _stage(con, "products"),
        touched,
    )
    con.execute(sql.REMOVE_NON_POSITIVE)
    (touched,) = _one(con, sql.NON_POSITIVE_CUSTOMERS)
    report.add(
        "non_positive", "quantity or unit price missing, zero or negative", _stage(con, "priced"), touched
    )

    con.execute(sql.MATCH_RETURNS)
    unmatched_money, touched = _one(con, sql.UNMATCHED_RETURNS)
    if outlier_factor > 0:
        qty_limit, price_limit = _one(con, sql.OUTLIER_LIMITS, {"factor": outlier_factor})
    else:
        qty_limit = price_limit = None
    con.execute(sql.FIND_OUTLIERS, {"qty_limit": qty_limit, "price_limit": price_limit})
    m_lines, m_customers, o_lines, o_customers, o_touched, o_money, _ = _one(con, sql.MATCH_OUTLIER_STAGES)
    after_match = _Stage(int(m_lines), int(m_customers), report.left.money - Decimal(unmatched_money))
    report.add(
        "unmatched_return",
        "return (invoice starting with C or negative quantity) of nothing bought earlier in the data",
        after_match,
        int(touched),
    )
    if qty_limit is not None:
        description = (
            f"purchase whose net quantity is above {qty_limit:,.0f} or unit price above {price_limit:,.2f}"
            f" ({outlier_factor:g} x the 99th percentile)"
        )
    else:
        description = "extreme outliers (rule turned off)" if outlier_factor <= 0 else "extreme outliers"
    report.add(
        "extreme_outlier",
        description,
        _Stage(int(o_lines), int(o_customers), after_match.money - Decimal(o_money)),
        int(o_touched),
    )
    returns_money, touched = _one(con, sql.REMOVED_PURCHASE_RETURNS)
    con.execute(sql.KEEP_LINES)
    kept = _stage(con, "kept_lines")
    report.add("return_of_removed_purchase", "return of a purchase removed as an outlier", kept, int(touched))
    if report.steps[-1].money != Decimal(returns_money):  # the money identity is checked, not assumed
        raise RuntimeError(
            f"cleaning money does not add up: rule 9 removed {returns_money}, the stages differ by "
            f"{report.steps[-1].money}"
        )
    if _one(con, sql.COUNT_SALES)[0] == 0:
        raise InputError(
            f"{source}: every one of the {stages[0].lines:,} rows was removed by cleaning "
            f"({_summary(report.steps)}); expected at least one purchase with a customer id, "
            "a date, and a positive quantity and price."
        )
    return SalesCleaning(report.steps, stages[0].money or Decimal(0), kept.money or Decimal(0))


def clean_customer_rows(con: duckdb.DuckDBPyConnection, source: str, id_column: str) -> list[CleaningStep]:
    """Turn `customer_rows` into `features`, one row per customer, counting each rule's removals."""
    r = _one(con, sql.CUSTOMER_ROW_RULES)
    rows_in = int(r[0])
    report = _Report(_Stage(rows_in, int(r[1])))
    report.add("missing_customer_id", "no customer id", _Stage(rows_in - int(r[2]), int(r[1])))
    report.add(
        "missing_feature",
        "a feature value is empty or not finite",
        _Stage(report.left.lines - int(r[3]), int(r[4])),
        int(r[5]),
    )
    con.execute(sql.CUSTOMER_DEDUP)
    lines, customers = _one(con, "SELECT count(*), count(DISTINCT customer_id) FROM customer_dedup")
    report.add("exact_duplicate", "exact duplicate of an earlier row", _Stage(int(lines), int(customers)))
    conflict = con.execute(sql.CUSTOMER_CONFLICTS).fetchone()
    if conflict is not None:
        raise InputError(
            f"{source}: column '{id_column}': customer '{conflict[0]}' appears on {conflict[1]} rows "
            "with different values; expected one row per customer."
        )
    if report.left.lines == 0:
        raise InputError(
            f"{source}: every one of the {rows_in:,} rows was removed by cleaning "
            f"({_summary(report.steps)}); expected at least one row with an id and every feature."
        )
    con.execute(sql.CUSTOMER_FEATURES)
    return report.steps


def _summary(steps: list[CleaningStep]) -> str:
    return ", ".join(f"{s.rule} {s.removed:,}" for s in steps if s.removed)
