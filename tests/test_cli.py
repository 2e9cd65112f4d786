"""Every `segments` subcommand through main(argv): exit codes, output, and exact error sentences.

Bad input must give exit 2, one sentence on stderr, and leave the stored DB byte-for-byte unchanged.
"""

from __future__ import annotations

import csv
import io
import shutil
from collections.abc import Callable
from pathlib import Path

import duckdb
import openpyxl
import pandas as pd
import pytest
import xlsxwriter

from segmentation.cli import main

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"


def lines(n_customers: int = 4, per: int = 3) -> str:
    rows = [
        f"{1000 + c * 10 + i},A{i},THING,{1 + i},2011-0{1 + i}-1{c} 10:00:00,{2.5 + c},{12000 + c},UK\n"
        for c in range(n_customers)
        for i in range(per)
    ]
    return HEADER + "".join(rows)


@pytest.fixture
def stored_db(small_run: tuple[Path, object], tmp_path: Path) -> Path:
    target = tmp_path / "db" / "segments.duckdb"
    target.parent.mkdir()
    shutil.copyfile(small_run[0], target)
    return target


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def xlsx_without_sales(tmp_path: Path) -> Path:
    path = tmp_path / "book.xlsx"
    book = xlsxwriter.Workbook(path)
    sheet = book.add_worksheet("Notes")
    sheet.write_row(0, 0, ["Name", "Value"])
    sheet.write_row(1, 0, ["a", 1])
    book.close()
    return path


BAD: dict[str, tuple[Callable[[Path], list[str]], str]] = {
    "missing file": (lambda d: ["run", str(d / "nope.csv")], "{d}/nope.csv: file not found."),
    "unknown extension": (
        lambda d: ["run", str(write(d, "sales.json", "{}"))],
        "{d}/sales.json: unsupported file type; use .csv, .tsv, .txt (each also as .gz), .parquet or .xlsx.",
    ),
    "empty file": (lambda d: ["run", str(write(d, "empty.csv", ""))], "{d}/empty.csv: the file is empty."),
    "header only": (
        lambda d: ["run", str(write(d, "header.csv", HEADER))],
        "{d}/header.csv: no data rows after the header.",
    ),
    "required column missing": (
        lambda d: [
            "run",
            str(write(d, "nocust.csv", "InvoiceNo,Quantity,InvoiceDate,UnitPrice\n1,2,2011-01-01,3\n")),
        ],
        "{d}/nocust.csv: required column 'customer_id' not found "
        "(looked for CustomerID, Customer ID, customer); "
        "columns found: InvoiceNo, Quantity, InvoiceDate, UnitPrice.",
    ),
    "mapped column missing": (
        lambda d: ["run", str(write(d, "s.csv", lines())), "--map", "customer_id=Kunde"],
        "{d}/s.csv: --map customer_id=Kunde names a column that is not in the file; columns found: "
        "InvoiceNo, StockCode, Description, Quantity, InvoiceDate, UnitPrice, CustomerID, Country.",
    ),
    "quantity not numeric": (
        lambda d: ["run", str(write(d, "q.csv", lines().replace(",2,2011-02-10", ",two,2011-02-10")))],
        "{d}/q.csv: column 'Quantity', line 3: expected a number, got 'two'.",
    ),
    "price not numeric": (
        lambda d: ["run", str(write(d, "p.csv", lines().replace(",3.5,12001", ",3.50 EUR,12001", 1)))],
        "{d}/p.csv: column 'UnitPrice', line 5: expected a number, got '3.50 EUR'.",
    ),
    "no parseable date": (
        lambda d: [
            "run",
            str(write(d, "d.csv", HEADER + "1,A,X,1,someday,2.0,5,UK\n2,A,X,1,never,2.0,6,UK\n")),
        ],
        "{d}/d.csv: column 'InvoiceDate': no value is a date in a known format (first value 'someday'); "
        "give the format with --date-format.",
    ),
    "every row removed": (
        lambda d: ["run", str(write(d, "gone.csv", HEADER + "1,A,X,1,2011-01-01 10:00:00,2.0,,UK\n"))],
        "{d}/gone.csv: every one of the 1 rows was removed by cleaning (missing_customer_id 1); expected at "
        "least one purchase with a customer id, a date, and a positive quantity and price.",
    ),
    "bad line in a csv": (
        lambda d: ["run", str(write(d, "wide.csv", lines().replace(",3.5,12001", ",3,5,12001", 1)))],
        "{d}/wide.csv: line 5: expected 8 fields, found 9.",
    ),
    "fewer customers than k": (
        lambda d: ["run", str(write(d, "few.csv", lines(n_customers=4))), "--k", "5"],
        "{d}/few.csv: 4 customers left after cleaning, too few for k = 5; expected at least 6.",
    ),
    "k out of range": (
        lambda d: ["run", str(write(d, "k.csv", lines())), "--k", "1"],
        "--k 1: expected a whole number from 2 to 50.",
    ),
    "unknown log rule": (
        lambda d: ["run", str(write(d, "lg.csv", lines())), "--log-features", "some"],
        "--log-features some: expected one of skewed, all, none.",
    ),
    "xlsx with no matching sheet": (
        lambda d: ["run", str(xlsx_without_sales(d))],
        "{d}/book.xlsx: no sheet has the columns Quantity/Qty, InvoiceDate/Date, CustomerID/Customer ID/"
        "customer, UnitPrice/Price or LineTotal/line_total; sheets: Notes.",
    ),
    "line amount mapped as the unit price": (
        lambda d: [
            "run",
            str(write(d, "amounts.csv", "Customer,Date,Qty,Amount\n7,2011-01-02,2,5.00\n")),
            "--map",
            "unit_price=Amount",
        ],
        "{d}/amounts.csv: --map unit_price=Amount names a line's amount, not a price per unit; use --map "
        "line_total=Amount (unit price = amount / quantity).",
    ),
    "headerless position past the last column": (
        lambda d: [
            "run",
            str(write(d, "log.txt", "7 19970101 2 5.00\n")),
            "--no-header",
            *("--map", "customer_id=1", "--map", "invoice_date=2", "--map", "quantity=3"),
            *("--map", "line_total=5"),
        ],
        "{d}/log.txt: --map line_total=5: expected a column position from 1 to 4 (with --no-header, columns "
        "are numbered from 1).",
    ),
    "headerless file without --no-header": (
        lambda d: ["run", str(write(d, "log.txt", "00001 19970101  1  11.77\n"))],
        "{d}/log.txt: required column 'quantity' not found (looked for Quantity, Qty); columns found: 00001, "
        "19970101, 1, 11.77 (the first line looks like data: without a header, pass --no-header and --map "
        "columns by position).",
    ),
    "no price and no line total": (
        lambda d: ["run", str(write(d, "noprice.csv", "Customer,Date,Qty\n7,2011-01-02,2\n"))],
        "{d}/noprice.csv: required column 'unit_price' not found (looked for UnitPrice, Price); columns "
        "found: Customer, Date, Qty; for a line's amount use --map line_total=COLUMN.",
    ),
    "skip rows past the end": (
        lambda d: ["run", str(write(d, "short.csv", lines(1, 1))), "--skip-rows", "5"],
        "{d}/short.csv: --skip-rows 5 skips every line of the file.",
    ),
    "customer table feature not numeric": (
        lambda d: [
            "run",
            str(write(d, "people.csv", "ID,Income,Spend\n1,50000,20\n2,n/a,30\n3,40000,10\n")),
            "--customer-table",
            "--id-column",
            "ID",
            "--features",
            "Income,Spend",
        ],
        "{d}/people.csv: column 'Income', line 3: expected a number, got 'n/a'.",
    ),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_one_sentence_and_changes_nothing(
    case: str, stored_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_args, expected = BAD[case]
    before = stored_db.read_bytes()
    files_before = sorted(p.name for p in stored_db.parent.iterdir())
    code = main([*make_args(tmp_path), "--db", str(stored_db), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert err == "Error: " + expected.format(d=tmp_path) + "\n"
    assert stored_db.read_bytes() == before
    assert sorted(p.name for p in stored_db.parent.iterdir()) == files_before


def test_run_prints_the_report_and_runs_lists_it(
    small_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "s.duckdb"
    assert main(["run", str(small_csv), "--db", str(db), "--k", "3", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Run 1 stored in {db} (")
    for heading in (
        "Cleaning",
        "R/F/M cut points",
        "Model sweep",
        "Chosen: k = 3 was fixed by --k.",
        "Segments",
    ):
        assert heading in out
    assert main(["runs", "--db", str(db)]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[0].split()[:3] == ["run", "created", "mode"]
    assert listing[2].split()[0] == "1"


def test_rename_command(stored_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rename", "1", "0", "Best friends", "--db", str(stored_db)]) == 0
    assert capsys.readouterr().out.startswith("run 1: renamed ")
    assert main(["rename", "1", "0", "Best friends", "--db", str(stored_db / "x")]) == 2


def test_generate_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "gen.csv"
    assert main(["generate", "--customers", "50", "--out", str(out), "--seed", "3"]) == 0
    assert capsys.readouterr().out.startswith("wrote ")
    assert out.read_text().startswith(HEADER)


def test_every_command_and_flag_has_help() -> None:
    from segmentation.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, command in sub.choices.items():
        assert command.description or sub._choices_actions, name
        for action in command._actions:
            if action.dest != "help":
                assert action.help, f"{name} {action.option_strings or action.dest} has no help"


def _exported(path: Path) -> tuple[str, list[dict[str, str]]]:
    """(first line, rows) of a CSV written by `segments export`: plain CSV, line one the column header."""
    text = path.read_bytes().decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    return text.split("\r\n", 1)[0], rows


def _customers(db: Path) -> pd.DataFrame:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.sql(
            """SELECT c.customer_id, c.country, c.tenure_days, c.monetary, c.is_outlier, c.rfm_group,
                      s.name AS segment
               FROM customers c JOIN segments s USING (run_id, segment_id) WHERE c.run_id = 1"""
        ).df()


def test_export_command_writes_the_filtered_list(
    stored_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    df = _customers(stored_db)
    segment = df["segment"].value_counts().index[0]
    countries = list(df["country"].value_counts().index[:2])
    out = tmp_path / "list.csv"
    args = ["export", "--db", str(stored_db), "--segment", segment, "--tenure-min", "30", "--out", str(out)]
    for country in countries:
        args += ["--country", country]
    assert main(args) == 0
    expected = df[(df["segment"] == segment) & df["country"].isin(countries) & (df["tenure_days"] >= 30)]
    assert capsys.readouterr().out == f"wrote {len(expected):,} customers of run 1 to {out}\n"
    first, rows = _exported(out)
    assert len(rows) == len(expected) > 0
    assert {r["customer_id"] for r in rows} == set(expected["customer_id"])
    assert first.startswith("customer_id,country,") and "#" not in first
    assert not out.with_name("list.csv.about.json").exists()  # the context goes to a sidecar only on request


def test_export_command_presets_and_xlsx(stored_db: Path, tmp_path: Path) -> None:
    df = _customers(stored_db)
    out = tmp_path / "outliers.xlsx"
    assert main(["export", "--db", str(stored_db), "--preset", "outliers", "--out", str(out)]) == 0
    book = openpyxl.load_workbook(out, read_only=True)
    sheet = book.worksheets[0]
    ids = [str(r[0]) for r in sheet.iter_rows(min_row=2, values_only=True)]
    book.close()
    assert sorted(ids) == sorted(df.loc[df["is_outlier"], "customer_id"])
    at_risk = tmp_path / "at_risk.csv"
    assert main(["export", "--db", str(stored_db), "--preset", "at-risk", "--out", str(at_risk)]) == 0
    _, rows = _exported(at_risk)
    named = df["segment"].isin(["At Risk", "Can't Lose"])
    # no learned segment has those names in this run: the preset falls back to the rule-based RFM groups
    expected = df[named] if named.any() else df[df["rfm_group"].isin(["At Risk", "Can't Lose"])]
    assert len(expected) > 0
    assert {r["customer_id"] for r in rows} == set(expected["customer_id"])
    at_stake = [float(r["value_at_risk"]) for r in rows]  # the run has a value model: ranked by value at risk
    assert at_stake == sorted(at_stake, reverse=True) and at_stake[0] > 0


EXPORT_BAD: dict[str, tuple[list[str], str]] = {
    "unknown segment": (["--segment", "Nobody"], "--segment 'Nobody': run 1 has no such segment; expected"),
    "unknown country": (["--country", "Atlantis"], "--country 'Atlantis': no customer of run 1 is in that"),
    "inverted tenure": (
        ["--tenure-min", "90", "--tenure-max", "10"],
        "--tenure-min 90 is above --tenure-max 10; expected min <= max.",
    ),
    "unknown run": (["--run", "7"], "{db}: run 7 not found; `segments runs` lists the runs."),
}


@pytest.mark.parametrize("case", list(EXPORT_BAD))
def test_export_command_rejects_what_the_run_does_not_have(
    case: str, stored_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    extra, expected = EXPORT_BAD[case]
    out = tmp_path / "list.csv"
    out.write_text("previous export\n")
    before = stored_db.read_bytes()
    code = main(["export", "--db", str(stored_db), *extra, "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("Error: " + expected.format(db=stored_db))
    assert err.endswith(".\n") and err.count("\n") == 1
    assert out.read_text() == "previous export\n"
    assert stored_db.read_bytes() == before


def test_export_command_on_a_file_without_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "none.duckdb"
    code = main(["export", "--db", str(missing), "--out", str(tmp_path / "x.csv")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"Error: {missing}: no segmentation run found (")
    assert err.endswith("; make one with `segments run FILE`.\n")
    assert not missing.exists() and not (tmp_path / "x.csv").exists()
