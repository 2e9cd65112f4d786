"""Customers in a real browser: the server-fed grid (rows in the DB's order, header sorts, scrolling fetches
the next block, the URL restores sort, scroll and columns), every column reachable at 1440x900, the column
chooser, the empty state with disabled exports, exports equal to the filtered set in the grid's order, the
at-risk preset and "why this segment". Expected values come from DuckDB directly."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import openpyxl
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import (
    Server,
    Watch,
    choose_option,
    guarded_page,
    shot,
    start_gunicorn,
    stop,
    wait_idle,
)

AT_RISK = ["at risk", "can't lose", "can\u2019t lose", "cant lose"]
DEFAULT_HEADERS = [
    "Customer",
    "Country",
    "Segment",
    "RFM group",
    "R F M",
    "Recency (days)",
    "Frequency (orders)",
    "Revenue (GBP)",
    "Tenure (days)",
    "Basket value (GBP)",
    "Return rate (%)",
    "Outlier",
    "Chance still active (%)",
    "Predicted value, 12 months (GBP)",
    "Value at risk (GBP)",
    "Why listed",
    "Action",
]  # fmt: skip  (the one name per measure, dashboard.measures; money in the sample's pounds)


def rows(db: Path, sql: str, params: list[Any] | dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
    """Rows from the test DB, read without any dashboard code."""
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def db_ids(db: Path, order: str, where: str = "") -> list[str]:
    """The latest run's customer ids in the given ORDER BY (the grid's order for that sort)."""
    latest = "WHERE run_id = (SELECT max(id) FROM runs)"
    sql = f"SELECT customer_id FROM customers {latest} {where} ORDER BY {order}"  # noqa: S608 (test text)
    return [r[0] for r in rows(db, sql)]


def loaded(page: Page) -> dict[int, str]:
    """Row index -> customer id of every row the grid has received (its block cache)."""
    pairs = page.evaluate(
        """() => { const out = [];
            dash_ag_grid.getApi('customers-grid').forEachNode(n => {
                if (n.data) out.push([n.rowIndex, n.data.customer_id]);
            });
            return out; }"""
    )
    return {int(i): str(c) for i, c in pairs}


def wait_first(page: Page, customer_id: str) -> None:
    """Wait until the grid's row 0 is that customer."""
    page.wait_for_function(
        """(id) => { try { const n = dash_ag_grid.getApi('customers-grid').getDisplayedRowAtIndex(0);
            return !!n && !!n.data && n.data.customer_id === id; } catch (e) { return false; } }""",
        arg=customer_id,
    )
    wait_idle(page)


def shown_ids(page: Page) -> list[str]:
    """The customer ids the grid shows on screen, top to bottom."""
    return page.evaluate(
        """() => [...document.querySelectorAll('#customers-grid .ag-pinned-left-cols-container .ag-row')]
            .filter(r => {
                const box = r.getBoundingClientRect(),
                    view = document.querySelector('#customers-grid .ag-body-viewport')
                        .getBoundingClientRect();
                return box.top >= view.top - 1 && box.bottom <= view.bottom + 1; })
            .sort((a, b) => +a.getAttribute('row-index') - +b.getAttribute('row-index'))
            .map(r => r.querySelector('[col-id="customer_id"]').innerText)"""
    )


def test_brws004_customers_rows_and_header_sort_follow_the_db(app_page: Page, live_server: Server) -> None:
    page = app_page
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(live_server.url + "/customers")
    by_id = db_ids(live_server.db, "customer_id")
    wait_first(page, by_id[0])
    expect(page.locator("#customers-count")).to_have_text(f"{len(by_id):,} customers")
    got = loaded(page)
    assert len(got) == 100 and [got[i] for i in range(100)] == by_id[:100]  # one block of 100, in order
    assert shown_ids(page) == by_id[: len(shown_ids(page))] and len(shown_ids(page)) >= 10

    header = page.locator('#customers-grid .ag-header-cell[col-id="monetary"] .ag-header-cell-label')
    header.click()  # ascending
    asc = db_ids(live_server.db, "monetary ASC NULLS LAST, customer_id")
    wait_first(page, asc[0])
    assert [loaded(page)[i] for i in range(100)] == asc[:100]
    header.click()  # descending
    desc = db_ids(live_server.db, "monetary DESC NULLS LAST, customer_id")
    wait_first(page, desc[0])
    got = loaded(page)
    assert [got[i] for i in range(100)] == desc[:100]
    page.wait_for_function("() => location.search.includes('sort=monetary&desc=1')")
    expect(page.locator("#customers-csv")).to_have_attribute("href", re.compile(r"sort=monetary&desc=1"))

    page.locator(
        '#customers-grid .ag-header-cell[col-id="rfm"] .ag-header-cell-label'
    ).click()  # not sortable
    page.locator('#customers-grid .ag-header-cell[col-id="country"] .ag-header-cell-label').click()
    by_country = db_ids(live_server.db, "country ASC NULLS LAST, customer_id")
    wait_first(page, by_country[0])
    assert [loaded(page)[i] for i in range(100)] == by_country[:100]
    page.wait_for_function("() => location.search.includes('sort=country&desc=0')")


def test_brws004_scrolling_fetches_the_next_block_and_the_url_keeps_the_place(
    app_page: Page, live_server: Server
) -> None:
    page = app_page
    page.set_viewport_size({"width": 1440, "height": 900})
    asked: list[dict[str, Any]] = []

    def note(request: Any) -> None:
        body = request.post_data or ""
        if "_dash-update-component" in request.url and "getRowsRequest" in body:
            value = next(i["value"] for i in json.loads(body)["inputs"] if i["property"] == "getRowsRequest")
            asked.append(value)

    page.on("request", note)
    page.goto(live_server.url + "/customers?sort=recency&desc=0")
    order = db_ids(live_server.db, "recency_days ASC NULLS LAST, customer_id")
    wait_first(page, order[0])
    assert [(a["startRow"], a["endRow"]) for a in asked] == [(0, 100)]
    assert [[(m["colId"], m["sort"]) for m in a["sortModel"]] for a in asked] == [[("recency_days", "asc")]]

    viewport = page.locator("#customers-grid .ag-body-viewport")
    viewport.hover()
    for _ in range(30):  # wheel down past row 100: the grid asks for the second block only then
        page.mouse.wheel(0, 400)
        if any(a["startRow"] == 100 for a in asked):
            break
        page.wait_for_timeout(100)
    page.wait_for_function(
        "() => { const n = dash_ag_grid.getApi('customers-grid').getDisplayedRowAtIndex(150);"
        " return !!(n && n.data); }"
    )
    wait_idle(page)
    assert (100, 200) in [(a["startRow"], a["endRow"]) for a in asked]
    got = loaded(page)
    assert [got[i] for i in range(100, 200)] == order[100:200]
    top = shown_ids(page)[0]
    want = order.index(top) // 25 + 1
    assert want >= 2
    # the URL follows the scroll a moment later (it is written when the grid settles): wait for the page
    # of the row on top, not for any page past the first, which an earlier scroll position may have written
    page.wait_for_function("(n) => new RegExp('[?&]page=' + n + '(&|$)').test(location.search)", arg=want)
    url = page.url
    page_no = int(re.search(r"[?&]page=(\d+)", url).group(1))  # type: ignore[union-attr]
    assert order.index(top) // 25 + 1 == page_no

    page.reload()  # the URL opens the grid at that page, in that sort
    page.wait_for_function(
        "(row) => { try { const api = dash_ag_grid.getApi('customers-grid');"
        " const n = api.getDisplayedRowAtIndex(row);"
        " return !!(n && n.data) && api.getVerticalPixelRange().top > 0; }"
        " catch (e) { return false; } }",
        arg=(page_no - 1) * 25,
    )
    wait_idle(page)
    assert shown_ids(page)[0] == order[(page_no - 1) * 25]
    assert "sort=recency&desc=0" in page.url and f"page={page_no}" in page.url


SLOW_NEXT_BLOCK = """() => { const fetch0 = window.fetch; window.slowNext = true;
    window.fetch = (url, options) => {
        const body = String((options && options.body) || '');
        const rowsCall = String(url).includes('_dash-update-component') && body.includes('getRowsRequest');
        if (rowsCall && window.slowNext) {
            window.slowNext = false;
            window.slowSent = true;
            return new Promise(resolve => setTimeout(() => resolve(fetch0(url, options)), 2500));
        }
        return fetch0(url, options);
    }; }"""


def test_brws004_a_filter_change_while_a_block_is_on_its_way(app_page: Page, live_server: Server) -> None:
    page = app_page
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(live_server.url + "/customers")
    wait_first(page, db_ids(live_server.db, "customer_id")[0])
    page.evaluate(SLOW_NEXT_BLOCK)  # the next block (everyone's rows 100..199) answers 2.5 s late
    page.locator("#customers-grid .ag-body-viewport").hover()
    for _ in range(30):
        page.mouse.wheel(0, 500)
        if page.evaluate("() => window.slowSent === true"):
            break
        page.wait_for_timeout(50)
    page.mouse.move(0, 0)
    choose_option(page, "customers-country", "Germany")
    germany = db_ids(live_server.db, "customer_id", "AND country = 'Germany'")
    wait_first(page, germany[0])
    page.wait_for_timeout(3000)  # the late answer for the old filters has come back by now
    wait_idle(page)
    got = loaded(page)
    assert [got[i] for i in sorted(got)] == germany and sorted(got) == list(range(len(germany)))
    assert page.evaluate("() => dash_ag_grid.getApi('customers-grid').getDisplayedRowCount()") == len(germany)
    expect(page.locator("#customers-count")).to_have_text(f"{len(germany):,} customers")
    assert "country=Germany" in page.url and "page=" not in page.url


def test_brws004_every_default_column_is_reachable_at_1440(app_page: Page, live_server: Server) -> None:
    page = app_page
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(live_server.url + "/customers")
    wait_first(page, db_ids(live_server.db, "customer_id")[0])
    grid_box = page.locator("#customers-grid").bounding_box()
    assert grid_box is not None and grid_box["x"] + grid_box["width"] <= 1440
    assert page.evaluate(
        "() => document.documentElement.scrollWidth <= window.innerWidth"
    )  # page: no sideways
    seen: set[str] = set()
    scroller = page.locator("#customers-grid .ag-body-horizontal-scroll-viewport")
    for _ in range(40):
        seen |= set(
            page.evaluate(
                """() => { const grid = document.querySelector('#customers-grid').getBoundingClientRect();
                    return [...document.querySelectorAll('#customers-grid .ag-header-cell')].filter(h => {
                        const b = h.getBoundingClientRect();
                        return b.width > 20 && b.left >= grid.left - 1 && b.right <= grid.right + 1
                            && getComputedStyle(h).visibility !== 'hidden';
                    }).map(h => h.innerText.trim()); }"""
            )
        )
        before = scroller.evaluate("e => e.scrollLeft")
        scroller.evaluate("e => { e.scrollLeft += 250; }")
        page.wait_for_timeout(80)
        if scroller.evaluate("e => e.scrollLeft") == before:
            break
    assert seen == set(DEFAULT_HEADERS)
    scroller.evaluate("e => { e.scrollLeft = 0; }")
    shot(page, "customers-1440")


def test_brws004_column_chooser_hides_a_column_and_the_url_keeps_it(
    app_page: Page, live_server: Server
) -> None:
    page = app_page
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(live_server.url + "/customers?sort=monetary&desc=1")
    wait_first(page, db_ids(live_server.db, "monetary DESC NULLS LAST, customer_id")[0])
    country = page.locator('#customers-grid .ag-header-cell[col-id="country"]')
    expect(country).to_be_visible()
    page.get_by_role("button", name="Columns").click()
    page.locator("#customers-columns label", has_text="Country").click()
    expect(country).to_have_count(0)
    page.wait_for_function("() => location.search.includes('cols=')")
    assert "cols=customer_id,segment_name," in page.url and "country" not in page.url.split("cols=")[1]
    assert "sort=monetary&desc=1" in page.url
    page.reload()
    wait_idle(page)
    expect(page.locator('#customers-grid .ag-header-cell[col-id="segment_name"]')).to_be_visible()
    expect(page.locator('#customers-grid .ag-header-cell[col-id="country"]')).to_have_count(0)
    page.get_by_role("button", name="Columns").click()
    expect(page.locator("#customers-columns input[value='country']")).not_to_be_checked()
    expect(page.locator("#customers-columns input[value='segment_name']")).to_be_checked()
    page.locator("#customers-columns label", has_text="Country").click()  # back: the default set, no cols=
    expect(page.locator('#customers-grid .ag-header-cell[col-id="country"]')).to_be_visible()
    page.wait_for_function("() => !location.search.includes('cols=')")


def test_brws004_nobody_left_shows_why_and_disables_exports(app_page: Page, live_server: Server) -> None:
    page = app_page
    page.set_viewport_size({"width": 1440, "height": 900})
    lo, hi = rows(
        live_server.db,
        "SELECT min(recency_days), max(recency_days) FROM customers "
        "WHERE run_id = (SELECT max(id) FROM runs) AND country = 'Germany'",
    )[0]
    page.goto(live_server.url + f"/customers?country=Germany&recency_max={int(lo) - 1}")
    wait_idle(page)
    expect(page.locator("#customers-count")).to_have_text("0 customers")
    expect(page.locator("#customers-empty-message")).to_have_text(
        f"No customer in Germany has recency of at most {int(lo) - 1} days; "
        f"recency of customers in Germany goes from {int(lo)} to {int(hi):,} days."
    )
    for name in ("Export CSV", "Export XLSX"):
        expect(page.get_by_role("button", name=name)).to_be_disabled()
        expect(page.get_by_role("link", name=name)).to_have_count(0)
    shot(page, "customers-empty-1440")
    page.set_viewport_size({"width": 390, "height": 844})
    page.locator("#customers-empty-message").scroll_into_view_if_needed()
    shot(page, "customers-empty-390")
    page.set_viewport_size({"width": 1440, "height": 900})

    page.get_by_role("button", name="Clear filters").click()  # the grid comes back, and the links
    wait_first(page, db_ids(live_server.db, "customer_id")[0])
    expect(page.locator("#customers-empty-message")).to_have_count(0)
    expect(page.locator("#customers-empty")).to_be_hidden()
    expect(page.get_by_role("link", name="Export CSV")).to_be_visible()
    assert shown_ids(page)[:5] == db_ids(live_server.db, "customer_id")[:5]


def test_brws004_customers_exports_equal_the_filtered_set(app_page: Page, live_server: Server) -> None:
    page = app_page
    page.goto(live_server.url + "/customers?country=Germany&tenure_min=100&sort=monetary&desc=1")
    expected = db_ids(
        live_server.db,
        "monetary DESC NULLS LAST, customer_id",
        "AND country = 'Germany' AND tenure_days >= 100",
    )
    wait_first(page, expected[0])
    expect(page.locator("#customers-count")).to_have_text(f"{len(expected):,} customers")
    explore = page.locator(".navbar").get_by_role("link", name="Explore", exact=True)
    expect(explore).to_have_attribute("href", re.compile(r"country=Germany&tenure_min=100$"))  # the filters

    with page.expect_download() as info:
        page.get_by_role("link", name="Export CSV").click()
    download = info.value
    run, snapshot = rows(live_server.db, "SELECT id, snapshot_date FROM runs ORDER BY id DESC LIMIT 1")[0]
    name = download.suggested_filename
    # the context is in the name: run, snapshot, filters, UTC time (the file itself is plain CSV)
    assert re.fullmatch(
        rf"customers_run{run}_snap{snapshot.isoformat()}_germany_tenure-ge100_\d{{8}}T\d{{6}}Z\.csv", name
    ), name
    text = Path(download.path()).read_text(encoding="utf-8")
    assert text.splitlines()[0].split(",")[:2] == ["customer_id", "country"]  # line one is the header
    assert "#" not in text.splitlines()[0] and str(live_server.db.parent) not in text
    exported = [r["customer_id"] for r in csv.DictReader(io.StringIO(text))]
    assert exported == expected  # the whole filtered set, in the grid's order

    with page.expect_download() as info:
        page.get_by_role("link", name="Export XLSX").click()
    assert info.value.suggested_filename.startswith(f"customers_run{run}_snap{snapshot.isoformat()}_germany_")
    book = openpyxl.load_workbook(io.BytesIO(Path(info.value.path()).read_bytes()), read_only=True)
    sheet = list(book["Customers"].iter_rows(values_only=True))
    column = sheet[0].index("customer_id")
    assert [str(r[column]) for r in sheet[1:]] == expected
    about = dict(book["About"].iter_rows(values_only=True))
    assert about["Run"] == str(run) and about["Filters"] == "Country: Germany; Tenure: at least 100 days"
    book.close()


def test_brws004_customers_at_risk_preset_and_why_this_segment(app_page: Page, live_server: Server) -> None:
    page = app_page
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(live_server.url + "/customers?sort=country&desc=0")
    wait_idle(page)
    page.locator("label", has_text="At-risk list").click()
    page.wait_for_function("() => location.search.includes('preset=at-risk')")
    named = rows(
        live_server.db,
        "SELECT count(*) FROM segments WHERE run_id = (SELECT max(id) FROM runs) "
        "AND list_contains(?, lower(name))",
        [AT_RISK],
    )[0][0]
    # the sample's value model finds nobody below 50% chance still active, so the list falls back to the
    # segments named At Risk / Can't Lose, else the rule-based RFM groups of those names, by value at risk
    assert rows(live_server.db, "SELECT count(*) FROM customers WHERE p_alive < 0.5")[0][0] == 0
    at_risk = rows(
        live_server.db,
        "SELECT c.customer_id FROM customers c JOIN segments s USING (run_id, segment_id) "
        "WHERE c.run_id = (SELECT max(id) FROM runs) "
        "AND CASE WHEN $named THEN list_contains($names, lower(s.name)) "
        "ELSE list_contains($names, lower(c.rfm_group)) END "
        "ORDER BY c.value_at_risk DESC, c.customer_id",
        {"named": bool(named), "names": AT_RISK},
    )
    assert at_risk, "the sample has at-risk customers"
    expect(page.locator("#customers-count")).to_have_text(f"{len(at_risk):,} customers")
    wait_first(page, at_risk[0][0])  # the preset drops the country sort: the list's own ranking
    got = loaded(page)
    assert [got[i] for i in range(min(len(at_risk), 100))] == [r[0] for r in at_risk[:100]]
    page.wait_for_function("() => !location.search.includes('sort=')")
    shot(page, "customers")

    customer = at_risk[0][0]
    page.locator('#customers-grid .ag-row[row-index="0"] [col-id="segment_name"]').click()
    panel = page.locator("#customers-why")
    expect(panel).to_be_visible()
    expect(panel).to_contain_text("Why this segment")
    expect(panel).to_contain_text(f"Customer {customer}")
    expect(page.locator("#customers-why-value")).to_contain_text("Chance still active: ")
    own, nxt, name = rows(
        live_server.db,
        "SELECT c.dist_own, c.dist_next, s.name FROM customers c JOIN segments s "
        "ON s.run_id = c.run_id AND s.segment_id = c.next_segment_id "
        "WHERE c.run_id = (SELECT max(id) FROM runs) AND c.customer_id = ?",
        [customer],
    )[0]
    kind = "borderline" if nxt < 1.25 * own else "a clear member"
    expect(page.locator("#customers-why-verdict")).to_have_text(
        f"{own:.1f} from its centroid, {nxt:.1f} from {name}: {kind}."
    )
    expect(panel.locator(".js-plotly-plot")).to_be_visible()
    wait_idle(page)
    shot(page, "customers_why")


def test_brws004_customers_on_a_phone(app_page: Page, live_server: Server) -> None:
    page = app_page
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(live_server.url + "/customers")
    wait_first(page, db_ids(live_server.db, "customer_id")[0])
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")  # grid scrolls
    box = page.locator("#customers-grid").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    page.locator("#customers-grid").scroll_into_view_if_needed()
    shot(page, "customers-390")


@pytest.fixture(scope="module")
def no_value_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The dashboard tests' fixture DB: no value model (no value or chance-still-active slider)."""
    from tests.dashboard.conftest import build_db

    server = start_gunicorn(build_db(tmp_path_factory.mktemp("no-value") / "segments.duckdb"))
    yield server
    stop(server)


def test_brws004_a_run_without_a_value_model(browser: Browser, no_value_server: Server, watch: Watch) -> None:
    with guarded_page(browser, no_value_server, watch) as page:  # fails on any console error
        page.set_viewport_size({"width": 1440, "height": 900})
        page.goto(no_value_server.url + "/customers")
        wait_first(page, db_ids(no_value_server.db, "customer_id")[0])
        expect(page.locator("#customers-filters")).to_contain_text("not in this run")
        page.locator("#customers-outliers label", has_text="Exclude").click()
        kept = db_ids(no_value_server.db, "customer_id", "AND NOT coalesce(is_outlier, false)")
        expect(page.locator("#customers-count")).to_have_text(f"{len(kept):,} customers")
        wait_first(page, kept[0])
        got = loaded(page)
        assert [got[i] for i in sorted(got)] == kept[: len(got)] and "outliers=exclude" in page.url
