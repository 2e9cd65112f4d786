"""The Compare and Model pages: layouts for URL queries, callbacks called as plain functions and over HTTP
with valid and hostile inputs (never a 500, never more than four segments), plain-text stored names."""

from __future__ import annotations

import importlib
import json
import re
import shutil
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import dash
import duckdb
import plotly.graph_objects as go
import pytest
from flask.testing import FlaskClient

from dashboard import create_app, queries
from segmentation import currency as money
from segmentation import pipeline, store
from tests.dashboard.test_queries_profiles import make_customer_table_run

HOSTILE: list[Any] = [
    "'; DROP TABLE customers; --",
    "1 OR 1=1",
    {"a": 1},
    [{"$ne": 1}],
    True,
    1.0,
    -1,
    999,
    "９",  # a full-width digit
    None,
    [None, "x", 2.5],
    "1" * 400,
]


class _Encoder(json.JSONEncoder):
    def default(self, o: Any) -> Any:
        if hasattr(o, "to_plotly_json"):
            return o.to_plotly_json()
        return str(o)


def as_json(component: Any) -> str:
    return json.dumps(component, cls=_Encoder, ensure_ascii=False)


@pytest.fixture
def small_app(small_run: tuple[Path, pipeline.RunSummary]) -> Iterator[dash.Dash]:
    app = create_app(small_run[0])
    yield app
    queries.close_thread_connections()


@pytest.fixture
def pages(
    small_app: dash.Dash, small_run: tuple[Path, pipeline.RunSummary]
) -> Iterator[dict[str, ModuleType]]:
    """The two page modules (imported after an app exists, as Dash requires), queries on the small run."""
    modules = {
        "compare": importlib.import_module("dashboard.pages.compare"),
        "model": importlib.import_module("dashboard.pages.model"),
    }
    with small_app.server.test_request_context("/"), queries.using(small_run[0]):
        yield modules


def render(app: dash.Dash, module: str, **query: Any) -> str:
    with app.server.test_request_context("/"):
        return as_json(dash.page_registry[module]["layout"](**query))


def model_layout(app: dash.Dash) -> Any:
    """The Model page's layout of run 1."""
    with app.server.test_request_context("/"):
        return dash.page_registry["dashboard.pages.model"]["layout"](run="1")


def segment_names(db: Path) -> dict[int, str]:
    con = store.open_read_only(db)
    try:
        return dict(con.execute("SELECT segment_id, name FROM segments WHERE run_id = 1").fetchall())
    finally:
        con.close()


# --- Compare: validation -----------------------------------------------------------------------------------


def test_pcm001_pick_segments_keeps_only_the_runs_ids_capped_at_four(pages: dict[str, ModuleType]) -> None:
    compare = pages["compare"]
    allowed = [0, 1, 2, 3, 4, 5]
    assert compare.pick_segments(["3", 1, "3", "1"], allowed) == (3, 1)
    assert compare.pick_segments("2", allowed) == (2,)
    assert compare.pick_segments(list(range(50)), allowed) == (0, 1, 2, 3)
    assert compare.pick_segments([5] * 50 + [1], allowed) == (5, 1)
    assert compare.pick_segments(list(range(100, 200)) + [0], allowed) == ()  # only the first 64 looked at
    for value in HOSTILE:
        assert compare.pick_segments(value, allowed) == (), value
        assert compare.pick_segments([value], allowed) == (), value


def test_pcm002_selection_from_the_url_query(pages: dict[str, ModuleType]) -> None:
    compare = pages["compare"]
    allowed = [0, 1, 2, 3]
    sel = compare.selection_from_query({"segment": ["3", "1"], "vs": "everyone"}, allowed, 1)
    assert (sel.segments, sel.everyone, sel.series()) == ((3, 1), True, (3, 1, -1))
    assert sel.to_query() == "run=1&segment=3&segment=1&vs=everyone"
    default = compare.selection_from_query({}, allowed, 1)
    assert (default.segments, default.everyone, default.series()) == ((0, 1), False, (0, 1))
    alone = compare.selection_from_query({"vs": "everyone"}, allowed, 1)
    assert alone.series() == (0, -1)
    one = compare.selection_from_query({"segment": "2"}, allowed, 1)
    assert one.series() == (2, -1)  # one segment is always shown against everyone
    assert one.to_query() == "run=1&segment=2"
    for value in HOSTILE:
        sel = compare.selection_from_query({"segment": value, "vs": value}, allowed, 1)
        assert (sel.segments, sel.everyone) == ((0, 1), False), value
    assert compare.selection_from_query("not a dict", allowed, 1).segments == (0, 1)


# --- Compare: layout and callback --------------------------------------------------------------------------


def test_pcm003_compare_layout_restores_the_url_selection(
    small_app: dash.Dash, small_run: tuple[Path, pipeline.RunSummary]
) -> None:
    names = segment_names(small_run[0])
    text = render(small_app, "dashboard.pages.compare", run="1", segment=["2", "0"], vs="everyone")
    assert '"value": [2, 0]' in text
    query = "run=1&segment=2&segment=0&vs=everyone"
    assert f'"id": "compare-url-state", "data": {{"path": "/compare", "query": "{query}"}}' in text
    for sid in (2, 0):
        assert names[sid] in text
    assert "Everyone" in text and "Recommended action" in text
    assert '"type": "heatmap"' in text and '"type": "scatterpolar"' in text and '"type": "box"' in text
    hostile = render(
        small_app, "dashboard.pages.compare", run="1; DROP", segment=["99", "abc"], vs=["x", "y"]
    )
    assert '"value": [0, 1]' in hostile and "empty-state" not in hostile


def _update(pages: dict[str, ModuleType], segments: Any, vs: Any, run: Any, controls: Any = None) -> tuple:
    """Compare's callback with no filter set; its outputs in the order the tests read them."""
    out = pages["compare"].update(segments, vs, controls or {}, run)
    return tuple(out[k] for k in ("value", "options", "table", "radar", "boxes", "cards", "url_state"))


def test_pcm004_compare_callback_redraws_for_a_valid_selection(
    pages: dict[str, ModuleType], small_run: tuple[Path, pipeline.RunSummary]
) -> None:
    names = segment_names(small_run[0])
    value, options, table, radar, boxes, cards, url = _update(pages, [1, 3], False, 1)
    assert value is dash.no_update  # already canonical
    assert url == {"path": "/compare", "query": "run=1&segment=1&segment=3"}
    table_text = as_json(table)
    assert names[1] in table_text and names[3] in table_text and "Everyone" not in table_text
    assert [t.name for t in go.Figure(radar).data][1:] == [names[1], names[3]]
    boxes = go.Figure(boxes)  # a plain figure dict: loading it validates every property
    assert {t.name for t in boxes.data} == {names[1], names[3]}
    assert len(cards.children) == 2
    assert not any(o["disabled"] for o in options)
    value, options, table, radar, boxes, cards, url = _update(pages, [1, 3], True, 1)
    assert "Everyone" in as_json(table) and url["query"].endswith("vs=everyone")
    assert "Everyone" in {t.name for t in go.Figure(boxes).data}


def test_pcm004b_compare_says_when_percentiles_come_from_a_sample(
    pages: dict[str, ModuleType], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Exact percentiles: no note. Groups over QUANTILE_SAMPLE customers: one line names them and where
    the sample shows (box plots only without filters: the table's percentiles are the run's stored ones)."""
    from dashboard.queries import feature_stats, result_cache

    result_cache.clear()
    assert "evenly spaced sample" not in as_json(_update(pages, [1, 3], True, 1)[2])
    monkeypatch.setattr(feature_stats, "QUANTILE_SAMPLE", 40)
    result_cache.clear()
    table = as_json(_update(pages, [1, 3], True, 1)[2])
    note = table[table.find("The box plots") :][:300]
    assert re.search(
        r"The box plots of .*Everyone \(268 customers\).* an evenly spaced sample of about 3\d "
        r"customers each; counts, means, minima and maxima use every customer",
        note,
    ), note
    result_cache.clear()


@pytest.mark.parametrize("segments", [*HOSTILE, list(range(50)), [str(i) for i in range(50)], []])
def test_pcm005_compare_callback_survives_hostile_inputs(pages: dict[str, ModuleType], segments: Any) -> None:
    for vs, run in [(True, 1), ("everyone", "1"), ({"x": 1}, "abc"), ("'; --", {"id": 1}), (False, 10**12)]:
        value, options, table, radar, boxes, cards, url = _update(pages, segments, vs, run)
        chosen = [] if value is dash.no_update else value
        assert isinstance(chosen, list) and len(chosen) <= 4 and set(chosen) <= {0, 1, 2, 3, 4}
        if isinstance(segments, list) and segments[:1] in ([0], ["0"]):
            assert chosen == [0, 1, 2, 3]
            assert sum(o["disabled"] for o in options) == len(options) - 4
        assert url["path"] == "/compare"
        assert url["query"] == "run=1" + "".join(f"&segment={s}" for s in chosen) + (
            "&vs=everyone" if vs is True else ""
        )


COMPARE_OUTPUTS = [
    ("compare-segments", "value"),
    ("compare-segments", "options"),
    ("compare-scope", "children"),
    ("compare-table", "children"),
    ("compare-radar", "figure"),
    ("compare-boxes", "figure"),
    ("compare-cards", "children"),
    ("compare-heatmap", "figure"),
    ("compare-url-state", "data"),
]


def compare_body(segments: Any, vs: Any, run: Any, controls: dict[str, Any] | None = None) -> dict[str, Any]:
    from dashboard import filter_bar

    prefix, without = "compare-filter", ("segment",)
    controls = controls or {}
    filter_inputs = [
        {"id": filter_bar.control_id(prefix, key), "property": "value", "value": controls.get(key)}
        for key in filter_bar.CONTROLS
        if key not in without
    ]
    return {
        "output": ".." + "...".join(f"{i}.{p}" for i, p in COMPARE_OUTPUTS) + "..",
        "outputs": [{"id": i, "property": p} for i, p in COMPARE_OUTPUTS],
        "inputs": [
            {"id": "compare-segments", "property": "value", "value": segments},
            {"id": "compare-vs", "property": "value", "value": vs},
            *filter_inputs,
            [],  # the attribute controls (ALL): none, the run has no --attributes
        ],
        "changedPropIds": ["compare-segments.value"],
        "state": [{"id": "compare-run", "property": "data", "value": run}],
    }


def test_pcm006_compare_callback_over_http_never_fails(small_app: dash.Dash) -> None:
    client: FlaskClient = small_app.server.test_client()
    client.get("/")
    ok = client.post("/_dash-update-component", json=compare_body([3, 2], True, 1))
    assert ok.status_code == 200
    response = ok.get_json()["response"]
    assert response["compare-url-state"]["data"] == {
        "path": "/compare",
        "query": "run=1&segment=3&segment=2&vs=everyone",
    }
    for segments in [*HOSTILE, list(range(50))]:
        r = client.post(
            "/_dash-update-component", json=compare_body(segments, {"x": 1}, "1; DROP TABLE runs")
        )
        assert r.status_code == 200, segments
        data = r.get_json()["response"]
        value = data.get("compare-segments", {}).get("value", [])
        assert len(value) <= 4
        assert data["compare-url-state"]["data"]["query"].startswith("run=1")


def test_pcm007_stored_names_are_plain_text_in_figures(
    small_run: tuple[Path, pipeline.RunSummary], tmp_path: Path
) -> None:
    db = tmp_path / "segments.duckdb"
    shutil.copyfile(small_run[0], db)
    evil = "<b>Bold</b> <a href='javascript:alert(1)'>x</a>"
    store.rename_segment(db, 1, "0", evil)
    app = create_app(db)
    escaped = "&lt;b&gt;Bold&lt;/b&gt; &lt;a href='javascript:alert(1)'&gt;x&lt;/a&gt;"
    with app.server.test_request_context("/"):
        compare = dash.page_registry["dashboard.pages.compare"]["layout"](segment=["0", "1"])
        model = dash.page_registry["dashboard.pages.model"]["layout"]()
        pca3d = importlib.import_module("dashboard.pages.model").show_pca3d(1, "run=1")  # drawn on request
    for layout, graph_id in [
        (compare, "compare-radar"),
        (compare, "compare-boxes"),
        (compare, "compare-heatmap"),
        (model, "model-pca2d"),
        (pca3d, "model-pca3d"),
        (model, "model-histogram"),
    ]:
        figure = as_json(go.Figure(find(layout, graph_id).figure).to_plotly_json())
        assert "<b>" not in figure and "<a " not in figure, graph_id
        assert escaped in figure, graph_id
    # Dash components get the stored text as a plain string child (React renders it as text).
    card = find(compare, {"type": "compare-card", "index": 0})
    assert card.children.children[0].children == evil
    queries.close_thread_connections()


# --- Model -------------------------------------------------------------------------------------------------


def test_pcm008_model_layout_shows_sweep_comparison_pca_and_steps(
    small_app: dash.Dash, small_run: tuple[Path, pipeline.RunSummary]
) -> None:
    summary = small_run[1]
    text = as_json(model_layout(small_app))
    assert summary.k_reason in text
    assert f"chosen k = {summary.k}" in text
    assert '"type": "scatter3d"' not in text and "Show the 3-D view" in text  # the 3-D view: on request
    assert "Agglomerative (Ward)" in text and "DBSCAN" in text and "stored model" in text
    assert "Adjusted Rand index" in text
    assert "no customer id" in text  # a cleaning step in words


def find(component: Any, component_id: str) -> Any:
    """The component with this id in a layout tree."""
    if getattr(component, "id", None) == component_id:
        return component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list) else [children]:
        if child is not None and not isinstance(child, str | int | float):
            found = find(child, component_id)
            if found is not None:
                return found
    return None


def test_pcm009_model_figures_mark_the_chosen_k_and_every_outlier(
    small_app: dash.Dash, small_run: tuple[Path, pipeline.RunSummary]
) -> None:
    with small_app.server.test_request_context("/"), queries.using(small_run[0]):
        layout = dash.page_registry["dashboard.pages.model"]["layout"]()
        sweep = go.Figure(find(layout, "model-sweep").figure)
        stars = [t for t in sweep.data if t.marker.symbol == "star"]
        assert len(stars) == 4 and all(list(t.x) == [small_run[1].k] for t in stars)
        pca2d = go.Figure(find(layout, "model-pca2d").figure)
        outliers = [t for t in pca2d.data if t.name.startswith("Outliers")]
        assert len(outliers) == 1 and len(outliers[0].x) == small_run[1].outliers
        assert sum(len(t.x) for t in pca2d.data) == small_run[1].customers
        assert find(layout, "model-pca3d") is None  # drawn on request only
        pca3d = find(importlib.import_module("dashboard.pages.model").show_pca3d(1, "run=1"), "model-pca3d")
        assert {t.type for t in go.Figure(pca3d.figure).data} == {"scatter3d"}
        assert sum(len(t.x) for t in go.Figure(pca3d.figure).data) == small_run[1].customers


@pytest.mark.parametrize("feature", [*HOSTILE, "monetary", "frequency"])
@pytest.mark.parametrize("run", ["run=1", "x", {"a": 1}, "run=1&country=%27%3B--", 1])
def test_pcm010_histogram_callback_checks_the_feature(
    pages: dict[str, ModuleType], feature: Any, run: Any
) -> None:
    raw, note = pages["model"].update_histogram(feature, run)
    figure = go.Figure(raw)
    if feature in ("monetary", "frequency"):
        assert figure.data and figure.layout.barmode == "stack" and "bins" in note
    else:
        assert not figure.data and note == ""


def test_pcm011_histogram_callback_over_http(small_app: dash.Dash) -> None:
    client: FlaskClient = small_app.server.test_client()
    client.get("/")
    for feature in ["tenure_days", "'; DROP TABLE customers; --", {"a": 1}, list(range(50))]:
        body = {
            "output": "..model-histogram.figure...model-histogram-note.children..",
            "outputs": [
                {"id": "model-histogram", "property": "figure"},
                {"id": "model-histogram-note", "property": "children"},
            ],
            "inputs": [{"id": "model-feature", "property": "value", "value": feature}],
            "changedPropIds": ["model-feature.value"],
            "state": [{"id": "model-filters", "property": "data", "value": "run=1"}],
        }
        r = client.post("/_dash-update-component", json=body)
        assert r.status_code == 200, feature
        bars = r.get_json()["response"]["model-histogram"]["figure"]["data"]
        assert bool(bars) == (feature == "tenure_days")


def test_pcm012_model_views_take_the_shared_filters(
    pages: dict[str, ModuleType], small_run: tuple[Path, pipeline.RunSummary], small_app: dash.Dash
) -> None:
    """The PCA maps and the feature histogram count the filtered customers; the page says which views the
    filters apply to (and the run-wide ones they do not)."""
    import duckdb

    with duckdb.connect(str(small_run[0]), read_only=True) as con:
        country, count = con.execute(
            "SELECT country, count(*) FROM customers WHERE run_id = 1"
            " GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1 OFFSET 1"
        ).fetchone()
    raw, note = pages["model"].update_histogram("frequency", f"run=1&country={country}")
    assert sum(sum(t.y) for t in go.Figure(raw).data) == count  # every filtered customer once, tails included
    layout = dash.page_registry["dashboard.pages.model"]["layout"](run="1", country=country)
    text = as_json(layout)
    assert "Filtered customers" in text and f"Country: {country}" in text and "the whole run" in text
    pca2d = go.Figure(find(layout, "model-pca2d").figure)
    assert sum(len(t.x) for t in pca2d.data) == count


# --- Other runs --------------------------------------------------------------------------------------------


def test_pcm012_pages_on_a_customer_table_run(tmp_path: Path) -> None:
    db = make_customer_table_run(tmp_path)
    app = create_app(db)
    compare = render(app, "dashboard.pages.compare", segment=["0", "1", "2"])
    assert "Income" in compare and "Spend" in compare and '"type": "box"' in compare
    assert "(no group)" in compare  # no RFM groups in a customer-table run
    model = render(app, "dashboard.pages.model")
    assert "k = 3 was fixed by --k." in model and "Income" in model
    queries.close_thread_connections()


@pytest.mark.parametrize("module", ["dashboard.pages.compare", "dashboard.pages.model"])
def test_pcm013_no_run_yet_shows_how_to_make_one(tmp_path: Path, module: str) -> None:
    app = create_app(tmp_path / "missing.duckdb")
    text = render(app, module)
    assert "empty-state" in text and "segments run data/online_retail_sample.csv" in text


def test_pcm014_low_stability_warns_in_the_report_the_runs_table_and_the_model_page(
    small_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A chosen k with stability 0.58 (as --k 5 gave on the sample) prints a warning, stores it, shows it."""
    from segmentation import cli, model

    monkeypatch.setattr(model, "_stability", lambda *args, **kwargs: 0.58)
    db = tmp_path / "s.duckdb"
    assert cli.main(["run", str(small_csv), "--db", str(db), "--k", "5", "--quiet"]) == 0
    printed = capsys.readouterr().out
    sentence = (
        "Stability at k = 5 is 0.58, below 0.6: refits on subsamples put many customers in other segments, "
        "so treat these segments as tentative (try another k from the sweep)."
    )
    assert f"WARNING: {sentence}" in printed
    with duckdb.connect(str(db), read_only=True) as con:
        assert sentence in con.execute("SELECT warnings FROM runs").fetchone()[0]
    app = create_app(db)
    try:
        text = render(app, "dashboard.pages.model", run="1")
    finally:
        queries.close_thread_connections()
    assert "This run warns: " in text and sentence in text


def test_pcm015_model_page_cleaning_shows_customers_lost_and_money_that_adds_up(
    small_app: dash.Dash, small_run: tuple[Path, pipeline.RunSummary]
) -> None:
    summary = small_run[1]
    layout = model_layout(small_app)
    table = as_json(find(layout, "model-cleaning"))
    for step in summary.steps:
        assert step.description in table and f"{step.money:,.2f}" in table
    removed = sum(s.money for s in summary.steps)
    kept = summary.money_in - removed
    with duckdb.connect(str(small_run[0]), read_only=True) as con:
        revenue = con.execute("SELECT revenue FROM runs WHERE id = 1").fetchone()[0]
    assert abs(revenue - kept) <= Decimal("0.005") * summary.customers  # each customer rounded to cents
    assert summary.currency == "GBP"  # the Online Retail layout's currency, known without --currency
    footer = as_json(layout)
    pounds = lambda v: money.money(float(v), "GBP", 2)  # noqa: E731
    assert f"Money: {pounds(summary.money_in)} in the input = {pounds(removed)} removed" in footer
    assert f"+ {pounds(kept)} kept" in footer
