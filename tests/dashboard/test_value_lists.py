"""The at-risk list with a value model: customers most likely lost, ranked by value at risk, with a threshold
the user moves; value columns in the table and exports; `segments export --top N`."""

from __future__ import annotations

from pathlib import Path

import dash
import duckdb
import pandas as pd
import pytest

from dashboard import export, queries
from dashboard.filters import RETENTION_ACTION
from dashboard.queries import value as value_q
from segmentation import cli
from tests.dashboard.test_export import parse_csv


def stored(db: Path) -> pd.DataFrame:
    """The run's customers as stored, read without the dashboard's code."""
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(
            "SELECT customer_id, p_alive, predicted_value::DOUBLE AS predicted_value, "
            "value_at_risk::DOUBLE AS value_at_risk FROM customers WHERE run_id = 1"
        ).df()


def expected_list(db: Path, below_percent: float) -> list[str]:
    frame = stored(db)
    frame = frame[frame["p_alive"] * 100 < below_percent]
    return frame.sort_values(["value_at_risk", "customer_id"], ascending=[False, True])[
        "customer_id"
    ].tolist()


def rows_of(db: Path, query: dict[str, str], tmp_path: Path) -> list[dict[str, str]]:
    out = tmp_path / "list.csv"
    export.write_export(db, query, out)
    return parse_csv(out.read_bytes().decode("utf-8"))[1]


def test_at_risk_list_is_the_likely_lost_ranked_by_value_at_risk(value_db: Path, tmp_path: Path) -> None:
    rows = rows_of(value_db, {"run": "1", "preset": "at-risk"}, tmp_path)
    expected = expected_list(value_db, 50.0)
    assert 20 < len(expected) < 1000
    assert [r["customer_id"] for r in rows] == expected
    frame = stored(value_db).set_index("customer_id")
    for r in rows:
        alive = frame.loc[r["customer_id"], "p_alive"]
        assert (
            r["list_reason"]
            == f"{alive * 100:.1f}% chance still active; {r['value_at_risk']} of value at risk"
        )
        assert r["action"] == RETENTION_ACTION and "upsell" not in r["action"].lower()
        assert float(r["predicted_value"]) >= float(r["value_at_risk"]) >= 0


def test_moving_the_threshold_moves_the_list(value_db: Path, tmp_path: Path) -> None:
    rows = rows_of(value_db, {"run": "1", "preset": "at-risk", "alive_max": "30"}, tmp_path)
    assert [r["customer_id"] for r in rows] == expected_list(value_db, 30.0)
    wider = rows_of(value_db, {"run": "1", "preset": "at-risk", "alive_max": "80"}, tmp_path)
    assert len(wider) > len(rows) and [r["customer_id"] for r in wider] == expected_list(value_db, 80.0)


def test_value_filters_select_on_stored_value_and_chance(value_db: Path, tmp_path: Path) -> None:
    rows = rows_of(value_db, {"run": "1", "value_min": "1000", "alive_min": "90"}, tmp_path)
    frame = stored(value_db)
    want = frame[(frame["predicted_value"] >= 1000) & (frame["p_alive"] * 100 >= 90)]
    assert sorted(r["customer_id"] for r in rows) == sorted(want["customer_id"]) and len(rows) > 0


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_cli_top_n_gives_the_n_customers_with_most_value_at_risk(
    value_db: Path, tmp_path: Path, suffix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / f"top{suffix}"
    assert (
        cli.main(["export", "--db", str(value_db), "--preset", "at-risk", "--top", "10", "--out", str(out)])
        == 0
    )
    assert capsys.readouterr().out.strip() == f"wrote 10 customers of run 1 to {out}"
    if suffix == ".csv":
        ids = [r["customer_id"] for r in parse_csv(out.read_bytes().decode("utf-8"))[1]]
    else:
        ids = pd.read_excel(out, sheet_name="Customers", dtype={"customer_id": str}, engine="openpyxl")[
            "customer_id"
        ].tolist()
    assert ids == expected_list(value_db, 50.0)[:10]


def test_cli_top_must_be_positive_and_changes_nothing(
    value_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "top.csv"
    assert (
        cli.main(["export", "--db", str(value_db), "--preset", "at-risk", "--top", "0", "--out", str(out)])
        == 2
    )
    assert (
        capsys.readouterr().err.strip() == "Error: --top 0: expected a whole number of customers, 1 or more."
    )
    assert not out.exists()


def test_why_this_segment_shows_the_chance_still_active_and_predicted_value(
    value_db: Path, app: dash.Dash
) -> None:
    from dashboard import why_view as page
    from dashboard.queries import customer

    frame = stored(value_db).sort_values("value_at_risk", ascending=False)
    top = frame.iloc[0]
    with queries.using(value_db):
        w = customer.why(1, top["customer_id"])
        assert w is not None and w.p_alive == pytest.approx(top["p_alive"])
        text = str(page.why_panel(w).to_plotly_json())
    assert f"{top['p_alive']:.1%}" in text and f"{top['predicted_value']:,.2f}" in text
    assert f"{top['value_at_risk']:,.2f}" in text
    queries.close_thread_connections()


def test_why_without_a_value_model_says_so(db: Path, app: dash.Dash) -> None:
    from dashboard import why_view as page
    from dashboard.queries import customer

    w = customer.why(1, "C10010")
    assert w is not None and w.p_alive is None
    assert "No value model for this run" in str(page.why_panel(w).to_plotly_json())


def test_model_page_shows_the_value_models_and_the_backtest(tmp_path: Path, small_csv: Path) -> None:
    from dashboard import create_app, value_view
    from segmentation import pipeline
    from segmentation.config import RunConfig

    db = tmp_path / "b.duckdb"
    summary = pipeline.run(RunConfig(inputs=(small_csv,), db_path=db, progress=False, holdout_days=90))
    test = summary.value.backtest
    app = create_app(db)
    try:
        with app.server.test_request_context("/"), queries.using(db):
            card = str(value_view.value_card(1).to_plotly_json())
            figure = value_view.backtest_figure(value_q.backtest(1))
    finally:
        queries.close_thread_connections()
    assert "Fitted." in card and f"they made {test.actual_total:,.0f}" in card
    assert f"Mean absolute error per customer: {test.mae:.3f}." in card
    assert list(figure.data[0].x) == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert list(figure.data[1].y) == test.by_calibration["actual"].tolist()


def test_model_page_says_value_is_unavailable_when_the_fit_failed(
    tmp_path: Path, small_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dashboard import create_app, value_view
    from segmentation import pipeline
    from segmentation.config import RunConfig
    from segmentation.value import bgnbd

    monkeypatch.setattr(bgnbd, "fit", lambda *a, **k: bgnbd.BgNbd(1, 1, 1, 1, -1, False, "stuck"))
    db = tmp_path / "f.duckdb"
    pipeline.run(RunConfig(inputs=(small_csv,), db_path=db, progress=False))
    app = create_app(db)
    try:
        with app.server.test_request_context("/"), queries.using(db):
            card = str(value_view.value_card(1).to_plotly_json())
    finally:
        queries.close_thread_connections()
    assert (
        "Unavailable for this run: the value columns are empty: the purchase model did not converge (stuck)."
        in card
    )


def test_overview_and_compare_show_each_segments_value_and_value_at_risk(value_db: Path) -> None:
    """The per-segment totals and means equal a pandas computation over the stored customers."""
    from dashboard import create_app, value_view
    from dashboard.queries import aggregates, filtered

    with duckdb.connect(str(value_db), read_only=True) as con:
        frame = con.execute(
            "SELECT segment_id, predicted_value::DOUBLE AS v, value_at_risk::DOUBLE AS r FROM customers"
        ).df()
    want = frame.groupby("segment_id").agg(value=("v", "sum"), mean=("v", "mean"), risk=("r", "sum"))
    app = create_app(value_db)
    try:
        with app.server.test_request_context("/"), queries.using(value_db):
            summary = filtered.filters_from_query({"run": "1"})
            segments = aggregates.segment_summary(summary).set_index("segment_id")
            table = str(value_view.segment_value_table(segments.reset_index()).to_plotly_json())
            value = value_q.segment_value(1)
    finally:
        queries.close_thread_connections()
    for sid, row in want.iterrows():
        assert segments.loc[sid, "value"] == pytest.approx(row["value"], abs=0.01)
        assert segments.loc[sid, "mean_value"] == pytest.approx(row["mean"], abs=0.01)
        assert segments.loc[sid, "value_at_risk"] == pytest.approx(row["risk"], abs=0.01)
        assert f"{row['value']:,.0f}" in table and f"{row['risk']:,.0f}" in table
        line = value_view.segment_value_line(value, int(sid))
        assert line.startswith(
            f"Predicted value, next 12 months: {row['value']:,.0f} ({row['mean']:,.0f} per"
        )
