"""The Simulator's state in the URL and its words about the simulated customer, on real runs: slider values
round-trip exactly through the query string, URL values are validated and clamped against the run's model,
a page opened from such a URL restores sliders and prediction, the callback writes the canonical query
(shared filters kept), and the text describes the customer with per-feature pulls from the stored centres."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import dash
import duckdb
import pytest
from flask.testing import FlaskClient

from dashboard import filter_bar, queries
from dashboard import simulator_view as view
from dashboard.queries import simulator as sim
from tests.dashboard.test_pages_simulator_history import (
    EVIL,
    SIM,
    by_id,
    find,
    layout_json,
    model_of,
    page,
    post,
    simulator_body,
    slider_ids,
    text,
)
from tests.dashboard.test_pages_simulator_history import app2 as app2  # noqa: F401 - fixtures
from tests.dashboard.test_pages_simulator_history import client2 as client2  # noqa: F401


def query_of(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Pairs as Dash Pages hands a URL query to a layout (one value: a string, several: a list)."""
    parsed = parse_qs("&".join(f"{k}={v}" for k, v in pairs))
    return {k: v[0] if len(v) == 1 else v for k, v in parsed.items()}


def sliders_of(tree: Any) -> list[int]:
    found = find(tree, lambda p: isinstance(p.get("id"), dict) and p["id"].get("type") == "simulator-slider")
    return [s["value"] for s in found]


def readouts_of(tree: Any) -> list[str]:
    found = find(tree, lambda p: isinstance(p.get("id"), dict) and p["id"].get("type") == "simulator-value")
    return [r["children"] for r in found]


def test_slider_values_are_short_and_keep_their_position(two_run_db: Path) -> None:
    model = model_of(two_run_db)
    for f in model.features:
        for position in range(sim.POSITIONS + 1):
            value = f.value_at(position)
            assert float(view._fmt(value)) == value, (f.name, position)  # the URL carries it exactly
            assert len(view._fmt(value)) <= 9, (f.name, view._fmt(value))
            # a value read back from the URL puts the slider where it was (whole features: same value)
            back = f.position_of(value)
            assert back == position or (f.integer and f.value_at(back) == value), (f.name, position)


def test_url_values_are_validated_and_clamped(two_run_db: Path) -> None:
    model = model_of(two_run_db)
    first, second = model.features[0], model.features[1]
    base = model.defaults()
    cases: list[tuple[dict[str, Any], tuple[float, ...]]] = [
        ({}, base),
        ({first.name: "1e12"}, (first.high, *base[1:])),
        ({first.name: "-1e12"}, (first.clamp(first.low), *base[1:])),
        ({first.name: ["3"]}, (first.clamp(3), *base[1:])),
        ({first.name: ["3", "4"], second.name: "nan"}, base),  # several values, not a number: ignored
        ({first.name: EVIL, second.name: "9" * 500, "unknown": "5", "feature.x": "1"}, base),
        ({first.name: {"a": 1}, second.name: True}, base),
    ]
    for query, expected in cases:
        assert view.values_from_query(model, query, None) == expected, query
    assert view.values_from_query(model, "not a mapping", None) == base  # type: ignore[arg-type]
    # the start profile is the base; its values stay unless the URL says otherwise
    assert view.values_from_query(model, {}, 1) == model.medians[1]
    for start, expected_start in (("1", 1), (1, 1), (["2"], 2), ("99", None), (EVIL, None), (True, None)):
        assert view.start_from_query(model, start) == expected_start, start
    # a customer-table feature named like a filter key gets its own prefix
    assert view.query_key("recency_days") == "recency_days"
    assert view.query_key("country") == "feature.country" and view.query_key("start") == "feature.start"


def test_query_pairs_round_trip_exactly(two_run_db: Path) -> None:
    model = model_of(two_run_db)
    with queries.using(two_run_db):
        f, _ = filter_bar.filters_from_url({"run": "2"})
    moved = list(model.medians[1])
    moved[0] = model.features[0].value_at(321)
    moved[2] = model.features[2].value_at(777)
    pairs = view.query_pairs(model, f, 1, moved)
    keys = [k for k, _ in pairs]
    assert keys == ["run", "start", model.features[0].name, model.features[2].name]  # unchanged ones left out
    query = query_of(pairs)
    assert view.start_from_query(model, query["start"]) == 1
    assert view.values_from_query(model, query, 1) == tuple(moved)
    assert view.query_pairs(model, f, None, model.defaults()) == [("run", "2")]


def test_a_url_with_values_restores_sliders_and_prediction(app2: dash.Dash, two_run_db: Path) -> None:
    model = model_of(two_run_db)
    first, third = model.features[0], model.features[2]
    with queries.using(two_run_db):
        country = filter_bar.filters_from_url({"run": "2"})[1].countries[0]
    query = {
        "run": "2",
        "country": country,
        "start": "0",
        first.name: "1e12",  # clamped to the range's top
        third.name: str(third.value_at(600)),
        "junk": EVIL,
    }
    tree = layout_json(app2, SIM, **query)
    values = list(model.medians[0])
    values[0], values[2] = first.high, third.value_at(600)
    expected = sim.predict(model, values)
    assert sliders_of(tree) == [f.position_of(v) for f, v in zip(model.features, values, strict=True)]
    assert readouts_of(tree) == [
        page(SIM).fmt_value(f, v) for f, v in zip(model.features, values, strict=True)
    ]
    assert by_id(tree, "simulator-segment")["children"] == expected.segment.name
    assert by_id(tree, "simulator-start")["value"] == 0
    assert by_id(tree, "simulator-values")["data"] == values
    state = by_id(tree, "simulator-url-state")["data"]
    assert state["path"] == "/simulator"
    assert parse_qs(state["query"]) == {
        "run": ["2"],
        "country": [country],
        "start": ["0"],
        first.name: [view._fmt(first.high)],
        third.name: [view._fmt(third.value_at(600))],
    }
    # the customer's own values are in the text
    customer = by_id(tree, "simulator-customer")["children"]
    assert f"would join {expected.segment.name}" in customer
    assert view.phrase(first, first.high) in customer and view.phrase(third, values[2]) in customer


def test_moving_a_slider_writes_the_url_and_keeps_exact_values(
    client2: FlaskClient, two_run_db: Path
) -> None:
    model = model_of(two_run_db)
    n = len(model.features)
    current = list(model.medians[1])
    current[1] = model.features[1].clamp(current[1])
    positions = [f.position_of(v) for f, v in zip(model.features, current, strict=True)]
    positions[0] = 900  # the first slider moved; the others still stand at their exact values
    body = simulator_body(
        client2,
        values=positions,
        ids=slider_ids(n),
        run=2,
        n=n,
        start=1,
        current=current,
        search=f"run=2&country={EVIL}&recency_max=abc",
    )
    status, data = post(client2, body)
    assert status == 200
    response = data["response"]
    expected = [model.features[0].value_at(900), *current[1:]]
    assert response["simulator-values"]["data"] == expected
    state = response["simulator-url-state"]["data"]
    assert (
        state["query"] == f"run=2&start=1&{model.features[0].name}={view._fmt(expected[0])}"
    )  # bad filters dropped
    result = text(response["simulator-result"]["children"])
    assert sim.predict(model, expected).segment.name in result
    assert view.phrase(model.features[0], expected[0]) in result
    slider_outputs = [k for k in response if '"type":"simulator-slider"' in k]
    assert slider_outputs == []  # the sliders are not sent back when they moved themselves
    # hostile stored values: replaced by the start profile's values
    body["state"][1]["value"] = {"x": 1}
    status, data = post(client2, body)
    assert status == 200 and len(data["response"]["simulator-values"]["data"]) == n


def test_pulls_sum_to_the_stored_distances(small_run: tuple[Path, Any]) -> None:
    db = small_run[0]
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            "SELECT features, dist_own, dist_next FROM customers WHERE run_id = 1 "
            "ORDER BY customer_id LIMIT 60"
        ).fetchall()
    model = model_of(db, 1)
    for features, own, runner_up in rows:
        p = sim.predict(model, list(features))
        assert len(p.pulls) == len(model.features)
        assert sum(p.pulls) == pytest.approx(runner_up**2 - own**2, rel=1e-9, abs=1e-9)
    queries.close_thread_connections()


def test_the_text_describes_the_simulated_customer(two_run_db: Path) -> None:
    model = model_of(two_run_db)
    values = list(model.defaults())
    names = [f.name for f in model.features]
    if "recency_days" in names:
        values[names.index("recency_days")] = 30
    if "frequency" in names:
        values[names.index("frequency")] = 4
    p = sim.predict(model, values)
    sentence = view.customer_sentence(model, p)
    assert sentence.startswith("A customer with a last purchase 30 days ago, 4 orders, ")
    assert (
        f"would join {p.segment.name}: nearer its centre than the centre of {p.next_segment.name}, by "
        in sentence
    )
    pulls = view.pull_sentence(model, p)
    strongest = max(range(len(p.pulls)), key=lambda i: abs(p.pulls[i]))
    side = p.segment.name if p.pulls[strongest] > 0 else p.next_segment.name
    assert view.SHORT_NAMES[names[strongest]] in pulls.split(f"toward {side} by ")[1]
    one = sim.FeatureRange("frequency", 1, 200, 2, integer=True)
    assert view.phrase(one, 1) == "1 order" and view.phrase(one, 12) == "12 orders"
    rate = sim.FeatureRange("return_rate", 0, 1, 0.02)
    assert view.phrase(rate, 0.034) == "3.4% of spend returned"
    custom = sim.FeatureRange("Income", 0, 1e6, 5e4)
    assert view.phrase(custom, 52000) == "Income 52,000"
    panel = text(json.loads(json.dumps(view.result_panel(model, p), default=lambda o: o.to_plotly_json())))
    assert p.segment.action in panel and "Recommended action" in panel and sentence in panel


def test_the_url_is_written_by_the_shared_clientside_callback(client2: FlaskClient) -> None:
    deps = client2.get("/_dash-dependencies").get_json()
    sink = [d for d in deps if "simulator-url-sink.data" in d["output"]]
    assert len(sink) == 1
    assert sink[0]["clientside_function"] == {"namespace": "url_state", "function_name": "replace"}
    assert [i["id"] for i in sink[0]["inputs"]] == ["simulator-url-state"]


def test_the_simulated_customers_money_carries_the_runs_currency() -> None:
    """'£1,200 in net revenue', '1,200 CHF', or the bare number when the run named no currency."""
    from dashboard.queries.simulator import FeatureRange
    from dashboard.simulator_view import phrase

    feature = FeatureRange("monetary", 0.0, 5000.0, 400.0)
    assert phrase(feature, 1200, "GBP") == "£1,200 in net revenue"
    assert phrase(feature, 1200, "CHF") == "1,200 CHF in net revenue"
    assert phrase(feature, 1200) == "1,200 in net revenue"
