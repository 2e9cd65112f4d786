"""Customers in a real browser: count and server-side pages, the CSV/XLSX export equals the filtered set,
the at-risk preset, and "why this segment". Expected values come from DuckDB directly."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import duckdb
import openpyxl
from playwright.sync_api import Page, expect

from tests.browser.conftest import Server, shot, wait_idle

AT_RISK = ["at risk", "can't lose", "can\u2019t lose", "cant lose"]


def rows(db: Path, sql: str, params: list[Any] | dict[str, Any]) -> list[tuple[Any, ...]]:
    """Rows from the test DB, read without any dashboard code."""
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, params).fetchall()


def first_ids(page: Page) -> list[str]:
    return page.locator('#customers-table td[data-dash-column="customer_id"]').all_inner_texts()


def test_brws004_customers_count_and_server_side_pages(app_page: Page, live_server: Server) -> None:
    page = app_page
    page.goto(live_server.url + "/customers")
    wait_idle(page)
    ids = [
        r[0]
        for r in rows(
            live_server.db,
            "SELECT customer_id FROM customers WHERE run_id = (SELECT max(id) FROM runs) "
            "ORDER BY customer_id",
            [],
        )
    ]
    expect(page.locator("#customers-count")).to_have_text(f"{len(ids):,} customers")
    expect(page.locator('#customers-table td[data-dash-column="customer_id"]')).to_have_count(25)
    assert first_ids(page) == ids[:25]

    page.locator("#customers-table .next-page").click()
    expect(page.locator('#customers-table td[data-dash-column="customer_id"]').first).to_have_text(ids[25])
    assert first_ids(page) == ids[25:50]
    page.wait_for_function("() => location.search.includes('page=2')")

    page.locator('#customers-table th[data-dash-column="monetary"] .column-header--sort').click()
    wait_idle(page)
    page.locator('#customers-table th[data-dash-column="monetary"] .column-header--sort').click()
    page.wait_for_function(
        "() => location.search.includes('sort=monetary') && location.search.includes('desc=1')"
    )
    top = rows(
        live_server.db,
        "SELECT customer_id FROM customers WHERE run_id = (SELECT max(id) FROM runs) "
        "ORDER BY monetary DESC, customer_id LIMIT 25",
        [],
    )
    expect(page.locator('#customers-table td[data-dash-column="customer_id"]').first).to_have_text(top[0][0])
    assert first_ids(page) == [r[0] for r in top]  # a new sort starts again at page 1


def test_brws004_customers_exports_equal_the_filtered_set(app_page: Page, live_server: Server) -> None:
    page = app_page
    page.goto(live_server.url + "/customers?country=Germany&tenure_min=100")
    wait_idle(page)
    expected = {
        r[0]
        for r in rows(
            live_server.db,
            "SELECT customer_id FROM customers WHERE run_id = (SELECT max(id) FROM runs) "
            "AND country = ? AND tenure_days >= ?",
            ["Germany", 100],
        )
    }
    expect(page.locator("#customers-count")).to_have_text(f"{len(expected):,} customers")

    with page.expect_download() as info:
        page.get_by_role("link", name="Export CSV").click()
    download = info.value
    run, snapshot = rows(live_server.db, "SELECT id, snapshot_date FROM runs ORDER BY id DESC LIMIT 1", [])[0]
    name = download.suggested_filename
    # the context is in the name: run, snapshot, filters, UTC time (the file itself is plain CSV)
    assert re.fullmatch(
        rf"customers_run{run}_snap{snapshot.isoformat()}_germany_tenure-ge100_\d{{8}}T\d{{6}}Z\.csv", name
    ), name
    text = Path(download.path()).read_text(encoding="utf-8")
    assert text.splitlines()[0].split(",")[:2] == ["customer_id", "country"]  # line one is the header
    assert "#" not in text.splitlines()[0] and str(live_server.db.parent) not in text
    exported = [r["customer_id"] for r in csv.DictReader(io.StringIO(text))]
    assert len(exported) == len(expected) and set(exported) == expected

    with page.expect_download() as info:
        page.get_by_role("link", name="Export XLSX").click()
    assert info.value.suggested_filename.startswith(f"customers_run{run}_snap{snapshot.isoformat()}_germany_")
    book = openpyxl.load_workbook(io.BytesIO(Path(info.value.path()).read_bytes()), read_only=True)
    sheet = list(book["Customers"].iter_rows(values_only=True))
    column = sheet[0].index("customer_id")
    assert {str(r[column]) for r in sheet[1:]} == expected and len(sheet) - 1 == len(expected)
    about = dict(book["About"].iter_rows(values_only=True))
    assert about["Run"] == str(run) and about["Filters"] == "Country: Germany; Tenure: at least 100 days"
    book.close()


def test_brws004_customers_at_risk_preset_and_why_this_segment(app_page: Page, live_server: Server) -> None:
    page = app_page
    page.goto(live_server.url + "/customers")
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
    assert rows(live_server.db, "SELECT count(*) FROM customers WHERE p_alive < 0.5", [])[0][0] == 0
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
    expect(page.locator('#customers-table td[data-dash-column="customer_id"]').first).to_have_text(
        at_risk[0][0]
    )
    assert first_ids(page) == [r[0] for r in at_risk[:25]]  # sorted by value at risk, largest first
    wait_idle(page)
    shot(page, "customers")

    customer = at_risk[0][0]
    page.locator('#customers-table td[data-dash-column="customer_id"]').first.click()
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
