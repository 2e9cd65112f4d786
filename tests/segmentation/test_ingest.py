"""Ingest: every layout, encoding and format lands as the same typed table; bad input is one sentence."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import struct
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import xlsxwriter

from segmentation.config import RunConfig
from segmentation.errors import InputError
from segmentation.ingest import file_sha256, load_customer_table, load_sales

UCI_HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"
II_HEADER = "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country"
LINES_SCHEMA = [
    ("invoice", "VARCHAR"),
    ("stock_code", "VARCHAR"),
    ("description", "UBIGINT"),  # a hash of the text: only exact-duplicate detection reads it
    ("quantity", "DOUBLE"),
    ("invoice_ts", "TIMESTAMP"),
    ("unit_price", "DOUBLE"),
    ("customer_id", "VARCHAR"),
    ("country", "VARCHAR"),
    ("line_total", "DOUBLE"),  # the line's money when the file gives it (--map line_total=...)
]


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in tmp_path so files are named as a user would type them ('sales.csv')."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    with duckdb.connect() as connection:
        yield connection


def write(name: str, text: str, encoding: str = "utf-8") -> Path:
    path = Path(name)
    path.write_bytes(text.encode(encoding))
    return path


def sales(*paths: Path, **kwargs: object) -> RunConfig:
    return RunConfig(inputs=tuple(paths), **kwargs)  # type: ignore[arg-type]


def rows(
    con: duckdb.DuckDBPyConnection, sql: str = "SELECT * EXCLUDE (line_total) FROM lines ORDER BY rowid"
) -> list[tuple]:
    return con.execute(sql).fetchall()


def h(text: str | None) -> int:
    """The description column's value for `text`: DuckDB's 64-bit hash of it (of NULL when missing)."""
    # fetchall: DuckDB refuses new work on the shared default connection while a result is unfinished
    row = duckdb.execute("SELECT hash(?::VARCHAR)", [text]).fetchall()[0]
    assert row is not None
    return int(row[0])


def raises(call, *args: object) -> str:
    with pytest.raises(InputError) as info:
        call(*args)
    return str(info.value)


# --- transactions: layouts and encodings ------------------------------------------------------------


def test_uci_latin1_month_first_dates(con: duckdb.DuckDBPyConnection) -> None:
    path = write(
        "sales.csv",
        UCI_HEADER + "\n"
        "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,12/1/2010 8:26,2.55,17850.0,United Kingdom\n"
        "536366,22633,HAND WARMER UNION JACK £,6,12/1/2010 8:28,1.85,17850.0,United Kingdom\n"
        "C536379,D,Discount,-1,12/1/2010 9:41,27.5,,United Kingdom\n"
        "536380,22961,JAM MAKING SET PRINTED,24,12/13/2010 9:41,1.45,14688.0,Fran\xe7e\n",
        encoding="latin-1",
    )
    result = load_sales(con, sales(path))
    assert result.rows_in == 4
    assert result.sources == ("sales.csv",)
    assert result.date_format == "%m/%d/%Y %H:%M"
    assert result.feature_names == ()
    assert con.execute("DESCRIBE lines").fetchall() == [
        (n, t, "YES", None, None, None) for n, t in LINES_SCHEMA
    ]
    assert rows(con) == [
        (
            "536365",
            "85123A",
            h("WHITE HANGING HEART T-LIGHT HOLDER"),
            6.0,
            dt.datetime(2010, 12, 1, 8, 26),
            2.55,
            "17850",
            "United Kingdom",
        ),
        (
            "536366",
            "22633",
            h("HAND WARMER UNION JACK £"),
            6.0,
            dt.datetime(2010, 12, 1, 8, 28),
            1.85,
            "17850",
            "United Kingdom",
        ),
        ("C536379", "D", h("Discount"), -1.0, dt.datetime(2010, 12, 1, 9, 41), 27.5, None, "United Kingdom"),
        (
            "536380",
            "22961",
            h("JAM MAKING SET PRINTED"),
            24.0,
            dt.datetime(2010, 12, 13, 9, 41),
            1.45,
            "14688",
            "Françe",
        ),
    ]


def test_shipped_sample(con: duckdb.DuckDBPyConnection) -> None:
    sample = Path(__file__).resolve().parents[2] / "data" / "online_retail_sample.csv"
    result = load_sales(con, sales(sample))
    assert (result.rows_in, result.date_format) == (105_896, "%Y-%m-%d %H:%M:%S")
    assert rows(
        con,
        "SELECT count(customer_id), count(DISTINCT customer_id), count(*) FILTER (invoice LIKE 'C%'), "
        "min(invoice_ts), max(invoice_ts), count(*) FILTER (customer_id LIKE '%.%') FROM lines",
    ) == [(98_750, 1_103, 1_898, dt.datetime(2010, 12, 1, 9), dt.datetime(2011, 12, 9, 12, 50), 0)]


def test_iso_dates_utf8(con: duckdb.DuckDBPyConnection) -> None:
    path = write(
        "iso.csv",
        UCI_HEADER + "\n"
        "536371,22086,PAPER CHAIN KIT 50'S CHRISTMAS ,80,2010-12-01 09:00:00,2.55,13748.0,United Kingdom\n"
        "536372,22632,Crème brûlée,6,2011-02-13 17:05:00,1.85,12345.00,Côte d'Ivoire\n",
    )
    result = load_sales(con, sales(path))
    assert result.date_format == "%Y-%m-%d %H:%M:%S"
    assert rows(con, "SELECT description, invoice_ts, customer_id, country FROM lines ORDER BY rowid") == [
        (h("PAPER CHAIN KIT 50'S CHRISTMAS"), dt.datetime(2010, 12, 1, 9), "13748", "United Kingdom"),
        (h("Crème brûlée"), dt.datetime(2011, 2, 13, 17, 5), "12345", "Côte d'Ivoire"),
    ]


def test_cp1252_euro_is_transcoded_and_temp_file_removed(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    body = UCI_HEADER + "\n1,A,PRICE IN \x80 \x93QUOTED\x94,1,2011-01-02 10:00:00,2.5,1.0,Eire\n"
    path = Path("cp.csv")
    path.write_bytes(body.encode("latin-1"))
    assert b"\x80" in path.read_bytes()
    load_sales(con, sales(path))
    assert rows(con, "SELECT description FROM lines") == [(h("PRICE IN € “QUOTED”"),)]
    assert list(scratch.iterdir()) == []


def test_utf8_bom_semicolon_and_crlf(con: duckdb.DuckDBPyConnection) -> None:
    text = UCI_HEADER.replace(",", ";") + "\r\n1;A;Thé;2;2011-01-02 10:00:00;3.5;7;France\r\n"
    path = Path("bom.csv")
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    load_sales(con, sales(path))
    assert rows(con, "SELECT invoice, description, unit_price, country FROM lines") == [
        ("1", h("Thé"), 3.5, "France")
    ]
    # a decimal comma where no number has a decimal point reads as one (test_file_shapes.py) ...
    path.write_bytes(b"\xef\xbb\xbf" + text.replace("3.5", "3,5").encode("utf-8"))
    load_sales(con, sales(path))
    assert rows(con, "SELECT unit_price FROM lines") == [(3.5,)]
    # ... but beside a decimal point it is ambiguous: bad input, not silently 35 or 3.5
    mixed = text.replace("3.5", "3,5") + "2;A;x;2;2011-01-02 10:00:00;2.5;7;France\r\n"
    path.write_bytes(b"\xef\xbb\xbf" + mixed.encode("utf-8"))
    assert raises(load_sales, con, sales(path)) == (
        "bom.csv: column 'UnitPrice', line 2: expected a number (with a decimal point; pass --decimal , for "
        "decimal commas), got '3,5'."
    )


def test_utf8_bom_comma(con: duckdb.DuckDBPyConnection) -> None:
    path = Path("bom.csv")
    text = UCI_HEADER + "\n1,A,Thé,2,2011-01-02 10:00:00,3.5,7,France\n"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    load_sales(con, sales(path))
    assert rows(con, "SELECT invoice, description, unit_price FROM lines") == [("1", h("Thé"), 3.5)]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-16-le"])
def test_utf16(con: duckdb.DuckDBPyConnection, encoding: str) -> None:
    text = UCI_HEADER + "\n1,A,£ and €,2,2011-01-02 10:00:00,3.5,7.0,France\n"
    data = text.encode(encoding)
    if encoding == "utf-16-be":
        data = b"\xfe\xff" + data
    path = Path("u16.csv")
    path.write_bytes(data)
    load_sales(con, sales(path))
    assert rows(con, "SELECT description, customer_id, invoice_ts FROM lines") == [
        (h("£ and €"), "7", dt.datetime(2011, 1, 2, 10))
    ]


def test_ii_spelling_and_two_files(con: duckdb.DuckDBPyConnection) -> None:
    first = write(
        "a.csv", II_HEADER + "\n489434,85048,LED,12,2009-12-01 07:45:00,6.95,13085.0,United Kingdom\n"
    )
    second = write(
        "b.tsv",
        UCI_HEADER.replace(",", "\t") + "\n536365\t85123A\tHEART\t6\t2010-12-01 08:26:00\t2.55\t17850.0\tUK\n"
        "536366\t22633\tWARMER\t6\t2010-12-01 08:28:00\t1.85\t17850.0\tUK\n",
    )
    result = load_sales(con, sales(first, second))
    assert result.sources == ("a.csv", "b.tsv")
    assert result.rows_in == 3
    expected = hashlib.sha256((file_sha256(first) + file_sha256(second)).encode()).hexdigest()
    assert result.sha256 == expected
    assert file_sha256(first) == hashlib.sha256(first.read_bytes()).hexdigest()
    assert rows(con, "SELECT invoice, unit_price, customer_id FROM lines ORDER BY rowid") == [
        ("489434", 6.95, "13085"),
        ("536365", 2.55, "17850"),
        ("536366", 1.85, "17850"),
    ]


def test_gzipped_csv(con: duckdb.DuckDBPyConnection) -> None:
    path = Path("sales.csv.gz")
    text = UCI_HEADER + "\n1,A,£,2,2011-01-02 10:00:00,3.5,7,France\n2,B,x,1,2011-01-03 10:00:00,1,8,France\n"
    path.write_bytes(gzip.compress(text.encode("latin-1")))
    result = load_sales(con, sales(path))
    assert result.rows_in == 2
    assert result.sha256 == hashlib.sha256(file_sha256(path).encode()).hexdigest()
    assert rows(con, "SELECT description FROM lines ORDER BY rowid") == [(h("£"),), (h("x"),)]


def test_quoted_delimiters_newlines_and_blank_lines(con: duckdb.DuckDBPyConnection) -> None:
    path = write(
        "quoted.csv",
        "\r\n" + UCI_HEADER + "\r\n"
        '1,A,"SET OF 3, ""BLUE""",2,2011-01-02 10:00:00,3.5,7,France\r\n'
        "\r\n"
        '2,B,"TWO\r\nLINES",1,2011-01-03 10:00:00,1,8,France\r\n'
        "\r\n\r\n",
    )
    result = load_sales(con, sales(path))
    assert result.rows_in == 2
    assert rows(con, "SELECT description FROM lines ORDER BY rowid") == [
        (h('SET OF 3, "BLUE"'),),
        (h("TWO\r\nLINES"),),
    ]


def test_rows_lost_by_the_reader_are_an_error(con: duckdb.DuckDBPyConnection) -> None:
    # a blank first line ending in LF, the rest CRLF: DuckDB 2.0 returns no rows and no error
    path = write("mixed.csv", "\n" + UCI_HEADER + "\r\n" + GOOD_ROW + "\r\n\r\n" + GOOD_ROW + "\r\n")
    assert raises(load_sales, con, sales(path)) == (
        "mixed.csv: read 0 rows but the file has 2 data lines; check its delimiter and quoting."
    )


def test_values_are_normalized(con: duckdb.DuckDBPyConnection) -> None:
    path = write(
        "norm.csv",
        "InvoiceNo,Quantity,InvoiceDate,UnitPrice,CustomerID\n"
        "  1  , 3 ,2011-01-02 10:00:00, 2.50 , 17850.00 \n"
        "2,nan,2011-01-02 10:00:00,NaN,nan\n"
        "3,,2011-01-02 10:00:00,,NaN\n"
        "4,1,2011-01-02 10:00:00,1,None\n"
        "5,1,2011-01-02 10:00:00,1,NULL\n"
        "6,1,2011-01-02 10:00:00,1,AB12.0\n"
        "7,1e3,not a date,-0.5,  \n",
    )
    result = load_sales(con, sales(path))
    assert result.rows_in == 7
    assert rows(con) == [
        ("1", None, h(None), 3.0, dt.datetime(2011, 1, 2, 10), 2.5, "17850", None),
        ("2", None, h(None), None, dt.datetime(2011, 1, 2, 10), None, None, None),
        ("3", None, h(None), None, dt.datetime(2011, 1, 2, 10), None, None, None),
        ("4", None, h(None), 1.0, dt.datetime(2011, 1, 2, 10), 1.0, None, None),
        ("5", None, h(None), 1.0, dt.datetime(2011, 1, 2, 10), 1.0, None, None),
        ("6", None, h(None), 1.0, dt.datetime(2011, 1, 2, 10), 1.0, "AB12.0", None),
        ("7", None, h(None), 1000.0, None, -0.5, None, None),
    ]


def test_column_map(con: duckdb.DuckDBPyConnection) -> None:
    path = write(
        "de.csv",
        "Beleg;Menge;Datum;Preis;Kunde;Land;Qty\n1;2;02.01.2011 10:00;3.5;17850.0;Deutschland;99\n",
    )
    cfg = sales(
        path,
        column_map={
            "invoice": "Beleg",
            "quantity": "Menge",
            "invoice_date": "Datum",
            "unit_price": "Preis",
            "customer_id": "Kunde",
            "country": "land",
        },
    )
    result = load_sales(con, cfg)
    assert result.date_format == "%d.%m.%Y %H:%M"
    assert rows(con) == [("1", None, h(None), 2.0, dt.datetime(2011, 1, 2, 10), 3.5, "17850", "Deutschland")]


def test_glob_characters_in_file_name(con: duckdb.DuckDBPyConnection) -> None:
    path = write("x.v[1].csv", UCI_HEADER + "\n1,A,right file,1,2011-01-02 10:00:00,1,7,France\n")
    write("x.v1.csv", UCI_HEADER + "\n9,A,wrong file,1,2011-01-02 10:00:00,1,9,France\n")
    load_sales(con, sales(path))
    assert rows(con, "SELECT description FROM lines") == [(h("right file"),)]


def test_runs_inside_an_open_transaction(con: duckdb.DuckDBPyConnection) -> None:
    path = write("t.csv", UCI_HEADER + "\n1,A,x,1,12/1/2010 8:26,1,7,France\n")
    con.execute("BEGIN TRANSACTION")
    load_sales(con, sales(path, dayfirst=False))  # one ambiguous date: the order must be given
    con.execute("COMMIT")
    assert rows(con, "SELECT invoice_ts FROM lines") == [(dt.datetime(2010, 12, 1, 8, 26),)]
    bad = write("bad.csv", UCI_HEADER + "\n1,A,x,lots,12/1/2010 8:26,1,7,France\n")
    con.execute("BEGIN TRANSACTION")
    assert (
        raises(load_sales, con, sales(bad))
        == "bad.csv: column 'Quantity', line 2: expected a number, got 'lots'."
    )
    con.execute("ROLLBACK")


# --- dates ------------------------------------------------------------------------------------------


def dates_file(name: str, dates: list[str]) -> Path:
    lines = [f"{i},A,x,1,{d},1,7,France" for i, d in enumerate(dates)]
    return write(name, UCI_HEADER + "\n" + "\n".join(lines) + "\n")


def first_ts(con: duckdb.DuckDBPyConnection) -> list[dt.datetime]:
    return [r[0] for r in rows(con, "SELECT invoice_ts FROM lines ORDER BY rowid")]


def test_ambiguous_slash_dates_stop_without_a_flag(con: duckdb.DuckDBPyConnection) -> None:
    # issue 11, item 6: these were read month first without a word
    path = dates_file("d.csv", ["01/02/2011 10:00", "03/04/2011 11:30", "01/02/2011 12:00"])
    assert raises(load_sales, con, sales(path)) == (
        "d.csv: column 'InvoiceDate': every date reads both day first and month first "
        "('01/02/2011 10:00' is 1 February 2011 or 2 January 2011; "
        "'03/04/2011 11:30' is 3 April 2011 or 4 March 2011), and no date in the input has a day over 12 "
        "to tell; pass --dayfirst or --monthfirst."
    )


def test_ambiguous_dates_follow_monthfirst(con: duckdb.DuckDBPyConnection) -> None:
    path = dates_file("d.csv", ["01/02/2011 10:00", "03/04/2011 11:30"])
    assert load_sales(con, sales(path, dayfirst=False)).date_format == "%m/%d/%Y %H:%M"
    assert first_ts(con) == [dt.datetime(2011, 1, 2, 10), dt.datetime(2011, 3, 4, 11, 30)]


def test_ambiguous_dates_follow_dayfirst(con: duckdb.DuckDBPyConnection) -> None:
    path = dates_file("d.csv", ["01/02/2011 10:00", "03/04/2011 11:30"])
    assert load_sales(con, sales(path, dayfirst=True)).date_format == "%d/%m/%Y %H:%M"
    assert first_ts(con) == [dt.datetime(2011, 2, 1, 10), dt.datetime(2011, 4, 3, 11, 30)]


def test_ambiguous_dash_dates_need_a_flag_too(con: duckdb.DuckDBPyConnection) -> None:
    path = dates_file("d.csv", ["01-12-2010 08:26", "02-12-2010 09:00"])
    assert raises(load_sales, con, sales(path)).endswith("pass --dayfirst or --monthfirst.")
    assert load_sales(con, sales(path, dayfirst=True)).date_format == "%d-%m-%Y %H:%M"
    assert first_ts(con) == [dt.datetime(2010, 12, 1, 8, 26), dt.datetime(2010, 12, 2, 9)]


def test_day_over_12_decides_day_first(con: duckdb.DuckDBPyConnection) -> None:
    path = dates_file("d.csv", ["01/12/2010 08:26", "13/12/2010 09:00", "garbage"])
    assert load_sales(con, sales(path, dayfirst=False)).date_format == "%d/%m/%Y %H:%M"
    assert first_ts(con) == [dt.datetime(2010, 12, 1, 8, 26), dt.datetime(2010, 12, 13, 9), None]


def test_two_digit_years_and_iso_t(con: duckdb.DuckDBPyConnection) -> None:
    path = dates_file("d.csv", ["12/1/10 8:26", "12/13/10 9:00"])
    assert load_sales(con, sales(path)).date_format == "%m/%d/%y %H:%M"
    assert first_ts(con) == [dt.datetime(2010, 12, 1, 8, 26), dt.datetime(2010, 12, 13, 9)]
    path = dates_file("t.csv", ["2010-12-01T08:26:00", "2010-12-13T09:00:00"])
    assert load_sales(con, sales(path)).date_format == "%Y-%m-%dT%H:%M:%S"


def test_date_format_overrides_detection(con: duckdb.DuckDBPyConnection) -> None:
    path = dates_file("d.csv", ["01/02/2011 10:00", "2011-01-02 10:00:00"])
    result = load_sales(con, sales(path, date_format="%d/%m/%Y %H:%M"))
    assert result.date_format == "%d/%m/%Y %H:%M"
    assert first_ts(con) == [dt.datetime(2011, 2, 1, 10), None]


# --- XLSX and Parquet -------------------------------------------------------------------------------


def write_xlsx(name: str, sheets: dict[str, list[list[object]]]) -> Path:
    book = xlsxwriter.Workbook(name)
    stamp = book.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    for sheet_name, table in sheets.items():
        sheet = book.add_worksheet(sheet_name)
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                if isinstance(value, dt.datetime):
                    sheet.write_datetime(r, c, value, stamp)
                elif value is not None:
                    sheet.write(r, c, value)
    book.close()
    return Path(name)


II_COLUMNS = II_HEADER.split(",")


def test_xlsx_two_yearly_sheets(con: duckdb.DuckDBPyConnection) -> None:
    path = write_xlsx(
        "online_retail_II.xlsx",
        {
            "Year 2009-2010": [
                II_COLUMNS,
                [
                    489434,
                    "85048",
                    "15CM CHRISTMAS GLASS BALL 20 LIGHTS",
                    12,
                    dt.datetime(2009, 12, 1, 7, 44, 59, 700_000),  # rounds to the second
                    6.95,
                    13085,
                    "United Kingdom",
                ],
                [None] * 8,
                [
                    "C489449",
                    22087,
                    "PAPER BUNTING WHITE LACE £",
                    -12,
                    dt.datetime(2009, 12, 1, 10, 33),
                    2.95,
                    None,
                    "Australia",
                ],
            ],
            "Notes": [["This sheet explains the data"]],
            "Year 2010-2011": [
                II_COLUMNS,
                [
                    536365,
                    "85123A",
                    "WHITE HANGING HEART",
                    6,
                    dt.datetime(2010, 12, 1, 8, 26),
                    2.55,
                    17850.0,
                    "United Kingdom",
                ],
            ],
        },
    )
    result = load_sales(con, sales(path))
    assert result.rows_in == 3
    assert result.date_format == "%Y-%m-%d %H:%M:%S"
    assert rows(con) == [
        (
            "489434",
            "85048",
            h("15CM CHRISTMAS GLASS BALL 20 LIGHTS"),
            12.0,
            dt.datetime(2009, 12, 1, 7, 45),
            6.95,
            "13085",
            "United Kingdom",
        ),
        (
            "C489449",
            "22087",
            h("PAPER BUNTING WHITE LACE £"),
            -12.0,
            dt.datetime(2009, 12, 1, 10, 33),
            2.95,
            None,
            "Australia",
        ),
        (
            "536365",
            "85123A",
            h("WHITE HANGING HEART"),
            6.0,
            dt.datetime(2010, 12, 1, 8, 26),
            2.55,
            "17850",
            "United Kingdom",
        ),
    ]


@pytest.mark.parametrize("unit, tz", [("us", None), ("ns", "UTC"), ("ms", "Europe/Berlin")])
def test_parquet(con: duckdb.DuckDBPyConnection, unit: str, tz: str | None) -> None:
    # fractions of a second on some values only: DuckDB prints those as text in two shapes
    stamps = [dt.datetime(2009, 12, 1, 7, 45, 0, 250_000), dt.datetime(2009, 12, 2, 9, 0)]
    if tz:
        stamps = [s.replace(tzinfo=dt.timezone.utc) for s in stamps]
    table = pa.table(
        {
            "Invoice": ["489434", "489435"],
            "Quantity": pa.array([12, -3], pa.int64()),
            "InvoiceDate": pa.array(stamps, pa.timestamp(unit, tz=tz)),
            "Price": [6.95, 1.25],
            "Customer ID": [13085.0, None],
            "Country": ["United Kingdom", "France"],
        }
    )
    pq.write_table(table, "sales.parquet")
    result = load_sales(con, sales(Path("sales.parquet")))
    assert result.rows_in == 2
    assert result.date_format == "%Y-%m-%d %H:%M:%S"
    assert rows(con) == [
        ("489434", None, h(None), 12.0, dt.datetime(2009, 12, 1, 7, 45), 6.95, "13085", "United Kingdom"),
        ("489435", None, h(None), -3.0, dt.datetime(2009, 12, 2, 9), 1.25, None, "France"),
    ]


def test_parquet_dates(con: duckdb.DuckDBPyConnection) -> None:
    table = pa.table(
        {
            "Invoice": ["1"],
            "Quantity": [1.5],
            "Date": pa.array([dt.date(2011, 3, 4)], pa.date32()),
            "Price": ["2.5"],
            "Customer": [7],
        }
    )
    pq.write_table(table, "sales.parquet")
    load_sales(con, sales(Path("sales.parquet")))
    assert rows(con) == [("1", None, h(None), 1.5, dt.datetime(2011, 3, 4), 2.5, "7", None)]


# --- customer tables --------------------------------------------------------------------------------


def customers(*paths: Path, **kwargs: object) -> RunConfig:
    return RunConfig(inputs=tuple(paths), mode="customers", **kwargs)  # type: ignore[arg-type]


def test_customer_table(con: duckdb.DuckDBPyConnection) -> None:
    path = write(
        "cust.csv",
        "ID,Income,Spend,Land,Tenure,Unused\n"
        "17850.0,52000,1200.5,UK,400,x\n"
        "12346, 61000 ,,France,30,y\n"
        "12346,1e3,-5,,,z\n",
    )
    cfg = customers(
        path,
        id_column="ID",
        feature_columns=("Spend", "Income"),
        country_column="Land",
        tenure_column="Tenure",
    )
    result = load_customer_table(con, cfg)
    assert result == type(result)(("cust.csv",), result.sha256, 3, None, ("Spend", "Income"))
    assert result.sha256 == hashlib.sha256(file_sha256(path).encode()).hexdigest()
    assert con.execute("DESCRIBE customer_rows").fetchall() == [
        ("customer_id", "VARCHAR", "YES", None, None, None),
        ("country", "VARCHAR", "YES", None, None, None),
        ("tenure_days", "DOUBLE", "YES", None, None, None),
        ("features", "DOUBLE[]", "YES", None, None, None),
    ]
    assert rows(con, "SELECT * FROM customer_rows ORDER BY rowid") == [
        ("17850", "UK", 400.0, [1200.5, 52000.0]),
        ("12346", "France", 30.0, [None, 61000.0]),
        ("12346", None, None, [-5.0, 1000.0]),
    ]


def test_customer_table_xlsx_without_optional_columns(con: duckdb.DuckDBPyConnection) -> None:
    path = write_xlsx("cust.xlsx", {"Info": [["read me"]], "Data": [["id", "income"], [1, 10.5], ["A7", 3]]})
    result = load_customer_table(con, customers(path, id_column="id", feature_columns=("income",)))
    assert result.rows_in == 2
    assert rows(con, "SELECT * FROM customer_rows ORDER BY rowid") == [
        ("1", None, None, [10.5]),
        ("A7", None, None, [3.0]),
    ]


# --- bad input: one sentence each -------------------------------------------------------------------

GOOD_ROW = "1,A,x,1,2011-01-02 10:00:00,1,7,France"


def test_missing_file(con: duckdb.DuckDBPyConnection) -> None:
    assert raises(load_sales, con, sales(Path("sales.csv"))) == "sales.csv: file not found."


def test_missing_second_file_is_found_before_reading(con: duckdb.DuckDBPyConnection) -> None:
    good = write("a.csv", UCI_HEADER + "\n" + GOOD_ROW + "\n")
    assert raises(load_sales, con, sales(good, Path("b.csv"))) == "b.csv: file not found."


def test_unknown_extension(con: duckdb.DuckDBPyConnection) -> None:
    path = write("sales.xls", "x")
    assert raises(load_sales, con, sales(path)) == (
        "sales.xls: unsupported file type; use .csv, .tsv, .txt (each also as .gz), .parquet or .xlsx."
    )


def test_empty_file(con: duckdb.DuckDBPyConnection) -> None:
    path = write("sales.csv", "")
    assert raises(load_sales, con, sales(path)) == "sales.csv: the file is empty."


def test_blank_lines_only(con: duckdb.DuckDBPyConnection) -> None:
    path = write("sales.csv", "\n\r\n\n")
    assert raises(load_sales, con, sales(path)) == "sales.csv: the file is empty."


@pytest.mark.parametrize("ending", ["", "\n", "\r\n\r\n"])
def test_header_only(con: duckdb.DuckDBPyConnection, ending: str) -> None:
    path = write("sales.csv", UCI_HEADER + ending)
    assert raises(load_sales, con, sales(path)) == "sales.csv: no data rows after the header."


def test_header_only_xlsx(con: duckdb.DuckDBPyConnection) -> None:
    path = write_xlsx("book.xlsx", {"Sheet1": [II_COLUMNS]})
    assert raises(load_sales, con, sales(path)) == "book.xlsx: no data rows after the header."


def test_required_column_missing(con: duckdb.DuckDBPyConnection) -> None:
    path = write("sales.csv", "InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice\n1,A,1,2011-01-02,1\n")
    assert raises(load_sales, con, sales(path)) == (
        "sales.csv: required column 'customer_id' not found (looked for CustomerID, Customer ID, customer); "
        "columns found: InvoiceNo, StockCode, Quantity, InvoiceDate, UnitPrice."
    )


def test_map_column_missing(con: duckdb.DuckDBPyConnection) -> None:
    path = write("sales.csv", UCI_HEADER + "\n" + GOOD_ROW + "\n")
    assert raises(load_sales, con, sales(path, column_map={"customer_id": "Kunde"})) == (
        "sales.csv: --map customer_id=Kunde names a column that is not in the file; columns found: "
        "InvoiceNo, StockCode, Description, Quantity, InvoiceDate, UnitPrice, CustomerID, Country."
    )


def test_map_unknown_name(con: duckdb.DuckDBPyConnection) -> None:
    path = write("sales.csv", UCI_HEADER + "\n" + GOOD_ROW + "\n")
    assert raises(load_sales, con, sales(path, column_map={"custid": "CustomerID"})) == (
        "--map: unknown column 'custid'; use one of invoice, stock_code, description, quantity, "
        "invoice_date, unit_price, customer_id, country, line_total."
    )


def test_quantity_not_numeric_csv(con: duckdb.DuckDBPyConnection) -> None:
    path = write(
        "sales.csv",
        UCI_HEADER + "\n" + GOOD_ROW + "\n" + GOOD_ROW + "\n1,A,x,abc,2011-01-02 10:00:00,1,7,France\n"
        "1,A,x,1,2011-01-02 10:00:00,1.2.3,7,France\n",
    )
    assert (
        raises(load_sales, con, sales(path))
        == "sales.csv: column 'Quantity', line 4: expected a number, got 'abc'."
    )


def test_price_not_numeric_counts_leading_blank_lines(con: duckdb.DuckDBPyConnection) -> None:
    path = write(
        "sales.csv", "\n\n" + UCI_HEADER + "\n" + GOOD_ROW + "\n1,A,x,1,2011-01-02 10:00:00,1,00 ,7,F\n"
    )
    # the extra comma makes 9 fields: DuckDB's own error, with the physical line number
    assert raises(load_sales, con, sales(path)) == "sales.csv: line 5: expected 8 fields, found 9."
    path = write(
        "sales.csv", "\n\n" + UCI_HEADER + "\n" + GOOD_ROW + "\n1,A,x,1,2011-01-02 10:00:00,£1,7,F\n"
    )
    assert (
        raises(load_sales, con, sales(path))
        == "sales.csv: column 'UnitPrice', line 5: expected a number, got '£1'."
    )


def test_infinite_number_is_bad(con: duckdb.DuckDBPyConnection) -> None:
    path = write("sales.csv", UCI_HEADER + "\n1,A,x,inf,2011-01-02 10:00:00,1,7,France\n")
    assert (
        raises(load_sales, con, sales(path))
        == "sales.csv: column 'Quantity', line 2: expected a number, got 'inf'."
    )


def test_price_not_numeric_xlsx(con: duckdb.DuckDBPyConnection) -> None:
    good = [489434, "85048", "BALL", 12, dt.datetime(2009, 12, 1, 7, 45), 6.95, 13085, "United Kingdom"]
    bad = [489435, "85048", "BALL", 12, dt.datetime(2009, 12, 1, 7, 45), "six", 13085, "United Kingdom"]
    path = write_xlsx(
        "book.xlsx", {"Year 2009-2010": [II_COLUMNS, good], "Year 2010-2011": [II_COLUMNS, good, bad]}
    )
    assert raises(load_sales, con, sales(path)) == (
        "book.xlsx: column 'Price', sheet 'Year 2010-2011', row 3: expected a number, got 'six'."
    )


def test_quantity_not_numeric_parquet(con: duckdb.DuckDBPyConnection) -> None:
    pq.write_table(
        pa.table(
            {
                "Invoice": ["1", "2", "3"],
                "Quantity": ["1", "2", "x2"],
                "InvoiceDate": ["2011-01-02"] * 3,
                "Price": [1.0, 2.0, 3.0],
                "Customer ID": ["7", "8", "9"],
            }
        ),
        "sales.parquet",
    )
    assert raises(load_sales, con, sales(Path("sales.parquet"))) == (
        "sales.parquet: column 'Quantity', row 3: expected a number, got 'x2'."
    )


def test_no_parseable_date(con: duckdb.DuckDBPyConnection) -> None:
    path = dates_file("sales.csv", ["yesterday", "31/31/2011"])
    assert raises(load_sales, con, sales(path)) == (
        "sales.csv: column 'InvoiceDate': no value is a date in a known format (first value 'yesterday'); "
        "give the format with --date-format."
    )


def test_empty_date_column(con: duckdb.DuckDBPyConnection) -> None:
    path = dates_file("sales.csv", ["", " "])
    assert raises(load_sales, con, sales(path)) == "sales.csv: column 'InvoiceDate' has no dates."


def test_date_format_matches_nothing(con: duckdb.DuckDBPyConnection) -> None:
    path = dates_file("sales.csv", ["2011-01-02 10:00:00"])
    assert raises(load_sales, con, sales(path, date_format="%d/%m/%Y")) == (
        "sales.csv: column 'InvoiceDate': no value matches the date format '%d/%m/%Y' "
        "(first value '2011-01-02 10:00:00')."
    )


def test_second_file_with_other_date_format(con: duckdb.DuckDBPyConnection) -> None:
    first = dates_file("a.csv", ["2011-01-02 10:00:00", "2011-01-03 10:00:00", "2011-01-04 10:00:00"])
    second = dates_file("b.csv", ["13/01/2011 10:00"])
    result = load_sales(con, sales(first, second))  # each file has its own format
    assert result.date_formats == (("a.csv", "%Y-%m-%d %H:%M:%S"), ("b.csv", "%d/%m/%Y %H:%M"))
    assert result.date_format == "a.csv: %Y-%m-%d %H:%M:%S; b.csv: %d/%m/%Y %H:%M"
    assert rows(con, "SELECT invoice_ts FROM lines ORDER BY rowid")[-1] == (dt.datetime(2011, 1, 13, 10, 0),)
    # a forced format still applies to every file
    assert raises(load_sales, con, sales(first, second, date_format="%Y-%m-%d %H:%M:%S")) == (
        "b.csv: column 'InvoiceDate': no value matches the date format '%Y-%m-%d %H:%M:%S' "
        "(first value '13/01/2011 10:00')."
    )


def test_invalid_date_format(con: duckdb.DuckDBPyConnection) -> None:
    path = dates_file("sales.csv", ["2011-01-02 10:00:00"])
    assert (
        raises(load_sales, con, sales(path, date_format="%Q"))
        == "--date-format '%Q' is not a valid strptime format."
    )


def test_xlsx_without_matching_sheet(con: duckdb.DuckDBPyConnection) -> None:
    path = write_xlsx(
        "data.xlsx", {"Sheet1": [["Order", "Amount"], [1, 2]], "Notes": [["hello"]], "Empty": []}
    )
    assert raises(load_sales, con, sales(path)) == (
        "data.xlsx: no sheet has the columns Quantity/Qty, InvoiceDate/Date, CustomerID/Customer ID/"
        "customer, UnitPrice/Price or LineTotal/line_total; sheets: Sheet1, Notes, Empty."
    )


def test_not_an_xlsx(con: duckdb.DuckDBPyConnection) -> None:
    path = write("data.xlsx", "InvoiceNo,Quantity\n")
    assert raises(load_sales, con, sales(path)) == "data.xlsx: not a readable XLSX file (not a zip archive)."


def test_xlsx_too_many_parts(con: duckdb.DuckDBPyConnection) -> None:
    with zipfile.ZipFile("bomb.xlsx", "w") as archive:
        for i in range(10_001):
            archive.writestr(f"xl/part{i}.xml", "")
    assert raises(load_sales, con, sales(Path("bomb.xlsx"))) == (
        "bomb.xlsx: the file has more than 10,000 parts; refusing to read it."
    )


def test_xlsx_compression_ratio(con: duckdb.DuckDBPyConnection) -> None:
    with zipfile.ZipFile("bomb.xlsx", "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"0" * 5_000_000)
    assert raises(load_sales, con, sales(Path("bomb.xlsx"))) == (
        "bomb.xlsx: the file unpacks to more than 200 times its size; refusing to read it."
    )


def test_xlsx_unpacked_size(con: duckdb.DuckDBPyConnection) -> None:
    with zipfile.ZipFile("bomb.xlsx", "w") as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"<x/>")
    data = bytearray(Path("bomb.xlsx").read_bytes())
    central = data.index(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, 0xF000_0000)  # the central directory's uncompressed size
    Path("bomb.xlsx").write_bytes(bytes(data))
    assert raises(load_sales, con, sales(Path("bomb.xlsx"))) == (
        "bomb.xlsx: the file unpacks to more than 2 GiB; refusing to read it."
    )


def test_too_many_fields(con: duckdb.DuckDBPyConnection) -> None:
    path = write("sales.csv", UCI_HEADER + "\n" + GOOD_ROW + "\n" + GOOD_ROW + ",extra\n")
    assert raises(load_sales, con, sales(path)) == "sales.csv: line 3: expected 8 fields, found 9."


def test_unclosed_quote(con: duckdb.DuckDBPyConnection) -> None:
    path = write("sales.csv", UCI_HEADER + "\n" + GOOD_ROW + '\n1,A,"open,1,2011-01-02 10:00:00,1,7,France\n')
    assert raises(load_sales, con, sales(path)) == "sales.csv: line 3: a quoted value is never closed."


def test_line_too_long(con: duckdb.DuckDBPyConnection) -> None:
    path = write("sales.csv", UCI_HEADER + "\n" + GOOD_ROW.replace(",x,", "," + "x" * 2_100_000 + ",") + "\n")
    assert (
        raises(load_sales, con, sales(path)) == "sales.csv: line 2: the line is longer than 2,000,000 bytes."
    )


def test_files_with_different_layouts_are_mapped_each(con: duckdb.DuckDBPyConnection) -> None:
    first = write("a.csv", "Invoice,Qty,Date,Price,Customer ID\n1,2,2011-01-02 10:00:00,3,7\n")
    second = write("b.csv", UCI_HEADER + "\n" + GOOD_ROW + "\n")
    load_sales(con, sales(first, second))
    assert rows(con, "SELECT invoice, quantity, stock_code, country FROM lines ORDER BY rowid") == [
        ("1", 2.0, None, None),
        ("1", 1.0, "A", "France"),
    ]


def test_customer_feature_not_numeric(con: duckdb.DuckDBPyConnection) -> None:
    path = write("cust.csv", "id,income,spend\n1,100,5\n2,n/a,6\n")
    cfg = customers(path, id_column="id", feature_columns=("spend", "income"))
    assert (
        raises(load_customer_table, con, cfg)
        == "cust.csv: column 'income', line 3: expected a number, got 'n/a'."
    )


def test_customer_column_missing(con: duckdb.DuckDBPyConnection) -> None:
    path = write("cust.csv", "id,income,spend\n1,100,5\n")
    cfg = customers(path, id_column="id", feature_columns=("income", "age"))
    assert (
        raises(load_customer_table, con, cfg)
        == "cust.csv: column 'age' not found; columns found: id, income, spend."
    )


def test_customer_table_needs_id_and_features(con: duckdb.DuckDBPyConnection) -> None:
    path = write("cust.csv", "id,income\n1,100\n")
    assert raises(load_customer_table, con, customers(path, id_column="id")) == (
        "A customer table needs an id column and at least one feature column."
    )


def test_customer_xlsx_without_matching_sheet(con: duckdb.DuckDBPyConnection) -> None:
    path = write_xlsx("cust.xlsx", {"Data": [["id", "income"], [1, 2]]})
    cfg = customers(path, id_column="id", feature_columns=("income", "age"))
    assert (
        raises(load_customer_table, con, cfg)
        == "cust.xlsx: no sheet has the columns id, income, age; sheets: Data."
    )
