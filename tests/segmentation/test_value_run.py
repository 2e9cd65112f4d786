"""Customer value in a run: stored per customer and per run, printed, backtested, and never failing a run."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from segmentation import cli, pipeline, report, store
from segmentation.config import RunConfig
from segmentation.value import bgnbd


def test_every_customer_gets_finite_non_negative_value_and_risk(
    small_run: tuple[Path, pipeline.RunSummary],
) -> None:
    con = store.open_read_only(small_run[0])
    status, horizon, unit = con.execute("SELECT status, horizon_days, time_unit FROM value_models").fetchone()
    assert (status, horizon, unit) == ("ok", 90, "days")
    rows = con.execute(
        "SELECT p_alive, expected_purchases, predicted_value, value_at_risk FROM customers"
    ).fetchall()
    assert len(rows) == small_run[1].customers
    for alive, expected, value, at_risk in rows:
        assert 0 <= alive <= 1 and expected >= 0 and value >= 0 and at_risk >= 0
        assert abs(at_risk - value * Decimal(1 - alive)) <= Decimal("0.01")
    stored = con.execute("SELECT r, alpha, a, b, bgnbd_log_likelihood FROM value_models").fetchone()
    assert all(v > 0 for v in stored[:4]) and stored[4] < 0


def test_backtest_is_stored_and_printed(small_csv: Path, tmp_path: Path) -> None:
    db = tmp_path / "b.duckdb"
    summary = pipeline.run(RunConfig(inputs=(small_csv,), db_path=db, progress=False, holdout_days=90))
    test = summary.value.backtest
    assert test is not None and test.holdout_days == 90
    con = store.open_read_only(db)
    rows = con.execute(
        "SELECT calibration_purchases, customers, predicted, actual FROM value_backtest ORDER BY 1"
    ).fetchall()
    assert [r[0] for r in rows] == list(range(8))
    assert sum(r[1] for r in rows) == test.customers
    assert sum(r[2] for r in rows) == pytest.approx(test.predicted_total)
    assert sum(r[3] for r in rows) == test.actual_total > 0
    stored = con.execute(
        "SELECT backtest_predicted, backtest_actual, backtest_mae FROM value_models"
    ).fetchone()
    assert stored == pytest.approx((test.predicted_total, test.actual_total, test.mae))
    text = report.format_run(summary)
    assert (
        f"actual {test.actual_total:,.0f}" in text
        and f"mean absolute error per customer {test.mae:.3f}" in text
    )


def test_a_fit_that_does_not_converge_never_fails_the_run(
    small_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def stuck(*args: object, **kwargs: object) -> bgnbd.BgNbd:
        return bgnbd.BgNbd(1.0, 1.0, 1.0, 1.0, -1.0, False, "ABNORMAL_TERMINATION_IN_LNSRCH")

    monkeypatch.setattr(bgnbd, "fit", stuck)
    db = tmp_path / "f.duckdb"
    summary = pipeline.run(RunConfig(inputs=(small_csv,), db_path=db, progress=False))
    reason = "the purchase model did not converge (ABNORMAL_TERMINATION_IN_LNSRCH)"
    assert summary.value.status == "failed" and summary.value.reason == reason
    assert f"No customer value for this run: {reason}." in summary.warnings
    assert f"unavailable: {reason}" in report.format_run(summary)
    con = store.open_read_only(db)
    assert con.execute("SELECT status, reason FROM value_models").fetchone() == ("failed", reason)
    assert con.execute("SELECT count(*), count(p_alive) FROM customers").fetchone() == (summary.customers, 0)
    assert con.execute("SELECT count(*) FROM segments").fetchone()[0] == summary.k


def test_customer_tables_say_they_have_no_value_model(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text(
        "ID,Income,Spend\n" + "".join(f"P{i},{1000 + i * 37 % 500},{i % 17}\n" for i in range(60))
    )
    db = tmp_path / "c.duckdb"
    summary = pipeline.run(
        RunConfig(
            inputs=(path,),
            db_path=db,
            mode="customers",
            id_column="ID",
            feature_columns=("Income", "Spend"),
            progress=False,
            k=2,
        )
    )
    assert "not applicable: a customer table has no purchases to model" in report.format_run(summary)
    con = store.open_read_only(db)
    assert con.execute("SELECT status, reason FROM value_models").fetchone() == (
        "not_applicable",
        "a customer table has no purchases to model",
    )


def test_a_holdout_longer_than_the_data_is_one_sentence_and_changes_nothing(
    small_run: tuple[Path, pipeline.RunSummary],
    small_csv: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    db = tmp_path / "h.duckdb"
    shutil.copyfile(small_run[0], db)
    before = db.read_bytes()
    assert cli.main(["run", str(small_csv), "--db", str(db), "--holdout-days", "400", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(
        f"Error: {small_csv}: --holdout-days 400 leaves nothing to fit on: the purchases span "
    )
    assert err.endswith("; expected fewer than 374.")
    assert db.read_bytes() == before
    for flag, value, sentence in (
        ("--horizon-days", "0", "--horizon-days 0: expected a whole number of days from 1 to 3650."),
        ("--discount-rate", "2", "--discount-rate 2: expected an annual rate from 0 to 1, e.g. 0.1."),
        ("--holdout-days", "0", "--holdout-days 0: expected a whole number of days, 1 or more."),
    ):
        assert cli.main(["run", str(small_csv), "--db", str(db), flag, value, "--quiet"]) == 2
        assert capsys.readouterr().err.strip().endswith(sentence)
        assert db.read_bytes() == before
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM runs").fetchone() == (1,)
