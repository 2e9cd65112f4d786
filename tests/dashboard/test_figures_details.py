"""Figure details: the radar points better outward, bars carry value labels, count and whole-number axes
tick on whole numbers, and PCA axes say how much variance they explain and which features drive them
(read from what the run stored; the dashboard fits nothing)."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard import figures, queries
from dashboard.queries import model as model_q

# ---------------------------------------------------------------------------------------------------------
# (1) The radar: better always points outward


def radar_scores(recency: float, frequency: float, returns: float) -> pd.DataFrame:
    """One segment's robust z-scores (profiles.normalise's shape)."""
    return pd.DataFrame(
        {
            "segment_id": [0, 0, 0],
            "feature": ["recency_days", "frequency", "return_rate"],
            "score": [recency, frequency, returns],
            "median": [10.0, 5.0, 0.01],
            "population_median": [50.0, 2.0, 0.1],
        }
    )


def test_radar_draws_lower_is_better_features_inverted() -> None:
    features = ["recency_days", "frequency", "return_rate"]
    # recent (fewer days than everyone), frequent and rarely returning: better on all three
    fig = go.Figure(figures.profile_radar(radar_scores(-1.5, 2.0, -0.5), {0: "Champions"}, features))
    segment = next(t for t in fig.data if t.name == "Champions")
    assert list(segment.r) == [1.5, 2.0, 0.5, 1.5]  # all outward; the loop closes on the first
    assert list(segment.theta[:3]) == [
        "Recency (days)<br>(inverted)",
        "Frequency (orders)",
        "Return rate (%)<br>(inverted)",
    ]
    assert [row[0] for row in segment.customdata[:3]] == [1.5, 2.0, 0.5]  # the hover tells the drawn score
    assert "outward = better" in segment.hovertemplate
    assert any("Outward = better" in a.text for a in fig.layout.annotations)
    # a lapsed segment points inward on recency
    lapsed = go.Figure(figures.profile_radar(radar_scores(2.0, 0.0, 0.0), {0: "Dormant"}, features))
    assert next(t for t in lapsed.data if t.name == "Dormant").r[0] == -2.0


def test_radar_without_inverted_features_says_nothing_about_inversion() -> None:
    scores = radar_scores(0, 1.0, 0).query("feature == 'frequency'")
    fig = go.Figure(figures.profile_radar(scores, {0: "Loyal"}, ["frequency"]))
    assert next(t for t in fig.data if t.name == "Loyal").r[0] == 1.0
    assert not fig.layout.annotations
    assert figures.radar_label("monetary") == "Revenue"


# ---------------------------------------------------------------------------------------------------------
# (2) Bars carry their values


def shares(customers: list[int], revenue: list[float]) -> pd.DataFrame:
    n = len(customers)
    return pd.DataFrame(
        {
            "segment_id": range(n),
            "name": [f"Segment {i}" for i in range(n)],
            "customers": customers,
            "revenue": revenue,
            "share": np.array(customers) / sum(customers),
            "revenue_share": np.array(revenue) / sum(revenue),
        }
    )


def test_segment_bars_are_labelled_with_their_values_past_their_ends() -> None:
    fig = go.Figure(figures.segment_shares(shares([600, 300, 100], [100.0, 300.0, 600.0])))
    for trace in fig.data:
        assert trace.texttemplate == "%{x:.1f}%"
        assert trace.textposition == "outside"  # past the bar's end: dark text readable on any colour
        assert trace.cliponaxis is False
        assert trace.textfont.color == figures.VALUE_LABELS["textfont"]["color"]
    # the axis leaves room for the longest bar's label
    low, high = fig.layout.xaxis.range
    assert low == 0 and high >= 60 * 1.15


def test_segment_bars_with_a_negative_revenue_share_leave_room_on_both_sides() -> None:
    fig = go.Figure(figures.segment_shares(shares([5, 5], [-50.0, 150.0])))
    low, high = fig.layout.xaxis.range
    assert low < -50 and high > 150


# ---------------------------------------------------------------------------------------------------------
# (3) Whole-number axes tick on whole numbers


def test_whole_ticks_only_step_in_ones_where_plotly_would_use_halves() -> None:
    assert figures.whole_ticks(3) == {"tick0": 0, "dtick": 1}
    assert figures.whole_ticks(0) == {"tick0": 0, "dtick": 1}
    assert figures.whole_ticks(250) == {}


def test_model_histogram_of_few_customers_ticks_on_whole_numbers() -> None:
    counts = pd.DataFrame({"bin": [0, 1, 2, 2], "segment_id": [0, 0, 0, 1], "customers": [1, 2, 2, 1]})
    edges = [1.0, 1.5, 2.0, 2.5]  # frequency 1..2.5 in half-order bins
    fig = go.Figure(figures.feature_histogram(counts, edges, {0: "A", 1: "B"}, "frequency"))
    assert (fig.layout.yaxis.dtick, fig.layout.yaxis.tick0) == (1, 0)  # 3 customers at most
    assert (fig.layout.xaxis.dtick, fig.layout.xaxis.tick0) == (1, 0)  # orders are whole
    revenue = go.Figure(figures.feature_histogram(counts, [0.0, 0.5, 1.0, 1.5], {0: "A", 1: "B"}, "monetary"))
    assert revenue.layout.xaxis.dtick is None  # money is not whole
    many = go.Figure(
        figures.feature_histogram(counts.assign(customers=400), edges, {0: "A", 1: "B"}, "frequency")
    )
    assert many.layout.yaxis.dtick is None  # plotly's own steps are whole there


def test_explore_histograms_of_few_customers_tick_on_whole_numbers() -> None:
    rows = []
    for feature, lo, width, vmax in (("tenure", 0, 1, 3), ("recency", 1, 1, 4), ("frequency", 1, 1, 3)):
        rows += [
            {"feature": feature, "segment_id": 0, "bin": b, "customers": 1, "lo": lo, "width": width}
            | {"vmin": lo, "vmax": vmax}
            for b in range(3)
        ]
    rows += [
        {"feature": "monetary", "segment_id": 0, "bin": b, "customers": 2, "lo": 0.0, "width": 0.5}
        | {"vmin": 0.0, "vmax": 1.5}
        for b in range(3)
    ]
    fig = go.Figure(figures.explore_histograms(pd.DataFrame(rows), {0: "Loyal"}))
    layout = fig.layout
    for axis in ("yaxis", "yaxis2", "yaxis3", "yaxis4"):  # counts: 1 or 2 customers per bin
        assert layout[axis].dtick == 1, axis
    for axis in ("xaxis", "xaxis2", "xaxis3"):  # tenure, recency, frequency: whole days and orders
        assert layout[axis].dtick == 1, axis
    assert layout["xaxis4"].dtick is None  # revenue


# ---------------------------------------------------------------------------------------------------------
# (4) PCA axes: explained variance and top loadings, from what the run stored


def test_pca_axis_titles_give_the_variance_and_the_strongest_loadings() -> None:
    features = ["recency_days", "frequency", "monetary", "my_column"]
    loadings = [[0.1, 0.6, 0.7, 0.0], [-0.9, 0.1, 0.0, 0.3], [0.0, 0.0, 0.1, -0.95]]
    titles = figures.pca_axis_titles(features, loadings, [0.412, 0.25, 0.1])
    assert titles == [
        "PC1 (41% of variance: revenue +, frequency +)",
        "PC2 (25% of variance: recency −, my_column +)",
        "PC3 (10% of variance: my_column −, revenue +)",
    ]
    # a run stored before the explained variance was: loadings only
    assert figures.pca_axis_titles(features, loadings, None)[0] == "PC1 (revenue +, frequency +)"


def pca_sample() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["a", "b"],
            "segment_id": [0, 1],
            "segment_name": ["Loyal", "New"],
            "pc1": [0.0, 1.0],
            "pc2": [1.0, 0.0],
            "pc3": [0.5, 0.5],
            "is_outlier": [False, False],
        }
    )


def test_pca_scatters_use_the_titles() -> None:
    titles = [
        "PC1 (50% of variance: revenue +, units +)",
        "PC2 (30% of variance: recency −, tenure +)",
        "PC3 (10% of variance: basket value +, recency +)",
    ]
    flat = go.Figure(figures.pca_scatter(pca_sample(), dims=2, axis_titles=titles))
    assert (flat.layout.xaxis.title.text, flat.layout.yaxis.title.text) == tuple(titles[:2])
    # in a turning 3-D scene long titles overlap: short ones on the axes, the full ones in a note below
    cube = go.Figure(figures.pca_scatter(pca_sample(), dims=3, axis_titles=titles))
    scene = cube.layout.scene
    assert [scene.xaxis.title.text, scene.yaxis.title.text, scene.zaxis.title.text] == [
        "PC1 (50%)",
        "PC2 (30%)",
        "PC3 (10%)",
    ]
    assert [a.text for a in cube.layout.annotations] == ["<br>".join(titles)]
    sim = go.Figure(
        figures.simulator_scatter(pca_sample(), {0: "Loyal", 1: "New"}, (0.0, 0.0), "#000", titles)
    )
    assert sim.layout.xaxis.title.text == titles[0]
    # no titles given (or a run without explained variance): plain PCn
    assert go.Figure(figures.pca_scatter(pca_sample(), dims=2)).layout.xaxis.title.text == "PC1"
    plain_cube = go.Figure(
        figures.pca_scatter(pca_sample(), dims=3, axis_titles=["PC1 (revenue +)", "PC2", "PC3"])
    )
    assert plain_cube.layout.scene.xaxis.title.text == "PC1"


def test_pca_axes_are_read_from_the_run(small_run) -> None:
    db, _ = small_run
    with duckdb.connect(str(db), read_only=True) as con:
        features, components, explained = con.execute(
            "SELECT features, pca_components, pca_explained FROM models WHERE run_id = 1"
        ).fetchone()
    with queries.using(db):
        axes = model_q.pca_axes(1)
        assert model_q.pca_axes(99) is None
    queries.close_thread_connections()
    assert axes is not None and list(axes.features) == features
    assert np.allclose(axes.loadings, components) and np.allclose(axes.explained, explained)
    title = figures.pca_axis_titles(axes.features, axes.loadings, axes.explained)[0]
    assert title.startswith(f"PC1 ({explained[0]:.0%} of variance: ")


def test_pca_axes_of_a_file_from_before_schema_4_have_loadings_only(small_run, tmp_path: Path) -> None:
    db = tmp_path / "v3.duckdb"
    shutil.copyfile(small_run[0], db)
    with duckdb.connect(str(db)) as con:  # as a served v3 file: no column at all
        con.execute("ALTER TABLE models DROP COLUMN pca_explained")
    with queries.using(db):
        axes = model_q.pca_axes(1)
    queries.close_thread_connections()
    assert axes is not None and axes.explained is None and len(axes.loadings) == 3


def graph(tree: object, graph_id: str) -> go.Figure:
    """The figure of the dcc.Graph with this id anywhere in a layout tree."""
    if getattr(tree, "id", None) == graph_id:
        return go.Figure(tree.figure)
    children = getattr(tree, "children", None)
    for child in children if isinstance(children, list | tuple) else [children]:
        if child is not None and not isinstance(child, str | int | float):
            with contextlib.suppress(LookupError):
                return graph(child, graph_id)
    raise LookupError(graph_id)


def test_model_and_simulator_pages_title_their_pca_axes(small_run, app) -> None:  # noqa: ANN001 - fixtures
    from dashboard.pages import model, simulator

    with queries.using(small_run[0]):
        axes = model_q.pca_axes(1)
        titles = figures.pca_axis_titles(axes.features, axes.loadings, axes.explained)
        model_tree, simulator_tree = model.layout(run="1"), simulator.layout(run="1")
        pca3d = model.show_pca3d(1, "run=1")  # the 3-D view is drawn on request
    queries.close_thread_connections()
    assert "% of variance: " in titles[0]
    flat = graph(model_tree, "model-pca2d")
    assert [flat.layout.xaxis.title.text, flat.layout.yaxis.title.text] == titles[:2]
    assert graph(pca3d, "model-pca3d").layout.annotations[0].text == "<br>".join(titles)
    assert graph(simulator_tree, "simulator-scatter").layout.xaxis.title.text == titles[0]
