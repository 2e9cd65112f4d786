"""Compare in a real browser: real figures; picking segments redraws the table and URL; shared URLs work."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.conftest import Server, shot, wait_idle


def _headers(page: Page) -> list[str]:
    """The series names in the means/medians table's first header row."""
    return [t.strip() for t in page.locator("#compare-table thead tr").first.locator("th").all_inner_texts()][
        1:
    ]


def test_brws003_compare_renders_and_follows_the_selection(app_page: Page, live_server: Server) -> None:
    app_page.goto(live_server.url + "/compare")
    wait_idle(app_page)
    # Default: the two largest segments of the bundled sample's run.
    assert _headers(app_page) == ["Loyal", "Lapsed · High Tenure"]
    for graph in ("#compare-radar", "#compare-boxes", "#compare-heatmap"):
        expect(app_page.locator(f"{graph} .js-plotly-plot .main-svg").first).to_be_attached()
    expect(
        app_page.locator("#compare-radar .scatterlayer, #compare-radar .polarlayer").first
    ).to_be_attached()
    expect(app_page.locator("#compare-boxes .boxlayer .trace")).to_have_count(16)  # 8 features x 2 segments
    expect(app_page.locator("#compare-heatmap .heatmaplayer")).to_be_attached()
    expect(app_page.locator("#compare-cards")).to_contain_text("Recommended action")
    expect(app_page.locator("#compare-cards")).to_contain_text("United Kingdom")
    # The canonical query is written on load (assets/url_state.js), so the address can be shared as is.
    app_page.wait_for_function("() => window.location.search === '?run=1&segment=0&segment=1'")

    # Add a third segment: the table, cards and URL follow; the page is not reloaded or re-rendered.
    app_page.evaluate("() => { window.__same_document = true; }")
    app_page.locator("#compare-segments").click()
    app_page.get_by_role("option", name=re.compile(r"^About to Sleep")).click()
    wait_idle(app_page)
    expect(app_page.locator("#compare-table thead tr").first).to_contain_text("About to Sleep")
    assert _headers(app_page) == ["Loyal", "Lapsed · High Tenure", "About to Sleep"]
    expect(app_page.locator("#compare-boxes .boxlayer .trace")).to_have_count(24)
    expect(app_page).to_have_url(re.compile(r"/compare\?run=1&segment=0&segment=1&segment=3$"))

    # Everyone joins as its own column.
    app_page.locator("label[for='compare-vs']").click()
    wait_idle(app_page)
    expect(app_page.locator("#compare-table thead tr").first).to_contain_text("Everyone")
    expect(app_page).to_have_url(re.compile(r"segment=3&vs=everyone$"))
    assert app_page.evaluate("() => window.__same_document === true")  # replaceState: no reload
    app_page.keyboard.press("Escape")
    app_page.mouse.move(5, 5)
    shot(app_page, "compare")


def test_brws003_compare_shared_url_restores_the_selection(app_page: Page, live_server: Server) -> None:
    app_page.goto(live_server.url + "/compare?run=1&segment=3&segment=2&vs=everyone")
    wait_idle(app_page)
    assert _headers(app_page) == ["About to Sleep", "Potential Loyalists", "Everyone"]
    expect(app_page.locator("#compare-vs")).to_be_checked()
    expect(app_page.locator("#compare-segments")).to_contain_text("About to Sleep")
    expect(app_page.locator("#compare-segments")).to_contain_text("Potential Loyalists")
    expect(app_page.locator("#compare-cards .card")).to_have_count(2)
    assert app_page.evaluate("location.search") == "?run=1&segment=3&segment=2&vs=everyone"  # kept as is


def test_brws003_compare_hostile_url_falls_back(app_page: Page, live_server: Server) -> None:
    app_page.goto(live_server.url + "/compare?run=abc&segment=99&segment=%27%3B%20DROP%20TABLE%20x&vs=maybe")
    wait_idle(app_page)
    assert _headers(app_page) == ["Loyal", "Lapsed · High Tenure"]
    expect(app_page.locator("#compare-vs")).not_to_be_checked()
