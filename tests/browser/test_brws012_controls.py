"""Controls that fit the data: the tenure bands are cut from the run's own tenure range (374 days of sample
data: no "2 years+"), and a band is a quick pick that sets the one tenure slider."""

from __future__ import annotations

import duckdb
from playwright.sync_api import Page, expect

from tests.browser.conftest import Server, shot, wait_idle


def test_brws012_tenure_bands_come_from_the_data_and_set_the_slider(
    app_page: Page, live_server: Server
) -> None:
    page = app_page
    with duckdb.connect(str(live_server.db), read_only=True) as con:
        (longest,) = con.execute("SELECT max(tenure_days) FROM customers").fetchone()
        (expected,) = con.execute("SELECT count(*) FROM customers WHERE tenure_days >= 365").fetchone()
    assert longest < 730
    page.goto(live_server.url + "/explore")
    wait_idle(page)
    bands = page.locator(".tenure-bands button")
    labels = bands.all_inner_texts()
    assert labels and labels[-1] == "1 year+", labels
    assert not any("2 years" in label for label in labels)
    assert page.get_by_text("2y+").count() == 0  # the fixed band of old versions
    bands.last.click()
    page.wait_for_url("**tenure_min=365**")
    wait_idle(page)
    expect(page.locator("#explore-kpi-customers")).to_contain_text(f"{expected:,}")
    expect(page.locator("#explore-summary")).to_contain_text("Tenure: at least 365 days")
    shot(page, "explore-tenure-band")


def test_brws012_an_empty_explore_says_which_filter_emptied_it(app_page: Page, live_server: Server) -> None:
    """Germany with a recency under the least German recency keeps nobody: the page says so, naming the
    recency filter and the German customers' recency range."""
    page = app_page
    with duckdb.connect(str(live_server.db), read_only=True) as con:
        lo, hi = con.execute(
            "SELECT min(recency_days), max(recency_days) FROM customers WHERE country = 'Germany'"
        ).fetchone()
    page.goto(f"{live_server.url}/explore?country=Germany&recency_max={lo - 1}")
    wait_idle(page)
    notice = page.locator("#explore-empty")
    expect(notice).to_contain_text("No customer in Germany")
    expect(notice).to_contain_text(f"from {lo} to {hi} days")
    expect(page.locator("#explore-kpi-customers")).to_contain_text("0")
    shot(page, "explore-empty")
