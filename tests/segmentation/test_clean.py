"""Cleaning rules: each counted, in order, adding up to the input; returns set aside, not purchases."""

from __future__ import annotations

from datetime import date, datetime

import duckdb
import pytest

from segmentation.clean import clean_customer_rows, clean_sales
from segmentation.errors import InputError

T = datetime(2011, 3, 1, 10, 0)

# invoice, stock, quantity, ts, price, customer, country
LINES = [
    ("1001", "A", 2.0, T, 3.0, "1", "UK"),
    ("1001", "B", 1.0, T, 5.0, "1", "UK"),
    ("1001", "B", 1.0, T, 5.0, "1", "UK"),  # exact duplicate
    ("1002", "A", 4.0, datetime(2011, 3, 5), 3.0, "2", "France"),
    ("1003", "C", 1.0, datetime(2011, 3, 6), 0.0, "2", "France"),  # zero price
    ("C1004", "A", -1.0, datetime(2011, 3, 7), 3.0, "2", "France"),  # cancellation
    ("1005", "A", -2.0, datetime(2011, 3, 8), 3.0, "1", "UK"),  # negative quantity, no C: a return
    ("1006", "A", 1.0, None, 3.0, "3", "UK"),  # unparseable date
    ("1007", "A", 1.0, T, 3.0, None, "UK"),  # missing customer
    ("1008", "A", 1.0, T, 3.0, None, "UK"),  # missing customer
    ("1009", "A", None, T, 3.0, "3", "UK"),  # missing quantity
]


def make_lines(con: duckdb.DuckDBPyConnection, rows: list[tuple]) -> None:
    con.execute(
        "CREATE OR REPLACE TABLE lines (invoice VARCHAR, stock_code VARCHAR, description VARCHAR, "
        "quantity DOUBLE, invoice_ts TIMESTAMP, unit_price DOUBLE, customer_id VARCHAR, country VARCHAR)"
    )
    con.executemany("INSERT INTO lines VALUES (?, ?, 'thing', ?, ?, ?, ?, ?)", [list(r) for r in rows])


def test_each_rule_counted_in_order_and_counts_add_up() -> None:
    con = duckdb.connect()
    make_lines(con, LINES)
    steps = clean_sales(con, "tiny.csv")
    assert [(s.rule, s.removed, s.rows_left) for s in steps] == [
        ("missing_customer_id", 2, 9),
        ("unparseable_date", 1, 8),
        ("exact_duplicate", 1, 7),
        ("cancellation_return", 2, 5),
        ("non_positive", 2, 3),
        ("extreme_outlier", 0, 3),
    ]
    assert sum(s.removed for s in steps) + steps[-1].rows_left == len(LINES)
    assert con.execute("SELECT count(*) FROM sales").fetchone() == (3,)
    returns = con.execute("SELECT customer_id, quantity, unit_price FROM returns ORDER BY 1").fetchall()
    assert returns == [("1", 2.0, 3.0), ("2", 1.0, 3.0)]


def test_snapshot_date_removes_later_lines_as_a_counted_step() -> None:
    con = duckdb.connect()
    make_lines(con, LINES)
    steps = clean_sales(con, "tiny.csv", snapshot=date(2011, 3, 5))
    late = next(s for s in steps if s.rule == "after_snapshot")
    assert late.removed == 4  # invoices 1002, 1003, C1004 and 1005 are dated 2011-03-05 or later
    assert sum(s.removed for s in steps) + steps[-1].rows_left == len(LINES)


def test_extreme_outlier_rule_uses_the_stated_percentile_limit() -> None:
    con = duckdb.connect()
    rows = [(str(2000 + i), "A", float(1 + i % 10), T, 2.0, str(i % 7), "UK") for i in range(200)]
    rows.append(("3000", "A", 100000.0, T, 2.0, "1", "UK"))
    rows.append(("3001", "B", 1.0, T, 9999.0, "2", "UK"))
    make_lines(con, rows)
    steps = clean_sales(con, "big.csv", outlier_factor=20)
    outlier = steps[-1]
    assert outlier.rule == "extreme_outlier" and outlier.removed == 2
    assert outlier.description == "quantity above 200 or unit price above 40.00 (20 x the 99th percentile)"
    assert clean_sales(con, "big.csv", outlier_factor=0)[-1].removed == 0


def test_every_row_removed_is_one_clear_sentence() -> None:
    con = duckdb.connect()
    make_lines(con, [("1", "A", 1.0, T, 3.0, None, "UK"), ("2", "A", 1.0, None, 3.0, "5", "UK")])
    with pytest.raises(InputError) as err:
        clean_sales(con, "empty.csv")
    assert str(err.value) == (
        "empty.csv: every one of the 2 rows was removed by cleaning (missing_customer_id 1, "
        "unparseable_date 1); expected at least one purchase with a customer id, a date, and a positive "
        "quantity and price."
    )


def make_customer_rows(con: duckdb.DuckDBPyConnection, rows: list[tuple]) -> None:
    con.execute(
        "CREATE OR REPLACE TABLE customer_rows (customer_id VARCHAR, country VARCHAR, tenure_days DOUBLE, "
        "features DOUBLE[])"
    )
    con.executemany("INSERT INTO customer_rows VALUES (?, ?, ?, ?)", [list(r) for r in rows])


def test_customer_table_rules() -> None:
    con = duckdb.connect()
    make_customer_rows(
        con,
        [
            ("a", "UK", 10.0, [1.0, 2.0]),
            ("a", "UK", 10.0, [1.0, 2.0]),  # exact duplicate
            ("b", None, None, [3.0, None]),  # missing feature
            (None, "UK", 1.0, [1.0, 1.0]),  # missing id
            ("c", "FR", 5.0, [float("nan"), 1.0]),  # not finite
            ("d", "FR", 5.0, [4.0, 1.0]),
        ],
    )
    steps = clean_customer_rows(con, "people.csv", "ID")
    assert [(s.rule, s.removed, s.rows_left) for s in steps] == [
        ("missing_customer_id", 1, 5),
        ("missing_feature", 2, 3),
        ("exact_duplicate", 1, 2),
    ]
    assert con.execute("SELECT customer_id FROM features ORDER BY 1").fetchall() == [("a",), ("d",)]


def test_customer_table_conflicting_ids_are_bad_input() -> None:
    con = duckdb.connect()
    make_customer_rows(con, [("a", "UK", 1.0, [1.0]), ("a", "UK", 1.0, [2.0])])
    with pytest.raises(InputError) as err:
        clean_customer_rows(con, "people.csv", "ID")
    assert str(err.value) == (
        "people.csv: column 'ID': customer 'a' appears on 2 rows with different values; "
        "expected one row per customer."
    )
