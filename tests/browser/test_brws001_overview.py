"""Overview in a real browser: KPIs with real figures, the map from vendored files, no console error."""

from __future__ import annotations

import duckdb
from playwright.sync_api import Page, expect

from tests.browser.conftest import Server, shot, wait_idle


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
    # the widest 'customers' bar (the last trace), hovered first: plotly clicks the hovered point
    x, y = page.evaluate(
        """() => {
            const traces = document.querySelectorAll('#overview-segments .trace.bars');
            const bars = [...traces[traces.length - 1].querySelectorAll('.point path')]
                .map(p => p.getBoundingClientRect()).sort((a, b) => b.width - a.width);
            return [bars[0].x + bars[0].width / 2, bars[0].y + bars[0].height / 2];
        }"""
    )
    page.mouse.move(x, y)
    page.wait_for_selector("#overview-segments .hoverlayer .hovertext")
    page.mouse.click(x, y)
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
    germany = (
        "() => [...document.querySelectorAll('#overview-map path.choroplethlocation')]"
        ".find(p => p.__data__ && p.__data__.loc === 'Germany')"
    )
    page.wait_for_function(f"() => !!({germany})()")
    x, y = page.evaluate(
        f"() => {{ const r = ({germany})().getBoundingClientRect(); "
        "return [r.x + r.width / 2, r.y + r.height / 2]; }"
    )
    page.mouse.click(x, y)
    page.wait_for_url("**/customers?*country=Germany*")
    wait_idle(page)
    with duckdb.connect(str(live_server.db), read_only=True) as con:
        (expected,) = con.execute(
            "SELECT count(*) FROM customers WHERE run_id = (SELECT max(id) FROM runs) AND country = 'Germany'"
        ).fetchone()
    expect(page.get_by_text(f"{expected:,} customers").first).to_be_visible()
