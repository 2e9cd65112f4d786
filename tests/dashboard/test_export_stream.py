"""Streamed exports (issue 11, items 2 and 9): DuckDB formats the rows exactly as csv.writer and
xlsxwriter did, the routes stream from the first rows on with no Content-Length and an exact Content-Type,
XLSX is a valid zip/OOXML workbook for openpyxl, python-calamine and unzip, and Excel's row limit is said."""

from __future__ import annotations

import csv
import io
import math
import random
import shutil
import subprocess
import zipfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import openpyxl
import pytest
import python_calamine
from flask.testing import FlaskClient

from dashboard import export, export_sql, export_stream, queries, xlsx_stream
from dashboard.queries import filtered

HOSTILE = [
    "",
    "plain",
    "=1+1",
    "-2",
    "+SUM(A1)",
    "@cmd",
    "\tTAB",
    "\rCR",
    "\0NUL",
    "a,b",
    'say "hi"',
    "two\nlines",
    "crlf\r\nend",
    "_x0041_ literal escape",
    "<b>&amp;</b>",
    "\x01\x02\x1f controls",
    "\ufffe\uffff",
    "é 漢字",
    " lead and trail ",
    "a\x0bb\x0cc",
]


def _typed_table(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """A table with one column of each type the exports write, and the hostile texts, NULLs, NaN, inf."""
    random.seed(7)
    con.execute(
        """CREATE TABLE t (_export_pos INTEGER, s VARCHAR, i INTEGER, m DECIMAL(18,2), d DOUBLE, b BOOLEAN,
                           ts TIMESTAMP, dt DATE)"""
    )
    alphabet = '=+-@\t\r\n\x00\x01\x1f_x0041,"<>&é a'
    texts = HOSTILE + [
        "".join(random.choice(alphabet) for _ in range(random.randint(0, 9))) for _ in range(400)
    ]
    doubles = [0.0, -0.0, 0.1, 1e16, 1e-5, 2 / 3, 1e22, 5e-324, math.nan, math.inf, -math.inf, None]
    rows = []
    for n, text in enumerate(texts):
        rows.append(
            [
                n,
                None if n % 17 == 5 else text,
                None if n % 11 == 3 else random.randint(-(10**9), 10**9),
                None if n % 13 == 4 else Decimal(random.randint(-(10**8), 10**8)) / 100,
                doubles[n % len(doubles)] if n % 3 else random.uniform(-1e6, 1e6),
                None if n % 7 == 6 else bool(n % 2),
                None if n % 9 == 8 else datetime(2011, 1, 1, 3, 4, 5, (n % 2) * 250000 + n),
                None if n % 10 == 9 else date(2010, 1, 1 + n % 28),
            ]
        )
    con.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    described = con.execute("SELECT * EXCLUDE (_export_pos) FROM t LIMIT 0").description
    return [(d[0], str(d[1])) for d in described]


def excel_escaped(text: str) -> str:
    """What openpyxl reads from a text cell: Excel's _xHHHH_ escapes stay as written, entities decoded."""
    text = xlsx_stream._ESCAPED.sub(r"_x005F\1", text)
    text = xlsx_stream._CONTROL.sub(lambda m: f"_x{ord(m.group(0)):04X}_", text)
    return text.replace("\ufffe", "_xFFFE_").replace("\uffff", "_xFFFF_")


def test_stream001_csv_lines_from_sql_equal_csv_writer() -> None:
    con = duckdb.connect()
    columns = _typed_table(con)
    lines = [r[0] for r in con.execute(export_sql.render("SELECT * FROM t", columns, "csv")).fetchall()]
    values = con.execute("SELECT * EXCLUDE (_export_pos) FROM t ORDER BY _export_pos").fetchall()
    assert len(lines) == len(values) > 400
    for line, row in zip(lines, values, strict=True):
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\r\n").writerow([export.csv_value(v) for v in row])
        assert line == buffer.getvalue(), row
    assert export_sql.csv_header(["a", "b"]) == b"a,b\r\n"


def test_stream002_xlsx_cells_from_sql_equal_the_python_escaping() -> None:
    con = duckdb.connect()
    columns = _typed_table(con)
    rows = [r[0] for r in con.execute(export_sql.render("SELECT * FROM t", columns, "xlsx")).fetchall()]
    texts = [r[0] for r in con.execute("SELECT s FROM t ORDER BY _export_pos").fetchall()]
    for row, text in zip(rows, texts, strict=True):
        first = "<c/>" if text is None else xlsx_stream.text_cell(export.neutralise(text))
        assert row.startswith("<row>" + first), text
    # the whole sheet reads back as the stored values, typed
    body = [xlsx_stream.text_row([c for c, _ in columns], xlsx_stream.BOLD).encode()] + [
        r.encode() for r in rows
    ]
    data = b"".join(xlsx_stream.stream_workbook([xlsx_stream.Sheet("T", body, frozen_header=True)]))
    sheet = openpyxl.load_workbook(io.BytesIO(data))["T"]
    stored = con.execute("SELECT * EXCLUDE (_export_pos) FROM t ORDER BY _export_pos").fetchall()
    for cells, want in zip(sheet.iter_rows(min_row=2), stored, strict=True):
        s, i, m, d, b, ts, dt = (c.value for c in cells)
        assert s == (None if want[0] is None else excel_escaped(export.neutralise(want[0])))
        assert i == want[1] and (m is None if want[2] is None else Decimal(str(m)) == want[2])
        finite = want[3] is not None and math.isfinite(want[3])
        assert (d == want[3]) if finite else d is None
        assert b == want[4]
        assert (ts is None) if want[5] is None else abs((ts - want[5]).total_seconds()) < 0.001
        assert (dt is None) if want[6] is None else dt.date() == want[6]
        assert cells[0].data_type in ("s", "n") and cells[0].data_type != "f"


def test_stream003_csv_route_content_type_is_exact_and_it_streams(client: FlaskClient) -> None:
    r = client.get("/export/customers.csv?run=1", buffered=False)
    assert r.headers["Content-Type"] == "text/csv; charset=utf-8"  # was '...; charset=utf-8; charset=utf-8'
    assert r.is_streamed and "Content-Length" not in r.headers
    text = b"".join(r.response).decode()
    r.close()
    assert text.split("\r\n", 1)[0] == ",".join(filtered.EXPORT_COLUMNS)


def test_stream004_xlsx_route_sends_its_first_bytes_before_reading_the_rows(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    pulled: list[int] = []
    real = export_stream.joined

    def counting(column: object) -> bytes:
        pulled.append(len(column))  # type: ignore[arg-type]
        return real(column)

    monkeypatch.setattr(export_stream, "joined", counting)
    monkeypatch.setattr(export, "XLSX_CHUNK_ROWS", 50)
    monkeypatch.setattr(xlsx_stream, "FLUSH_BYTES", 1)  # a piece per row batch, as a 1M-row sheet gives
    r = client.get("/export/customers.xlsx?run=1", buffered=False)
    assert r.is_streamed and "Content-Length" not in r.headers  # xlsxwriter's file was built whole first
    assert r.headers["Content-Type"] == export.XLSX_MIMETYPE
    pieces = iter(r.response)
    first = next(pieces)
    assert first.startswith(b"PK\x03\x04") and sum(pulled) < 200  # bytes before the rows are all read
    data = b"".join(pieces)
    r.close()
    assert sum(pulled) == 200 and max(pulled) <= 50  # every row, formatted 50 at a time
    assert openpyxl.load_workbook(io.BytesIO(first + data))["Customers"].max_row == 201


def _xlsx(client: FlaskClient, query: str) -> bytes:
    r = client.get("/export/customers.xlsx" + query)
    assert r.status_code == 200
    return r.data


def test_stream005_xlsx_is_a_valid_workbook_for_every_reader(client: FlaskClient, tmp_path: Path) -> None:
    data = _xlsx(client, "?run=2")
    book = zipfile.ZipFile(io.BytesIO(data))
    assert book.testzip() is None
    assert sorted(book.namelist()) == sorted(
        [
            "[Content_Types].xml",
            "_rels/.rels",
            "xl/workbook.xml",
            "xl/_rels/workbook.xml.rels",
            "xl/styles.xml",
            "xl/worksheets/sheet1.xml",
            "xl/worksheets/sheet2.xml",
        ]
    )
    assert b"<f>" not in book.read("xl/worksheets/sheet1.xml")  # never a formula
    path = tmp_path / "list.xlsx"
    path.write_bytes(data)
    if shutil.which("unzip"):
        assert subprocess.run(["unzip", "-t", str(path)], capture_output=True).returncode == 0
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["Customers", "About"] and wb["Customers"].freeze_panes == "A2"
    header = next(wb["Customers"].iter_rows(max_row=1))
    assert [c.value for c in header] == list(filtered.EXPORT_COLUMNS) and all(c.font.b for c in header)
    cal = python_calamine.CalamineWorkbook.from_path(str(path))
    assert cal.sheet_names == ["Customers", "About"]
    rows = cal.get_sheet_by_name("Customers").to_python()
    assert rows[0] == list(filtered.EXPORT_COLUMNS) and len(rows) == 201
    cols = {name: i for i, name in enumerate(rows[0])}
    assert {r[cols["segment_name"]] for r in rows[1:]} >= {"'=Evil Name"}
    assert all(isinstance(r[cols["monetary"]], float) for r in rows[1:])
    first = [r[cols["first_purchase"]] for r in rows[1:] if r[cols["first_purchase"]] != ""]
    assert first and all(isinstance(v, (datetime, date)) for v in first)
    if shutil.which("soffice"):  # LibreOffice, when installed, converts it headless
        subprocess.run(
            ["soffice", "--headless", "--convert-to", "csv", "--outdir", str(tmp_path), str(path)],
            check=True,
            capture_output=True,
            timeout=120,
        )
        assert (
            (tmp_path / "list.csv").read_text(encoding="utf-8", errors="replace").startswith("customer_id,")
        )


def test_stream006_excel_row_limit_cuts_and_says_how_many(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(export, "XLSX_MAX_ROWS", 150)
    book = openpyxl.load_workbook(io.BytesIO(_xlsx(client, "?run=1")))
    assert book["Customers"].max_row == 151
    about = dict(book["About"].iter_rows(values_only=True))
    assert about["Rows exported"] == "150"
    assert about["Truncated"] == (
        "Excel holds 150 rows: the last 50 of the list's 200 customers are cut from this sheet; "
        "export CSV for all of them."
    )


def test_stream007_pieces_are_one_buffer_per_batch() -> None:
    import pyarrow as pa

    column = pa.array(["ab", "c", "", "déf"]).slice(1, 3)
    assert export_stream.joined(column) == b"c" + b"" + "déf".encode()
    assert export_stream.joined(pa.array(["x", "y"], type=pa.large_string())) == b"xy"
    with pytest.raises(ValueError, match="formatted as NULL"):
        export_stream.joined(pa.array(["x", None]))


def test_stream008_chunks_keep_the_order_and_every_row(fixture_db: Path) -> None:
    view = filtered.TableView(sort="monetary")
    with queries.using(fixture_db):
        f = filtered.filters_from_query({"run": "2", "sort": "monetary"})
        want = [export.neutralise(i) for i in filtered.export_frame(f, view)["customer_id"]]
        stream = export.start_rows(f, view, "csv")
        got = b"".join(p for p, _ in stream.pieces).decode()
        small = export_stream.export_stream(
            f, view, lambda i, c: export_sql.render(i, c, "csv"), chunk_rows=7
        )
        got_small = b"".join(p for p, _ in small.pieces).decode()
    queries.close_thread_connections()
    assert stream.total == 200 and got == got_small
    assert [row[0] for row in csv.reader(io.StringIO(got, newline=""))] == want


@pytest.mark.parametrize("threads", ["1", "3"])
def test_stream008b_an_export_reads_through_its_own_connection_with_the_export_threads(
    fixture_db: Path, monkeypatch: pytest.MonkeyPatch, threads: str
) -> None:
    """A long export runs on a connection of its own, locked down like the pages' (read-only, no file
    access), with SEGMENTATION_EXPORT_THREADS DuckDB threads whatever the pages' share; a short one on a
    cursor of the thread's connection. The rows are the same either way."""
    monkeypatch.setenv("SEGMENTATION_DB_THREADS", "1")
    monkeypatch.setenv("SEGMENTATION_EXPORT_THREADS", threads)
    opened: list[duckdb.DuckDBPyConnection] = []
    real = queries.export_connection

    def counted() -> duckdb.DuckDBPyConnection:
        opened.append(real())
        return opened[-1]

    monkeypatch.setattr(queries, "export_connection", counted)
    with queries.using(fixture_db):
        own = queries.export_connection()
        try:
            assert own is not queries.connection()
            assert own.execute("SELECT current_setting('threads')").fetchall() == [(int(threads),)]
            with pytest.raises(duckdb.Error):
                own.execute("SELECT * FROM read_csv('/etc/hostname')").fetchall()
            with pytest.raises(duckdb.Error):
                own.execute("CREATE TABLE seg.x (i INTEGER)").fetchall()
        finally:
            own.close()
        opened.clear()
        f = filtered.filters_from_query({"run": "2", "preset": "at-risk"})
        want = [export.neutralise(i) for i in filtered.export_frame(f)["customer_id"]]
        short = b"".join(p for p, _ in export.start_rows(f, None, "csv").pieces).decode()
        assert opened == [] and 0 < len(want) <= export_stream.PARALLEL_ROWS
        monkeypatch.setattr(export_stream, "PARALLEL_ROWS", len(want) - 1)
        long = b"".join(p for p, _ in export.start_rows(f, None, "csv").pieces).decode()
        assert len(opened) == 1
    queries.close_thread_connections()
    assert short == long and [row[0] for row in csv.reader(io.StringIO(long, newline=""))] == want


def test_stream009_cli_export_into_a_missing_folder_is_one_sentence(
    fixture_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from segmentation import cli

    out = tmp_path / "missing" / "list.csv"
    assert cli.main(["export", "--db", str(fixture_db), "--out", str(out)]) == 2
    assert capsys.readouterr().err == (
        f"Error: {out}: the folder {out.parent} does not exist; expected an existing folder.\n"
    )
    assert sorted(tmp_path.iterdir()) == []
