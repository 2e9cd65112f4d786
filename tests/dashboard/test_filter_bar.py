"""The shared filter bar: untrusted control values -> Filters through the one validation path, and back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dashboard import filter_bar
from dashboard.filters import Allowed, Filters, tenure_bands

ALLOWED = Allowed(
    run_id=7,
    countries=("France", "Germany", "United Kingdom"),
    segments={0: "Champions", 1: "Loyal", 2: "At Risk"},
    ranges={
        "tenure": (0.0, 700.0),
        "recency": (1.0, 365.0),
        "frequency": (1.0, 50.0),
        "monetary": (-120.5, 9000.25),
        "value": (0.0, 5000.4),
        "alive": (12.3, 99.97),
    },
    value_ready=True,
)
FULL = {
    "country": [],
    "segment": [],
    "tenure": [0, 700],
    "recency": [1, 365],
    "frequency": [1, 50],
    "monetary": [-121, 9001],
    "value": [0, 5001],
    "alive": [12.3, 100],
    "outliers": "include",
    "preset": "none",
    "attributes": [],  # the run has no --attributes columns
}


class _Encoder(json.JSONEncoder):
    def default(self, o: Any) -> Any:
        return o.to_plotly_json() if hasattr(o, "to_plotly_json") else str(o)


def to_json(component: Any) -> str:
    """A component tree as the JSON text Dash sends."""
    return json.dumps(component.to_plotly_json(), cls=_Encoder)


def parse(controls: dict[str, Any]) -> Filters:
    """What a page callback does with the controls, minus the run lookup."""
    return Filters.from_query(filter_bar.controls_to_query(controls, ALLOWED.run_id), ALLOWED)


def test_fb001_full_controls_mean_no_filter() -> None:
    f = parse(FULL)
    assert f.is_default() and f.to_query() == "run=7"
    assert filter_bar.control_values(f, ALLOWED) == FULL


def test_fb002_valid_controls_become_the_same_filters_as_the_url() -> None:
    controls = {
        **FULL,
        "country": ["Germany", "France"],
        "segment": [2, 0],
        "tenure": [100, 700],
        "monetary": [10.5, 500],
        "outliers": "exclude",
        "preset": "at-risk",
    }
    f = parse(controls)
    url = (
        "country=France&country=Germany&segment=0&segment=2&tenure_min=100&monetary_min=10.5&monetary_max=500"
    )
    query: dict[str, Any] = {}
    for pair in url.split("&"):
        key, value = pair.split("=")
        query.setdefault(key, []).append(value)
    expected = Filters.from_query({**query, "outliers": "exclude", "preset": "at-risk"}, ALLOWED)
    assert f == expected
    assert f.to_query() == (
        "run=7&country=France&country=Germany&segment=0&segment=2&tenure_min=100&monetary_min=10.5"
        "&monetary_max=500&outliers=exclude&preset=at-risk"
    )
    assert parse(filter_bar.control_values(f, ALLOWED)) == f  # round trip through the controls


HOSTILE: list[tuple[str, Any]] = [
    ("country", ["Narnia", "France' OR '1'='1", "'; DROP TABLE customers; --"]),
    ("country", {"$ne": None}),
    ("country", [{"a": 1}, ["France"], None, True]),
    ("segment", ["1 OR 1=1", 99, -1, True, 1.5, {"id": 1}]),
    ("segment", "0; DROP TABLE segments"),
    ("tenure", ["abc", "1e999"]),
    ("tenure", {"min": 1, "max": 2}),
    ("tenure", [1, 2, 3]),
    ("tenure", [True, False]),
    ("monetary", "100"),
    ("outliers", "everything"),
    ("outliers", {"x": "only"}),
    ("preset", "all; DELETE"),
]


@pytest.mark.parametrize(("key", "value"), HOSTILE)
def test_fb003_hostile_values_are_ignored(key: str, value: Any) -> None:
    f = parse({**FULL, key: value})
    assert f == Filters(run_id=7), f"{key}={value!r} gave {f}"


def test_fb004_hostile_values_never_reach_the_sql_parameters() -> None:
    f = parse({**FULL, "country": ["France", "x' OR 1=1 --"], "segment": [1, "2; DROP"]})
    params = json.dumps(f.params())
    assert "OR 1=1" not in params and "DROP" not in params
    assert f.countries == ("France",) and f.segments == (1,)


def test_fb005_inverted_range_is_swapped_and_partial_bounds_kept() -> None:
    assert (
        parse({**FULL, "tenure": [float("nan"), 5]}).tenure_min,
        parse({**FULL, "tenure": [None, 5]}).tenure_max,
    ) == (
        None,
        5,
    )
    f = parse({**FULL, "recency": [300, 30], "frequency": [5, 50]})
    assert (f.recency_min, f.recency_max) == (30, 300)
    assert (f.frequency_min, f.frequency_max) == (5, None)  # 50 is the run's maximum: no bound


def test_fb006_huge_lists_are_cut_before_validation() -> None:
    many = ["France"] + [f"C{i}" for i in range(200_000)]
    assert len(filter_bar.controls_to_query({"country": many}, 7)["country"]) == 1000
    f = parse({**FULL, "country": many, "segment": list(range(100_000))})
    assert f.countries == ("France",) and f.segments == (0, 1, 2)


def test_fb007_non_mapping_controls_mean_no_filter() -> None:
    for junk in (None, [], "country=France", 42):
        assert Filters.from_query(filter_bar.controls_to_query(junk, 7), ALLOWED) == Filters(run_id=7)  # type: ignore[arg-type]


def test_fb008_with_added_adds_one_validated_value() -> None:
    f = parse({**FULL, "country": ["France"]})
    assert filter_bar.with_added(f, ALLOWED, country="Germany")["country"] == ["France", "Germany"]
    assert filter_bar.with_added(f, ALLOWED, segment=2.0)["segment"] == [2]  # plotly sends floats
    assert filter_bar.with_added(f, ALLOWED, country="France") == filter_bar.control_values(f, ALLOWED)
    for junk in ("Narnia", "x' OR 1=1", {"c": 1}, ["Germany"], None):
        assert filter_bar.with_added(f, ALLOWED, country=junk) == filter_bar.control_values(f, ALLOWED)
    for junk in (True, 1.5, "1", 99, {"s": 1}):
        assert filter_bar.with_added(f, ALLOWED, segment=junk)["segment"] == []


def test_fb009_cleared_keeps_the_run_and_resets_every_control() -> None:
    f = parse({**FULL, "country": ["France"], "preset": "outliers", "tenure": [5, 9]})
    assert filter_bar.cleared(f, ALLOWED) == FULL


def test_fb010_slider_bounds_and_a_column_the_run_lacks() -> None:
    lacking = Allowed(
        run_id=1, countries=(), segments={}, ranges={"tenure": (None, None), "recency": (3.0, 3.0)}
    )
    assert filter_bar.slider_bounds(ALLOWED, "monetary") == (-121.0, 9001.0)
    assert filter_bar.slider_bounds(lacking, "tenure") is None
    assert filter_bar.slider_bounds(lacking, "recency") == (3.0, 4.0)  # a slider needs min < max
    values = filter_bar.control_values(Filters(run_id=1), lacking)
    assert values["tenure"] is None and values["recency"] == [3, 4]
    bar = filter_bar.filter_bar("t", Filters(run_id=1), lacking)
    card = to_json(bar)
    assert "not in this run" in card and '"t-recency"' in card
    # the lacking column's slider still exists, hidden and disabled, so callbacks that list every control
    # (Explore, Customers) never name a component the page lacks
    parents = {id(c): p for p in bar._traverse() for c in _children(p)}
    slider = next(c for c in bar._traverse() if getattr(c, "id", None) == "t-tenure")
    assert slider.disabled is True and slider.value is None and parents[id(slider)].hidden is True


def _children(component: object) -> list[object]:
    kids = getattr(component, "children", None)
    return list(kids) if isinstance(kids, (list, tuple)) else [kids]


def test_fb011_the_bar_has_every_control_with_the_filters_values() -> None:
    f = parse({**FULL, "country": ["Germany"], "segment": [1], "tenure": [100, 700]})
    found: dict[str, Any] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            props = node.get("props")
            if isinstance(props, dict) and isinstance(props.get("id"), str):
                found[props["id"]] = props
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(json.loads(to_json(filter_bar.filter_bar("explore", f, ALLOWED))))
    for key in filter_bar.CONTROLS:
        assert filter_bar.control_id("explore", key) in found, key
    assert found["explore-country"]["value"] == ["Germany"]
    assert found["explore-segment"]["value"] == [1]
    assert found["explore-tenure"]["value"] == [100, 700]
    assert (found["explore-tenure"]["min"], found["explore-tenure"]["max"]) == (0, 700)
    assert [o["value"] for o in found["explore-country"]["options"]] == list(ALLOWED.countries)
    assert "explore-clear" in found


def test_fb012_inputs_outputs_and_trigger_outside_a_callback() -> None:
    assert set(filter_bar.inputs("p")) == {*filter_bar.CONTROLS, "attributes"} == set(filter_bar.outputs("p"))
    assert filter_bar.inputs("p")["tenure"].component_id == "p-tenure"
    assert filter_bar.triggered() is None


def test_fb013_filters_from_controls_resolves_the_run(db: Path) -> None:
    f, allowed = filter_bar.filters_from_controls({"country": ["Italy", "France"]}, 2)
    assert (f.run_id, f.countries, allowed.run_id) == (2, ("France", "Italy"), 2)
    for junk in (None, 99, "2; DROP", {"id": 2}, True, [1, 2]):
        f, _ = filter_bar.filters_from_controls({}, junk)
        assert f.run_id == 2  # unknown or malformed: the latest run
    f, _ = filter_bar.filters_from_url({"run": "1", "country": ["France", "Narnia"], "segment": "3"})
    assert (f.run_id, f.countries, f.segments) == (1, ("France",), (3,))


def test_fb014_band_buttons_come_from_the_runs_tenure_and_set_the_slider(db: Path) -> None:
    """The bar offers only bands the run's tenure reaches, and a band button's value is that band,
    clipped to the slider (one control for tenure, no radio beside it)."""
    _, allowed = filter_bar.filters_from_controls({}, 1)
    lo, hi = allowed.ranges["tenure"]
    bands = tenure_bands(lo, hi)
    assert bands and all(a <= b for _, a, b in bands) and bands[-1][2] >= hi
    card = to_json(filter_bar.filter_bar("t", Filters(run_id=1), allowed))
    for label, _, _ in bands:
        assert json.dumps(label) in card
    assert "2y+" not in card and 'tenure-band"' not in card
    bounds = filter_bar.slider_bounds(allowed, "tenure")
    assert filter_bar.band_value(0, 1) == [bounds[0], bands[0][2]]
    assert filter_bar.band_value(len(bands) - 1, 1)[1] == bounds[1]
    for junk in (-1, len(bands), "0", None, True, 1.5):
        assert filter_bar.band_value(junk, 1) is None


def test_fb015_bands_fit_the_data() -> None:
    assert tenure_bands(1, 374) == [
        ("under 30 days", 1, 29),
        ("30 days–90 days", 30, 89),
        ("90 days–180 days", 90, 179),
        ("180 days–1 year", 180, 364),
        ("1 year+", 365, 374),
    ]  # 374 days of data: no "2 years+" band
    assert [b[0] for b in tenure_bands(0, 2000)][-2:] == ["1 year–2 years", "2 years+"]
    assert tenure_bands(0, 20) == [] and tenure_bands(None, None) == [] and tenure_bands(5, 5) == []
