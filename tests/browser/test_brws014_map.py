"""The country map is usable for a European customer base: fitted to where the customers are (Germany is a
country one can see and click at 1440 px, not 13 x 15 px), and the ranked country bar beside it filters
the same way as a click on the map."""

from __future__ import annotations

import duckdb
from playwright.sync_api import Page, expect

from tests.browser.conftest import Server, guarded_page, shot, wait_idle

GERMANY_BOX = """() => {
    const paths = Array.from(document.querySelectorAll('#explore-map path.choroplethlocation'));
    const germany = paths.find(p => p.__data__ && p.__data__.loc === 'DEU');
    if (!germany) return null;
    const r = germany.getBoundingClientRect();
    return {width: r.width, height: r.height};
}"""


def test_brws014_map_fits_europe_and_the_country_bar_filters(browser, live_server: Server, watch) -> None:
    with guarded_page(browser, live_server, watch) as page:
        page.set_viewport_size({"width": 1440, "height": 900})
        page.goto(live_server.url + "/explore")
        wait_idle(page)
        # plotly draws the geo paths after its topojson arrives, which can be after the callbacks are idle
        # (a function, not an expression: Playwright evaluates an expression with eval, which the CSP blocks)
        page.wait_for_function(f"() => ({GERMANY_BOX})() !== null", timeout=15_000)
        box = page.evaluate(GERMANY_BOX)
        assert box is not None and box["width"] > 40 and box["height"] > 40, box
        shot(page, "explore-map-1440")
        bars = page.locator("#explore-countries")
        expect(bars.locator(".ytick text", has_text="Germany")).to_have_count(1)
        _click_bar(page, "Germany")
        page.wait_for_url("**country=Germany**")
        wait_idle(page)
        with duckdb.connect(str(live_server.db), read_only=True) as con:
            (expected,) = con.execute("SELECT count(*) FROM customers WHERE country = 'Germany'").fetchone()
        expect(page.locator("#explore-kpi-customers")).to_contain_text(f"{expected:,}")


def test_brws014_overview_country_bar_opens_the_customers(app_page: Page, live_server: Server) -> None:
    page = app_page
    page.goto(live_server.url + "/")
    wait_idle(page)
    _click_bar(page, "France", graph="overview-countries")
    page.wait_for_url("**/customers?*country=France*")


def _click_bar(page: Page, country: str, graph: str = "explore-countries") -> None:
    """Hover, then click, the bar of one country in a ranked country bar (the bar level with its label)."""
    label = page.locator(f"#{graph} .ytick text", has_text=country).first
    label.scroll_into_view_if_needed()
    box = label.bounding_box()
    assert box is not None
    x, y = page.evaluate(
        """([graph, y]) => {
            const bars = [...document.querySelectorAll('#' + graph + ' .trace.bars .point path')]
                .map(p => p.getBoundingClientRect())
                .sort((a, b) => Math.abs(a.y + a.height / 2 - y) - Math.abs(b.y + b.height / 2 - y));
            return [bars[0].right - 2, bars[0].y + bars[0].height / 2];  // a log axis clips the left end
        }""",
        [graph, box["y"] + box["height"] / 2],
    )
    page.mouse.move(x, y)
    page.wait_for_selector(f"#{graph} .hoverlayer .hovertext")
    page.mouse.click(x, y)
