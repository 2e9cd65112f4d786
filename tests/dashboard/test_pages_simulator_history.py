"""The Simulator and History pages: layouts on real runs, and their callbacks over HTTP with hostile input
(every answer a 200 with validated values, never a 500)."""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dash
import pandas as pd
import pytest
from flask.testing import FlaskClient

from dashboard import create_app, figures, queries
from dashboard.queries import history
from dashboard.queries import simulator as sim
from segmentation import pipeline
from segmentation.config import RunConfig

SIM = "dashboard.pages.simulator"
HIS = "dashboard.pages.history"
EVIL = "'; DROP TABLE customers; --"


@pytest.fixture
def app2(two_run_db: Path) -> Iterator[dash.Dash]:
    yield create_app(two_run_db)
    queries.close_thread_connections()


@pytest.fixture
def client2(app2: dash.Dash) -> FlaskClient:
    return app2.server.test_client()


def layout_json(app: dash.Dash, module: str, **query: Any) -> Any:
    """A page's layout as the JSON tree Dash sends, built inside a request."""
    with app.server.test_request_context("/"):
        layout = dash.page_registry[module]["layout"](**query)
        return json.loads(json.dumps(layout, cls=_Encoder))


class _Encoder(json.JSONEncoder):
    def default(self, o: Any) -> Any:
        if hasattr(o, "to_plotly_json"):
            return o.to_plotly_json()
        if hasattr(o, "tolist"):
            return o.tolist()
        return str(o)


def find(tree: Any, predicate: Any) -> list[dict[str, Any]]:
    """Every component props dict in the tree for which predicate(props) holds."""
    found: list[dict[str, Any]] = []
    if isinstance(tree, dict):
        props = tree.get("props")
        if isinstance(props, dict) and predicate(props):
            found.append(props)
        for value in tree.values():
            found += find(value, predicate)
    elif isinstance(tree, list):
        for value in tree:
            found += find(value, predicate)
    return found


def by_id(tree: Any, id_: Any) -> dict[str, Any]:
    matches = find(tree, lambda p: p.get("id") == id_)
    assert len(matches) == 1, id_
    return matches[0]


def text(tree: Any) -> str:
    """All strings of a tree, joined (what a person reads, roughly)."""
    if isinstance(tree, str):
        return tree
    if isinstance(tree, dict):
        return " ".join(text(v) for k, v in tree.items() if k not in ("id", "className", "style", "figure"))
    if isinstance(tree, list):
        return " ".join(text(v) for v in tree)
    return ""


def dependency(client: FlaskClient, output_part: str) -> dict[str, Any]:
    deps = client.get("/_dash-dependencies").get_json()
    matches = [d for d in deps if output_part in d["output"]]
    assert len(matches) == 1, output_part
    return matches[0]


def post(client: FlaskClient, body: dict[str, Any]) -> tuple[int, Any]:
    r = client.post("/_dash-update-component", json=body)
    return r.status_code, (r.get_json() if r.status_code == 200 else None)


def slider_ids(n: int) -> list[dict[str, Any]]:
    return [{"type": "simulator-slider", "index": i} for i in range(n)]


def simulator_body(
    client: FlaskClient,
    *,
    values: list[Any],
    ids: list[Any],
    run: Any,
    n: int,
    start: Any = "population",
    current: Any = None,
    search: Any = "",
    changed: str = "slider",
) -> dict[str, Any]:
    """The request the browser sends to the Simulator's callback (n sliders and readouts on the page):
    `changed` is "slider" (a slider moved) or "start" (the start profile was picked)."""
    dep = dependency(client, "simulator-result.children")
    slider = json.dumps(slider_ids(1)[0], separators=(",", ":"), sort_keys=True) + ".value"
    return {
        "output": dep["output"],
        "outputs": [
            [{"id": i, "property": "value"} for i in slider_ids(n)],
            {"id": "simulator-result", "property": "children"},
            {"id": "simulator-scatter", "property": "figure"},
            [{"id": {"type": "simulator-value", "index": i}, "property": "children"} for i in range(n)],
            {"id": "simulator-values", "property": "data"},
            {"id": "simulator-url-state", "property": "data"},
        ],
        "inputs": [
            {"id": "simulator-start", "property": "value", "value": start},
            [{"id": i, "property": "value", "value": v} for i, v in zip(ids, values, strict=False)],
        ],
        "changedPropIds": ["simulator-start.value" if changed == "start" else slider],
        "state": [
            [{"id": i, "property": "id", "value": i} for i in ids],
            {"id": "simulator-values", "property": "data", "value": current},
            {"id": "simulator-run", "property": "data", "value": run},
            {"id": "simulator-filters", "property": "data", "value": search},
        ],
    }


def prediction_body(
    client: FlaskClient, values: list[Any], ids: list[Any], run: Any, n: int
) -> dict[str, Any]:
    """The request the browser sends when a slider moves (n sliders and readouts on the page)."""
    return simulator_body(client, values=values, ids=ids, run=run, n=n)


def start_body(client: FlaskClient, start: Any, run: Any, n: int) -> dict[str, Any]:
    """The request the browser sends when a start profile is picked."""
    positions = [0] * n
    return simulator_body(
        client, values=positions, ids=slider_ids(n), run=run, n=n, start=start, changed="start"
    )


def migration_body(client: FlaskClient, a: Any, b: Any, run: Any = 2) -> dict[str, Any]:
    dep = dependency(client, "history-sankey.figure")
    return {
        "output": dep["output"],
        "outputs": [
            {"id": "history-sankey", "property": "figure"},
            {"id": "history-transitions", "property": "children"},
            {"id": "history-summary", "property": "children"},
            {"id": "history-url-state", "property": "data"},
        ],
        "inputs": [
            {"id": "history-a", "property": "value", "value": a},
            {"id": "history-b", "property": "value", "value": b},
        ],
        "changedPropIds": ["history-a.value"],
        "state": [{"id": "history-run", "property": "data", "value": run}],
    }


def page(module: str) -> Any:
    """A page module as the app imported it (pages register themselves, so only after create_app)."""
    return sys.modules[module]


def model_of(db: Path, run_id: int = 2) -> sim.SimModel:
    with queries.using(db):
        return sim.load_model(run_id)


# --- Simulator ---------------------------------------------------------------------------------------


def test_pag001_pages_are_registered_and_served(app2: dash.Dash, client2: FlaskClient) -> None:
    pages = {p["module"]: p for p in dash.page_registry.values()}
    assert (pages[SIM]["path"], pages[SIM]["name"], pages[SIM]["order"]) == ("/simulator", "Simulator", 5)
    assert (pages[HIS]["path"], pages[HIS]["name"], pages[HIS]["order"]) == ("/history", "History", 6)
    for path in ("/simulator", "/history", "/simulator?run=1", f"/history?a={EVIL}&b=%00"):
        assert client2.get(path).status_code == 200, path


def test_pag002_simulator_starts_at_the_population_medians(app2: dash.Dash, two_run_db: Path) -> None:
    tree = layout_json(app2, SIM)
    model = model_of(two_run_db)
    sliders = find(
        tree, lambda p: isinstance(p.get("id"), dict) and p["id"].get("type") == "simulator-slider"
    )
    assert [s["id"]["index"] for s in sliders] == list(range(len(model.features)))
    assert [s["value"] for s in sliders] == [f.position_of(f.default) for f in model.features]
    assert all(s["min"] == 0 and s["max"] == sim.POSITIONS for s in sliders)
    readouts = find(
        tree, lambda p: isinstance(p.get("id"), dict) and p["id"].get("type") == "simulator-value"
    )
    assert [r["children"] for r in readouts] == [page(SIM).fmt_value(f, f.default) for f in model.features]
    expected = sim.predict(model, model.defaults())
    assert by_id(tree, "simulator-segment")["children"] == expected.segment.name
    assert by_id(tree, "simulator-action")["children"][1] == expected.segment.action
    assert by_id(tree, "simulator-run")["data"] == 2
    options = by_id(tree, "simulator-start")["options"]
    assert options[0]["value"] == "population" and [o["value"] for o in options[1:]] == [0, 1, 2]
    figure = by_id(tree, "simulator-scatter")["figure"]
    star = figure["data"][figures.SIMULATOR_POINT_TRACE]
    assert star["name"] == "Simulated customer" and star["marker"]["symbol"] == "star"
    assert (star["x"][0], star["y"][0]) == pytest.approx(expected.score.pcs[:2])
    with queries.using(two_run_db):
        assert len(figure["data"][0]["marker"]["color"]) == len(sim.pca_sample(2)) > 200
    # an older run in the URL: its own model
    tree1 = layout_json(app2, SIM, run="1")
    assert by_id(tree1, "simulator-run")["data"] == 1
    # a hostile run falls back to the latest
    assert by_id(layout_json(app2, SIM, run=EVIL), "simulator-run")["data"] == 2


def test_pag003_moving_sliders_rescores(client2: FlaskClient, two_run_db: Path) -> None:
    model = model_of(two_run_db)
    n = len(model.features)
    ends = [sim.POSITIONS] * n
    status, data = post(client2, prediction_body(client2, ends, slider_ids(n), 2, n))
    assert status == 200
    response = data["response"]
    expected = sim.predict(model, [f.high for f in model.features])
    assert expected.segment.name in text(response["simulator-result"]["children"])
    readouts = [
        response[json.dumps({"index": i, "type": "simulator-value"}, separators=(",", ":"))] for i in range(n)
    ]
    assert [r["children"] for r in readouts] == [page(SIM).fmt_value(f, f.high) for f in model.features]
    operations = response["simulator-scatter"]["figure"]["operations"]
    moved = {tuple(o["location"]): o["params"]["value"] for o in operations}
    assert moved[("data", figures.SIMULATOR_POINT_TRACE, "x")] == pytest.approx([expected.score.pcs[0]])
    assert moved[("data", figures.SIMULATOR_POINT_TRACE, "y")] == pytest.approx([expected.score.pcs[1]])
    assert moved[("data", figures.SIMULATOR_POINT_TRACE, "marker", "color")] == figures.segment_color(
        expected.segment.name, [s.name for s in model.segments]
    )


def test_pag004_hostile_slider_values_are_clamped_or_ignored(client2: FlaskClient, two_run_db: Path) -> None:
    model = model_of(two_run_db)
    n = len(model.features)
    hostile = [float("nan"), "abc", {"x": 1}, 1e308, EVIL, None, [5], True, -1e308]
    status, data = post(client2, prediction_body(client2, hostile[:n], slider_ids(n), EVIL, n))
    assert status == 200
    values = list(model.defaults())
    values[3] = model.features[3].high  # 1e308 -> the far end
    readouts = [
        data["response"][json.dumps({"index": i, "type": "simulator-value"}, separators=(",", ":"))][
            "children"
        ]
        for i in range(n)
    ]
    assert readouts == [page(SIM).fmt_value(f, v) for f, v in zip(model.features, values, strict=True)]
    assert sim.predict(model, values).segment.name in text(data["response"]["simulator-result"])
    # forged ids: unknown indices, strings, too many entries; all ignored, defaults scored
    ids = [{"type": "simulator-slider", "index": i} for i in ("0", 99, -1, None, True)] + [EVIL] * 50
    status, data = post(client2, prediction_body(client2, [sim.POSITIONS] * len(ids), ids, 2, n))
    assert status == 200
    readouts = [
        data["response"][json.dumps({"index": i, "type": "simulator-value"}, separators=(",", ":"))][
            "children"
        ]
        for i in range(n)
    ]
    assert readouts == [page(SIM).fmt_value(f, f.default) for f in model.features]
    # junk in place of the lists
    body = prediction_body(client2, [], [], 2, n)
    body["state"][0] = {"id": "x", "property": "id", "value": {"a": 1}}
    assert post(client2, body)[0] in (200, 204)


def test_pag005_start_from_a_segment_sets_its_median_profile(client2: FlaskClient, two_run_db: Path) -> None:
    model = model_of(two_run_db)
    n = len(model.features)
    for start, profile in ((1, model.medians[1]), ("population", model.defaults()), (EVIL, model.defaults())):
        status, data = post(client2, start_body(client2, start, 2, n))
        assert status == 200
        got = [
            data["response"][json.dumps({"index": i, "type": "simulator-slider"}, separators=(",", ":"))][
                "value"
            ]
            for i in range(n)
        ]
        assert got == [f.position_of(v) for f, v in zip(model.features, profile, strict=True)], start
    for start in ({"a": 1}, True, 99, None):
        assert post(client2, start_body(client2, start, {"run": 1}, n))[0] == 200


def test_pag006_positions_helper_and_value_format(app2: dash.Dash) -> None:
    ids = slider_ids(3)
    assert page(SIM).positions(ids, [1, 2, 3], 3) == {0: 1, 1: 2, 2: 3}
    assert page(SIM).positions(ids, [1, 2, 3], 2) == {0: 1, 1: 2}
    assert page(SIM).positions([{"index": "1"}, "x", {"index": 2}, {"index": 2}], [7, 8, 9, 10], 3) == {2: 9}
    assert page(SIM).positions({"index": 0}, [1], 3) == {} and page(SIM).positions(ids, "1", 3) == {}
    whole = sim.FeatureRange("frequency", 1, 200, 2, integer=True)
    money = sim.FeatureRange("monetary", -10, 1e6, 600.5)
    rate = sim.FeatureRange("return_rate", 0, 1, 0.02)
    assert page(SIM).fmt_value(whole, 12.0) == "12"
    assert page(SIM).fmt_value(money, 123456.7) == "123,457" and page(SIM).fmt_value(money, 600.55) == "601"
    assert page(SIM).fmt_value(rate, 0.0234) == "0.0234" and page(SIM).fmt_value(money, 12.34) == "12.3"


def test_pag007_customer_table_run_gets_its_own_sliders(tmp_path: Path) -> None:
    import numpy as np

    rng = np.random.default_rng(5)
    path = tmp_path / "accounts.csv"
    with open(path, "w") as fh:
        fh.write("Account,Seats,Spend <b>EUR</b>\n")
        for i in range(240):
            big = i % 2
            fh.write(f"A{i},{rng.poisson(40 if big else 4)},{rng.normal(9000 if big else 500, 100):.2f}\n")
    db = tmp_path / "acc.duckdb"
    pipeline.run(
        RunConfig(
            inputs=(path,),
            db_path=db,
            mode="customers",
            id_column="Account",
            feature_columns=("Seats", "Spend <b>EUR</b>"),
            progress=False,
            k=2,
        )
    )
    app = create_app(db)
    tree = layout_json(app, SIM)
    labels = text(by_id(tree, "simulator-sliders"))
    assert "Seats" in labels and "Spend <b>EUR</b>" in labels  # plain text in HTML components
    sliders = find(
        tree, lambda p: isinstance(p.get("id"), dict) and p["id"].get("type") == "simulator-slider"
    )
    assert len(sliders) == 2
    scatter = by_id(tree, "simulator-scatter")["figure"]
    assert all("<b>" not in str(t.get("name", "")) for t in scatter["data"])
    queries.close_thread_connections()


# --- History -------------------------------------------------------------------------------------------


def test_pag008_history_shows_runs_and_the_default_pair(app2: dash.Dash, two_run_db: Path) -> None:
    tree = layout_json(app2, HIS)
    table = text(by_id(tree, "history-runs"))
    assert "Silhouette" in table and "Stability (ARI)" in table and "kmeans" in table
    assert by_id(tree, "history-a")["value"] == 1 and by_id(tree, "history-b")["value"] == 2
    assert by_id(tree, "history-url-state")["data"] == {"path": "/history", "query": "run=2&a=1&b=2"}
    sankey = by_id(tree, "history-sankey")["figure"]["data"][0]
    assert sankey["type"] == "sankey"
    with queries.using(two_run_db):
        m = history.migration(1, 2)
    assert sum(sankey["link"]["value"]) == m.both
    summary = by_id(tree, "history-summary")["children"]
    assert f"{m.both:,} customers are in both runs" in summary
    assert "0 are only in run 1 (left) and 0 only in run 2 (new)." in summary
    cells = text(by_id(tree, "history-transitions"))
    for n in m.flows["customers"]:
        assert f"{n:,}" in cells
    # the URL's pair is restored; hostile values fall back to the defaults
    tree = layout_json(app2, HIS, run="1", a="2", b="1")
    assert (by_id(tree, "history-a")["value"], by_id(tree, "history-b")["value"]) == (2, 1)
    assert by_id(tree, "history-run")["data"] == 1  # the run the page was opened with is kept
    assert by_id(tree, "history-url-state")["data"] == {"path": "/history", "query": "run=1&a=2&b=1"}
    tree = layout_json(app2, HIS, run=EVIL, a=EVIL, b=["1", "2"])
    assert (by_id(tree, "history-a")["value"], by_id(tree, "history-b")["value"]) == (1, 2)
    assert by_id(tree, "history-url-state")["data"]["query"] == "run=2&a=1&b=2"


def test_pag009_transition_table_rows_and_shares(app2: dash.Dash, make_db: Any, tmp_path: Path) -> None:
    his_page = page(HIS)
    db = make_db(tmp_path / "fx.duckdb")
    with queries.using(db):
        m = history.migration(1, 2)
    table = json.loads(json.dumps(his_page.transition_table(m), cls=_Encoder))
    body = table["props"]["children"][1]["props"]["children"]
    segments_a = set(m.flows["segment_a"]) | set(m.left["segment_a"])
    assert len(body) == len(segments_a) + 1  # + the "new" row
    header = text(table["props"]["children"][0])
    assert "Not in run 2 (left)" in header and "Total" in header
    assert "Not in run 1 (new)" in text(body[-1])
    first = body[0]["props"]["children"]
    total = int(first[-1]["props"]["children"].replace(",", ""))
    cells = [c["props"]["children"] for c in first[1:-1]]
    counts = [0 if c == "0" else int(c[0]["props"]["children"].replace(",", "")) for c in cells]
    assert sum(counts) == total and len(counts) == 5  # four segments of run 2, and "left"
    shares = [None if c == "0" else c[1]["props"]["children"].strip() for c in cells]
    assert shares == [f"{n / total:.0%}" if n else None for n in counts]
    summary = his_page.summary_sentence(m, "Run 1", "Run 2")
    assert summary.startswith("Run 1 → Run 2: 6 customers are in both runs;")
    assert summary.endswith("194 are only in run 1 (left) and 194 only in run 2 (new).")
    fig = figures.migration_sankey(m.flows, m.left, m.new, "Run 1", "Run 2")
    labels = fig.data[0].node.label
    assert "Not in Run 2" in labels and "Not in Run 1" in labels and "=Evil Name" in labels
    assert sum(fig.data[0].link.value) == m.both + m.only_a + m.only_b


def test_pag010_sankey_labels_are_plain_text() -> None:
    flows = pd.DataFrame(
        {
            "segment_a": [0],
            "name_a": ["<a href='javascript:x'>A</a>"],
            "segment_b": [0],
            "name_b": ["B&<i>"],
            "customers": [3],
        }
    )
    empty_a = pd.DataFrame({"segment_a": [], "name_a": [], "customers": []})
    empty_b = pd.DataFrame({"segment_b": [], "name_b": [], "customers": []})
    fig = figures.migration_sankey(flows, empty_a, empty_b, "Run <1>", "Run 2")
    assert list(fig.data[0].node.label) == ["&lt;a href='javascript:x'&gt;A&lt;/a&gt;", "B&amp;&lt;i&gt;"]
    assert fig.layout.annotations[0].text == "Run &lt;1&gt;"
    assert figures.migration_sankey(flows.iloc[:0], empty_a, empty_b, "a", "b").data == ()


def test_pag011_update_migration_over_http(client2: FlaskClient) -> None:
    status, data = post(client2, migration_body(client2, 2, 1))
    assert status == 200
    response = data["response"]
    assert response["history-url-state"]["data"] == {"path": "/history", "query": "run=2&a=2&b=1"}
    assert response["history-sankey"]["figure"]["data"][0]["type"] == "sankey"
    assert response["history-summary"]["children"].startswith("Run 2")
    status, data = post(client2, migration_body(client2, 2, 1, run="1"))
    assert data["response"]["history-url-state"]["data"]["query"] == "run=1&a=2&b=1"  # keeps the page's run
    for a, b, run in ((EVIL, {"x": 1}, EVIL), (True, None, None), (99, -1, 99), ([1, 2], "2; --", [1, 2])):
        status, data = post(client2, migration_body(client2, a, b, run))
        assert status == 200
        state = data["response"]["history-url-state"]["data"]
        assert state == {"path": "/history", "query": "run=2&a=1&b=2"}  # defaults: the latest run


def test_pag012_the_url_is_written_by_a_clientside_callback(client2: FlaskClient) -> None:
    dep = dependency(client2, "history-url-sink.data")
    assert dep["clientside_function"] == {"namespace": "url_state", "function_name": "replace"}
    assert [i["id"] for i in dep["inputs"]] == ["history-url-state"]
    script = client2.get("/assets/url_state.js").get_data(as_text=True)
    assert "url_state" in script and "window.history.replaceState" in script


def test_pag013_one_run_says_a_second_run_is_needed(
    small_run: tuple[Path, pipeline.RunSummary], small_csv: Path
) -> None:
    app = create_app(small_run[0])
    tree = layout_json(app, HIS)
    notice = text(by_id(tree, "history-one-run"))
    assert "A second run is needed to see how customers move between segments." in notice
    assert f"segments run {shlex.quote(str(small_csv))} --k {small_run[1].k + 1}" in notice
    assert not find(tree, lambda p: p.get("id") == "history-sankey")
    assert str(small_run[1].customers) in text(by_id(tree, "history-runs")).replace(",", "")
    client = app.server.test_client()
    status, data = post(client, migration_body(client, 1, 1))
    assert status == 204 or (status == 200 and "history-url-state" not in data["response"])
    queries.close_thread_connections()


def test_pag014_no_run_shows_how_to_make_one(tmp_path: Path) -> None:
    app = create_app(tmp_path / "missing.duckdb")
    for module in (SIM, HIS):
        assert "No segmentation run yet" in text(layout_json(app, module))
    client = app.server.test_client()
    assert client.get("/simulator").status_code == 200
    status, data = post(client, migration_body(client, 1, 2))
    assert status in (200, 204)
    status, data = post(client, prediction_body(client, [1], slider_ids(1), 1, 1))
    assert status == 200 and "warning" in json.dumps(data["response"]["simulator-result"])
