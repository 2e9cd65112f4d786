"""Cleaning rules: each counted, in order, adding up to the input; returns set aside, not purchases."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import duckdb
import pytest

from segmentation import features as feat
from segmentation.clean import clean_customer_rows, clean_sales
from segmentation.errors import InputError

T = datetime(2011, 3, 1, 10, 0)


def at(day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(2011, 3, day, hour, minute)


# invoice, stock, quantity, ts, price, customer, country: the real patterns of the UCI Online Retail file
LINES = [
    # customer 1 (like 16446): two small purchases, then 80,995 units bought and cancelled 12 minutes later
    ("1001", "A", 1.0, at(1), 1.65, "1", "UK"),
    ("1001", "G", 1.0, at(1), 1.25, "1", "UK"),
    ("1002", "BIG", 80995.0, at(9, 9, 15), 2.08, "1", "UK"),
    ("C1003", "BIG", -80995.0, at(9, 9, 27), 2.08, "1", "UK"),
    # customer 2: a return of an earlier purchase, a return of something never bought here, a return of
    # more than is left (2 of its 8 units unmatched), postage, and a later purchase
    ("2001", "A", 10.0, at(2), 3.0, "2", "France"),
    ("C2002", "A", -4.0, at(3), 3.0, "2", "France"),
    ("C2003", "Z", -5.0, at(3), 2.0, "2", "France"),
    ("C2004", "a ", -8.0, at(4), 3.0, "2", "France"),  # stock codes compare trimmed and upper-cased
    ("2005", "POST", 1.0, at(2), 18.0, "2", "France"),
    ("2006", "C", 2.0, at(5), 5.0, "2", "France"),
    # customer 3: only non-product lines (postage, dotcom postage)
    ("3001", "POST", 1.0, at(2), 40.0, "3", "UK"),
    ("3001", "DOT", 1.0, at(2), 5.0, "3", "UK"),
    # customer 4: a bad-debt adjustment, an exact duplicate, a zero price
    ("A4001", "B", 1.0, at(2), -500.0, "4", "UK"),
    ("4002", "A", 5.0, at(2), 2.0, "4", "UK"),
    ("4002", "A", 5.0, at(2), 2.0, "4", "UK"),
    ("4003", "E", 3.0, at(3), 0.0, "4", "UK"),
    # customer 5: an extreme purchase, part of it returned later, and a normal purchase
    ("5001", "A", 100000.0, at(2), 1.0, "5", "UK"),
    ("C5002", "A", -10.0, at(4), 1.0, "5", "UK"),
    ("5003", "G", 2.0, at(5), 4.0, "5", "UK"),
    ("6001", "A", 1.0, T, 3.0, None, "UK"),  # missing customer
    ("6002", "A", 1.0, None, 3.0, "6", "UK"),  # unparseable date
] + [(str(7000 + i), f"F{i % 5}", float(1 + i % 10), at(6, 8, i % 60), 2.0, "7", "UK") for i in range(200)]


def make_lines(con: duckdb.DuckDBPyConnection, rows: list[tuple]) -> None:
    con.execute(
        "CREATE OR REPLACE TABLE lines (invoice VARCHAR, stock_code VARCHAR, description VARCHAR, "
        "quantity DOUBLE, invoice_ts TIMESTAMP, unit_price DOUBLE, customer_id VARCHAR, country VARCHAR, "
        "line_total DOUBLE)"
    )
    con.executemany("INSERT INTO lines VALUES (?, ?, 'thing', ?, ?, ?, ?, ?, NULL)", [list(r) for r in rows])


def test_each_rule_counts_lines_customers_and_money_and_they_add_up() -> None:
    con = duckdb.connect()
    make_lines(con, LINES)
    result = clean_sales(con, "real-patterns.csv")
    table = [(s.rule, s.removed, s.rows_left, s.customers, s.customers_lost, s.money) for s in result.steps]
    assert table == [
        ("missing_customer_id", 1, 220, 0, 0, Decimal("3")),
        ("unparseable_date", 1, 219, 1, 1, Decimal("3")),
        ("exact_duplicate", 1, 218, 1, 0, Decimal("10")),
        ("non_product", 4, 214, 3, 1, Decimal("-437")),  # 18 + 40 + 5 - 500; customer 3 lost
        ("non_positive", 1, 213, 1, 0, Decimal("0")),
        ("unmatched_return", 1, 212, 1, 0, Decimal("-16")),  # C2003 whole (-10), 2 units of C2004 (-6)
        ("extreme_outlier", 1, 211, 1, 0, Decimal("100000")),
        ("return_of_removed_purchase", 1, 210, 1, 0, Decimal("-10")),
    ]
    assert result.money_in == Decimal("101783.90")
    assert result.money_kept == Decimal("2230.90")
    assert sum(s.money for s in result.steps) + result.money_kept == result.money_in
    assert sum(s.removed for s in result.steps) + result.steps[-1].rows_left == len(LINES)
    description = result.steps[6].description
    assert description == (
        "purchase whose net quantity is above 200 or unit price above 58.71 (20 x the 99th percentile)"
    )


def features_of(con: duckdb.DuckDBPyConnection) -> dict[str, dict]:
    frame = feat.sales_features(con, None, "real-patterns.csv").frame
    return frame.set_index("customer_id").to_dict("index")


def test_features_net_returns_against_what_they_return() -> None:
    con = duckdb.connect()
    make_lines(con, LINES)
    clean_sales(con, "real-patterns.csv")
    rows = features_of(con)
    assert sorted(rows) == ["1", "2", "4", "5", "7"]
    one = rows["1"]  # the cancelled big order nets to zero and still counts as an order placed
    assert (one["monetary"], one["frequency"], one["quantity"], one["distinct_products"]) == (2.90, 2, 2.0, 2)
    assert one["last_purchase"] == at(9, 9, 15) and one["recency_days"] == 1
    assert one["avg_basket_value"] == 1.45 and one["return_rate"] == 1.0  # 168,469.60 of 168,472.50
    two = rows["2"]  # 30 - 12 - 18 (6 of C2004's 8 units) + 10
    assert (two["monetary"], two["frequency"], two["quantity"], two["distinct_products"]) == (10.0, 2, 2.0, 1)
    assert two["return_rate"] == 0.75 and two["avg_basket_value"] == 5.0
    assert rows["4"]["monetary"] == 10.0 and rows["4"]["frequency"] == 1
    five = rows["5"]  # the outlier and its return are both gone
    assert (five["monetary"], five["frequency"], five["return_rate"]) == (8.0, 1, 0.0)
    assert rows["7"]["monetary"] == 2200.0
    assert all(r["monetary"] >= 0 for r in rows.values())


def test_return_before_the_purchase_does_not_match_it() -> None:
    con = duckdb.connect()
    make_lines(
        con,
        [
            ("C1", "A", -2.0, at(1), 5.0, "1", "UK"),  # returns something bought before the data starts
            ("2", "A", 2.0, at(2), 5.0, "1", "UK"),
            ("C3", "A", -1.0, at(3), 5.0, "1", "UK"),
        ],
    )
    steps = clean_sales(con, "order.csv", outlier_factor=0).steps
    unmatched = next(s for s in steps if s.rule == "unmatched_return")
    assert (unmatched.removed, unmatched.money) == (1, Decimal("-10"))
    assert features_of(con)["1"]["monetary"] == 5.0


def test_non_product_codes_can_be_changed_or_turned_off() -> None:
    con = duckdb.connect()
    make_lines(con, LINES)
    steps = clean_sales(con, "x.csv", non_product_codes=("post",)).steps
    rule = next(s for s in steps if s.rule == "non_product")
    assert (rule.removed, rule.money, rule.description) == (
        2,
        Decimal("58"),
        "non-product line (stock code POST)",
    )
    steps = clean_sales(con, "x.csv", non_product_codes=()).steps
    assert next(s for s in steps if s.rule == "non_product").removed == 0


def test_snapshot_date_removes_later_lines_as_a_counted_step() -> None:
    con = duckdb.connect()
    make_lines(con, LINES)
    steps = clean_sales(con, "tiny.csv", snapshot=date(2011, 3, 6)).steps
    late = next(s for s in steps if s.rule == "after_snapshot")
    assert (late.removed, late.customers, late.customers_lost) == (202, 2, 1)  # customer 1's two, all of 7's
    assert late.money == Decimal("2200")  # the big order and its cancellation cancel out
    assert sum(s.removed for s in steps) + steps[-1].rows_left == len(LINES)


def test_money_is_exact_and_the_same_every_run() -> None:
    rows = [
        (str(i), f"S{i % 7}", 3.0, at(1 + i % 20), 0.1 + (i % 9) / 100, str(i % 50), "UK")
        for i in range(5000)
    ]
    runs = []
    for _ in range(2):
        con = duckdb.connect()
        make_lines(con, rows)
        clean_sales(con, "cents.csv")
        frame = feat.sales_features(con, None, "cents.csv").frame
        runs.append(frame[["customer_id", "monetary", "avg_basket_value"]].to_records(index=False).tolist())
    assert runs[0] == runs[1]
    exact = {}
    for _, _, qty, _, price, customer, _ in rows:
        exact[customer] = exact.get(customer, Decimal(0)) + Decimal(str(qty)) * Decimal(str(price))
    assert {c: m for c, m, _ in runs[0]} == {c: float(v.quantize(Decimal("0.01"))) for c, v in exact.items()}


def test_extreme_outlier_rule_uses_the_stated_percentile_limit() -> None:
    con = duckdb.connect()
    rows = [(str(2000 + i), "A", float(1 + i % 10), T, 2.0, str(i % 7), "UK") for i in range(200)]
    rows.append(("3000", "A", 100000.0, T, 2.0, "1", "UK"))
    rows.append(("3001", "G", 1.0, T, 9999.0, "2", "UK"))
    make_lines(con, rows)
    steps = clean_sales(con, "big.csv", outlier_factor=20).steps
    outlier = next(s for s in steps if s.rule == "extreme_outlier")
    assert outlier.removed == 2 and outlier.money == Decimal("209999")
    assert outlier.description == (
        "purchase whose net quantity is above 200 or unit price above 40.00 (20 x the 99th percentile)"
    )
    steps = clean_sales(con, "big.csv", outlier_factor=0).steps
    assert next(s for s in steps if s.rule == "extreme_outlier").removed == 0


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
