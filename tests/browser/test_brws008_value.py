"""Customer value in a real browser, on a generated run whose value model finds churn: the at-risk list is
the customers most likely lost ranked by value at risk, the threshold moves it, the Model page shows the
backtest. Expected values come from DuckDB directly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import Server, Watch, guarded_page, shot, start_gunicorn, stop, wait_idle


@pytest.fixture(scope="module")
def value_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    from segmentation import pipeline, synthetic
    from segmentation.config import RunConfig

    folder = tmp_path_factory.mktemp("value-browser")
    sales = folder / "sales.parquet"
    synthetic.generate(sales, 3000, seed=1)
    db = folder / "segments.duckdb"
    pipeline.run(RunConfig(inputs=(sales,), db_path=db, progress=False, holdout_days=90))
    server = start_gunicorn(db)
    yield server
    stop(server)


@pytest.fixture
def value_page(browser: Browser, value_server: Server, watch: Watch) -> Iterator[Page]:
    with guarded_page(browser, value_server, watch) as page:
        yield page


def likely_lost(db: Path, below_percent: float) -> list[str]:
    with duckdb.connect(str(db), read_only=True) as con:
        return [
            r[0]
            for r in con.execute(
                "SELECT customer_id FROM customers WHERE p_alive * 100 < ? "
                "ORDER BY value_at_risk DESC, customer_id",
                [below_percent],
            ).fetchall()
        ]


def test_brws008_at_risk_list_ranked_by_value_at_risk_and_its_threshold(
    value_page: Page, value_server: Server
) -> None:
    page = value_page
    page.goto(value_server.url + "/customers")
    wait_idle(page)
    page.locator("label", has_text="At-risk list").click()
    wait_idle(page)
    expected = likely_lost(value_server.db, 50.0)
    expect(page.locator("#customers-count")).to_have_text(f"{len(expected):,} customers")
    page.wait_for_function(  # the grid's first block has arrived
        "(id) => { const n = dash_ag_grid.getApi('customers-grid').getDisplayedRowAtIndex(0);"
        " return !!(n && n.data) && n.data.customer_id === id; }",
        arg=expected[0],
    )
    shown = page.evaluate(
        """() => { const out = [];
            dash_ag_grid.getApi('customers-grid').forEachNode(n => { if (n.data) out.push(n.data); });
            return out; }"""
    )
    ids = [r["customer_id"] for r in shown]
    assert ids == expected[: len(ids)] and len(ids) > 10
    assert all("chance still active" in r["list_reason"] for r in shown)
    actions = [r["action"] for r in shown]
    assert actions and all("upsell" not in a.lower() for a in actions)
    page.evaluate("() => dash_ag_grid.getApi('customers-grid').ensureColumnVisible('list_reason')")
    reason = page.locator('#customers-grid .ag-row [col-id="list_reason"]')
    expect(reason.first).to_contain_text("chance still active")  # what the grid shows, not just holds
    assert all("chance still active" in c for c in reason.all_inner_texts())
    slider = page.locator("#customers-alive")  # the slider shows the list's threshold
    expect(slider.locator(".dash-range-slider-max-input, input").last).to_have_value("50")
    shot(page, "customers-at-risk-by-value")
    # a shared link with a moved threshold restores that list
    page.goto(value_server.url + "/customers?run=1&preset=at-risk&alive_max=30")
    wait_idle(page)
    expect(page.locator("#customers-count")).to_have_text(
        f"{len(likely_lost(value_server.db, 30.0)):,} customers"
    )


def test_brws008_model_page_shows_the_backtest(value_page: Page, value_server: Server) -> None:
    page = value_page
    page.goto(value_server.url + "/model")
    wait_idle(page)
    expect(page.locator("#model-value-status")).to_have_text("Fitted.")
    expect(page.locator("#model-value")).to_contain_text("Mean absolute error per customer")
    expect(page.locator("#model-backtest .trace.bars")).to_have_count(2)
    page.locator("#model-value").scroll_into_view_if_needed()
    shot(page, "model-value")
