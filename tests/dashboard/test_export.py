"""Exports: the filtered rows as plain CSV or XLSX (with an About sheet), named after their context, with
neutralised formulas, by route or call."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import duckdb
import openpyxl
import pandas as pd
import pytest
from flask.testing import FlaskClient

from dashboard import export, queries
from dashboard.filters import Allowed, Filters
from dashboard.queries import NoData, filtered

FORMULAS = {
    "=1+1": "'=1+1",
    "+SUM(A1)": "'+SUM(A1)",
    "-2": "'-2",
    "@cmd": "'@cmd",
    "\tTAB": "'\tTAB",
    "\rCR": "'\rCR",
}


STAMP = re.compile(r"_(\d{8}T\d{6}Z)\.(csv|xlsx)\"?$")


def parse_csv(text: str) -> tuple[list[str], list[dict[str, str]]]:
    """(column names, rows as dicts) of a plain CSV export; fails unless line one is the column header."""
    assert text.split("\r\n", 1)[0] == ",".join(filtered.EXPORT_COLUMNS)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    rows = list(reader)
    return list(reader.fieldnames or []), rows


def stamped_between(name: str, before: datetime, after: datetime) -> bool:
    """True when the file name ends in a UTC stamp (…_20261201T041500Z.ext) between before and after."""
    match = STAMP.search(name)
    assert match, name
    when = datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    return before.replace(microsecond=0) <= when <= after


@pytest.mark.parametrize(
    ("text", "expected"), [*FORMULAS.items(), ("\0x", "'\0x"), ("ok", "ok"), ("", ""), ("a=b", "a=b")]
)
def test_exp001_neutralise(text: str, expected: str) -> None:
    assert export.neutralise(text) == expected


def test_exp002_numbers_stay_numbers_in_csv() -> None:
    assert export.csv_value(-5) == -5
    assert export.csv_value(-23.87) == "-23.87"
    assert export.csv_value(float("nan")) == ""
    assert export.csv_value(None) == ""
    assert export.csv_value(True) == "true"
    assert export.csv_value(datetime(2011, 1, 2, 3, 4)) == "2011-01-02 03:04:00"
    assert export.csv_value("-2") == "'-2"


def test_exp003_csv_route_is_plain_csv_named_after_its_context(
    client: FlaskClient, fixture_db: Path, read_customers: Callable[[Path, int], pd.DataFrame]
) -> None:
    before = datetime.now(timezone.utc)
    r = client.get("/export/customers.csv?run=1&country=France&segment=2&segment=3&outliers=exclude")
    text = r.get_data(as_text=True)
    after = datetime.now(timezone.utc)
    assert r.status_code == 200
    assert r.mimetype == "text/csv"
    disposition = r.headers["Content-Disposition"]
    assert disposition.startswith(
        'attachment; filename="customers_run1_snap2011-12-10_france_at-risk+cant-lose_outliers-excluded_'
    )
    assert "filename*" not in disposition  # an ASCII name needs no RFC 5987 form
    assert stamped_between(disposition, before, after)
    assert text.split("\r\n", 1)[0] == ",".join(filtered.EXPORT_COLUMNS)  # line one is the header
    assert "#" not in text.split("\r\n", 1)[0] and not text.startswith("\ufeff")
    columns, rows = parse_csv(text)
    df = read_customers(fixture_db, 1)
    expected = df[(df["country"] == "France") & df["segment_id"].isin([2, 3]) & ~df["is_outlier"]]
    assert {row["customer_id"] for row in rows} == set(expected["customer_id"])
    assert len(rows) == len(expected) > 0
    assert columns == list(filtered.EXPORT_COLUMNS)
    money = {row["customer_id"]: float(row["monetary"]) for row in rows}
    assert money == pytest.approx(dict(zip(expected["customer_id"], expected["monetary"], strict=True)))


def test_exp003b_pandas_reads_the_csv_as_exactly_the_rows_and_columns(
    client: FlaskClient, fixture_db: Path
) -> None:
    text = client.get("/export/customers.csv?run=1&country=Germany").get_data(as_text=True)
    frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    with duckdb.connect(str(fixture_db), read_only=True) as con:
        stored = con.execute(
            "SELECT customer_id, monetary FROM customers WHERE run_id = 1 AND country = 'Germany'"
        ).fetchall()
    assert list(frame.columns) == list(filtered.EXPORT_COLUMNS)
    assert frame.shape == (len(stored), len(filtered.EXPORT_COLUMNS)) and len(stored) > 0
    assert set(frame["country"]) == {"Germany"}
    # money is exact: the CSV text is the stored DECIMAL, to the cent
    assert {(i, Decimal(m)) for i, m in zip(frame["customer_id"], frame["monetary"], strict=True)} == {
        (export.neutralise(i), m) for i, m in stored
    }


def test_exp004_csv_neutralises_formulas_and_keeps_negative_numbers(client: FlaskClient) -> None:
    r = client.get("/export/customers.csv?run=1")
    _, rows = parse_csv(r.get_data(as_text=True))
    ids = {row["customer_id"] for row in rows}
    assert set(FORMULAS.values()) <= ids
    assert not any(i in ids for i in FORMULAS)
    negative = [row["monetary"] for row in rows if row["monetary"].startswith("-")]
    assert negative and all(float(v) < 0 for v in negative)  # numbers are never prefixed
    assert all(not row["country"].startswith(("=", "+", "@")) for row in rows)


def test_exp005_stored_text_cannot_break_out_of_the_about_rows() -> None:
    allowed = Allowed(run_id=1, countries=("A\r\n=1+1",), segments={0: "x\n@cmd"})
    f = Filters.from_query({"country": "A\r\n=1+1", "segment": "0"}, allowed)
    info = queries.RunInfo(
        1, None, "transactions", ("/srv/in\nbox/a.csv",), None, 1, 1, 1, (), None, None, None, None, 0, 0
    )
    ctx = export.ExportContext.build(info, f, exported_at=datetime(2024, 1, 1, tzinfo=timezone.utc))
    rows = dict(ctx.about_rows(3))
    assert all("\n" not in v and "\r" not in v for v in rows.values())
    assert rows["Filters"] == "Country: A =1+1; Segment: x @cmd"
    assert rows["Source files"] == "a.csv"  # a name, never the directory it was read from
    assert ctx.filename("csv") == "customers_run1_a-1+1_x-cmd_20240101T000000Z.csv"  # no snapshot: left out


def test_exp006_xlsx_route_typed_cells_no_formulas_and_an_about_sheet(
    client: FlaskClient, fixture_db: Path
) -> None:
    before = datetime.now(timezone.utc)
    r = client.get("/export/customers.xlsx?run=2&segment=2")
    after = datetime.now(timezone.utc)
    assert r.status_code == 200
    disposition = r.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="customers_run2_snap2011-12-10_evil-name_')
    assert stamped_between(disposition, before, after)
    book = openpyxl.load_workbook(io.BytesIO(r.data))
    assert book.sheetnames == ["Customers", "About"]
    sheet = book["Customers"]
    rows = list(sheet.iter_rows(values_only=False))
    header = [c.value for c in rows[0]]
    assert header == list(filtered.EXPORT_COLUMNS)
    col = {name: i for i, name in enumerate(header)}
    for row in rows[1:]:
        for cell in row:
            assert cell.data_type != "f"
        assert row[col["segment_name"]].value == "'=Evil Name"
        assert row[col["segment_name"]].data_type == "s"
        assert row[col["monetary"]].data_type == "n"
    with queries.using(fixture_db):
        expected = filtered.count(filtered.filters_from_query({"run": "2", "segment": "2"}))
    assert len(rows) - 1 == expected
    about = [tuple(row) for row in book["About"].iter_rows(values_only=True)]
    stamp = STAMP.search(disposition).group(1)  # type: ignore[union-attr]
    exported = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").strftime("%Y-%m-%d %H:%M:%S UTC")
    assert about[:9] == [
        ("Product", "Customer segments export"),
        ("Run", "2"),
        ("Run kind", "customers"),
        ("Run created", "2024-01-02 12:00:00"),
        ("Snapshot date", "2011-12-10"),
        ("Source files", "sales_2.csv"),
        ("Filters", "Segment: =Evil Name"),  # a string cell, never a formula
        ("Rows exported", str(expected)),
        ("Exported at (UTC)", exported),  # the same moment as the file name's stamp
    ]
    rest = dict(about[9:])
    assert rest["Money columns in"].startswith("unknown currency")  # the fixture run named none
    assert rest["Column monetary"] == "Revenue" and rest["Column recency_days"] == "Recency (days)"
    assert rest["Column p_alive"] == "Chance still active (%)"
    assert all(c.data_type in ("s", "n") for row in book["About"].iter_rows() for c in row)


def test_exp007_xlsx_formula_ids_are_strings(client: FlaskClient) -> None:
    book = openpyxl.load_workbook(io.BytesIO(client.get("/export/customers.xlsx?run=1").data))
    # OOXML escapes CR as _x000D_ (Excel shows a CR); openpyxl leaves inline strings escaped
    ids = {
        row[0].value.replace("_x000D_", "\r"): row[0].data_type
        for row in book["Customers"].iter_rows(min_row=2)
    }
    for raw, safe in FORMULAS.items():
        assert raw not in ids and ids[safe] == "s"


def test_exp008_bad_query_values_are_ignored_by_the_route(client: FlaskClient) -> None:
    # (each streamed response is read before the next request: it holds its request context until then)
    bad = client.get(
        "/export/customers.csv?run=1&country=%27%3B%20DROP%20TABLE%20customers%3B%20--&segment=99"
    )
    bad_text = bad.get_data(as_text=True)
    good_text = client.get("/export/customers.csv?run=1").get_data(as_text=True)
    assert parse_csv(bad_text) == parse_csv(good_text)
    assert "_all_" in bad.headers["Content-Disposition"]  # no filter survived: the name says all customers


def test_exp009_write_export_csv_equals_the_route(
    client: FlaskClient, fixture_db: Path, tmp_path: Path
) -> None:
    out = tmp_path / "list.csv"
    n = export.write_export(fixture_db, {"run": "1", "preset": "at-risk"}, out)
    from_file = parse_csv(out.read_bytes().decode("utf-8"))
    from_route = parse_csv(client.get("/export/customers.csv?run=1&preset=at-risk").get_data(as_text=True))
    assert from_file == from_route
    assert n == len(from_file[1]) > 0
    monetary = [float(r["monetary"]) for r in from_file[1]]
    assert monetary == sorted(monetary, reverse=True)  # at-risk lists sort by revenue
    assert sorted(p.name for p in tmp_path.iterdir()) == ["list.csv"]  # no temp file, no sidecar unasked


def test_exp010_write_export_xlsx_and_bad_suffix(fixture_db: Path, tmp_path: Path) -> None:
    f = Filters(run_id=1, countries=("France",))
    n = export.write_export(fixture_db, f, tmp_path / "list.xlsx")
    book = openpyxl.load_workbook(tmp_path / "list.xlsx")
    assert book["Customers"].max_row - 1 == n > 0
    assert dict(book["About"].iter_rows(values_only=True))["Rows exported"] == str(n)
    with pytest.raises(ValueError, match=r"^list\.txt: expected a file name ending in \.csv or \.xlsx\.$"):
        export.write_export(fixture_db, f, tmp_path / "list.txt")
    with pytest.raises(NoData):
        export.write_export(tmp_path / "absent.duckdb", {}, tmp_path / "x.csv", sidecar=True)
    assert not (tmp_path / "x.csv").exists() and not (tmp_path / "x.csv.about.json").exists()


def test_exp011_route_on_a_missing_db_says_how_to_make_one(tmp_path: Path) -> None:
    from dashboard import create_app

    app = create_app(tmp_path / "absent.duckdb")
    r = app.server.test_client().get("/export/customers.csv?run=1")
    assert r.status_code == 404
    assert "segments run data/online_retail_sample.csv" in r.get_data(as_text=True)


def test_exp012_file_names_are_sanitised() -> None:
    allowed = Allowed(
        run_id=4,
        countries=("../../etc", "Côte d'Ivoire"),
        segments={1: '=cmd|"/C calc"!A0'},
        ranges={"tenure": (0.0, 900.0), "monetary": (0.0, 100.0)},
    )
    query = {
        "country": ["../../etc", "Côte d'Ivoire"],
        "segment": "1",
        "tenure_band": "2y+",
        "monetary_min": "2.5",
    }
    info = queries.RunInfo(4, None, None, (), date(2011, 12, 9), 1, 1, 1, (), None, None, None, None, 0, 0)
    when = datetime(2026, 12, 1, 4, 15, tzinfo=timezone.utc)
    ctx = export.ExportContext.build(info, Filters.from_query(query, allowed), exported_at=when)
    name = ctx.filename("csv")
    assert name == (
        "customers_run4_snap2011-12-09_etc+côte-divoire_cmdc-calca0_tenure-ge730_monetary-ge2.5"
        "_20261201T041500Z.csv"
    )
    assert "/" not in name and '"' not in name and ".." not in name


def test_exp013_export_href_carries_the_page_query(app: object) -> None:
    f = Filters(run_id=1, countries=("France",), segments=(2,))
    with app.server.test_request_context("/"):  # type: ignore[attr-defined]
        assert export.export_href(f, "xlsx") == "/export/customers.xlsx?run=1&country=France&segment=2"
