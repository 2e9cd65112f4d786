"""Segment colours follow the segment's name, never its id: the same name has one colour in every run, figure
and page, swapped ids swap nothing, and names shown together never share a colour while colours last."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from dashboard import figures
from dashboard.figures import common
from segmentation.naming import CANDIDATES

GREYS = {figures.POPULATION_COLOR, figures.ABSENT_COLOR, figures.OUTLIER_COLOR}


# ---------------------------------------------------------------------------------------------------------
# The rule itself


def test_every_vocabulary_name_has_its_own_fixed_colour() -> None:
    names = [c.name for c in CANDIDATES]
    assert set(figures.SEGMENT_COLORS) == set(names)  # a new candidate name needs a colour here
    colors = [figures.SEGMENT_COLORS[n] for n in names]
    assert len(set(colors)) == len(colors)
    assert set(colors).isdisjoint(figures.HASH_COLORS) and set(colors).isdisjoint(GREYS)
    assert len(set(figures.HASH_COLORS)) == len(figures.HASH_COLORS)
    assert set(figures.HASH_COLORS).isdisjoint(GREYS)
    for name in names:
        assert figures.segment_color(name) == figures.SEGMENT_COLORS[name]
        assert figures.segment_color(name, names) == figures.SEGMENT_COLORS[name]


def test_other_names_hash_to_a_colour_that_does_not_depend_on_the_process() -> None:
    # crc32 of the UTF-8 name, not Python's per-process salted hash(): pinned so a change is noticed.
    assert figures.own_color("Lapsed · High Tenure") == "#125959"
    assert figures.own_color("Low Spend · Low Basket") == "#595912"
    assert figures.own_color("Segment 3") == "#0000CC"
    for name in ("Lapsed · High Tenure", "At Risk 2", "My renamed segment", "Segment 0"):
        assert figures.own_color(name) in figures.HASH_COLORS
        assert figures.segment_color(name) == figures.own_color(name)


def test_a_hash_collision_moves_the_later_sorted_name_to_the_next_free_colour() -> None:
    first, second = "Mid Recency · Low Tenure", "Recent · High Spend"
    assert figures.own_color(first) == figures.own_color(second)  # the collision this test is about
    colors = figures.segment_colors([second, first])
    assert colors[first] == figures.own_color(first)
    start = figures.HASH_COLORS.index(figures.own_color(first))
    assert colors[second] == figures.HASH_COLORS[(start + 1) % len(figures.HASH_COLORS)]
    # the same answer whatever the order or the repeats the names come in
    assert figures.segment_colors([first, second, first]) == colors
    assert figures.segment_color(second, [first]) == colors[second]


def test_names_shown_together_never_share_a_colour_while_colours_last() -> None:
    vocabulary = list(figures.SEGMENT_COLORS)
    others = [f"Segment {i}" for i in range(8)]
    colors = figures.segment_colors(vocabulary + others)
    assert len(set(colors.values())) == len(colors) == 21
    assert all(colors[n] == figures.SEGMENT_COLORS[n] for n in vocabulary)  # never displaced
    hashed = figures.segment_colors([f"Group {i}" for i in range(21)])  # may spill into the vocabulary's
    assert len(set(hashed.values())) == 21
    crowded = figures.segment_colors([f"Group {i}" for i in range(30)])  # more names than colours
    assert set(crowded.values()) <= set(figures.HASH_COLORS) | set(figures.SEGMENT_COLORS.values())


def test_id_colors_follow_the_names_and_grey_the_population() -> None:
    run_1 = {0: "Loyal", 1: "Lapsed · High Tenure", 2: "About to Sleep", -1: "Everyone"}
    run_2 = {0: "About to Sleep", 1: "Loyal", 2: "Lapsed · High Tenure", -1: "Everyone"}
    c1, c2 = figures.id_colors(run_1), figures.id_colors(run_2)
    for name in ("Loyal", "Lapsed · High Tenure", "About to Sleep"):
        id_1 = next(i for i, n in run_1.items() if n == name)
        id_2 = next(i for i, n in run_2.items() if n == name)
        assert id_1 != id_2  # every name moved to another id
        assert c1[id_1] == c2[id_2] == figures.segment_color(name)
    assert c1[0] != c2[0]  # and id 0 changes colour with its name
    assert c1[-1] == c2[-1] == figures.POPULATION_COLOR
    # an id the run has no name for is "Segment <id>", as the figures label it
    assert figures.id_colors({}, [4])[4] == figures.own_color("Segment 4")
    assert figures.series_color(2, run_2) == figures.segment_color("Lapsed · High Tenure")
    assert figures.series_color(-1, run_2) == figures.POPULATION_COLOR


def test_the_population_name_does_not_take_a_colour_from_the_segments() -> None:
    # "Everyone" (id -1) is grey and must not push a segment's name off its colour.
    names = {i: f"Segment {i}" for i in range(8)} | {-1: "Everyone"}
    without = figures.id_colors({i: n for i, n in names.items() if i >= 0})
    assert {i: c for i, c in figures.id_colors(names).items() if i >= 0} == without


# ---------------------------------------------------------------------------------------------------------
# Every figure that colours segments: two runs with the same names under swapped ids draw the same colours.

RUN_A = {0: "Loyal", 1: "About to Sleep", 2: "Lapsed · High Tenure"}
RUN_B = {0: "About to Sleep", 1: "Lapsed · High Tenure", 2: "Loyal"}


def _by_trace_name(fig: go.Figure) -> dict[str, str]:
    """Trace name -> its one colour (marker or line)."""
    out = {}
    for t in fig.data:
        color = getattr(getattr(t, "line", None), "color", None)
        marker = getattr(t, "marker", None)
        color = getattr(marker, "color", None) or color
        if t.name and isinstance(color, str):
            out[t.name] = color
    return out


def _shares(names: Mapping[int, str]) -> dict[str, str]:
    n = len(names)
    df = pd.DataFrame(
        {
            "segment_id": list(names),
            "name": list(names.values()),
            "customers": [10] * n,
            "revenue": [100.0] * n,
            "share": [1 / n] * n,
            "revenue_share": [1 / n] * n,
        }
    )
    fig = go.Figure(figures.segment_shares(df))  # a plain dict; go.Figure validates it
    customers = fig.data[-1]
    names = [label.replace(" ·<br>", " · ") for label in customers.y]  # long names are on two lines
    return dict(zip(names, customers.marker.color, strict=True))


def _pca(names: Mapping[int, str]) -> dict[str, str]:
    ids = [i for i in names for _ in range(3)]
    df = pd.DataFrame(
        {
            "customer_id": [f"C{i}" for i in range(len(ids))],
            "segment_id": ids,
            "segment_name": [names[i] for i in ids],
            "pc1": np.arange(len(ids), dtype=float),
            "pc2": np.arange(len(ids), dtype=float),
            "pc3": np.arange(len(ids), dtype=float),
            "is_outlier": [False] * len(ids),
        }
    )
    return _by_trace_name(go.Figure(figures.pca_scatter(df, dims=2, names=names)))


def _radar(names: Mapping[int, str]) -> dict[str, str]:
    features = ["recency_days", "frequency", "monetary"]
    scores = pd.DataFrame(
        [
            {"segment_id": i, "feature": f, "score": 0.5, "median": 1.0, "population_median": 1.0}
            for i in names
            for f in features
        ]
    )
    return _by_trace_name(go.Figure(figures.profile_radar(scores, dict(names), features)))


def _boxes(names: Mapping[int, str]) -> dict[str, str]:
    stats = pd.DataFrame(
        [
            {
                "segment_id": i,
                "feature": "monetary",
                "p05": 1,
                "p25": 2,
                "median": 3,
                "p75": 4,
                "p95": 5,
                "mean": 3,
            }
            for i in names
        ]
    )
    return _by_trace_name(go.Figure(figures.profile_boxes(stats, dict(names), ["monetary"])))  # validates


def _feature_histogram(names: Mapping[int, str]) -> dict[str, str]:
    counts = pd.DataFrame({"segment_id": list(names), "bin": [0] * len(names), "customers": [5] * len(names)})
    return _by_trace_name(
        go.Figure(figures.feature_histogram(counts, [0.0, 1.0, 2.0], dict(names), "monetary"))
    )


def _explore_histograms(names: Mapping[int, str]) -> dict[str, str]:
    df = pd.DataFrame(
        [
            {"feature": "frequency", "segment_id": i, "bin": 0, "customers": 4, "lo": 1.0, "width": 1.0}
            | {"vmin": 1.0, "vmax": 3.0}
            for i in names
        ]
    )
    return _by_trace_name(go.Figure(figures.explore_histograms(df, dict(names))))


def _simulator(names: Mapping[int, str]) -> dict[str, str]:
    sample = pd.DataFrame({"segment_id": list(names), "pc1": [0.0] * len(names), "pc2": [0.0] * len(names)})
    fig = go.Figure(figures.simulator_scatter(sample, dict(names), (0.0, 0.0), "#000000"))
    return {t.name: t.marker.color for t in fig.data[figures.SIMULATOR_POINT_TRACE + 1 :]}


def _why(names: Mapping[int, str]) -> dict[str, str]:
    ids = {n: i for i, n in names.items()}
    own, other = ids["Loyal"], ids["About to Sleep"]
    features = pd.DataFrame({"feature": ["frequency"], "z": [0.1], "z_centroid": [0.2], "z_next": [0.3]})
    fig = figures.why_segment(features, own, names[own], other, names[other], names.values())
    colors = _by_trace_name(fig)
    return {
        names[own]: colors[f"{names[own]} centroid"],
        names[other]: colors[f"{names[other]} (next nearest)"],
    }


def _sankey(names: Mapping[int, str]) -> dict[str, str]:
    """The run's names on both sides of a Sankey from RUN_A: one colour per name, whatever the ids."""
    flows = pd.DataFrame(
        [
            {"segment_a": a, "name_a": RUN_A[a], "segment_b": b, "name_b": names[b], "customers": 5}
            for a in RUN_A
            for b in names
        ]
    )
    empty_a = pd.DataFrame({"segment_a": [], "name_a": [], "customers": []})
    empty_b = pd.DataFrame({"segment_b": [], "name_b": [], "customers": []})
    node = figures.migration_sankey(flows, empty_a, empty_b, "A", "B").data[0].node
    seen: dict[str, set[str]] = {}
    for label, color in zip(node.label, node.color, strict=True):
        seen.setdefault(label, set()).add(color)
    assert all(len(c) == 1 for c in seen.values()), seen  # one name, one colour on both sides
    return {label: next(iter(c)) for label, c in seen.items()}


FIGURES: dict[str, Callable[[Mapping[int, str]], dict[str, str]]] = {
    "segment_shares": _shares,
    "pca_scatter": _pca,
    "profile_radar": _radar,
    "profile_boxes": _boxes,
    "feature_histogram": _feature_histogram,
    "explore_histograms": _explore_histograms,
    "simulator_scatter": _simulator,
    "why_segment": _why,
    "migration_sankey": _sankey,
}


@pytest.mark.parametrize("figure", FIGURES)
def test_figure_colours_follow_names_not_ids(figure: str) -> None:
    colors_a, colors_b = (
        {n: c for n, c in FIGURES[figure](run).items() if n != "Everyone (0)"} for run in (RUN_A, RUN_B)
    )
    assert colors_a and colors_a == colors_b  # ids swapped: colours stay with the names
    expected = figures.segment_colors(RUN_A.values())
    assert colors_a == {n: expected[n] for n in colors_a}  # and they are the names' colours
    assert len(set(colors_a.values())) == len(colors_a)


def test_sankey_links_take_the_source_names_colour() -> None:
    flows = pd.DataFrame(
        {
            "segment_a": [1],
            "name_a": ["About to Sleep"],
            "segment_b": [0],
            "name_b": ["Loyal"],
            "customers": [3],
        }
    )
    empty_a = pd.DataFrame({"segment_a": [], "name_a": [], "customers": []})
    empty_b = pd.DataFrame({"segment_b": [], "name_b": [], "customers": []})
    link = figures.migration_sankey(flows, empty_a, empty_b, "A", "B").data[0].link
    assert link.color == (figures.tint(figures.SEGMENT_COLORS["About to Sleep"], 0.35),)


def test_country_map_draws_in_the_colour_it_is_given() -> None:
    df = pd.DataFrame(
        {"country": ["France", "Germany"], "value": [3, 5], "customers": [3, 5], "revenue": [1, 2]}
    )
    at_risk = figures.segment_color("At Risk")
    scale = go.Figure(figures.country_map(df, "customers", at_risk)).data[0].colorscale
    assert scale[-1][1] == figures.SEGMENT_COLORS["At Risk"]
    assert go.Figure(figures.country_map(df, "customers")).data[0].colorscale[-1][1] == "#0d6efd"


def test_common_exports_are_reexported() -> None:
    for name in (
        "segment_color",
        "segment_colors",
        "own_color",
        "id_colors",
        "segment_label",
        "SEGMENT_COLORS",
    ):
        assert getattr(figures, name) is getattr(common, name)
