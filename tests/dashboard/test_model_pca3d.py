"""The Model page's 3-D scatter is drawn on request: not in the layout (not even its data), and the
button's callback draws it over the page's filtered customers, whatever the browser sends."""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dash
import plotly.graph_objects as go
import pytest
from dash.exceptions import PreventUpdate

from dashboard import create_app, queries
from segmentation import pipeline

EVIL = "'; DROP TABLE customers; --"


@pytest.fixture
def small_app(small_run: tuple[Path, pipeline.RunSummary]) -> Iterator[dash.Dash]:
    yield create_app(small_run[0])
    queries.close_thread_connections()


def as_json(component: Any) -> str:
    """A layout as the JSON text Dash sends (figures' arrays as lists)."""
    return json.dumps(component, default=lambda o: o.tolist() if hasattr(o, "tolist") else o.to_plotly_json())


def test_the_layout_has_the_button_and_no_3d_data(small_app: dash.Dash) -> None:
    with small_app.server.test_request_context("/"):
        text = as_json(dash.page_registry["dashboard.pages.model"]["layout"](run="1"))
    assert "scatter3d" not in text and '"model-pca3d"' not in text
    assert '"id": "model-pca3d-show"' in text and "Show the 3-D view" in text


def test_the_button_draws_the_filtered_customers(
    small_app: dash.Dash, small_run: tuple[Path, pipeline.RunSummary]
) -> None:
    model = importlib.import_module("dashboard.pages.model")
    with small_app.server.test_request_context("/"), queries.using(small_run[0]):
        for clicks in (None, 0, -1, True, "1", {"n": 1}, [1]):
            with pytest.raises(PreventUpdate):
                model.show_pca3d(clicks, "run=1")
        graph = model.show_pca3d(1, "run=1")
        assert graph.id == "model-pca3d"
        assert {t.type for t in go.Figure(graph.figure).data} == {"scatter3d"}
        assert sum(len(t.x) for t in go.Figure(graph.figure).data) == small_run[1].customers
        country = queries.fetch_all("SELECT country FROM seg.customers WHERE run_id = 1 LIMIT 1")[0][0]
        filtered = model.show_pca3d(2, f"run=1&country={country}")
        count = queries.fetch_all(
            "SELECT count(*) FROM seg.customers WHERE run_id = 1 AND country = ?", [country]
        )[0][0]
        assert sum(len(t.x) for t in go.Figure(filtered.figure).data) == count < small_run[1].customers
        for search in (EVIL, {"a": 1}, "x" * 30_000, None):  # junk: the run's customers, unfiltered
            junk = model.show_pca3d(1, search)
            assert sum(len(t.x) for t in go.Figure(junk.figure).data) == small_run[1].customers


def test_the_callback_over_http(small_app: dash.Dash) -> None:
    client = small_app.server.test_client()
    deps = client.get("/_dash-dependencies").get_json()
    dep = next(d for d in deps if d["output"] == "model-pca3d-box.children")
    body = {
        "output": dep["output"],
        "outputs": {"id": "model-pca3d-box", "property": "children"},
        "inputs": [{"id": "model-pca3d-show", "property": "n_clicks", "value": 1}],
        "changedPropIds": ["model-pca3d-show.n_clicks"],
        "state": [{"id": "model-filters", "property": "data", "value": "run=1"}],
    }
    r = client.post("/_dash-update-component", json=body)
    assert r.status_code == 200 and "scatter3d" in r.get_data(as_text=True)
    body["inputs"][0]["value"] = EVIL
    assert client.post("/_dash-update-component", json=body).status_code == 204
