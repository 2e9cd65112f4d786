"""The navbar's run selector on every page: picking Run 1 shows Run 1, keeps the page's filters (segments
mapped by name), and an unknown run in a link says so. Before the fix, Explore, Customers, Compare and
History snapped back to the latest run and dropped `run=` from the address."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import duckdb
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Server, choose_option, guarded_page, shot, wait_idle


def _names(db: Path, run: int) -> dict[str, int]:
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute("SELECT name, segment_id FROM segments WHERE run_id = ?", [run]).fetchall()
    return {n: int(i) for n, i in rows}


def _pick_run(page: Page, run: int) -> None:
    page.locator("#run-select").click()
    page.get_by_role("option", name=f"Run {run} ·").click()
    page.wait_for_url(f"**run={run}**")
    wait_idle(page)


def _query(page: Page) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(page.url).query)


PAGES = ["/", "/explore", "/customers", "/compare", "/model", "/simulator", "/history"]


@pytest.mark.parametrize("path", PAGES)
def test_brws009_run_selector_switches_every_page(path: str, browser, two_runs_server: Server, watch) -> None:
    with guarded_page(browser, two_runs_server, watch) as page:
        page.goto(two_runs_server.url + path)  # as a user arrives: no run in the address (the latest)
        wait_idle(page)
        expect(page.locator(".run-badge").first).to_contain_text("Run 2 ·")
        _pick_run(page, 1)
        expect(page.locator("#run-select")).to_contain_text("Run 1 ·")
        expect(page.locator(".run-badge").first).to_contain_text("Run 1 ·")
        page.wait_for_timeout(800)  # a late snap-back (the old bug) would happen here
        wait_idle(page)
        assert ("run", "1") in _query(page), page.url
        expect(page.locator("#run-select")).to_contain_text("Run 1 ·")
        expect(page.locator(".run-badge").first).to_contain_text("Run 1 ·")
        name = path.strip("/") or "overview"
        shot(page, f"run-select-{name}")


def test_brws009_switch_keeps_filters_and_segments_by_name(
    browser, two_runs_server: Server, two_runs_db: Path, watch
) -> None:
    old, new = _names(two_runs_db, 2), _names(two_runs_db, 1)
    shared = sorted(n for n in old if n in new)
    assert shared, "the two runs share no segment name"
    name = shared[0]
    with guarded_page(browser, two_runs_server, watch) as page:
        page.goto(f"{two_runs_server.url}/explore?run=2&country=Germany&segment={old[name]}")
        wait_idle(page)
        _pick_run(page, 1)
        expect(page.locator(".run-badge").first).to_contain_text("Run 1 ·")
        query = _query(page)
        assert ("country", "Germany") in query and ("segment", str(new[name])) in query, page.url
        expect(page.locator("#explore-segment")).to_contain_text(name)
        expect(page.locator("#explore-country")).to_contain_text("Germany")

        page.goto(f"{two_runs_server.url}/compare?run=2&segment={old[name]}")
        wait_idle(page)
        _pick_run(page, 1)
        assert ("segment", str(new[name])) in _query(page), page.url
        expect(page.locator("#compare-segments")).to_contain_text(name)


def test_brws009_unknown_run_in_a_link_says_so(browser, two_runs_server: Server, watch) -> None:
    with guarded_page(browser, two_runs_server, watch) as page:
        page.goto(two_runs_server.url + "/explore?run=99")
        wait_idle(page)
        expect(page.locator("#unknown-run")).to_contain_text("There is no run '99'")
        expect(page.locator("#unknown-run")).to_contain_text("Run 2")
        _pick_run(page, 1)
        expect(page.locator("#unknown-run")).to_have_count(0)


def test_brws009_navbar_carries_the_filters_to_the_filter_pages(
    browser, two_runs_server: Server, watch
) -> None:
    with guarded_page(browser, two_runs_server, watch) as page:
        page.goto(two_runs_server.url + "/explore")
        wait_idle(page)
        choose_option(page, "explore-country", "Germany")
        page.wait_for_url("**country=Germany**")
        wait_idle(page)
        nav = page.locator(".navbar")
        for name in ("Customers", "Compare", "Model", "Simulator"):
            expect(nav.get_by_role("link", name=name, exact=True)).to_have_attribute(
                "href", "/" + name.lower() + "?run=2&country=Germany"
            )
        for name, path in (("Overview", "/"), ("History", "/history")):
            expect(nav.get_by_role("link", name=name, exact=True)).to_have_attribute("href", path + "?run=2")
        nav.get_by_role("link", name="Customers", exact=True).click()
        page.wait_for_url("**/customers?run=2&country=Germany**")
        wait_idle(page)
        expect(page.locator("#customers-country")).to_contain_text("Germany")
