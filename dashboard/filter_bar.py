"""The filter controls shared by Explore and Customers, and the one way their values become a Filters.

Each page builds the bar with its own id prefix (`filter_bar("explore", f, allowed)`), lists the controls in
its callbacks with `inputs(prefix)` / `states(prefix)` / `outputs(prefix)` (dicts keyed like CONTROLS, for
Dash's flexible callback signatures), and turns the values the browser sends back into a validated Filters
with `filters_from_controls`. Those values are untrusted JSON: they are only ever reshaped into a URL-style
query and passed through `Filters.from_query`, the single validation path (unknown values are dropped).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

import dash
import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, dcc, html
from dash.exceptions import MissingCallbackContextException

from dashboard import queries
from dashboard.filters import (
    AT_RISK_ALIVE_PERCENT,
    OUTLIER_MODES,
    RANGE_COLUMNS,
    RANGE_LABELS,
    Allowed,
    Filters,
    tenure_bands,
)
from dashboard.queries import filtered

# Control key -> the id suffix of its component; every control's property is `value`.
CONTROLS: dict[str, str] = {
    "country": "country",
    "segment": "segment",
    "tenure": "tenure",
    "recency": "recency",
    "frequency": "frequency",
    "monetary": "monetary",
    "value": "value",
    "alive": "alive",
    "outliers": "outliers",
    "preset": "preset",
}
MONEY_RANGES = ("monetary", "value")  # range filters in the run's money
BAND_BUTTON = "tenure-band-button"  # pattern-matching id type of the tenure band buttons
NO_PRESET = "none"  # the preset radio's "no preset" value
PRESET_OPTIONS = [
    {"label": "All customers", "value": NO_PRESET},
    {"label": "At-risk list", "value": "at-risk"},
    {"label": "Outliers", "value": "outliers"},
]
OUTLIER_LABELS = {"include": "Include", "exclude": "Exclude", "only": "Only"}
_MAX_ITEMS = 1000  # longest list looked at before Filters.from_query caps it to the run's own values


def _money_unit(currency: str | None) -> str:
    """'GBP', or '' when the run's currency is unknown (the run badge says so)."""
    return currency or ""


def control_id(prefix: str, key: str) -> str:
    """The component id of one control, e.g. control_id('explore', 'preset') -> 'explore-preset'."""
    return f"{prefix}-{CONTROLS[key]}"


def clear_id(prefix: str) -> str:
    """The id of the bar's 'clear filters' button."""
    return f"{prefix}-clear"


def triggered() -> str | None:
    """The 'id.property' of the input that fired the running callback (None outside one, e.g. in tests)."""
    try:
        fired = dash.ctx.triggered
    except MissingCallbackContextException:
        return None
    prop = fired[0].get("prop_id") if fired and isinstance(fired[0], dict) else None
    return prop if isinstance(prop, str) and prop != "." else None


def inputs(prefix: str, without: tuple[str, ...] = ()) -> dict[str, Input]:
    """Every control's value as a callback Input, keyed like CONTROLS."""
    return {key: Input(control_id(prefix, key), "value") for key in CONTROLS if key not in without}


def states(prefix: str, without: tuple[str, ...] = ()) -> dict[str, State]:
    """Every control's value as a callback State, keyed like CONTROLS."""
    return {key: State(control_id(prefix, key), "value") for key in CONTROLS if key not in without}


def outputs(prefix: str, without: tuple[str, ...] = ()) -> dict[str, Output]:
    """Every control's value as a callback Output, keyed like CONTROLS (cross-filter clicks, clear)."""
    return {key: Output(control_id(prefix, key), "value") for key in CONTROLS if key not in without}


# ---------------------------------------------------------------------------------------------------------
# Browser values -> Filters (untrusted in, validated out)


def _pair(value: Any) -> tuple[Any, Any]:
    """A range slider's [lo, hi], or (None, None) for anything that is not a two-item list."""
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return value[0], value[1]
    return None, None


def _listed(value: Any) -> list[Any]:
    """A multi-dropdown value as a list of at most _MAX_ITEMS scalars (one scalar is a one-item list)."""
    if value is None:
        return []
    items = value[:_MAX_ITEMS] if isinstance(value, (list, tuple)) else [value]
    return [v for v in items if isinstance(v, (str, int, float)) and not isinstance(v, bool)]


def controls_to_query(controls: Mapping[str, Any], run: Any) -> dict[str, Any]:
    """Reshape the controls' raw values into the URL-style query Filters.from_query validates."""
    controls = controls if isinstance(controls, Mapping) else {}
    query: dict[str, Any] = {
        "run": run,
        "country": _listed(controls.get("country")),
        "segment": _listed(controls.get("segment")),
    }
    for name in RANGE_COLUMNS:
        query[f"{name}_min"], query[f"{name}_max"] = _pair(controls.get(name))
    query["outliers"] = controls.get("outliers")
    preset = controls.get("preset")
    if preset != NO_PRESET:
        query["preset"] = preset
    return query


def filters_from_controls(controls: Mapping[str, Any], run: Any) -> tuple[Filters, Allowed]:
    """Validate the controls' values against the run (an untrusted id: the latest run if unknown)."""
    run_id = queries.resolve_run(run)
    allowed = filtered.allowed(run_id)
    return Filters.from_query(controls_to_query(controls, run_id), allowed), allowed


def filters_from_search(search: Any) -> tuple[Filters, Allowed]:
    """filters_from_url for a stored query string (e.g. 'run=2&country=Germany'; untrusted)."""
    if not isinstance(search, str) or len(search) > 20_000:
        search = ""
    return filters_from_url({k: v[0] if len(v) == 1 else v for k, v in parse_qs(search).items()})


def filters_from_url(query: Mapping[str, Any]) -> tuple[Filters, Allowed]:
    """A page layout's URL query validated against its run (or the latest), with the run's allowed values."""
    query = query if isinstance(query, Mapping) else {}
    allowed = filtered.allowed(queries.resolve_run(query.get("run")))
    return Filters.from_query(query, allowed), allowed


# ---------------------------------------------------------------------------------------------------------
# Filters -> control values (layout, clear, cross-filter)


# A range slider's step where whole numbers are too coarse (the chance of being active is in percent, and
# on data with little churn every customer is above 99%).
STEPS: dict[str, float] = {"alive": 0.1}


def slider_bounds(allowed: Allowed, name: str) -> tuple[float, float] | None:
    """A range slider's (min, max): the run's range widened to its step; None if the run lacks it."""
    lo, hi = allowed.ranges.get(name, (None, None))
    if lo is None or hi is None:
        return None
    step = STEPS.get(name, 1.0)
    lo_i = math.floor(round(lo / step, 6)) * step  # rounded first: 12.3 / 0.1 is 122.99999999999999
    hi_i = math.ceil(round(hi / step, 6)) * step
    if name == "alive":  # a chance: never past 0..100
        lo_i, hi_i = max(lo_i, 0.0), min(hi_i, 100.0)
    return round(lo_i, 6), round(hi_i if hi_i > lo_i else lo_i + step, 6)


def control_values(f: Filters, allowed: Allowed) -> dict[str, Any]:
    """The controls' values that show the filter set f (full slider range where f has no bound)."""
    values: dict[str, Any] = {"country": list(f.countries), "segment": list(f.segments)}
    for name in RANGE_COLUMNS:
        bounds = slider_bounds(allowed, name)
        lo, hi = getattr(f, f"{name}_min"), getattr(f, f"{name}_max")
        if bounds is None:
            values[name] = None
        else:
            values[name] = [
                _num(lo if lo is not None else bounds[0]),
                _num(hi if hi is not None else bounds[1]),
            ]
    if f.preset == "at-risk" and f.value_ready and f.alive_max is None and values.get("alive"):
        values["alive"][1] = _num(min(AT_RISK_ALIVE_PERCENT, values["alive"][1]))  # the list's threshold
    values["outliers"] = f.outliers
    values["preset"] = f.preset or NO_PRESET
    return values


def threshold_for_preset(preset: Any, alive: Any, run: Any) -> Any:
    """The "Chance still active" slider's value when the at-risk preset is picked: its upper end moves to
    the list's default threshold, so the slider shows what the list uses; otherwise no change (None)."""
    if preset != "at-risk" or not isinstance(alive, list) or len(alive) != 2:
        return None
    _, allowed = filters_from_controls({}, run)
    bounds = slider_bounds(allowed, "alive")
    if not allowed.value_ready or bounds is None:
        return None
    low = alive[0] if isinstance(alive[0], (int, float)) and not isinstance(alive[0], bool) else bounds[0]
    high = min(AT_RISK_ALIVE_PERCENT, bounds[1])
    return [_num(min(float(low), high)), _num(high)]


def _num(value: float) -> float | int:
    """Whole numbers as ints (tidy slider labels), others as floats."""
    return int(value) if float(value).is_integer() else float(value)


def cleared(f: Filters, allowed: Allowed) -> dict[str, Any]:
    """The controls' values with every filter removed (same run)."""
    return control_values(Filters(run_id=f.run_id, segment_names=f.segment_names), allowed)


def with_added(f: Filters, allowed: Allowed, country: Any = None, segment: Any = None) -> dict[str, Any]:
    """The controls' values after adding one clicked country and/or segment (validated; unknown: ignored)."""
    query = _query_of(f)
    if isinstance(country, str):
        query["country"] = [*query.get("country", []), country]
    seg = _segment_id(segment)
    if seg is not None:
        query["segment"] = [*query.get("segment", []), str(seg)]
    return control_values(Filters.from_query(query, allowed), allowed)


def _query_of(f: Filters) -> dict[str, Any]:
    """f's URL query as {key: str | list[str]} (countries and segments always lists)."""
    query: dict[str, Any] = {"country": [], "segment": []}
    for key, value in f.query_pairs():
        if key in ("country", "segment"):
            query[key].append(value)
        else:
            query[key] = value
    return query


def _segment_id(value: Any) -> int | None:
    """A clicked segment id: an int, or a float holding one (plotly customdata); None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**31:
        return int(value)
    return None


# ---------------------------------------------------------------------------------------------------------
# Layout


def _range_slider(prefix: str, name: str, allowed: Allowed, value: Any) -> html.Div:
    """One labelled range slider with direct-input boxes (disabled when the run has no such values)."""
    label, unit = RANGE_LABELS[name]
    if name in MONEY_RANGES:  # money: the run's currency first
        unit = ", ".join(u for u in (_money_unit(allowed.currency), unit) if u)
    bounds = slider_bounds(allowed, name)
    text = f"{label} ({unit})" if unit else label
    if bounds is None:  # the slider still exists (hidden, no value): callbacks list every control
        return html.Div(
            [
                html.Label(text, className="form-label small mb-1"),
                html.Div("not in this run", className="small text-muted"),
                html.Div(
                    dcc.RangeSlider(id=control_id(prefix, name), min=0, max=1, value=None, disabled=True),
                    hidden=True,
                ),
            ],
            className="mb-3",
        )
    return html.Div(
        [
            html.Label(text, className="form-label small mb-1", htmlFor=control_id(prefix, name)),
            dcc.RangeSlider(
                id=control_id(prefix, name),
                min=_num(bounds[0]),
                max=_num(bounds[1]),
                step=STEPS.get(name, 1),
                value=value,
                marks=None,
                allowCross=False,
                updatemode="mouseup",
                className="filter-slider",
            ),
        ],
        className="mb-3",
    )


def _band_buttons(prefix: str, allowed: Allowed) -> html.Div:
    """Quick picks under the tenure slider: bands cut from the run's own tenure range; a click sets the
    slider (one control, one state), so a band the data does not reach is never offered."""
    lo, hi = allowed.ranges.get("tenure", (None, None))
    bands = tenure_bands(lo, hi)
    if not bands:
        return html.Div()
    return html.Div(
        [
            dbc.Button(
                label,
                id={"type": BAND_BUTTON, "prefix": prefix, "index": i},
                color="secondary",
                outline=True,
                size="sm",
                n_clicks=0,
                className="py-0 px-2",
                title=f"tenure {int(a)} to {int(b)} days",
            )
            for i, (label, a, b) in enumerate(bands)
        ],
        className="d-flex flex-wrap gap-1 mb-3 tenure-bands",
        style={"marginTop": "-0.5rem"},
    )


def band_value(index: Any, run: Any) -> list[float | int] | None:
    """The tenure slider's value for band button `index` of the run's bands; None for an unknown index."""
    if not isinstance(index, int) or isinstance(index, bool):
        return None
    _, allowed = filters_from_controls({}, run)
    lo, hi = allowed.ranges.get("tenure", (None, None))
    bands = tenure_bands(lo, hi)
    bounds = slider_bounds(allowed, "tenure")
    if not 0 <= index < len(bands) or bounds is None:
        return None
    _, a, b = bands[index]
    return [_num(max(a, bounds[0])), _num(min(b, bounds[1]))]


def register_band_buttons(prefix: str, run_store: str) -> None:
    """The callback behind one page's band buttons: a click moves that page's tenure slider."""

    @dash.callback(
        Output(control_id(prefix, "tenure"), "value", allow_duplicate=True),
        Input({"type": BAND_BUTTON, "prefix": prefix, "index": ALL}, "n_clicks"),
        State(run_store, "data"),
        prevent_initial_call=True,
    )
    def pick_band(clicks: Any, run: Any) -> Any:
        trigger = dash.ctx.triggered_id
        if not isinstance(trigger, Mapping) or not any(isinstance(c, int) and c > 0 for c in clicks or []):
            return dash.no_update
        try:
            value = band_value(trigger.get("index"), run)
        except (queries.NoData, queries.QueryTimeout):
            return dash.no_update
        return dash.no_update if value is None else value


def _segment_control(prefix: str, allowed: Allowed, value: Any) -> html.Div:
    """The segment multi-select of the bar."""
    return html.Div(
        [
            html.Label("Segment", className="form-label small mb-1", htmlFor=control_id(prefix, "segment")),
            dcc.Dropdown(
                id=control_id(prefix, "segment"),
                options=[{"label": n, "value": int(s)} for s, n in allowed.segments.items()],
                value=value,
                multi=True,
                placeholder="All segments",
            ),
        ],
        className="mb-3",
    )


def filter_bar(prefix: str, f: Filters, allowed: Allowed, without: tuple[str, ...] = ()) -> dbc.Card:
    """The filter card: preset, country, segment, tenure (range and the run's bands), R/F/M ranges,
    predicted value, chance still active, outliers, clear; `without` leaves controls out (Compare picks
    its segments itself; a page's callbacks then list the same `without`)."""
    values = control_values(f, allowed)
    body: list[Any] = [
        html.Div(
            dbc.RadioItems(
                id=control_id(prefix, "preset"),
                options=PRESET_OPTIONS,
                value=values["preset"],
                inline=True,
                className="filter-presets",
                inputClassName="btn-check",
                labelClassName="btn btn-outline-primary btn-sm",
                labelCheckedClassName="active",
                labelStyle={"marginLeft": "-1.5em"},  # a form-check's indent, unused by button labels
            ),
            className="mb-3",
        ),
        html.Div(
            [
                html.Label(
                    "Country", className="form-label small mb-1", htmlFor=control_id(prefix, "country")
                ),
                dcc.Dropdown(
                    id=control_id(prefix, "country"),
                    options=[{"label": c, "value": c} for c in allowed.countries],
                    value=values["country"],
                    multi=True,
                    placeholder="All countries",
                ),
            ],
            className="mb-3",
        ),
        _range_slider(prefix, "tenure", allowed, values["tenure"]),
        _band_buttons(prefix, allowed),
        *(
            _range_slider(prefix, n, allowed, values[n])
            for n in ("recency", "frequency", "monetary", "value", "alive")
        ),
        html.Div(
            [
                html.Label("Outliers", className="form-label small mb-1"),
                dbc.RadioItems(
                    id=control_id(prefix, "outliers"),
                    options=[{"label": OUTLIER_LABELS[m], "value": m} for m in OUTLIER_MODES],
                    value=values["outliers"],
                    inline=True,
                    className="small",
                ),
            ],
            className="mb-3",
        ),
        dbc.Button(
            "Clear filters", id=clear_id(prefix), color="secondary", outline=True, size="sm", n_clicks=0
        ),
    ]
    if "segment" not in without:
        body.insert(2, _segment_control(prefix, allowed, values["segment"]))
    return dbc.Card(
        [dbc.CardHeader("Filters"), dbc.CardBody(body)],
        className="shadow-sm filter-bar",
        id=f"{prefix}-filters",
    )


def filter_column(prefix: str, f: Filters, allowed: Allowed, without: tuple[str, ...] = ()) -> dbc.Col:
    """The bar in a fixed-width column (Dash hides a range slider's number boxes below 300 px)."""
    return dbc.Col(
        filter_bar(prefix, f, allowed, without),
        xs=12,
        lg="auto",
        className="filter-column",  # fixed 23rem wide (assets/style.css)
    )
