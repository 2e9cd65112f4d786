"""Compare, Model and Simulator take the shared filters where they apply, and say which apply:
"Loyal vs Promising in Germany" can be done, and the filters follow the user from page to page."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import duckdb
from playwright.sync_api import expect

from tests.browser.conftest import Server, choose_option, guarded_page, shot, wait_idle


def _segments(db: Path, run: int) -> dict[str, int]:
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute("SELECT name, segment_id FROM segments WHERE run_id = ?", [run]).fetchall()
    return {n: int(i) for n, i in rows}


def _count(db: Path, run: int, segment: int, country: str) -> int:
    with duckdb.connect(str(db), read_only=True) as con:
        (n,) = con.execute(
            "SELECT count(*) FROM customers WHERE run_id = ? AND segment_id = ? AND country = ?",
            [run, segment, country],
        ).fetchone()
    return int(n)


def test_brws015_compare_two_segments_in_germany(
    browser, two_runs_server: Server, two_runs_db: Path, watch
) -> None:
    ids = _segments(two_runs_db, 2)
    a, b = sorted(ids, key=ids.get)[:2]
    with guarded_page(browser, two_runs_server, watch) as page:
        page.set_viewport_size({"width": 1440, "height": 900})
        page.goto(f"{two_runs_server.url}/compare?run=2&segment={ids[a]}&segment={ids[b]}")
        wait_idle(page)
        expect(page.locator("#compare-scope")).to_contain_text("All customers of the run")
        choose_option(page, "compare-filter-country", "Germany")
        page.wait_for_url("**country=Germany**")
        wait_idle(page)
        query = parse_qsl(urlsplit(page.url).query)
        assert ("segment", str(ids[a])) in query and ("segment", str(ids[b])) in query
        expect(page.locator("#compare-scope")).to_contain_text("Country: Germany")
        for name in (a, b):
            card = page.locator(f"#compare-cards .card:has-text('{name}')").first
            expect(card).to_contain_text(f"{_count(two_runs_db, 2, ids[name], 'Germany'):,} customers")
        shot(page, "compare-germany")
        page.reload()  # the URL restores the same comparison
        wait_idle(page)
        expect(page.locator("#compare-scope")).to_contain_text("Country: Germany")
        expect(page.locator("#compare-filter-country")).to_contain_text("Germany")


POINTS = """(id) => document.getElementById(id).querySelector('.js-plotly-plot')._fullData
    .filter(t => t.type === 'scatter' || t.type === 'scattergl')
    .reduce((n, t) => n + (t._length || 0), 0)"""


def test_brws015_model_and_simulator_take_the_filters_set_on_explore(
    browser, two_runs_server: Server, two_runs_db: Path, watch
) -> None:
    with duckdb.connect(str(two_runs_db), read_only=True) as con:
        (germany,) = con.execute(
            "SELECT count(*) FROM customers WHERE run_id = 2 AND country = 'Germany'"
        ).fetchone()
    with guarded_page(browser, two_runs_server, watch) as page:
        page.goto(two_runs_server.url + "/explore?run=2&country=Germany")
        wait_idle(page)
        page.locator(".navbar").get_by_role("link", name="Model", exact=True).click()
        page.wait_for_url("**/model?run=2&country=Germany")
        wait_idle(page)
        expect(page.locator("#model-scope")).to_contain_text("Country: Germany")
        expect(page.locator("#model-scope")).to_contain_text("k sweep")  # what the filters do not narrow
        assert page.evaluate(POINTS, "model-pca2d") == germany
        shot(page, "model-germany")
        page.locator(".navbar").get_by_role("link", name="Simulator", exact=True).click()
        page.wait_for_url("**/simulator?run=2&country=Germany")
        wait_idle(page)
        expect(page.locator("#simulator-scope")).to_contain_text("Country: Germany")
        page.locator("#simulator-scope").get_by_role("link", name="show all customers").click()
        page.wait_for_url("**/simulator?run=2")
        wait_idle(page)
        expect(page.locator("#simulator-scope")).to_contain_text("All customers of the run")
