"""Explore in a real browser: filters change the KPIs to the right numbers, chart clicks add filters, the URL
holds the filters (reload and shared links restore them). Expected numbers come from DuckDB directly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
from playwright.sync_api import Page, expect

from tests.browser.conftest import Server, choose_option, click_country, click_widest_bar, shot, wait_idle


def count(db: Path, sql: str, params: list[Any]) -> int:
    """One number from the test DB, read without any dashboard code."""
    with duckdb.connect(str(db), read_only=True) as con:
        row = con.execute(sql, params).fetchone()
    assert row is not None
    return int(row[0])


ALL_SQL = "SELECT count(*) FROM customers WHERE run_id = (SELECT max(id) FROM runs)"
COUNTRY_SQL = "SELECT count(*) FROM customers WHERE run_id = (SELECT max(id) FROM runs) AND country = ?"
COUNTRY_SEGMENT_SQL = (
    "SELECT count(*) FROM customers WHERE run_id = (SELECT max(id) FROM runs) "
    "AND country = ? AND segment_id = ?"
)
SHARED_SQL = (
    "SELECT count(*) FROM customers WHERE run_id = (SELECT max(id) FROM runs) "
    "AND country = ? AND segment_id = ? AND tenure_days >= ?"
)


def kpi(page: Page) -> Any:
    return page.locator("#explore-kpi-customers .kpi-value")


def search(page: Page) -> str:
    """The address bar's query (page.url lags behind history.replaceState)."""
    return str(page.evaluate("location.search"))


def test_brws002_explore_country_filter_sets_the_kpis_and_the_url(
    app_page: Page, live_server: Server
) -> None:
    page = app_page
    page.goto(live_server.url + "/explore")
    wait_idle(page)
    expect(kpi(page)).to_have_text(f"{count(live_server.db, ALL_SQL, []):,}")
    expect(page.locator("#explore-histograms .js-plotly-plot")).to_be_visible()

    choose_option(page, "explore-country", "France")
    france = count(live_server.db, COUNTRY_SQL, ["France"])
    expect(kpi(page)).to_have_text(f"{france:,}")
    page.wait_for_function("() => location.search.includes('country=France')")
    assert search(page).startswith("?run=")
    wait_idle(page)
    shot(page, "explore")

    page.reload()  # the URL alone restores the filter
    wait_idle(page)
    expect(kpi(page)).to_have_text(f"{france:,}")
    expect(page.locator("#explore-country")).to_contain_text("France")
    expect(page.locator("#explore-open-customers")).to_have_attribute("href", "/customers" + search(page))


def test_brws002_explore_map_and_bar_clicks_add_filters(app_page: Page, live_server: Server) -> None:
    page = app_page
    page.goto(live_server.url + "/explore")
    wait_idle(page)
    click_country(page, "explore-map", "Germany")
    expect(kpi(page)).to_have_text(f"{count(live_server.db, COUNTRY_SQL, ['Germany']):,}")
    expect(page.locator("#explore-country")).to_contain_text("Germany")
    page.wait_for_function("() => location.search.includes('country=Germany')")
    wait_idle(page)

    click_widest_bar(page, "explore-segments")
    page.wait_for_function("() => /segment=\\d+/.test(location.search)")
    wait_idle(page)
    query = search(page)
    segment = int(query.split("segment=")[1].split("&")[0])
    assert "country=Germany" in query
    expected = count(live_server.db, COUNTRY_SEGMENT_SQL, ["Germany", segment])
    expect(kpi(page)).to_have_text(f"{expected:,}")

    page.get_by_role("button", name="Clear filters").click()
    expect(kpi(page)).to_have_text(f"{count(live_server.db, ALL_SQL, []):,}")
    page.wait_for_function("() => !location.search.includes('country=')")


def test_brws002_explore_shared_url_restores_every_filter(app_page: Page, live_server: Server) -> None:
    page = app_page
    page.goto(live_server.url + "/explore?country=France&segment=1&tenure_min=100")
    wait_idle(page)
    with duckdb.connect(str(live_server.db), read_only=True) as con:
        row = con.execute(
            "SELECT name FROM segments WHERE run_id = (SELECT max(id) FROM runs) AND segment_id = 1"
        ).fetchone()
    assert row is not None
    expected = count(live_server.db, SHARED_SQL, ["France", 1, 100])
    expect(kpi(page)).to_have_text(f"{expected:,}")
    expect(page.locator("#explore-country")).to_contain_text("France")
    expect(page.locator("#explore-segment")).to_contain_text(row[0])
    expect(page.locator("#explore-tenure .dash-range-slider-min-input")).to_have_value("100")
    expect(page.locator("#explore-summary")).to_contain_text("Tenure: at least 100 days")
    query = search(page)
    assert "country=France" in query and "segment=1" in query and "tenure_min=100" in query
