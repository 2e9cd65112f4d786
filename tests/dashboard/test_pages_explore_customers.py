"""Explore (and the Customers layout without a run): layouts from the URL, callbacks called as plain
functions with valid and hostile values, and hostile callback bodies posted to Dash's route (never a 500).
The Customers page's own tests are in test_pages_customers.py."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import dash
import pandas as pd
import plotly.graph_objects as go
import pytest
from dash.exceptions import PreventUpdate
from flask.testing import FlaskClient

from dashboard import create_app, filter_bar, queries
from dashboard.filters import Filters
from dashboard.queries import filtered
from tests.dashboard.conftest import _split_outputs
from tests.dashboard.conftest import post_dash_callback as post


class _Encoder(json.JSONEncoder):
    def default(self, o: Any) -> Any:
        return o.to_plotly_json() if hasattr(o, "to_plotly_json") else str(o)


def to_json(value: Any) -> str:
    return json.dumps(value.to_plotly_json() if hasattr(value, "to_plotly_json") else value, cls=_Encoder)


@pytest.fixture
def pages(app: dash.Dash, db: Path) -> dict[str, ModuleType]:
    """The page modules as the app loaded them (their callbacks are plain functions)."""
    return {name: sys.modules[f"dashboard.pages.{name}"] for name in ("explore", "customers")}


def controls(run_id: int = 1, **values: Any) -> dict[str, Any]:
    """Control values with no filter for a run of the fixture DB, plus the given ones."""
    f = Filters(run_id=run_id)
    return {**filter_bar.control_values(f, filtered.allowed(run_id)), **values}


def kpi_numbers(kpis: Any) -> list[str]:
    """The big numbers of the KPI cards."""
    text = to_json(kpis)
    return [part.split('"')[0] for part in text.split('"children": "')[1:]]


# ---------------------------------------------------------------------------------------------------------
# Explore


def test_pg001_explore_update_follows_the_filters(
    pages: dict[str, ModuleType], db: Path, read_customers: Callable[[Path, int], pd.DataFrame]
) -> None:
    explore = pages["explore"]
    frame = read_customers(db, 1)
    out = explore.update(controls(country=["France", "Spain"], tenure=[200, 1600]), "revenue", 1)
    expected = frame[frame["country"].isin(["France", "Spain"]) & (frame["tenure_days"] >= 200)]
    assert f"{len(expected):,}" in kpi_numbers(out["kpis"])
    assert out["url_state"]["query"] == "run=1&country=France&country=Spain&tenure_min=200"
    assert out["url_state"]["path"] == "/explore"
    assert out["customers_href"] == "/customers?run=1&country=France&country=Spain&tenure_min=200"
    bars = go.Figure(out["segments"]).data[1]  # customers trace (figures are plain dicts)
    assert sorted(zip(bars.y, [c[1] for c in bars.customdata], strict=True)) == sorted(
        (name, n) for name, n in expected.groupby("segment_name").size().items()
    )
    assert sorted(row[0] for row in go.Figure(out["map"]).data[0].customdata) == ["France", "Spain"]
    hist = go.Figure(out["histograms"])
    assert sum(sum(t.y) for t in hist.data if t.xaxis == "x") == expected["tenure_days"].notna().sum()


HOSTILE_CONTROLS: list[tuple[dict[str, Any], str]] = [
    ({"country": ["'; DROP TABLE customers; --", "Narnia"], "segment": ["1 OR 1=1"]}, "run=2"),
    ({"country": {"$gt": ""}, "segment": {"0": 1}, "tenure": {"min": 1}, "outliers": {"x": "only"}}, "run=2"),
    (
        {"country": ["France"] * 100_000, "segment": list(range(50_000))},
        "run=2&country=France&segment=0&segment=1&segment=2&segment=3",
    ),
    (
        {"tenure": ["abc", None], "recency": "1-100", "frequency": [True, False], "monetary": [1, 2, 3]},
        "run=2",
    ),
    ({"tenure_band": "0-90d' --", "preset": {"x": 1}, "outliers": None}, "run=2"),
]


@pytest.mark.parametrize(("hostile", "expected"), HOSTILE_CONTROLS)
def test_pg002_explore_ignores_hostile_controls(
    pages: dict[str, ModuleType], hostile: dict[str, Any], expected: str
) -> None:
    out = pages["explore"].update(controls(2, **hostile), "'; DROP", {"run": 1})  # bad run: the latest
    assert out["url_state"]["query"] == expected


def test_pg003_explore_inverted_range_is_swapped(pages: dict[str, ModuleType]) -> None:
    out = pages["explore"].update(controls(recency=[300, 20]), "customers", 1)
    assert out["url_state"]["query"] == "run=1&recency_min=20&recency_max=300"


def test_pg004_cross_filter_adds_the_clicked_segment_or_country(pages: dict[str, ModuleType]) -> None:
    values = pages["explore"].cross_filter_values
    base = controls(country=["France"])
    bar = {"points": [{"customdata": [2, 10], "y": "At Risk"}]}
    assert values("explore-segments.clickData", bar, None, base, 1)["segment"] == [2]
    # plotly sends NumPy customdata as base64, and Dash's clickData then has none: the label identifies it
    assert values("explore-segments.clickData", {"points": [{"y": "Loyal"}]}, None, base, 1)["segment"] == [1]
    new = values("explore-map.clickData", None, {"points": [{"customdata": ["Germany", 3, 9.5]}]}, base, 1)
    assert new["country"] == ["France", "Germany"] and new["tenure"] == base["tenure"]
    assert values("explore-map.clickData", None, {"points": [{"customdata": ["France"]}]}, base, 1) is None
    cleared = values("explore-clear.n_clicks", None, None, base, 1)
    assert cleared == controls()
    assert values(None, bar, None, base, 1) is None


@pytest.mark.parametrize(
    "click",
    [
        None,
        {},
        "France",
        {"points": []},
        {"points": [{"customdata": ["Narnia"]}]},
        {"points": [{"customdata": ["'; DROP TABLE customers; --"], "y": "x' OR 1=1"}]},
        {"points": [{"customdata": [{"id": 1}], "y": {"name": "Loyal"}}]},
        {"points": [{"customdata": [True], "y": 12}]},
        {"points": [{"customdata": [99]}]},
    ],
)
def test_pg005_cross_filter_ignores_hostile_clicks(pages: dict[str, ModuleType], click: Any) -> None:
    values = pages["explore"].cross_filter_values
    base = controls()
    assert values("explore-segments.clickData", click, None, base, 1) is None
    assert values("explore-map.clickData", None, click, base, 1) is None
    assert values("explore-countries.clickData", None, None, base, 1, click) is None
    with pytest.raises(PreventUpdate):  # as a callback: 204, nothing changes
        pages["explore"].cross_filter(click, click, click, 0, base, 1)


def test_pg006_explore_layout_restores_a_shared_url(app: dash.Dash, db: Path) -> None:
    with app.server.test_request_context("/"):
        layout = dash.page_registry["dashboard.pages.explore"]["layout"]
        text = to_json(layout(run="1", country="France", segment="1", tenure_min="100"))
        junk = to_json(
            layout(run="1; DROP", country=["Narnia", "x' OR 1=1"], tenure_min="abc", outliers="all")
        )
    assert '"value": ["France"]' in text and '"value": [1]' in text and '"value": [100, ' in text
    assert '"query": "run=1&country=France&segment=1&tenure_min=100"' in text
    assert "Narnia" not in junk.split('"options"')[0] and '"query": "run=2"' in junk


def test_pg013_no_run_yet_shows_how_to_make_one(tmp_path: Path) -> None:
    app = create_app(tmp_path / "missing.duckdb")
    with app.server.test_request_context("/"):
        for module in ("dashboard.pages.explore", "dashboard.pages.customers"):
            assert "segments run data/online_retail_sample.csv" in to_json(
                dash.page_registry[module]["layout"]()
            )
        with queries.using(tmp_path / "missing.duckdb"):
            out = sys.modules["dashboard.pages.explore"].update(controls_for_nothing(), "customers", 1)
            assert "No segmentation run yet." in to_json(out["kpis"])


def controls_for_nothing() -> dict[str, Any]:
    return dict.fromkeys(filter_bar.CONTROLS)


# ---------------------------------------------------------------------------------------------------------
# Through Dash's own route: hostile bodies never give a 500


@pytest.mark.parametrize(
    "values",
    [
        {"explore-country.value": "'; DROP TABLE customers; --", "explore-run.data": "1 OR 1=1"},
        {"explore-segment.value": {"$where": 1}, "explore-tenure.value": ["a", "b"], "explore-run.data": [1]},
        {"explore-country.value": ["x"] * 20_000, "explore-monetary.value": [1e308, -1e308]},
        {"explore-map-metric.value": {"sum": "monetary"}, "explore-preset.value": 7},
    ],
)
def test_pg014_explore_route_takes_hostile_bodies(client: FlaskClient, values: dict[str, Any]) -> None:
    assert post(client, "..explore-kpis", values) == 200
    clicks = {"explore-segments.clickData": {"points": [{"customdata": ["' OR 1=1"]}]}, **values}
    assert post(client, "..explore-country", clicks) in (200, 204)


def test_pg016_cross_filter_through_the_route_adds_the_country(client: FlaskClient) -> None:
    deps = client.get("/_dash-dependencies").get_json()
    dep = next(d for d in deps if d["output"].startswith("..explore-country"))
    body = {
        "output": dep["output"],
        "outputs": [  # the attribute controls (a pattern) name no component: the run has no attributes
            [] if raw.startswith("{") else {"id": raw, "property": prop}
            for raw, prop in _split_outputs(dep["output"])
        ],
        "inputs": [
            {"id": "explore-segments", "property": "clickData", "value": None},
            {
                "id": "explore-map",
                "property": "clickData",
                "value": {"points": [{"customdata": ["Spain", 1, 2]}]},
            },
            {"id": "explore-countries", "property": "clickData", "value": None},
            {"id": "explore-clear", "property": "n_clicks", "value": 0},
        ],
        "state": [
            []
            if s["id"].startswith("{")
            else {
                "id": s["id"],
                "property": s["property"],
                "value": {"explore-country": ["France"], "explore-run": 1}.get(s["id"]),
            }
            for s in dep["state"]
        ],
        "changedPropIds": ["explore-map.clickData"],
        "parsedChangedPropsIds": ["explore-map.clickData"],
    }
    r = client.post("/_dash-update-component", json=body)
    assert r.status_code == 200
    assert r.get_json()["response"]["explore-country"]["value"] == ["France", "Spain"]
