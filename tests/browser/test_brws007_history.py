"""History in a real browser: the one-run message on the demo DB, and on a second server over a two-run DB
the Sankey, the transition table, and the chosen pair kept in (and restored from) the URL."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import (
    ROOT,
    Server,
    Watch,
    guarded_page,
    shot,
    start_gunicorn,
    stop,
    wait_idle,
)


def test_brws007_history_with_one_run_says_a_second_run_is_needed(
    app_page: Page, live_server: Server
) -> None:
    app_page.goto(live_server.url + "/history")
    wait_idle(app_page)
    notice = app_page.locator("#history-one-run")
    expect(notice).to_contain_text("A second run is needed to see how customers move between segments.")
    expect(notice.locator("code")).to_contain_text("segments run ")
    expect(notice.locator("code")).to_contain_text("online_retail_sample.csv --k 5")
    expect(app_page.locator("#history-runs tbody tr")).to_have_count(1)
    expect(app_page.locator("#history-sankey")).to_have_count(0)
    shot(app_page, "history-one-run")


@pytest.fixture(scope="module")
def two_run_server(browser_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """gunicorn over a copy of the demo DB plus a second run of the sample with k = 3."""
    from segmentation import pipeline
    from segmentation.config import RunConfig

    db = tmp_path_factory.mktemp("history_two_runs") / "segments.duckdb"
    shutil.copyfile(browser_db, db)
    sample = ROOT / "data" / "online_retail_sample.csv"
    pipeline.run(RunConfig(inputs=(sample,), db_path=db, progress=False, k=3))
    server = start_gunicorn(db)
    yield server
    stop(server)


@pytest.fixture
def two_run_page(browser: Browser, two_run_server: Server) -> Iterator[Page]:
    """A page on the two-run server, with the same guards as app_page (console errors, foreign requests)."""
    with guarded_page(browser, two_run_server, Watch()) as page:
        yield page


def test_brws007_history_sankey_between_two_runs(two_run_page: Page, two_run_server: Server) -> None:
    page = two_run_page
    page.goto(two_run_server.url + "/history")
    wait_idle(page)
    expect(page.locator("#history-runs tbody tr")).to_have_count(2)
    expect(page.locator("#history-sankey .sankey")).to_have_count(1)
    expect(page.locator("#history-sankey .sankey-node")).not_to_have_count(0)
    expect(page.locator("#history-summary")).to_contain_text("1,096 customers are in both runs")
    expect(page.locator("#history-transitions table")).to_contain_text("Total")
    # the canonical query (the page's run, then the pair) is written on load
    page.wait_for_function("() => window.location.search === '?run=2&a=1&b=2'")
    shot(page, "history")

    # choosing another pair redraws and rewrites the URL without reloading the page
    page.evaluate("() => { window.__same_document = true; }")
    page.locator("#history-a").click()
    page.get_by_role("option", name=re.compile(r"^Run 2 .*k = 3$")).click()
    wait_idle(page)
    page.locator("#history-b").click()
    page.get_by_role("option", name=re.compile(r"^Run 1 .*k = 4$")).click()
    wait_idle(page)
    expect(page.locator("#history-summary")).to_contain_text("Run 2 · ")
    expect(page.locator("#history-summary")).to_contain_text("→ Run 1 · ")
    page.wait_for_function("() => window.location.search === '?run=2&a=2&b=1'")
    assert page.evaluate("() => window.__same_document === true")  # replaceState: no reload
    page.wait_for_timeout(1500)  # only for the picture: plotly animates Sankey nodes to their new places
    shot(page, "history-2-to-1")

    # the shared URL restores the pair and keeps the run it was opened with, also after a new choice
    page.goto(two_run_server.url + "/history?run=1&a=2&b=1")
    wait_idle(page)
    expect(page.locator("#history-a")).to_contain_text("Run 2")
    expect(page.locator("#history-b")).to_contain_text("Run 1")
    expect(page.locator("#history-summary")).to_contain_text("Run 2 · ")
    assert page.locator("#history-summary").inner_text().startswith("Run 2")
    assert page.evaluate("location.search") == "?run=1&a=2&b=1"
    page.locator("#history-b").click()
    page.get_by_role("option", name=re.compile(r"^Run 2 .*k = 3$")).click()
    wait_idle(page)
    page.wait_for_function("() => window.location.search === '?run=1&a=2&b=2'")
