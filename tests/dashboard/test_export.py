"""Exports: the filtered rows, a header block and neutralised formulas, in CSV and XLSX, by route or call."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

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


def parse_csv(text: str) -> tuple[list[str], list[str], list[dict[str, str]]]:
    """(header block lines without '# ', column names, rows as dicts)."""
    lines = text.split("\r\n")
    header = [line[2:] for line in lines if line.startswith("# ")]
    body = "\r\n".join(lines[len(header) :])
    reader = csv.DictReader(io.StringIO(body, newline=""))
    rows = list(reader)
    return header, list(reader.fieldnames or []), rows


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


def test_exp003_csv_route_rows_and_header_block(
    client: FlaskClient, fixture_db: Path, read_customers: Callable[[Path, int], pd.DataFrame]
) -> None:
    r = client.get("/export/customers.csv?run=1&country=France&segment=2&segment=3&outliers=exclude")
    assert r.status_code == 200
    assert r.mimetype == "text/csv"
    assert r.headers["Content-Disposition"] == (
        'attachment; filename="customers_run1_country-France_segment-At-Risk+Cant-Lose_outliers-exclude.csv"'
    )
    header, columns, rows = parse_csv(r.get_data(as_text=True))
    df = read_customers(fixture_db, 1)
    expected = df[(df["country"] == "France") & df["segment_id"].isin([2, 3]) & ~df["is_outlier"]]
    assert {row["customer_id"] for row in rows} == set(expected["customer_id"])
    assert len(rows) == len(expected) > 0
    assert columns == list(filtered.EXPORT_COLUMNS)
    assert header[0] == "Customer segments export"
    assert header[1] == "Run: 1 (transactions; sources: sales_1.csv)"
    assert header[2] == "Snapshot date: 2011-12-10"
    assert header[3] == "Created: 2024-01-01 12:00:00"
    assert header[4].startswith("Exported: ")
    assert header[5] == "Filters: Country: France; Segment: At Risk, Can't Lose; Outliers: excluded"
    assert header[6] == f"Rows: {len(expected)}"
    money = {row["customer_id"]: float(row["monetary"]) for row in rows}
    assert money == pytest.approx(dict(zip(expected["customer_id"], expected["monetary"], strict=True)))


def test_exp004_csv_neutralises_formulas_and_keeps_negative_numbers(client: FlaskClient) -> None:
    r = client.get("/export/customers.csv?run=1")
    _, _, rows = parse_csv(r.get_data(as_text=True))
    ids = {row["customer_id"] for row in rows}
    assert set(FORMULAS.values()) <= ids
    assert not any(i in ids for i in FORMULAS)
    negative = [row["monetary"] for row in rows if row["monetary"].startswith("-")]
    assert negative and all(float(v) < 0 for v in negative)  # numbers are never prefixed
    assert all(not row["country"].startswith(("=", "+", "@")) for row in rows)


def test_exp005_stored_text_cannot_break_out_of_the_header_block() -> None:
    allowed = Allowed(run_id=1, countries=("A\r\n=1+1",), segments={0: "x\n@cmd"})
    f = Filters.from_query({"country": "A\r\n=1+1", "segment": "0"}, allowed)
    info = queries.RunInfo(
        1, None, "transactions", ("a\nb.csv",), None, 1, 1, 1, (), None, None, None, None, 0, 0
    )
    lines = export.header_lines(info, f, 3, datetime(2024, 1, 1, tzinfo=timezone.utc))
    assert all("\n" not in line and "\r" not in line for line in lines)
    assert lines[5] == "Filters: Country: A =1+1; Segment: x @cmd"


def test_exp006_xlsx_route_typed_cells_no_formulas(client: FlaskClient, fixture_db: Path) -> None:
    r = client.get("/export/customers.xlsx?run=2&segment=2")
    assert r.status_code == 200
    assert r.headers["Content-Disposition"].endswith("customers_run2_segment-Evil-Name.xlsx")
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
    about = {row[0]: row[1] for row in book["About"].iter_rows(values_only=True)}
    assert about["Run"] == "2 (customers; sources: sales_2.csv)"
    assert about["Snapshot date"] == "2011-12-10"
    assert about["Filters"] == "Segment: =Evil Name"  # a string cell, never a formula
    assert about["Rows"] == str(expected)
    assert all(c.data_type != "f" for row in book["About"].iter_rows() for c in row)


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
    assert parse_csv(bad_text)[2] == parse_csv(good_text)[2]
    assert "# Filters: All customers\r\n" in bad_text


def test_exp009_write_export_csv_equals_the_route(
    client: FlaskClient, fixture_db: Path, tmp_path: Path
) -> None:
    out = tmp_path / "list.csv"
    n = export.write_export(fixture_db, {"run": "1", "preset": "at-risk"}, out)
    from_file = parse_csv(out.read_bytes().decode("utf-8"))
    from_route = parse_csv(client.get("/export/customers.csv?run=1&preset=at-risk").get_data(as_text=True))
    assert from_file[1:] == from_route[1:]
    assert n == len(from_file[2]) > 0
    monetary = [float(r["monetary"]) for r in from_file[2]]
    assert monetary == sorted(monetary, reverse=True)  # at-risk lists sort by revenue
    assert not list(tmp_path.glob(".list.csv.tmp-*"))


def test_exp010_write_export_xlsx_and_bad_suffix(fixture_db: Path, tmp_path: Path) -> None:
    f = Filters(run_id=1, countries=("France",))
    n = export.write_export(fixture_db, f, tmp_path / "list.xlsx")
    book = openpyxl.load_workbook(tmp_path / "list.xlsx")
    assert book["Customers"].max_row - 1 == n > 0
    with pytest.raises(ValueError, match=r"^list\.txt: expected a file name ending in \.csv or \.xlsx\.$"):
        export.write_export(fixture_db, f, tmp_path / "list.txt")
    with pytest.raises(NoData):
        export.write_export(tmp_path / "absent.duckdb", {}, tmp_path / "x.csv")
    assert not (tmp_path / "x.csv").exists()


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
    name = export.export_filename(Filters.from_query(query, allowed), "csv")
    assert (
        name
        == "customers_run4_country-etc+Cte-dIvoire_segment-cmdC-calcA0_monetary-min-2.5_tenure-band-2y+.csv"
    )
    assert "/" not in name and '"' not in name


def test_exp013_export_href_carries_the_page_query(app: object) -> None:
    f = Filters(run_id=1, countries=("France",), segments=(2,))
    with app.server.test_request_context("/"):  # type: ignore[attr-defined]
        assert export.export_href(f, "xlsx") == "/export/customers.xlsx?run=1&country=France&segment=2"
