"""Customers page: the grid's rows handler (blocks in the DB's order, hostile requests), the empty state and
disabled exports, the column chooser, "why this segment", layouts from the URL, and hostile callback bodies
posted to Dash's route (never a 500)."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlparse

import dash
import pandas as pd
import pytest
from dash.exceptions import PreventUpdate
from flask.testing import FlaskClient

from dashboard import create_app, filter_bar, queries
from dashboard import customers_grid as grid
from dashboard.filters import Filters
from dashboard.queries import filtered
from tests.dashboard.conftest import post_dash_callback as post


def to_json(value: Any) -> str:
    return json.dumps(
        value.to_plotly_json() if hasattr(value, "to_plotly_json") else value,
        default=lambda o: o.to_plotly_json() if hasattr(o, "to_plotly_json") else str(o),
    )


@pytest.fixture
def page(app: dash.Dash, db: Path) -> ModuleType:
    """The Customers page module as the app loaded it (its callbacks are plain functions)."""
    return sys.modules["dashboard.pages.customers"]


def controls(run_id: int = 1, **values: Any) -> dict[str, Any]:
    """Control values with no filter for a run of the fixture DB, plus the given ones."""
    return {**filter_bar.control_values(Filters(run_id=run_id), filtered.allowed(run_id)), **values}


def request(start: int = 0, end: int = 100, col: str | None = None, sort: str = "asc") -> dict[str, Any]:
    """A getRowsRequest as the grid sends it."""
    model = [{"colId": col, "sort": sort}] if col else []
    return {"startRow": start, "endRow": end, "sortModel": model, "filterModel": {}}


def ids(out: dict[str, Any]) -> list[str]:
    return [r["customer_id"] for r in out["rows"]["rowData"]]


def layout_json(app: dash.Dash, **query: str) -> str:
    with app.server.test_request_context("/"):
        return to_json(dash.page_registry["dashboard.pages.customers"]["layout"](**query))


def find(component: Any, component_id: str) -> Any:
    """The component with that id in a layout tree (None if absent)."""
    if getattr(component, "id", None) == component_id:
        return component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, (list, tuple)) else [children]:
        if hasattr(child, "to_plotly_json") and (hit := find(child, component_id)) is not None:
            return hit
    return None


def test_pc001_blocks_come_in_the_db_order_of_the_clicked_column(
    page: ModuleType, db: Path, read_customers: Callable[[Path, int], pd.DataFrame]
) -> None:
    frame = read_customers(db, 1)
    germany = frame[frame["country"] == "Germany"]
    for col, key, sort in (("monetary", "monetary", "desc"), ("recency_days", "recency", "asc")):
        expected = germany.sort_values([col, "customer_id"], ascending=[sort == "asc", True])
        seen: list[str] = []
        for start in range(0, len(germany) + 10, 10):  # blocks of 10 rows, as a small viewport asks
            out = page.rows_response(request(start, start + 10, col, sort), controls(country=["Germany"]), 1)
            assert out["rows"]["rowCount"] == len(germany)
            seen += ids(out)
        assert seen == list(expected["customer_id"]), col
        assert out["url_state"]["query"] == f"run=1&country=Germany&sort={key}&desc={int(sort == 'desc')}"
    assert out["count"] == f"{len(germany):,} customers"
    csv = urlparse(next(e for e in to_json_list(out["exports"]) if "csv" in e["id"])["href"])
    assert csv.path == "/export/customers.csv"
    assert parse_qs(csv.query) == {"run": ["1"], "country": ["Germany"], "sort": ["recency"], "desc": ["0"]}


def to_json_list(components: list[Any]) -> list[dict[str, Any]]:
    return [c.to_plotly_json()["props"] for c in components]


def test_pc002_unsorted_is_the_default_order_and_at_risk_ranks_by_revenue(
    page: ModuleType, db: Path, read_customers: Callable[[Path, int], pd.DataFrame]
) -> None:
    frame = read_customers(db, 1)
    out = page.rows_response(request(0, 100), controls(), 1)
    assert ids(out) == sorted(frame["customer_id"])[:100] and out["url_state"]["query"] == "run=1"
    at_risk = frame[frame["segment_name"].isin(["At Risk", "Can't Lose"])]
    at_risk = at_risk.sort_values(["monetary", "customer_id"], ascending=[False, True])
    out = page.rows_response(request(0, 25), controls(preset="at-risk"), 1)  # run 1 has no value model
    assert ids(out) == list(at_risk["customer_id"][:25]) and out["rows"]["rowCount"] == len(at_risk)


@pytest.mark.parametrize(
    "req",
    [
        None,
        {"startRow": "0; DROP TABLE customers", "endRow": [1], "sortModel": "monetary DESC; --"},
        {"startRow": 10**30, "endRow": 10**31, "sortModel": [{"colId": "monetary", "sort": "desc"}]},
        {"startRow": -(10**18), "endRow": True, "sortModel": [{"colId": {"x": 1}, "sort": "desc"}]},
        {"startRow": 0, "endRow": 100, "sortModel": [{"colId": 'x" DESC; --', "sort": "asc"}] * 1000},
        {"sortModel": [{"colId": "rfm", "sort": "desc"}], "filterModel": {"country": "' OR 1=1"}},
    ],
)
def test_pc003_hostile_requests_get_an_answer_never_an_error(page: ModuleType, req: Any) -> None:
    out = page.rows_response(req, controls(), "1")
    assert out["rows"]["rowCount"] == 200
    rows = ids(out)
    assert len(rows) <= grid.BLOCK_SIZE and rows == sorted(rows)  # default order (or past the end: none)
    assert out["url_state"]["query"] in ("run=1", "run=1&sort=monetary&desc=1")
    junk = page.rows_response(request(), {"country": {"$ne": 1}, "preset": ["x"]}, {"run": 1})
    assert junk["rows"]["rowCount"] == 200  # unknown control values and run: no filter, latest run


def test_pc004_no_customer_left_shows_why_and_disables_exports(page: ModuleType, db: Path) -> None:
    lo, hi = queries.fetch_one(
        "SELECT min(recency_days), max(recency_days) FROM seg.customers "
        "WHERE run_id = 1 AND country = 'Germany'"
    ) or (None, None)
    start = controls()["recency"][0]  # the slider's low end: no lower bound
    out = page.rows_response(request(), controls(country=["Germany"], recency=[start, int(lo) - 1]), 1)
    assert out["rows"] == {"rowData": [], "rowCount": 0} and out["count"] == "0 customers"
    message = to_json(out["empty"])
    assert (
        f"No customer in Germany has recency of at most {int(lo) - 1} days; "
        f"recency of customers in Germany goes from {int(lo)} to {int(hi)} days."
    ) in message
    buttons = to_json_list(out["exports"])
    assert [b["children"] for b in buttons] == ["Export CSV", "Export XLSX"]
    assert all(b["disabled"] is True and "href" not in b for b in buttons)
    assert [c.to_plotly_json()["type"] for c in out["exports"]] == ["Button", "Button"]
    full = page.rows_response(request(), controls(country=["Germany"]), 1)
    assert full["empty"] is None and all("href" in b for b in to_json_list(full["exports"]))


def test_pc005_layout_restores_sort_page_and_columns_from_the_url(app: dash.Dash, db: Path) -> None:
    text = layout_json(
        app, run="1", country="Germany", sort="monetary", desc="1", page="2", cols="country,monetary"
    )
    assert '"initialSort": "desc"' in text and '"scrollTo": {"rowIndex": 25, "rowPosition": "top"}' in text
    assert '"query": "run=1&country=Germany&sort=monetary&desc=1"' in text  # the page is the browser's
    assert '"data": "cols=customer_id,country,monetary"' in text
    assert '"href": "/export/customers.csv?run=1&country=Germany&sort=monetary&desc=1"' in text
    with app.server.test_request_context("/"):
        tree = dash.page_registry["dashboard.pages.customers"]["layout"](run="1", cols="country,monetary")
    hidden = {d["field"] for d in find(tree, grid.GRID_ID).columnDefs if d["hide"]}
    assert hidden == set(grid.COLUMN_IDS) - {"customer_id", "country", "monetary"}
    # a page past the end opens at the last page; junk in the URL gives the defaults
    assert '"rowIndex": 175' in layout_json(app, run="1", page="999")
    junk = layout_json(app, run="1", sort="monetary; DROP", page="x", cols="'; DROP TABLE x; --")
    assert '"scrollTo": null' in junk and "initialSort" not in junk and '"data": ""' in junk


def test_pc006_layout_with_nobody_left(app: dash.Dash, db: Path) -> None:
    text = layout_json(app, run="1", recency_max="0.5")
    assert "No customers match these filters" in text
    assert "No customer has recency of at most 0.5 days; recency in this run goes from" in text
    assert '"disabled": true' in text and "/export/customers.csv" not in text


def test_pc007_column_chooser(page: ModuleType) -> None:
    defs, cols = page.choose_columns(["monetary", "action"])
    assert cols == "cols=customer_id,monetary,action"
    assert [d["field"] for d in defs if not d["hide"]] == ["customer_id", "monetary", "action"]
    assert all("initialSort" not in d for d in defs)  # the user's sort is kept
    for junk in (None, "monetary", {"a": 1}, ["' OR 1=1"] * 5000):
        defs, cols = page.choose_columns(junk)
        assert cols == "cols=customer_id" and [d["field"] for d in defs if not d["hide"]] == ["customer_id"]
    assert page.choose_columns(grid.chooser_value(grid.DEFAULT_COLUMNS))[1] == ""


def test_pc008_why_panel_for_a_clicked_row(page: ModuleType) -> None:
    is_open, panel = page.show_why({"colId": "country", "rowIndex": 0, "rowId": "C10010", "value": "x"}, 1)
    assert is_open is True
    text = to_json(panel)
    assert "Customer C10010" in text and "from its centroid" in text
    is_open, panel = page.show_why({"rowId": "C29999"}, 1)  # not in run 1
    assert is_open is True and "That customer is not in this run." in to_json(panel)
    for junk in (None, "C10010", {"rowIndex": 0}, [1], {"rowId": None}):
        with pytest.raises(PreventUpdate):
            page.show_why(junk, 1)
    for junk_id in ({"x": 1}, ["C10010"], "' OR 1=1 --", "x" * 10_000):
        _, panel = page.show_why({"rowId": junk_id}, 1)
        assert "not in this run" in to_json(panel)


def test_pc009_no_run_yet(tmp_path: Path) -> None:
    app = create_app(tmp_path / "missing.duckdb")
    with app.server.test_request_context("/"):
        layout = dash.page_registry["dashboard.pages.customers"]["layout"]()
        assert "segments run data/online_retail_sample.csv" in to_json(layout)
        with queries.using(tmp_path / "missing.duckdb"):
            out = sys.modules["dashboard.pages.customers"].fetch_rows(
                request(), dict.fromkeys(filter_bar.CONTROLS), 1
            )
    assert out["count"] == "No segmentation run yet." and out["rows"] == {"rowData": [], "rowCount": 0}


# ---------------------------------------------------------------------------------------------------------
# Through Dash's own route: hostile bodies never give a 500


@pytest.mark.parametrize(
    "values",
    [
        {"customers-grid.getRowsRequest": "2; DROP", "customers-run.data": "1 OR 1=1"},
        {"customers-grid.getRowsRequest": {"startRow": {"x": 1}, "sortModel": [{"colId": {"x": 1}}]}},
        {
            "customers-grid.getRowsRequest": {"startRow": 1e308, "endRow": -1e308},
            "customers-run.data": {"r": 1},
        },
        {"customers-grid.getRowsRequest": request(), "customers-country.value": ["x"] * 20_000},
        {"customers-grid.getRowsRequest": request(), "customers-recency.value": [1e308, "a"]},
    ],
)
def test_pc010_route_takes_hostile_bodies(client: FlaskClient, values: dict[str, Any]) -> None:
    assert post(client, "..customers-grid.getRowsResponse", values) == 200


def test_pc011_chooser_and_why_routes_take_hostile_bodies(client: FlaskClient) -> None:
    assert post(client, "..customers-grid.columnDefs", {"customers-columns.value": {"$gt": ""}}) == 200
    assert post(client, "..customers-grid.columnDefs", {"customers-columns.value": ["x"] * 50_000}) == 200
    assert post(client, "..customers-why", {"customers-grid.cellClicked": {"rowId": {"a": 1}}}) == 200
    assert post(client, "..customers-why", {"customers-grid.cellClicked": "x"}) == 204


def test_pc012_the_grid_is_served_by_the_app_not_a_cdn(client: FlaskClient) -> None:
    html = client.get("/customers").get_data(as_text=True)
    assert "unpkg.com" not in html and "jsdelivr" not in html and "ag-grid.min.css" not in html
    scripts = re.findall(r'src="([^"]*dash_ag_grid[^"]*\.js)"', html)
    assert scripts and all(s.startswith("/_dash-component-suites/dash_ag_grid/") for s in scripts)
    response = client.get(scripts[0])
    assert response.status_code == 200 and len(response.get_data()) > 100_000
    # the grid's lazily loaded chunk comes from the same place
    chunk = scripts[0].rsplit("/", 1)[0] + "/async-community.js"
    assert client.get(chunk).status_code == 200
