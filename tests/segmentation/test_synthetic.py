"""The synthetic sales-line generator: layout, determinism, realism knobs and bad arguments."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from segmentation.errors import InputError
from segmentation.synthetic import COUNTRIES, GenerateSummary, generate

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"
EXPECTED_TYPES = [
    ("InvoiceNo", "VARCHAR"),
    ("StockCode", "VARCHAR"),
    ("Description", "VARCHAR"),
    ("Quantity", "BIGINT"),
    ("InvoiceDate", "TIMESTAMP"),
    ("UnitPrice", "DOUBLE"),
    ("CustomerID", "BIGINT"),
    ("Country", "VARCHAR"),
]


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GenerateSummary]:
    """300 customers, seed 0, as CSV."""
    path = tmp_path_factory.mktemp("synthetic") / "sales.csv"
    return path, generate(path, 300, seed=0)


def lines_of(path: Path) -> duckdb.DuckDBPyConnection:
    """A connection with the CSV as table t, read with a pinned dialect (no sniffing surprises)."""
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE t AS SELECT * FROM read_csv(?, header = true, delim = ',', quote = '\"', "
        "strict_mode = true)",
        [str(path)],
    )
    return con


def test_header_and_columns(small: tuple[Path, GenerateSummary]) -> None:
    path, _ = small
    with open(path, encoding="utf-8", newline="") as fh:
        assert fh.readline() == HEADER + "\n"
        assert "\r" not in fh.read()
    con = lines_of(path)
    assert con.execute("SELECT column_name, column_type FROM (DESCRIBE t)").fetchall() == EXPECTED_TYPES


def test_summary_counts_the_lines(small: tuple[Path, GenerateSummary]) -> None:
    path, summary = small
    assert summary.path == path and summary.customers == 300 and summary.seconds > 0
    assert lines_of(path).execute("SELECT count(*) FROM t").fetchone()[0] == summary.lines
    assert summary.lines == path.read_text(encoding="utf-8").count("\n") - 1


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "c.csv"
    generate(a, 300, seed=7)
    generate(b, 300, seed=7)
    generate(c, 300, seed=8)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()


def test_about_25_lines_per_customer(tmp_path: Path) -> None:
    summary = generate(tmp_path / "s.csv", 3000, seed=1)
    assert 22 <= summary.lines / 3000 <= 28


def test_share_of_missing_ids(small: tuple[Path, GenerateSummary], tmp_path: Path) -> None:
    path, _ = small
    share = lines_of(path).execute("SELECT avg((CustomerID IS NULL)::INT) FROM t").fetchone()[0]
    assert share == pytest.approx(0.2, abs=0.03)
    for wanted in (0.0, 0.5):
        out = generate(tmp_path / f"m{wanted}.csv", 300, missing_id_share=wanted).path
        share = lines_of(out).execute("SELECT avg((CustomerID IS NULL)::INT) FROM t").fetchone()[0]
        assert share == pytest.approx(wanted, abs=0.03)


def test_guest_invoices_have_no_customer_at_all(small: tuple[Path, GenerateSummary]) -> None:
    con = lines_of(small[0])
    mixed = con.execute(
        "SELECT count(*) FROM (SELECT InvoiceNo FROM t GROUP BY 1 "
        "HAVING count(CustomerID) NOT IN (0, count(*)) OR count(DISTINCT CustomerID) > 1)"
    ).fetchone()[0]
    assert mixed == 0


def test_cancellations_return_earlier_lines(small: tuple[Path, GenerateSummary]) -> None:
    con = lines_of(small[0])
    cancel_invoices, cancel_lines, positive = con.execute(
        "SELECT count(DISTINCT InvoiceNo), count(*), count(*) FILTER (WHERE Quantity >= 0) "
        "FROM t WHERE InvoiceNo LIKE 'C%'"
    ).fetchone()
    assert cancel_invoices >= 5 and positive == 0
    assert (
        con.execute("SELECT count(*) FROM t WHERE InvoiceNo NOT LIKE 'C%' AND Quantity <= 0").fetchone()[0]
        == 0
    )
    orphans = con.execute(
        "SELECT count(*) FROM t c WHERE c.InvoiceNo LIKE 'C%' AND NOT EXISTS (SELECT 1 FROM t p "
        "WHERE p.CustomerID = c.CustomerID AND p.StockCode = c.StockCode AND p.InvoiceNo NOT LIKE 'C%' "
        "AND p.InvoiceDate < c.InvoiceDate AND p.Quantity >= -c.Quantity)"
    ).fetchone()[0]
    assert cancel_lines > 0 and orphans == 0


def test_invoice_numbers_increase_with_time(small: tuple[Path, GenerateSummary]) -> None:
    con = lines_of(small[0])
    first, disorder, split = con.execute(
        "WITH inv AS (SELECT replace(InvoiceNo, 'C', '')::INT AS num, min(InvoiceDate) AS d, "
        "count(DISTINCT InvoiceDate) AS dates FROM t GROUP BY InvoiceNo) "
        "SELECT min(num), count(*) FILTER (WHERE d < prev), count(*) FILTER (WHERE dates > 1) "
        "FROM (SELECT *, lag(d) OVER (ORDER BY num) AS prev FROM inv)"
    ).fetchone()
    assert (first, disorder, split) == (536365, 0, 0)


def test_several_countries_uk_first(small: tuple[Path, GenerateSummary]) -> None:
    con = lines_of(small[0])
    rows = con.execute(
        "SELECT Country, count(DISTINCT CustomerID) AS n FROM t GROUP BY 1 ORDER BY n DESC"
    ).fetchall()
    names = {name for name, _ in COUNTRIES}
    assert len(rows) >= 4 and {country for country, _ in rows} <= names
    assert rows[0][0] == "United Kingdom" and 0.7 <= rows[0][1] / 300 <= 0.95


def test_dates_inside_window_opening_hours_no_saturdays(tmp_path: Path) -> None:
    start, days = date(2011, 3, 1), 120
    con = lines_of(generate(tmp_path / "w.csv", 300, start=start, days=days).path)
    low, high, early, late, saturdays = con.execute(
        "SELECT min(InvoiceDate), max(InvoiceDate), min(hour(InvoiceDate)), max(hour(InvoiceDate)), "
        "count(*) FILTER (WHERE dayofweek(InvoiceDate) = 6) FROM t"
    ).fetchone()
    assert low.date() >= start and high.date() < start + timedelta(days=days)
    assert (early >= 7, late <= 20, saturdays) == (True, True, 0)


def test_personas_show_in_customer_features(tmp_path: Path) -> None:
    con = lines_of(generate(tmp_path / "p.csv", 2000, seed=3).path)
    con.execute(
        "CREATE TABLE f AS SELECT CustomerID, date_diff('day', max(InvoiceDate), $end) AS recency, "
        "date_diff('day', min(InvoiceDate), $end) AS tenure, count(DISTINCT InvoiceNo) AS invoices "
        "FROM t WHERE CustomerID IS NOT NULL AND InvoiceNo NOT LIKE 'C%' GROUP BY 1",
        {"end": date(2012, 12, 1)},  # the default window: 730 days from 2010-12-01
    )
    frequent_recent, one_off_old, new, lapsed = con.execute(
        "SELECT avg((invoices >= 6 AND recency <= 31)::INT), avg((invoices = 1 AND recency > 240)::INT), "
        "avg((tenure <= 61)::INT), avg((invoices >= 4 AND recency > 180)::INT) FROM f"
    ).fetchone()
    assert frequent_recent > 0.03 and one_off_old > 0.15 and new > 0.08 and lapsed > 0.05
    assert con.execute("SELECT count(*) FROM f").fetchone()[0] == 2000


def test_duplicates_zero_prices_and_quoted_descriptions(tmp_path: Path) -> None:
    con = lines_of(generate(tmp_path / "d.csv", 3000, seed=2).path)
    total, distinct, zero, with_comma, codes = con.execute(
        "SELECT count(*), (SELECT count(*) FROM (SELECT DISTINCT * FROM t)), "
        "count(*) FILTER (WHERE UnitPrice = 0), count(*) FILTER (WHERE Description LIKE '%,%'), "
        "count(DISTINCT StockCode) FROM t"
    ).fetchone()
    assert 0.003 <= (total - distinct) / total <= 0.02
    assert 0 < zero < 50 and with_comma > 0 and codes > 1000


def test_parquet_matches_csv(tmp_path: Path) -> None:
    csv_path, parquet_path = tmp_path / "s.csv", tmp_path / "s.parquet"
    csv_summary = generate(csv_path, 300, seed=5)
    parquet_summary = generate(parquet_path, 300, seed=5)
    table = pq.read_table(parquet_path)
    assert table.column_names == HEADER.split(",")
    assert table.schema.field("CustomerID").type == pa.int64()
    assert table.schema.field("InvoiceDate").type == pa.timestamp("us")
    assert table.num_rows == parquet_summary.lines == csv_summary.lines
    assert table.column("CustomerID").null_count > 0
    differ = (
        duckdb.connect()
        .execute(
            "SELECT count(*) FROM (SELECT * FROM read_csv(?) EXCEPT ALL SELECT * FROM read_parquet(?))",
            [str(csv_path), str(parquet_path)],
        )
        .fetchone()[0]
    )
    assert differ == 0


def test_progress_is_reported(tmp_path: Path) -> None:
    messages: list[str] = []
    generate(tmp_path / "g.csv", 50, progress=messages.append)
    assert messages and all(m.startswith(str(tmp_path / "g.csv")) for m in messages)


def test_bad_suffix(tmp_path: Path) -> None:
    out = tmp_path / "sales.xlsx"
    with pytest.raises(InputError) as err:
        generate(out, 10)
    assert str(err.value) == f"{out}: expected a file name ending in .csv or .parquet."
    assert not out.exists()


def test_no_customers(tmp_path: Path) -> None:
    out = tmp_path / "sales.csv"
    with pytest.raises(InputError) as err:
        generate(out, 0)
    assert str(err.value) == f"{out}: expected at least 1 customer, got 0."
    assert not out.exists()


def test_bad_window_and_share(tmp_path: Path) -> None:
    out = tmp_path / "sales.parquet"
    with pytest.raises(InputError) as err:
        generate(out, 10, days=0)
    assert str(err.value) == f"{out}: expected a window of at least 1 day, got 0."
    with pytest.raises(InputError) as err:
        generate(out, 10, missing_id_share=1.0)
    assert str(err.value) == f"{out}: expected a missing CustomerID share in [0, 1), got 1.0."
