"""File shapes beyond the Online Retail CSV (issue 12): line amounts instead of unit prices, no invoice
column, headerless whitespace-separated logs, decimal commas, title rows, and a date format per file.
Every fixture is a small real file written here."""

from __future__ import annotations

import random
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import xlsxwriter

from segmentation.cli import main
from segmentation.config import RunConfig
from segmentation.errors import InputError
from segmentation.ingest import load_sales
from segmentation.ingest.money import NO_INVOICE_NOTE

UCI_HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"
CDNOW_MAP = ["--map", "customer_id=1", "--map", "invoice_date=2", "--map", "quantity=3"]


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in tmp_path so files are named as a user would type them."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    with duckdb.connect() as connection:
        yield connection


def raises(cfg: RunConfig, con: duckdb.DuckDBPyConnection) -> str:
    with pytest.raises(InputError) as info:
        load_sales(con, cfg)
    return str(info.value)


def cdnow_like(path: Path, customers: int = 60, seed: int = 1) -> pd.DataFrame:
    """A CDNOW-style purchase log (id, yyyymmdd, units, line amount; runs of spaces, no header, no
    invoice), written to path; returns its rows."""
    rng = random.Random(seed)
    prices = [Decimal(p) for p in ("11.77", "12.00", "9.99", "14.96", "13.97", "29.33", "10.00")]
    rows = []
    for cid in range(1, customers + 1):
        days = sorted(rng.sample(range(1, 28), rng.randint(1, 6)))
        for day in days:
            for _ in range(rng.randint(1, 2)):  # two lines on one day are one purchase
                qty = rng.randint(1, 3)
                amount = qty * prices[rng.randrange(len(prices))] + Decimal(rng.randrange(100)) / 100
                rows.append((cid, f"1997{rng.randint(1, 12):02d}{day:02d}", qty, amount))
    rows.append((1, "19970131", 3, Decimal("10.00")))  # 3.3333... a unit: the total stays 10.00
    frame = pd.DataFrame(rows, columns=["customer", "date", "quantity", "amount"]).drop_duplicates()
    text = "".join(f"{c:05d} {d}  {q:d}  {a:>7}\n" for c, d, q, a in frame.itertuples(index=False))
    path.write_text(text)
    return frame


def test_headerless_whitespace_log_with_line_amounts_and_no_invoice(con: duckdb.DuckDBPyConnection) -> None:
    path = Path("cdnow.txt")
    frame = cdnow_like(path)
    cfg = RunConfig(
        inputs=(path,),
        no_header=True,
        column_map={"customer_id": "1", "invoice_date": "2", "quantity": "3", "line_total": "4"},
    )
    result = load_sales(con, cfg)
    assert result.rows_in == len(frame)
    assert result.date_format == "%Y%m%d"
    assert result.notes == (
        "cdnow.txt: columns separated by spaces, no header row, columns numbered from 1",
        NO_INVOICE_NOTE,
    )
    first = con.execute("SELECT invoice, customer_id, quantity, unit_price, line_total FROM lines LIMIT 1")
    c, d, q, a = frame.iloc[0]
    assert first.fetchone() == (f"day {c:05d} 1997-{d[4:6]}-{d[6:]}", f"{c:05d}", q, None, float(a))


def test_line_total_revenue_equals_pandas(tmp_path: Path) -> None:
    path = Path("cdnow.txt")
    frame = cdnow_like(path)
    db = tmp_path / "s.duckdb"
    args = ["run", str(path), *CDNOW_MAP, "--map", "line_total=4", "--no-header", "--db", str(db)]
    assert main([*args, "--k", "3", "--quiet"]) == 0
    with duckdb.connect(str(db), read_only=True) as con:
        stored = con.execute(
            "SELECT customer_id, monetary, frequency FROM customers WHERE run_id = 1 ORDER BY customer_id"
        ).fetchall()
    expected = frame.assign(customer=frame["customer"].map("{:05d}".format)).groupby("customer")
    money = expected["amount"].sum().map(lambda v: v.quantize(Decimal("0.01"), ROUND_HALF_UP))
    days = expected["date"].nunique()  # no invoice column: one purchase per customer and day
    assert stored == [(c, money[c], int(days[c])) for c in sorted(money.index)]


def test_line_total_mapped_as_unit_price_is_refused(con: duckdb.DuckDBPyConnection) -> None:
    path = Path("cdnow.txt")
    cdnow_like(path)
    cfg = RunConfig(
        inputs=(path,),
        no_header=True,
        column_map={"customer_id": "1", "invoice_date": "2", "quantity": "3", "unit_price": "4"},
    )
    message = raises(cfg, con)
    assert message.startswith(
        "cdnow.txt: column '4' read as the unit price looks like a line total (its median on lines of "
        "quantity 2 is "
    )
    assert message.endswith(
        " times that on lines of quantity 1, over all lines, where a price per unit stays about the same); "
        "use --map line_total=4."
    )
    # by its name: a column called Amount is a line's amount
    named = Path("named.csv")
    named.write_text("Customer,Date,Qty,Amount\n7,2011-01-02,2,5.00\n")
    cfg = RunConfig(inputs=(named,), column_map={"unit_price": "Amount"})
    assert raises(cfg, con) == (
        "named.csv: --map unit_price=Amount names a line's amount, not a price per unit; use --map "
        "line_total=Amount (unit price = amount / quantity)."
    )


def test_unit_price_and_line_total_together(con: duckdb.DuckDBPyConnection) -> None:
    path = Path("both.csv")
    path.write_text(
        "Customer,Date,Qty,Price,Total\n"
        "7,2011-01-02,3,3.33,10.00\n"  # the total is what was paid
        "7,2011-01-03,0,2.00,5.00\n"  # quantity 0: removed by rule 6, its money counted
    )
    cfg = RunConfig(inputs=(path,), column_map={"unit_price": "Price", "line_total": "Total"})
    load_sales(con, cfg)
    assert con.execute("SELECT quantity, unit_price, line_total FROM lines").fetchall() == [
        (3.0, 3.33, 10.0),
        (0.0, 2.0, 5.0),
    ]
    path.write_text("Customer,Date,Qty,Price,Total\n7,2011-01-02,3,10.00,10.00\n8,2011-01-02,2,4,4\n")
    assert raises(cfg, con) == (
        "both.csv: columns 'Price' (unit price) and 'Total' (line total) disagree on 2 of 2 lines "
        "(e.g. 3 x 10 is not 10); map only the one you trust."
    )


def test_semicolon_decimal_comma_file(con: duckdb.DuckDBPyConnection) -> None:
    path = Path("export.csv")
    path.write_bytes(
        (
            UCI_HEADER.replace(",", ";") + "\r\n"
            "536365;85123A;Tasse;6;01.12.2010 08:26;2,55;17850;Deutschland\r\n"
            "536366;22633;Lampe;1;13.12.2010 08:28;1.234,56;17850;Deutschland\r\n"
            "536367;22634;Stuhl;2;14.12.2010 09:00;3;17851;Österreich\r\n"
        ).encode("cp1252")
    )
    result = load_sales(con, RunConfig(inputs=(path,)))
    assert result.date_format == "%d.%m.%Y %H:%M"
    assert result.notes == ("export.csv: decimal commas",)
    assert con.execute("SELECT unit_price, country FROM lines ORDER BY rowid").fetchall() == [
        (2.55, "Deutschland"),
        (1234.56, "Deutschland"),
        (3.0, "Österreich"),
    ]
    # forced: a value with a decimal point is then not a number, never 255
    path.write_text(UCI_HEADER + "\n1,A,x,2,2011-01-02,2.55,7,UK\n")
    assert raises(RunConfig(inputs=(path,), decimal=","), con) == (
        "export.csv: column 'UnitPrice', line 2: expected a number, got '2.55'."
    )


def test_title_rows_above_the_header(con: duckdb.DuckDBPyConnection) -> None:
    body = UCI_HEADER + "\n1,A,x,2,2011-01-02 10:00:00,2.5,7,UK\n"
    path = Path("titled.csv")
    path.write_text("Sales report, all shops\nexported 2011-02-01\n\n" + body)
    result = load_sales(con, RunConfig(inputs=(path,)))
    assert result.notes == ("titled.csv: header on line 4",)
    assert con.execute("SELECT invoice, unit_price FROM lines").fetchall() == [("1", 2.5)]
    # --skip-rows says it instead
    load_sales(con, RunConfig(inputs=(path,), skip_rows=2))
    assert con.execute("SELECT invoice, unit_price FROM lines").fetchall() == [("1", 2.5)]
    assert raises(RunConfig(inputs=(path,), skip_rows=9), con) == (
        "titled.csv: --skip-rows 9 skips every line of the file."
    )
    # a bad value names its line in the file, title rows counted
    path.write_text("Sales report\n" + body.replace(",2.5,", ",two,"))
    assert raises(RunConfig(inputs=(path,)), con) == (
        "titled.csv: column 'UnitPrice', line 3: expected a number, got 'two'."
    )


def test_title_row_in_a_sheet(con: duckdb.DuckDBPyConnection) -> None:
    path = Path("book.xlsx")
    book = xlsxwriter.Workbook(path)
    sheet = book.add_worksheet("Sales")
    sheet.write_row(0, 0, ["Sales 2011"])
    sheet.write_row(2, 0, UCI_HEADER.split(","))
    sheet.write_row(3, 0, ["1", "A", "x", 2, "2011-01-02 10:00:00", 2.5, 7, "UK"])
    book.close()
    load_sales(con, RunConfig(inputs=(path,)))
    assert con.execute("SELECT invoice, quantity, unit_price FROM lines").fetchall() == [("1", 2.0, 2.5)]


def test_forced_whitespace_delimiter_and_positions(con: duckdb.DuckDBPyConnection) -> None:
    path = Path("log.txt")
    path.write_text("Customer  Day       Units  Paid\n7  19970101  2  5.00\n8  19970102  1  1.50\n")
    cfg = RunConfig(
        inputs=(path,),
        delimiter="whitespace",
        column_map={
            "customer_id": "Customer",
            "invoice_date": "Day",
            "quantity": "Units",
            "line_total": "Paid",
        },
    )
    load_sales(con, cfg)
    assert con.execute("SELECT customer_id, quantity, line_total FROM lines").fetchall() == [
        ("7", 2.0, 5.0),
        ("8", 1.0, 1.5),
    ]
    headerless = Path("bare.txt")
    headerless.write_text("7 19970101 2 5.00\n")
    cfg = RunConfig(
        inputs=(headerless,),
        no_header=True,
        column_map={"customer_id": "1", "invoice_date": "2", "quantity": "3", "line_total": "7"},
    )
    assert raises(cfg, con) == (
        "bare.txt: --map line_total=7: expected a column position from 1 to 4 (with --no-header, columns are "
        "numbered from 1)."
    )


def test_two_files_with_their_own_date_formats(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = random.Random(3)
    iso, us = [UCI_HEADER], [UCI_HEADER]
    for c in range(40):
        for i in range(3):
            day = f"2010-0{1 + i}-{10 + c % 15} 10:00:00"
            iso.append(f"{c}{i}0,A{i},x,{1 + i},{day},{rng.randint(1, 9)}.5,{c},UK")
            us.append(f"{c}{i}1,B{i},y,{2 + i},12/{1 + c % 28}/2010 8:26,{rng.randint(1, 9)}.25,{c},UK")
    Path("2010a.csv").write_text("\n".join(iso) + "\n")
    Path("2010b.csv").write_text("\n".join(us) + "\n")
    db = tmp_path / "s.duckdb"
    assert main(["run", "2010a.csv", "2010b.csv", "--db", str(db), "--k", "3", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "dates read as 2010a.csv: %Y-%m-%d %H:%M:%S; 2010b.csv: %m/%d/%Y %H:%M" in out
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT date_format FROM runs").fetchone() == (
            "2010a.csv: %Y-%m-%d %H:%M:%S; 2010b.csv: %m/%d/%Y %H:%M",
        )


def test_report_prints_how_the_input_was_read(
    small_run: tuple[Path, object], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from segmentation import report

    assert "Read: " not in report.format_run(small_run[1])  # a plain table: nothing to say
    rows = ["CustomerID,InvoiceDate,Quantity,UnitPrice"]
    rows += [f"{c},2011-0{1 + d}-1{c % 9},{1 + c % 3},{2 + c % 5}.5" for c in range(1, 41) for d in range(3)]
    Path("noinvoice.csv").write_text("\n".join(rows) + "\n")
    assert main(["run", "noinvoice.csv", "--db", str(tmp_path / "n.duckdb"), "--k", "3", "--quiet"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[2] == "Read: no invoice column: one purchase per customer and day"


def test_map_several_columns_in_one_flag(con: duckdb.DuckDBPyConnection) -> None:
    path = Path("bare.txt")
    path.write_text("7 19970101 2 5.00\n")
    cfg = RunConfig(
        inputs=(path,), no_header=True, column_map={"customer_id": "1,invoice_date=2,quantity=3,line_total=4"}
    )
    load_sales(con, cfg)
    assert con.execute("SELECT customer_id, quantity, line_total FROM lines").fetchall() == [("7", 2.0, 5.0)]


def test_sheet_without_header_or_with_rows_to_skip(con: duckdb.DuckDBPyConnection) -> None:
    path = Path("bare.xlsx")
    book = xlsxwriter.Workbook(path)
    sheet = book.add_worksheet("Log")
    sheet.write_row(0, 0, ["7", "2011-01-02", 2, 5.0])
    sheet.write_row(1, 0, ["8", "2011-01-03", 1, 1.5])
    titled = book.add_worksheet("Titled")
    titled.write_row(0, 0, ["Export"])
    titled.write_row(1, 0, ["7", "2011-01-02", 2, 5.0])
    book.close()
    mapping = {"customer_id": "1", "invoice_date": "2", "quantity": "3", "line_total": "4"}
    load_sales(con, RunConfig(inputs=(path,), no_header=True, column_map=mapping))
    assert con.execute("SELECT customer_id, quantity, line_total FROM lines ORDER BY rowid").fetchall() == [
        ("7", 2.0, 5.0),
        ("8", 1.0, 1.5),
        ("Export", None, None),  # the second sheet's title row is data without --skip-rows ...
        ("7", 2.0, 5.0),
    ]
    load_sales(con, RunConfig(inputs=(path,), no_header=True, skip_rows=1, column_map=mapping))
    assert con.execute("SELECT customer_id FROM lines ORDER BY rowid").fetchall() == [("8",), ("7",)]


def test_customer_table_with_decimal_commas_and_no_header(con: duckdb.DuckDBPyConnection) -> None:
    from segmentation.ingest import load_customer_table

    path = Path("people.csv")
    path.write_text("Kundenliste\nID;Umsatz;Besuche\n1;1.234,50;3\n2;99,95;1\n")
    load_customer_table(con, RunConfig(inputs=(path,), id_column="ID", feature_columns=("Umsatz", "Besuche")))
    assert con.execute("SELECT customer_id, features FROM customer_rows").fetchall() == [
        ("1", [1234.5, 3.0]),
        ("2", [99.95, 1.0]),
    ]
    path.write_text("1;1.234,50;3\n2;99,95;1\n")
    cfg = RunConfig(inputs=(path,), id_column="1", feature_columns=("2", "3"), no_header=True)
    load_customer_table(con, cfg)
    assert con.execute("SELECT customer_id, features FROM customer_rows").fetchall() == [
        ("1", [1234.5, 3.0]),
        ("2", [99.95, 1.0]),
    ]


def test_european_export_runs_end_to_end(tmp_path: Path) -> None:
    rng = random.Random(5)
    rows = []
    for c in range(30):
        for i in range(3):
            qty = rng.randint(1, 4)
            euros, cents = rng.randint(0, 1500), rng.randint(0, 99)
            price = (
                f"{euros // 1000}.{euros % 1000:03d},{cents:02d}" if euros >= 1000 else f"{euros},{cents:02d}"
            )
            day = f"{1 + (c + i) % 28:02d}.{1 + i:02d}.2011 1{i}:15"
            rows.append(
                (
                    f"{5000 + c * 3 + i}",
                    f"K{i}",
                    "Tasse für Kaffee",
                    qty,
                    day,
                    price,
                    f"{200 + c}",
                    "Österreich",
                )
            )
    header = "Rechnung;Artikel;Beschreibung;Menge;Datum;Preis;Kunde;Land"
    text = "Export aus der Warenwirtschaft\r\n" + header + "\r\n"
    text += "".join(";".join(map(str, r)) + "\r\n" for r in rows)
    path = Path("export.csv")
    path.write_bytes(text.encode("cp1252"))
    db = tmp_path / "s.duckdb"
    mapping = ["invoice=Rechnung", "stock_code=Artikel", "quantity=Menge", "invoice_date=Datum"]
    mapping += ["unit_price=Preis", "customer_id=Kunde", "country=Land"]
    args = ["run", str(path), *(x for m in mapping for x in ("--map", m)), "--db", str(db), "--k", "3"]
    assert main([*args, "--quiet", "--outlier-factor", "0"]) == 0
    frame = pd.DataFrame(rows, columns=["inv", "code", "desc", "qty", "day", "price", "customer", "land"])
    frame["money"] = [
        q * Decimal(p.replace(".", "").replace(",", ".")) for q, p in zip(frame.qty, frame.price, strict=True)
    ]
    expected = (
        frame.groupby("customer")["money"].sum().map(lambda v: v.quantize(Decimal("0.01"), ROUND_HALF_UP))
    )
    with duckdb.connect(str(db), read_only=True) as con:
        stored = dict(con.execute("SELECT customer_id, monetary FROM customers WHERE run_id = 1").fetchall())
        assert con.execute("SELECT date_format FROM runs").fetchone() == ("%d.%m.%Y %H:%M",)
    assert stored == expected.to_dict()


def test_returns_in_a_file_of_line_totals(con: duckdb.DuckDBPyConnection) -> None:
    from segmentation import features as feat
    from segmentation.clean import clean_sales

    path = Path("totals.csv")
    path.write_text(
        "Invoice,Code,Customer,Date,Qty,Total\n"
        "1,X,7,2011-01-02,3,10.00\n"  # 3.3333 a unit
        "C2,X,7,2011-01-05,-1,-3.33\n"  # a return of one unit
        "3,Y,7,2011-01-06,0,4.00\n"  # quantity 0: rule 6, counted with its total
        "4,Y,8,2011-01-06,2,5.00\n"
    )
    mapping = {"invoice": "Invoice", "stock_code": "Code", "quantity": "Qty", "line_total": "Total"}
    load_sales(con, RunConfig(inputs=(path,), column_map=mapping))
    cleaning = clean_sales(con, "totals.csv", outlier_factor=0)
    assert cleaning.money_in == Decimal("15.67")  # 10.00 - 1 x 3.33 + 4.00 + 5.00
    assert {s.rule: (s.removed, s.money) for s in cleaning.steps}["non_positive"] == (1, Decimal("4.00"))
    frame = feat.sales_features(con, None, "totals.csv").frame.set_index("customer_id")
    assert frame.loc["7", "monetary"] == 6.67  # 10.00 less one unit at 3.33
    assert frame.loc["8", "monetary"] == 5.0


def test_decimal_flag_is_for_text_files(con: duckdb.DuckDBPyConnection) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    text = Path("eu.csv")
    text.write_text(UCI_HEADER.replace(",", ";") + "\n1;A;x;2;2011-01-02;2,55;7;AT\n")
    table = pa.table(
        {
            h: [v]
            for h, v in zip(
                UCI_HEADER.split(","), ["2", "A", "x", 3, "2011-01-03", 1.5, "8", "AT"], strict=True
            )
        }
    )
    pq.write_table(table, "more.parquet")
    load_sales(con, RunConfig(inputs=(text, Path("more.parquet")), decimal=","))
    assert con.execute("SELECT unit_price FROM lines ORDER BY rowid").fetchall() == [(2.55,), (1.5,)]


def test_skip_rows_past_the_header_search(con: duckdb.DuckDBPyConnection) -> None:
    path = Path("long.csv")
    path.write_text("note\n" * 150 + UCI_HEADER + "\n1,A,x,2,2011-01-02 10:00:00,2.5,7,UK\n")
    load_sales(con, RunConfig(inputs=(path,), skip_rows=150))
    assert con.execute("SELECT invoice, unit_price FROM lines").fetchall() == [("1", 2.5)]
    path.write_text(path.read_text().replace(",2.5,", ",x,"))
    assert raises(RunConfig(inputs=(path,), skip_rows=150), con) == (
        "long.csv: column 'UnitPrice', line 152: expected a number, got 'x'."
    )
