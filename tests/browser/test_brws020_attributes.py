"""A run with customer attributes in the real app: the attribute filters on Explore narrow every KPI, live in
the URL, follow the user to Compare (a row per attribute) and to the Customers export (one column each)."""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import duckdb
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ROOT, Server, guarded_page, shot, start_gunicorn, stop, wait_idle


@pytest.fixture(scope="module")
def attributes_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled sample with an attributes table: an age for most customers and a plan for each."""
    from segmentation import cli

    folder = tmp_path_factory.mktemp("attributes-browser")
    sample = ROOT / "data" / "online_retail_sample.csv"
    with duckdb.connect() as con:
        ids = [r[0] for r in con.execute(
            "SELECT DISTINCT CustomerID FROM read_csv(?, all_varchar = true) WHERE CustomerID IS NOT NULL "
            "ORDER BY 1", [str(sample)]).fetchall()]  # fmt: skip
    rng = random.Random(5)
    path = folder / "crm.csv"
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["customer", "age", "plan"])
        for customer in ids[:-20]:
            writer.writerow([customer, rng.randint(18, 80), rng.choice(["basic", "plus", "pro"])])
    db = folder / "segments.duckdb"
    args = ["run", str(sample), "--db", str(db), "--attributes", str(path), "--attributes-key", "customer",
            "--quiet"]  # fmt: skip
    assert cli.main(args) == 0
    return db


@pytest.fixture(scope="module")
def attributes_server(attributes_db: Path) -> Iterator[Server]:
    server = start_gunicorn(attributes_db)
    yield server
    stop(server)


def _count(db: Path, sql: str) -> int:
    with duckdb.connect(str(db), read_only=True) as con:
        return int(con.execute(f"SELECT count(*) FROM customers WHERE {sql}").fetchone()[0])  # noqa: S608


def test_brws020_attribute_filters_narrow_explore_compare_and_the_export(
    browser, attributes_server: Server, attributes_db: Path, watch
) -> None:
    pro = _count(attributes_db, "attr_texts[1] = 'pro'")
    assert 0 < pro < _count(attributes_db, "true")
    with guarded_page(browser, attributes_server, watch) as page:
        page.goto(f"{attributes_server.url}/explore")
        wait_idle(page)
        section = page.locator(".attribute-filters")
        expect(section).to_contain_text("age")
        section.get_by_text("All (3 values)").click()
        page.keyboard.type("pro")
        page.get_by_role("option", name="pro", exact=True).click()
        page.keyboard.press("Escape")
        page.wait_for_url("**attr%3Aplan=pro**")
        wait_idle(page)
        expect(page.locator("#explore-kpi-customers .kpi-value")).to_have_text(f"{pro:,}")
        expect(page.locator("#explore-filter-chips, body").first).to_contain_text("plan: pro")
        shot(page, "explore-attributes")
        query = urlsplit(page.url).query
        assert ("attr:plan", "pro") in parse_qsl(query)
        # the same filters on Compare: the attribute rows, over the pro customers only
        page.goto(f"{attributes_server.url}/compare?{query}")
        wait_idle(page)
        expect(page.locator("#compare-scope")).to_contain_text("plan: pro")
        expect(page.locator("#compare-table")).to_contain_text("plan (commonest)")
        expect(page.locator("#compare-table")).to_contain_text("pro · 100%")
        expect(page.locator("#compare-table")).to_contain_text("age")
        # and the export of those customers carries the attribute columns
        response = page.request.get(f"{attributes_server.url}/export/customers.csv?{query}")
        assert response.status == 200
        rows = [r for r in csv.reader(io.StringIO(response.text())) if r and not r[0].startswith("#")]
        assert rows[0][-2:] == ["age", "plan"] and len(rows) - 1 == pro
        assert {r[-1] for r in rows[1:]} == {"pro"}
