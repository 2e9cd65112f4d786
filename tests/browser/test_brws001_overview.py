"""Overview in a real browser: KPIs with real figures, the map from vendored files, no console error."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import Server, shot, wait_idle


def test_brws001_overview_renders_real_figures_offline(app_page: Page, live_server: Server) -> None:
    app_page.goto(live_server.url + "/")
    wait_idle(app_page)
    expect(app_page.get_by_text("1,096").first).to_be_visible()  # customers of the bundled sample
    expect(app_page.locator(".js-plotly-plot").first).to_be_visible()
    expect(app_page.locator(".choropleth, .geo").first).to_be_attached()
    shot(app_page, "overview")
