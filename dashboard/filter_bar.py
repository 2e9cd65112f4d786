"""The filter controls shared by Explore, Customers and Compare (the values both ways: filter_values).

Each page builds the bar with its own id prefix (`filter_bar("explore", f, allowed)`), lists the controls in
its callbacks with `inputs(prefix)` / `states(prefix)` / `outputs(prefix)` (dicts keyed like CONTROLS, for
Dash's flexible callback signatures), and turns the values the browser sends back into a validated Filters
with `filters_from_controls`. Those values are untrusted JSON: they are only ever reshaped into a URL-style
query and passed through `Filters.from_query`, the single validation path (unknown values are dropped).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, dcc, html
from dash.exceptions import MissingCallbackContextException

from dashboard import attribute_filters, callback_errors
from dashboard.filter_values import (  # noqa: F401 - re-exported: pages use them as filter_bar.*
    NO_PRESET,
    STEPS,
    _num,
    cleared,
    control_values,
    controls_to_query,
    filters_from_controls,
    filters_from_search,
    filters_from_url,
    slider_bounds,
    threshold_for_preset,
    with_added,
)
from dashboard.filters import (
    OUTLIER_MODES,
    RANGE_LABELS,
    Allowed,
    Filters,
    tenure_bands,
)

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
PRESET_OPTIONS = [
    {"label": "All customers", "value": NO_PRESET},
    {"label": "At-risk list", "value": "at-risk"},
    {"label": "Outliers", "value": "outliers"},
]
OUTLIER_LABELS = {"include": "Include", "exclude": "Exclude", "only": "Only"}


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
    controls = {key: Input(control_id(prefix, key), "value") for key in CONTROLS if key not in without}
    return {**controls, "attributes": Input(attribute_control(prefix), "value")}


def states(prefix: str, without: tuple[str, ...] = ()) -> dict[str, State]:
    """Every control's value as a callback State, keyed like CONTROLS."""
    controls = {key: State(control_id(prefix, key), "value") for key in CONTROLS if key not in without}
    return {**controls, "attributes": State(attribute_control(prefix), "value")}


def outputs(prefix: str, without: tuple[str, ...] = ()) -> dict[str, Output]:
    """Every control's value as a callback Output, keyed like CONTROLS (cross-filter clicks, clear)."""
    controls = {key: Output(control_id(prefix, key), "value") for key in CONTROLS if key not in without}
    return {**controls, "attributes": Output(attribute_control(prefix), "value")}


def attribute_control(prefix: str) -> dict[str, Any]:
    """The pattern of the bar's attribute controls (one per attribute of the run, values in its order)."""
    return {"type": attribute_filters.CONTROL_TYPE, "prefix": prefix, "name": ALL}


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
    @callback_errors.answers()  # the slider stays where it is
    def pick_band(clicks: Any, run: Any) -> Any:
        trigger = dash.ctx.triggered_id
        clicks = clicks if isinstance(clicks, list) else []  # one entry per button; anything else: junk
        if not isinstance(trigger, Mapping) or not any(isinstance(c, int) and c > 0 for c in clicks):
            return dash.no_update
        value = band_value(trigger.get("index"), run)
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
        *attribute_filters.controls(
            prefix, allowed.attributes, values["attributes"], allowed.attribute_source
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
