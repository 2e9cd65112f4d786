"""Segment colours follow names in a real browser: over two runs of the sample where one name has different
ids, History's Sankey draws each name in one colour on both sides, and Overview's bars of either run draw
it in that same colour (read from the drawn figures' data in the DOM)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import Server, Watch, guarded_page, shot, wait_idle

GRAPH_DATA = "(id) => document.querySelector('#' + id + ' .js-plotly-plot').data"


@pytest.fixture
def colors_page(browser: Browser, two_runs_server: Server) -> Iterator[Page]:
    """A guarded page on conftest's two-run server (the sample with k = 4, then k = 5)."""
    with guarded_page(browser, two_runs_server, Watch()) as page:
        yield page


def moved_names(db: Path) -> dict[str, tuple[int, int]]:
    """Names both runs have, under a different segment id in each: name -> (id in run 1, id in run 2)."""
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            """SELECT a.name, a.segment_id, b.segment_id FROM segments AS a JOIN segments AS b USING (name)
               WHERE a.run_id = 1 AND b.run_id = 2 AND a.segment_id <> b.segment_id"""
        ).fetchall()
    return {name: (a, b) for name, a, b in rows}


def overview_bar_colors(page: Page, url: str) -> dict[str, str]:
    """Segment name -> colour of its customers bar on Overview (url picks the run)."""
    page.goto(url)
    wait_idle(page)
    expect(page.locator("#overview-segments .js-plotly-plot")).to_have_count(1)
    traces = page.evaluate(GRAPH_DATA, "overview-segments")
    customers = next(t for t in traces if t["name"] == "Customers")
    colors = customers["marker"]["color"]
    assert len(colors) == len(customers["y"])
    names = [label.replace(" ·<br>", " · ") for label in customers["y"]]  # long names are on two lines
    return dict(zip(names, colors, strict=True))


def test_brws011_one_name_one_colour_across_runs_and_pages(
    colors_page: Page, two_runs_server: Server
) -> None:
    page = colors_page
    moved = moved_names(two_runs_server.db)
    assert moved, "the two runs must share a name under different ids for this test to mean anything"

    page.goto(two_runs_server.url + "/history?a=1&b=2")
    wait_idle(page)
    expect(page.locator("#history-sankey .sankey-node")).not_to_have_count(0)
    node = page.evaluate(GRAPH_DATA, "history-sankey")[0]["node"]
    sankey: dict[str, set[str]] = {}
    for label, color in zip(node["label"], node["color"], strict=True):
        sankey.setdefault(label, set()).add(color)
    for name in moved:
        assert node["label"].count(name) == 2, f"{name} should be a node on both sides"
    assert {label: c for label, c in sankey.items() if len(c) > 1} == {}, "a name drawn in two colours"
    shot(page, "segment-colors-history")

    run_1 = overview_bar_colors(page, two_runs_server.url + "/?run=1")
    run_2 = overview_bar_colors(page, two_runs_server.url + "/?run=2")
    shot(page, "segment-colors-overview-run-2")
    for name in set(run_1) & set(run_2):
        assert run_1[name] == run_2[name], f"{name}: {run_1[name]} in run 1, {run_2[name]} in run 2"
    for name in set(run_1) | set(run_2):
        assert {(run_1 | run_2)[name]} == sankey[name], f"{name}: Overview and History disagree"
    # names of one run are told apart
    assert len(set(run_1.values())) == len(run_1) and len(set(run_2.values())) == len(run_2)
