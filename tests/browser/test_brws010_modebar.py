"""Every chart's mode bar, on every page, offers only local tools: no "Share chart" (which uploads the
chart, customer ids in its hover text, to Plotly Cloud), no Chart Studio link, no Plotly logo link."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from tests.browser.conftest import Server, guarded_page, wait_idle

# Customers draws a chart only in its why-this-segment panel; test_every_graph_uses_the_safe_config
# (tests/dashboard/test_components.py) checks every dcc.Graph in the code, shown or not.
PAGES = ["/", "/explore", "/compare", "/model", "/simulator", "/history"]
LOCAL_TOOLS = {
    "Download plot as a PNG",
    "Zoom",
    "Pan",
    "Box Select",
    "Lasso Select",
    "Zoom in",
    "Zoom out",
    "Autoscale",
    "Reset axes",
    "Reset",
    "Reset view",
    "Reset camera to default",
    "Reset camera to last save",
    "Orbital rotation",
    "Turntable rotation",
    "Toggle Spike Lines",
    "Show closest data on hover",
    "Compare data on hover",
    "Download plot",
}


def _mode_bars(page: Page) -> list[list[str]]:
    """Hover each chart in turn and read its mode bar's button titles and links."""
    found = []
    charts = page.locator(".js-plotly-plot")
    for i in range(charts.count()):
        chart = charts.nth(i)
        if not chart.is_visible():
            continue
        chart.scroll_into_view_if_needed()
        chart.hover()
        found.append(
            chart.evaluate(
                "el => Array.from(el.querySelectorAll('.modebar-btn')).map("
                "b => (b.getAttribute('data-title') || '') + (b.getAttribute('href') ? ' -> ' + b.href : ''))"
            )
        )
    return found


@pytest.mark.parametrize("path", PAGES)
def test_brws010_mode_bars_offer_only_local_tools(path: str, browser, two_runs_server: Server, watch) -> None:
    with guarded_page(browser, two_runs_server, watch) as page:
        page.goto(two_runs_server.url + path)
        wait_idle(page)
        bars = _mode_bars(page)
        assert bars, f"no chart on {path}"
        for buttons in bars:
            assert buttons, f"a chart on {path} has no mode bar"
            assert set(buttons) <= LOCAL_TOOLS, f"{path}: {sorted(set(buttons) - LOCAL_TOOLS)}"
            assert "Download plot as a PNG" in buttons
        assert page.locator(".modebar a[href*='plotly'], .modebar-btn--logo").count() == 0
