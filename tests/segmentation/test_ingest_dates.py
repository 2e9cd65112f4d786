"""Day first or month first (issue 11, item 6): decided by a date with a day over 12 anywhere in the input,
by --dayfirst/--monthfirst, or the run stops in one sentence; never a silent guess."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest
import xlsxwriter

from segmentation import cli
from segmentation.config import RunConfig
from segmentation.errors import InputError
from segmentation.ingest import load_sales

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def dates_file(name: str, dates: list[str]) -> Path:
    lines = [f"{i},A,x,1,{d},1,{7 + i % 50},France" for i, d in enumerate(dates)]
    path = Path(name)
    path.write_text(HEADER + "\n" + "\n".join(lines) + "\n")
    return path


def load(*paths: Path, **kwargs: object) -> tuple[str | None, list[dt.datetime | None]]:
    with duckdb.connect() as con:
        result = load_sales(con, RunConfig(inputs=paths, **kwargs))  # type: ignore[arg-type]
        stamps = [r[0] for r in con.execute("SELECT invoice_ts FROM lines ORDER BY rowid").fetchall()]
    return result.date_format, stamps


def message(*paths: Path, **kwargs: object) -> str:
    with pytest.raises(InputError) as info:
        load(*paths, **kwargs)
    return str(info.value)


def test_one_day_over_12_outside_the_sample_decides() -> None:
    # the format is chosen on every 2nd row here; the only telling date is on an odd row
    dates = ["03/04/2011 10:00"] * 120_001
    dates[77_777] = "25/04/2011 10:00"
    fmt, stamps = load(dates_file("d.csv", dates))
    assert fmt == "%d/%m/%Y %H:%M"  # before: month first, and 25/04/2011 became a NULL date
    assert stamps[0] == dt.datetime(2011, 4, 3, 10)
    assert stamps[77_777] == dt.datetime(2011, 4, 25, 10)


def test_month_over_12_in_second_place_decides_month_first() -> None:
    fmt, stamps = load(dates_file("d.csv", ["01/02/2011 10:00", "12/13/2011 09:00"]))
    assert fmt == "%m/%d/%Y %H:%M"
    assert stamps == [dt.datetime(2011, 1, 2, 10), dt.datetime(2011, 12, 13, 9)]


def test_the_flag_does_not_override_a_telling_date() -> None:
    fmt, _ = load(dates_file("d.csv", ["01/02/2011 10:00", "13/02/2011 09:00"]), dayfirst=False)
    assert fmt == "%d/%m/%Y %H:%M"


def test_dates_with_day_equal_to_month_need_no_flag() -> None:
    fmt, stamps = load(dates_file("d.csv", ["01/01/2011 10:00", "02/02/2011 09:00"]))
    assert fmt == "%m/%d/%Y %H:%M"  # both readings are the same dates
    assert stamps == [dt.datetime(2011, 1, 1, 10), dt.datetime(2011, 2, 2, 9)]


def test_one_file_tells_for_all_files() -> None:
    # one format for all inputs: a file whose dates all fit both orders is read like the file that tells
    telling = dates_file("a.csv", ["01/02/2011 10:00", "25/02/2011 10:00"])
    silent = dates_file("b.csv", ["03/04/2011 10:00"])
    fmt, stamps = load(telling, silent)
    assert fmt == "%d/%m/%Y %H:%M"
    assert stamps[-1] == dt.datetime(2011, 4, 3, 10)


def test_files_that_contradict_each_other_stop_the_run() -> None:
    days = dates_file("europe.csv", ["01/02/2011 10:00", "25/02/2011 10:00"])
    months = dates_file("us.csv", ["01/02/2011 10:00", "02/25/2011 10:00", "03/26/2011 10:00"])
    # before: month first (more rows), and europe.csv's 25/02/2011 silently became a NULL date
    assert message(days, months) == (
        "europe.csv: column 'InvoiceDate' has day-first dates ('25/02/2011 10:00') but us.csv: column "
        "'InvoiceDate' has month-first dates ('02/25/2011 10:00'); all input files are read with one date "
        "format, so convert one of them or run them separately."
    )


def test_no_file_tells_names_the_first_and_asks_for_a_flag() -> None:
    first = dates_file("a.csv", ["05/05/2011 10:00", "01/02/2011 10:00"])
    second = dates_file("b.csv", ["03/04/2011 10:00"])
    assert message(first, second) == (
        "a.csv: column 'InvoiceDate': every date reads both day first and month first ('01/02/2011 10:00' "
        "is 1 February 2011 or 2 January 2011; '03/04/2011 10:00' is 3 April 2011 or 4 March 2011), and "
        "no date in the input has a day over 12 to tell; pass --dayfirst or --monthfirst."
    )
    assert load(first, second, dayfirst=True)[0] == "%d/%m/%Y %H:%M"


def test_two_digit_years_are_ambiguous_too() -> None:
    text = message(dates_file("d.csv", ["01/02/11", "03/04/11"]))
    assert text.startswith("d.csv: column 'InvoiceDate': every date reads both day first and month first")
    assert load(dates_file("d.csv", ["01/02/11", "03/04/11"]), dayfirst=False)[1][0] == dt.datetime(
        2011, 1, 2
    )


def test_date_format_still_forces_one() -> None:
    fmt, stamps = load(
        dates_file("d.csv", ["01/02/2011 10:00", "03/04/2011 11:30"]), date_format="%d/%m/%Y %H:%M"
    )
    assert fmt == "%d/%m/%Y %H:%M"
    assert stamps[0] == dt.datetime(2011, 2, 1, 10)


def test_cli_ambiguous_dates_exit_2_and_change_nothing(
    db_copy: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = dates_file("d.csv", ["01/02/2011 10:00", "03/04/2011 11:30"])
    before = db_copy.read_bytes()
    assert cli.main(["run", str(path), "--db", str(db_copy), "--quiet"]) == 2
    assert capsys.readouterr().err == (
        "Error: d.csv: column 'InvoiceDate': every date reads both day first and month first "
        "('01/02/2011 10:00' is 1 February 2011 or 2 January 2011; '03/04/2011 11:30' is 3 April 2011 or "
        "4 March 2011), and no date in the input has a day over 12 to tell; pass --dayfirst or "
        "--monthfirst.\n"
    )
    assert db_copy.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(db_copy.name)) == [db_copy.name]


def test_cli_dayfirst_and_monthfirst_exclude_each_other(capsys: pytest.CaptureFixture[str]) -> None:
    path = dates_file("d.csv", ["01/02/2011 10:00"])
    with pytest.raises(SystemExit) as info:
        cli.main(["run", str(path), "--dayfirst", "--monthfirst"])
    assert info.value.code == 2
    assert "argument --monthfirst: not allowed with argument --dayfirst" in capsys.readouterr().err


def test_xlsx_text_dates_name_the_sheet() -> None:
    book = xlsxwriter.Workbook("book.xlsx")
    sheet = book.add_worksheet("Sales 2011")
    sheet.write_row(0, 0, HEADER.split(","))
    sheet.write_row(1, 0, ["1", "A", "x", 1, "01/02/2011 10:00", 1, 7, "France"])
    book.close()
    assert message(Path("book.xlsx")).startswith(
        "book.xlsx: column 'InvoiceDate' in sheet 'Sales 2011': every date reads both day first and month "
        "first ('01/02/2011 10:00' is 1 February 2011 or 2 January 2011), and no date"
    )
