"""A run's currency: named by --currency, known from the Online Retail layouts, else unknown; stored with the
run and printed in the report; a bad code is one sentence and changes nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from segmentation import cli, currency, pipeline
from segmentation.config import RunConfig
from segmentation.errors import InputError

UCI = [
    "InvoiceNo",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "UnitPrice",
    "CustomerID",
    "Country",
]
UCI_II = ["Invoice", "StockCode", "Description", "Quantity", "InvoiceDate", "Price", "Customer ID", "Country"]


def test_codes_are_three_letters() -> None:
    assert currency.parse_code(" eur ") == "EUR"
    for bad in ("euro", "E1R", "", "£"):
        with pytest.raises(InputError, match="expected three letters such as GBP, EUR or USD"):
            currency.parse_code(bad)


def test_known_layouts_and_unknown_ones() -> None:
    assert currency.resolve(None, [UCI]) == ("GBP", "the UCI Online Retail layout's currency")
    assert currency.resolve(None, [UCI, UCI_II])[0] is None  # two different layouts: not one known file
    assert currency.resolve(None, [UCI_II, UCI_II])[0] == "GBP"
    assert currency.resolve(None, [[*UCI, "Extra"]])[0] is None  # more columns: someone else's file
    assert currency.resolve("USD", [UCI]) == ("USD", "set by --currency")
    assert currency.resolve(None, []) == (None, "unknown: pass --currency CODE to name it")


def test_money_is_written_with_its_currency() -> None:
    assert currency.money(1234.4, "GBP") == "£1,234"
    assert currency.money(-45.64, "EUR", 2) == "-€45.64"
    assert currency.money(10, "CHF") == "10 CHF" and currency.money(10, None) == "10"
    assert currency.money(None, "GBP") == "–"


def test_runs_store_the_currency(small_csv: Path, tmp_path: Path) -> None:
    db = tmp_path / "segments.duckdb"
    summary = pipeline.run(RunConfig(inputs=(small_csv,), db_path=db, progress=False))
    assert (summary.currency, summary.currency_reason) == ("GBP", "the UCI Online Retail layout's currency")
    pipeline.run(RunConfig(inputs=(small_csv,), db_path=db, currency="EUR", progress=False))
    renamed = tmp_path / "renamed.csv"
    text = small_csv.read_text().splitlines()
    renamed.write_text("\n".join([text[0].replace("UnitPrice", "Unit Price Net")] + text[1:]) + "\n")
    pipeline.run(
        RunConfig(inputs=(renamed,), db_path=db, column_map={"unit_price": "Unit Price Net"}, progress=False)
    )
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT id, currency FROM runs ORDER BY id").fetchall() == [
            (1, "GBP"),
            (2, "EUR"),
            (3, None),  # a layout we do not know: unknown, never guessed
        ]


def test_the_report_names_the_currency(
    small_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["run", str(small_csv), "--db", str(tmp_path / "s.duckdb"), "--currency", "usd"]) == 0
    assert "Money: USD (set by --currency)" in capsys.readouterr().out


def test_a_bad_currency_is_one_sentence_and_changes_nothing(
    small_run: tuple[Path, pipeline.RunSummary],
    small_csv: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    db = tmp_path / "segments.duckdb"
    shutil.copyfile(small_run[0], db)
    before = db.read_bytes()
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["run", str(small_csv), "--db", str(db), "--currency", "pounds"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.endswith(
        "argument --currency: 'pounds' is not a currency code; "
        "expected three letters such as GBP, EUR or USD."
    )
    assert db.read_bytes() == before
