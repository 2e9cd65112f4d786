"""Units and names in the browser: money in the run's currency (pounds for the Online Retail sample), bars
with value labels, PCA axes with their explained variance, the radar's inverted axes named, and the grid's
headers under the one name per measure."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import Server, wait_idle


def test_brws017_money_names_and_labels(app_page: Page, live_server: Server) -> None:
    page = app_page
    page.goto(live_server.url + "/")
    wait_idle(page)
    expect(page.locator(".run-badge").first).to_contain_text("money in GBP")
    expect(page.locator("#overview-kpi-revenue .kpi-value")).to_contain_text("£")
    assert page.locator("#overview-segments text.bartext").count() >= 4  # value labels on the bars
    page.goto(live_server.url + "/model")
    wait_idle(page)
    expect(page.locator("#model-pca2d .xtitle")).to_contain_text("% of variance")
    expect(page.locator("#model-cleaning th").filter(has_text="Money removed")).to_contain_text("GBP")
    page.goto(live_server.url + "/compare")
    wait_idle(page)
    expect(page.locator("#compare-radar").get_by_text("(inverted)").first).to_be_attached()
    expect(page.locator("#compare-table")).to_contain_text("Return rate (%)")
    page.goto(live_server.url + "/customers")
    wait_idle(page)
    headers = page.locator(".ag-header-cell-text").all_inner_texts()
    assert "Revenue (GBP)" in [h.replace("\n", " ") for h in headers], headers
    expect(
        page.locator("#customers-revenue-label, label").filter(has_text="Revenue (GBP)").first
    ).to_be_attached()
