"""create_app: config, pages, offline assets, the empty state, the shell's run sync, and the WSGI entry."""

from __future__ import annotations

import importlib
import json
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dash
import duckdb
import pytest
from flask.testing import FlaskClient

from dashboard import create_app, queries
from segmentation import store

HINT = "segments run data/online_retail_sample.csv"
ROOT = Path(__file__).resolve().parents[2]


def render(app: dash.Dash, module: str, **query: Any) -> str:
    """A page's layout for a query, rendered to its JSON text inside a request (as Dash does)."""
    with app.server.test_request_context("/"):
        layout = dash.page_registry[module]["layout"](**query)
        return json.dumps(layout.to_plotly_json(), cls=_Encoder, ensure_ascii=False)


def shell_json(app: dash.Dash) -> str:
    with app.server.test_request_context("/"):
        return json.dumps(app.layout().to_plotly_json(), cls=_Encoder, ensure_ascii=False)  # type: ignore[operator]


class _Encoder(json.JSONEncoder):
    def default(self, o: Any) -> Any:
        if hasattr(o, "to_plotly_json"):
            return o.to_plotly_json()
        return str(o)


def post_callback(client: FlaskClient, body: dict[str, Any]) -> Any:
    """POST a callback request as the renderer does; returns (status, parsed JSON or None)."""
    r = client.post("/_dash-update-component", json=body)
    return r.status_code, (r.get_json() if r.status_code == 200 else None)


def test_fac001_config(app: dash.Dash, fixture_db: Path) -> None:
    assert app.server.config["SEGMENTATION_DB"] == str(fixture_db)
    assert app.server.config["MAX_CONTENT_LENGTH"] == 1024 * 1024
    assert app.config.serve_locally is True and app.config.suppress_callback_exceptions is True
    assert Path(app.config.assets_folder) == ROOT / "dashboard" / "assets"
    pages = {p["module"]: p["path"] for p in dash.page_registry.values()}
    assert pages == {
        "dashboard.pages.overview": "/",
        "dashboard.pages.explore": "/explore",
        "dashboard.pages.compare": "/compare",
        "dashboard.pages.customers": "/customers",
        "dashboard.pages.model": "/model",
        "dashboard.pages.simulator": "/simulator",
        "dashboard.pages.history": "/history",
        "dashboard.pages.not_found_404": "/404",
    }
    assert app.server.debug is False


def test_fac002_index_is_served_and_nothing_comes_from_a_cdn(client: FlaskClient) -> None:
    r = client.get("/")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert "/assets/bootstrap.min.css" in html and "/assets/style.css" in html
    sources = re.findall(r'(?:src|href)="([^"]*)"', html)
    assert sources and all(s.startswith("/") and not s.startswith("//") for s in sources), sources
    for cdn in ("cdn.", "unpkg", "jsdelivr"):
        assert cdn not in html, cdn
    assert '"ui": false' in html.replace('"ui":false', '"ui": false')  # dev tools off
    assert client.get("/assets/bootstrap.min.css").status_code == 200
    topo = client.get("/assets/topojson/world_110m.json")
    assert topo.status_code == 200 and topo.get_json()["type"] == "Topology"


def test_fac003_secret_key_from_the_environment(monkeypatch: pytest.MonkeyPatch, fixture_db: Path) -> None:
    monkeypatch.setenv("SECRET_KEY", "s3cret")
    assert create_app(fixture_db).server.config["SECRET_KEY"] == "s3cret"


def test_fac004_large_callback_bodies_are_refused(client: FlaskClient) -> None:
    r = client.post("/_dash-update-component", data=b"x" * (2 * 1024 * 1024), content_type="application/json")
    assert r.status_code == 413


def test_fac005_overview_renders_for_the_url_query(app: dash.Dash) -> None:
    text = render(app, "dashboard.pages.overview", run="1", country=["France", "Germany"], segment="2")
    assert "overview-kpi-customers" in text and "overview-map" in text
    assert "Country: France, Germany" in text and "Segment: At Risk" in text
    assert "Cleaning: 5,000 lines read, 4,000 kept" in text
    assert '"topojsonURL": "/assets/topojson/"' in text


def test_fac006_overview_ignores_hostile_query_values(app: dash.Dash) -> None:
    text = render(
        app,
        "dashboard.pages.overview",
        run="'; DROP TABLE runs; --",
        country="'; DROP TABLE customers; --",
        segment=["x"] * 10_000,
        monetary_min="nan",
        tenure_band={"a": 1},
        unknown_key="whatever",
    )
    assert "overview-kpi-customers" in text and "Run 2" in text
    assert "DROP TABLE" not in text


@pytest.mark.parametrize("kind", ["missing", "empty-schema", "no-tables", "not-duckdb"])
def test_fac007_no_run_yet_shows_how_to_make_one(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "segments.duckdb"
    if kind == "empty-schema":
        with duckdb.connect(str(path)) as con:
            store.create_schema(con)
    elif kind == "no-tables":
        duckdb.connect(str(path)).close()
    elif kind == "not-duckdb":
        path.write_text("hello")
    app = create_app(path)
    client = app.server.test_client()
    assert client.get("/").status_code == 200
    assert client.get("/_dash-layout").status_code == 200
    for module in dash.page_registry:
        if module.endswith("not_found_404"):
            continue
        assert HINT in render(app, module), module
        assert "segments demo" in render(app, module, run="1", country="France")
    shell = shell_json(app)
    assert '"disabled": true' in shell and '"placeholder": "No run yet"' in shell
    queries.close_thread_connections()


def test_fac008_a_rerun_shows_on_the_next_page_load(tmp_path: Path, make_db: Callable[..., Path]) -> None:
    """The app keeps serving across the atomic swap and shows the new run without a restart."""
    live = make_db(tmp_path / "segments.duckdb", runs=1)
    app = create_app(live)
    assert '"Run 1' in render(app, "dashboard.pages.overview")
    os.replace(make_db(tmp_path / "staged.duckdb", runs=2), live)
    assert "Run 2 · snapshot" in render(app, "dashboard.pages.overview")
    assert '"value": 2' in shell_json(app)
    queries.close_thread_connections()


def test_fac009_two_apps_in_one_session_each_get_the_page_callbacks(fixture_db: Path) -> None:
    """With the globals reset (tests/conftest.py), a second app registers its own page callbacks."""
    for _ in range(2):
        from dash import _callback, _pages

        _callback.GLOBAL_CALLBACK_LIST.clear()
        _callback.GLOBAL_CALLBACK_MAP.clear()
        _pages.PAGE_REGISTRY.clear()
        client = create_app(fixture_db).server.test_client()
        deps = client.get("/_dash-dependencies").get_json()
        outputs = [d["output"] for d in deps]
        assert outputs.count("..overview-map.figure...overview-countries.figure..") == 1
        assert "url.href" in outputs


def test_fac010_run_selector_follows_the_url(client: FlaskClient) -> None:
    body = {
        "output": "..run-select.options...run-select.value...run-current.data...shared-query.data..."
        "run-notice.children..",
        "outputs": [
            {"id": "run-select", "property": "options"},
            {"id": "run-select", "property": "value"},
            {"id": "run-current", "property": "data"},
            {"id": "shared-query", "property": "data"},
            {"id": "run-notice", "property": "children"},
        ],
        "inputs": [{"id": "url", "property": "search", "value": "?run=1&country=France"}],
        "changedPropIds": ["url.search"],
    }
    status, data = post_callback(client, body)
    assert status == 200
    assert data["response"]["run-select"]["value"] == 1 and data["response"]["run-current"]["data"] == 1
    assert data["response"]["shared-query"]["data"] == "run=1&country=France"
    # a hostile run in the URL falls back to the latest run, and says so
    body["inputs"][0]["value"] = "?run=%27%3B%20DROP"
    response = post_callback(client, body)[1]["response"]
    assert response["run-select"]["value"] == 2 and "There is no run" in json.dumps(response["run-notice"])
    # junk in place of the URL query is ignored
    body["inputs"][0]["value"] = {"a": [1]}
    assert post_callback(client, body)[1]["response"]["run-select"]["value"] == 2


def test_fac010b_run_switch_target_is_built_on_the_server(client: FlaskClient) -> None:
    body = {
        "output": "run-switch-target.data",
        "outputs": {"id": "run-switch-target", "property": "data"},
        "inputs": [
            {
                "id": "run-switch-request",
                "property": "data",
                "value": {"path": "/explore", "search": "?run=2&country=France&page=2", "from": 2, "to": 1},
            }
        ],
        "changedPropIds": ["run-switch-request.data"],
    }
    status, data = post_callback(client, body)
    assert status == 200 and data["response"]["run-switch-target"]["data"] == "/explore?run=1&country=France"
    for junk in ({"evil": 1}, "x", [1], {"path": "//x", "search": "", "from": 2, "to": 1}):
        body["inputs"][0]["value"] = junk
        status, data = post_callback(client, body)
        assert status == 200 and data["response"] == {}  # no update: nothing to navigate to


def _click_body(
    bar: Any, map_: Any, query: str, segment: Any, changed: str, countries: Any = None
) -> dict[str, Any]:
    return {
        "output": "url.href",
        "outputs": {"id": "url", "property": "href"},
        "inputs": [
            {"id": "overview-segments", "property": "clickData", "value": bar},
            {"id": "overview-map", "property": "clickData", "value": map_},
            {"id": "overview-countries", "property": "clickData", "value": countries},
        ],
        "changedPropIds": [changed],
        "state": [
            {"id": "overview-query", "property": "data", "value": query},
            {"id": "overview-map-segment", "property": "value", "value": segment},
        ],
    }


def test_fac011_clicks_drill_down_to_the_customers_page(client: FlaskClient) -> None:
    bar = {"points": [{"customdata": [2, 40]}]}
    status, data = post_callback(
        client, _click_body(bar, None, "run=1&country=France", "all", "overview-segments.clickData")
    )
    assert data["response"]["url"]["href"] == "/customers?run=1&country=France&segment=2"
    country = {"points": [{"customdata": ["Germany", 3, 10.0]}]}
    status, data = post_callback(client, _click_body(None, country, "run=1", 3, "overview-map.clickData"))
    assert data["response"]["url"]["href"] == "/customers?run=1&country=Germany&segment=3"
    # the ranked country bar beside the map filters the same way
    body = _click_body(None, None, "run=1", "all", "overview-countries.clickData", countries=country)
    assert post_callback(client, body)[1]["response"]["url"]["href"] == "/customers?run=1&country=Germany"


def test_fac012_hostile_clicks_never_navigate_to_unvalidated_values(client: FlaskClient) -> None:
    evil = {"points": [{"customdata": ["'; DROP TABLE customers; --"]}]}
    status, data = post_callback(client, _click_body(None, evil, "run=1", {"x": 1}, "overview-map.clickData"))
    assert data["response"]["url"]["href"] == "/customers?run=1"
    # the callback also fires with no click when the page's graphs appear: no navigation then
    status, data = post_callback(
        client, _click_body(None, None, "run=1", "all", "overview-segments.clickData")
    )
    assert status == 200 and data["response"] == {}


def test_fac013_map_callback_checks_its_inputs(client: FlaskClient) -> None:
    body = {
        "output": "..overview-map.figure...overview-countries.figure..",
        "outputs": [
            {"id": "overview-map", "property": "figure"},
            {"id": "overview-countries", "property": "figure"},
        ],
        "inputs": [
            {"id": "overview-map-metric", "property": "value", "value": 'revenue"; --'},
            {"id": "overview-map-segment", "property": "value", "value": 2},
        ],
        "changedPropIds": ["overview-map-metric.value"],
        "state": [{"id": "overview-query", "property": "data", "value": "run=1"}],
    }
    status, data = post_callback(client, body)
    assert status == 200
    trace = data["response"]["overview-map"]["figure"]["data"][0]
    assert trace["type"] == "choropleth" and trace["showscale"] is False  # the bar beside it has the numbers
    bars = data["response"]["overview-countries"]["figure"]["data"][0]
    assert bars["type"] == "bar" and bars["orientation"] == "h"
    xaxis = data["response"]["overview-countries"]["figure"]["layout"]["xaxis"]
    assert xaxis["title"]["text"].startswith("Customers")  # the hostile metric fell back to customers


def test_fac014_not_found_page(app: dash.Dash) -> None:
    assert "Page not found" in render(app, "dashboard.pages.not_found_404")


def test_fac015_wsgi_exposes_the_server(monkeypatch: pytest.MonkeyPatch, fixture_db: Path) -> None:
    monkeypatch.setenv("SEGMENTATION_DB", str(fixture_db))
    monkeypatch.setenv("SEGMENTATION_ALLOW_ANONYMOUS", "1")  # without it wsgi refuses (test_auth_start.py)
    monkeypatch.syspath_prepend(str(ROOT))
    sys.modules.pop("wsgi", None)
    wsgi = importlib.import_module("wsgi")
    assert wsgi.server.config["SEGMENTATION_DB"] == str(fixture_db)
    assert wsgi.server.test_client().get("/").status_code == 200
    sys.modules.pop("wsgi", None)


def test_fac017_overview_and_export_on_a_real_pipeline_run(small_run: tuple[Path, Any]) -> None:
    """The contract end to end: a DB written by segmentation.pipeline renders and exports."""
    db, summary = small_run
    app = create_app(db)
    text = render(app, "dashboard.pages.overview")
    assert f"Run {summary.run_id} · snapshot" in text and "overview-kpi-customers" in text
    client = app.server.test_client()
    body = client.get(f"/export/customers.csv?run={summary.run_id}").get_data(as_text=True)
    lines = [line for line in body.split("\r\n") if line]
    assert lines[0].startswith("customer_id,") and len(lines) - 1 == summary.customers > 100
    queries.close_thread_connections()


def test_fac018_a_layout_whose_query_times_out_says_so(
    fixture_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dashboard import components

    @components.requires_data
    def slow_layout() -> Any:
        return queries.fetch_df("SELECT count(*) FROM range(100000000000)")

    monkeypatch.setattr(queries, "QUERY_TIMEOUT_S", 0.2)
    with queries.using(fixture_db):
        alert = slow_layout()
    assert "The query ran longer than 0.2 s and was stopped. Narrow the filters" in str(alert.children)
    queries.close_thread_connections()
