"""Simulator in a real browser: keyboard on a slider handle moves the value, the prediction and the star."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

from tests.browser.conftest import Server, shot, wait_idle

STAR = """() => {
    const graph = document.querySelector('#simulator-scatter .js-plotly-plot');
    const star = graph.data[1];
    return [star.name, star.x[0], star.y[0]];
}"""


def star(page: Page) -> list[Any]:
    return page.evaluate(STAR)


def handle(page: Page, index: int) -> Any:
    """The keyboard-focusable handle of the index-th feature slider."""
    return page.locator(".simulator-slider").nth(index).get_by_role("slider")


def test_brws006_simulator_moves_when_a_slider_moves(app_page: Page, live_server: Server) -> None:
    app_page.goto(live_server.url + "/simulator")
    wait_idle(app_page)
    segment = app_page.locator("#simulator-segment")
    expect(segment).to_be_visible()
    expect(app_page.locator(".simulator-slider")).to_have_count(6)  # the default model features
    name_before = segment.inner_text()
    name, x0, y0 = star(app_page)
    assert name == "Simulated customer"
    readouts = app_page.locator("#simulator-sliders .font-monospace")
    frequency_before = readouts.nth(1).inner_text()
    shot(app_page, "simulator")

    # frequency (slider 1) and monetary (slider 2) to their maximum, with the keyboard
    for index in (1, 2):
        handle(app_page, index).focus()
        app_page.keyboard.press("End")
        wait_idle(app_page)
    expect(readouts.nth(1)).not_to_have_text(frequency_before)
    expect(segment).not_to_have_text(name_before)
    _, x1, y1 = star(app_page)
    assert (x1, y1) != (x0, y0)

    # a few small steps move the star again
    x_prev = star(app_page)[1:]
    handle(app_page, 0).focus()
    for _ in range(40):
        app_page.keyboard.press("ArrowRight")
    wait_idle(app_page)
    app_page.wait_for_function(
        "(prev) => { const s = document.querySelector('#simulator-scatter .js-plotly-plot').data[1];"
        " return s.x[0] !== prev[0] || s.y[0] !== prev[1]; }",
        arg=x_prev,
    )

    # starting from a segment's median profile predicts that segment
    app_page.locator("#simulator-start").click()
    app_page.get_by_text("Potential Loyalists: segment median").click()
    wait_idle(app_page)
    expect(segment).to_have_text("Potential Loyalists")
    expect(app_page.locator("#simulator-verdict")).to_contain_text("Clear member")
    shot(app_page, "simulator-potential-loyalists")


def readout_texts(page: Page) -> list[str]:
    return page.locator("#simulator-sliders .font-monospace").all_inner_texts()


def positions(page: Page) -> list[str | None]:
    return [handle(page, i).get_attribute("aria-valuenow") for i in range(6)]


def test_brws006_simulator_state_survives_a_reload(app_page: Page, live_server: Server) -> None:
    # a link with values (and a shared filter): the sliders, the prediction and the text follow it
    app_page.goto(live_server.url + "/simulator?country=Germany&recency_days=30&frequency=4&monetary=1200")
    wait_idle(app_page)
    readouts = app_page.locator("#simulator-sliders .font-monospace")
    expect(readouts).to_have_count(6)
    for index, value in enumerate(["30", "4", "1,200"]):
        expect(readouts.nth(index)).to_have_text(value)
    customer = app_page.locator("#simulator-customer")
    expect(customer).to_contain_text(
        "A customer with a last purchase 30 days ago, 4 orders, £1,200 in net revenue"
    )
    expect(app_page.locator("#simulator-scope")).to_contain_text("Germany")
    # the page wrote its canonical query: run first, the filter and the values kept
    app_page.wait_for_function("() => window.location.search.startsWith('?run=')")
    assert "country=Germany" in app_page.url and "monetary=1200" in app_page.url

    # move a slider: the URL follows, the filter stays
    handle(app_page, 5).focus()
    app_page.keyboard.press("End")
    wait_idle(app_page)
    app_page.wait_for_function("() => window.location.search.includes('tenure_days=')")
    segment = app_page.locator("#simulator-segment").inner_text()
    shown, sliders, text = readout_texts(app_page), positions(app_page), customer.inner_text()
    star_before = star(app_page)
    assert "country=Germany" in app_page.url and "monetary=1200" in app_page.url
    assert f"a first purchase {shown[5]} days ago" in text and f"would join {segment}" in text

    # reload: the same sliders, readouts, prediction, text and star
    app_page.reload()
    wait_idle(app_page)
    expect(app_page.locator("#simulator-segment")).to_have_text(segment)
    expect(readouts).to_have_text(shown)
    assert positions(app_page) == sliders
    assert customer.inner_text() == text and star(app_page) == star_before
    expect(app_page.locator("#simulator-action")).to_contain_text("Recommended action:")
    shot(app_page, "simulator-from-url")

    # a start profile goes into the URL too, and comes back
    app_page.locator("#simulator-start").click()
    app_page.get_by_text("Potential Loyalists: segment median").click()
    wait_idle(app_page)
    app_page.wait_for_function("() => window.location.search.includes('start=')")
    assert "tenure_days=" not in app_page.url and "country=Germany" in app_page.url
    app_page.reload()
    wait_idle(app_page)
    expect(app_page.locator("#simulator-segment")).to_have_text("Potential Loyalists")
    expect(app_page.locator("#simulator-start")).to_contain_text("Potential Loyalists: segment median")
