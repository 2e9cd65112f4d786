"""Loading feedback: while a slow answer is on its way, every KPI and chart it will replace is dimmed and
charts spin, so the filter never shows "Germany" beside numbers that still count everyone."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Server, choose_option, shot, wait_idle

SLOW_CALLBACKS = """() => {
    const fetch0 = window.fetch;
    window.fetch = (url, options) => String(url).includes('_dash-update-component')
        ? new Promise(resolve => setTimeout(() => resolve(fetch0(url, options)), 2500))
        : fetch0(url, options);
}"""

STATE = """() => Array.from(document.querySelectorAll('[data-dash-is-loading="true"]')).map(el => ({
    id: el.id,
    opacity: parseFloat(getComputedStyle(el).opacity),
    spinner: getComputedStyle(el, '::after').animationName,
}))"""


@pytest.mark.parametrize("path,outputs", [("/explore", ["explore-kpis", "explore-segments", "explore-map"])])
def test_brws013_outputs_dim_and_charts_spin_while_a_slow_answer_comes(
    app_page: Page, live_server: Server, path: str, outputs: list[str]
) -> None:
    page = app_page
    page.goto(live_server.url + path)
    wait_idle(page)
    page.evaluate(SLOW_CALLBACKS)
    choose_option(page, "explore-country", "Germany")
    page.wait_for_timeout(1000)  # past the 0.2 s delay and the 0.15 s fade, well before the 2.5 s answer
    state = {s["id"]: s for s in page.evaluate(STATE)}
    for output in outputs:
        assert output in state, f"{output} is not marked as loading: {sorted(state)}"
        assert state[output]["opacity"] < 0.6, state[output]
    for graph in ("explore-segments", "explore-map", "explore-histograms"):
        assert state[graph]["spinner"] == "segments-spin", state[graph]
    shot(page, "explore-loading")
    wait_idle(page)
    expect(page.locator("#explore-summary")).to_contain_text("Germany")
    assert page.evaluate(STATE) == []
    opacity = page.locator("#explore-kpis").evaluate("el => parseFloat(getComputedStyle(el).opacity)")
    assert opacity == 1.0
