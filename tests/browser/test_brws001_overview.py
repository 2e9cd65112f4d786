"""Overview in a real browser: KPIs with real figures, the map from vendored files, no console error."""

from __future__ import annotations

import duckdb
from playwright.sync_api import Page, expect

from tests.browser.conftest import Server, click_country, click_widest_bar, shot, wait_idle


def test_brws001_overview_renders_real_figures_offline(app_page: Page, live_server: Server) -> None:
    app_page.goto(live_server.url + "/")
    wait_idle(app_page)
    expect(app_page.get_by_text("1,096").first).to_be_visible()  # customers of the bundled sample
    expect(app_page.locator(".js-plotly-plot").first).to_be_visible()
    expect(app_page.locator(".choropleth, .geo").first).to_be_attached()
    shot(app_page, "overview")


def test_brws001_overview_bar_and_map_clicks_open_the_customer_list(
    app_page: Page, live_server: Server
) -> None:
    page = app_page
    page.goto(live_server.url + "/")
    wait_idle(page)
    click_widest_bar(page, "overview-segments")
    page.wait_for_url("**/customers?*segment=*")
    wait_idle(page)
    segment = int(page.url.split("segment=")[1].split("&")[0])
    with duckdb.connect(str(live_server.db), read_only=True) as con:
        (expected,) = con.execute(
            "SELECT count(*) FROM customers WHERE run_id = (SELECT max(id) FROM runs) AND segment_id = ?",
            [segment],
        ).fetchone()
    expect(page.get_by_text(f"{expected:,} customers").first).to_be_visible()

    page.goto(live_server.url + "/")
    wait_idle(page)
    click_country(page, "overview-map", "Germany")
    page.wait_for_url("**/customers?*country=Germany*")
    wait_idle(page)
    with duckdb.connect(str(live_server.db), read_only=True) as con:
        (expected,) = con.execute(
            "SELECT count(*) FROM customers WHERE run_id = (SELECT max(id) FROM runs) AND country = 'Germany'"
        ).fetchone()
    expect(page.get_by_text(f"{expected:,} customers").first).to_be_visible()
