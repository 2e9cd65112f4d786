"""Simulator: move one slider per model feature and see which segment such a customer would join.

The prediction comes from the run's stored scaler and centroids (segmentation.scoring); nothing is fitted
here. Sliders send positions (0..POSITIONS); skewed features move on a log scale, like the model sees them.
Every position is untrusted JSON: it becomes a finite value clamped to the feature's range before scoring.
The start profile and the slider values live in the URL (dashboard/simulator_view.py) beside the shared
filters: the callback returns the canonical query and assets/url_state.js writes it with replaceState, so
a reload or a copied link restores the same sliders and prediction.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlencode

import dash
import dash_bootstrap_components as dbc
from dash import (
    ALL,
    ClientsideFunction,
    Input,
    Output,
    Patch,
    State,
    callback,
    clientside_callback,
    dcc,
    html,
)

from dashboard import callback_errors, components, figures, filter_bar, queries
from dashboard import simulator_view as view
from dashboard.filters import Filters
from dashboard.queries import model as model_q
from dashboard.queries import simulator as sim

dash.register_page(
    __name__, path="/simulator", name="Simulator", order=5, title="Simulator · Customer segments"
)

POPULATION = "population"
SLIDER = "simulator-slider"
VALUE = "simulator-value"
fmt_value = view.fmt_value  # the readout format (tests and older imports use it from here)
_MAX_SEARCH = 20_000  # longest stored query string looked at (browser values are untrusted)


def _path() -> str:
    """This page's path as the browser sees it (with the app's URL prefix)."""
    return dash.get_relative_path("/simulator")


def url_state(model: sim.SimModel, f: Filters, start: int | None, values: Any) -> dict[str, str]:
    """What assets/url_state.js writes into the address bar: this page's path and the canonical query."""
    return {"path": _path(), "query": urlencode(view.query_pairs(model, f, start, values))}


@components.requires_data
def layout(**query: Any) -> html.Div:
    """The simulator for the run in the URL (the latest by default), at the start profile and slider
    values the URL names (validated against the run's model), else at the population medians."""
    f, _ = filter_bar.filters_from_url(query)
    run_id = f.run_id
    info = queries.run_info(run_id)
    model = sim.load_model(run_id)
    start = view.start_from_query(model, query.get(view.START_KEY))
    prediction = sim.predict(model, view.values_from_query(model, query, start))
    names = {s.id: s.name for s in model.segments}
    pca = model_q.pca_axes(run_id)
    figure = figures.simulator_scatter(
        sim.pca_sample(f),
        names,
        _point(prediction),
        figures.id_colors(names)[prediction.segment.id],
        figures.pca_axis_titles(pca.features, pca.loadings, pca.explained) if pca else None,
    )
    start_options = [{"label": "Population median (all customers)", "value": POPULATION}] + [
        {"label": f"{s.name}: segment median", "value": s.id} for s in model.segments if s.id in model.medians
    ]
    return html.Div(
        [
            components.page_header("Simulator", info),
            components.filter_scope(
                f,
                "the customers drawn behind the simulated one on the PCA map",
                "the prediction (the run's own model) and the slider ranges",
                "simulator",
            ),
            html.P(
                "Describe a customer with the sliders: the run's own model (its scaler and segment centres) "
                "says which segment they would join. Nothing is refitted.",
                className="text-body-secondary",
            ),
            dbc.Row(
                [
                    dbc.Col(
                        dbc.Card(
                            [
                                dbc.CardHeader("Customer profile"),
                                dbc.CardBody(
                                    [
                                        html.Label(
                                            "Start from", htmlFor="simulator-start", className="small"
                                        ),
                                        dcc.Dropdown(
                                            id="simulator-start",
                                            options=start_options,
                                            value=POPULATION if start is None else start,
                                            clearable=False,
                                            searchable=False,
                                            className="mb-4",
                                        ),
                                        html.Div(
                                            [
                                                _slider(i, feature, v)
                                                for i, (feature, v) in enumerate(
                                                    zip(model.features, prediction.values, strict=True)
                                                )
                                            ],
                                            id="simulator-sliders",
                                        ),
                                    ]
                                ),
                                dbc.CardFooter(
                                    "Skewed features move on a log scale, as the model sees them.",
                                    className="small text-muted",
                                ),
                            ],
                            className="shadow-sm h-100",
                        ),
                        lg=5,
                    ),
                    dbc.Col(
                        [
                            dbc.Card(
                                dbc.CardBody(view.result_panel(model, prediction), id="simulator-result"),
                                className="shadow-sm mb-3",
                            ),
                            dbc.Card(
                                [
                                    dbc.CardHeader("Where this customer sits among sampled customers (PCA)"),
                                    dbc.CardBody(
                                        dcc.Graph(
                                            id="simulator-scatter",
                                            figure=figure,
                                            config=components.graph_config(),
                                        )
                                    ),
                                ],
                                className="shadow-sm",
                            ),
                        ],
                        lg=7,
                    ),
                ],
                className="g-3",
            ),
            dcc.Store(id="simulator-run", data=run_id),
            dcc.Store(id="simulator-filters", data=f.to_query()),
            dcc.Store(id="simulator-values", data=list(prediction.values)),
            dcc.Store(id="simulator-url-state", data=url_state(model, f, start, prediction.values)),
            dcc.Store(id="simulator-url-sink"),
        ]
    )


def _slider(index: int, feature: sim.FeatureRange, value: float) -> html.Div:
    """One labelled slider (positions 0..POSITIONS) with the current value beside its label."""
    return html.Div(
        [
            html.Div(
                [
                    html.Span(feature.label, className="small"),
                    html.Span(
                        fmt_value(feature, value),
                        id={"type": VALUE, "index": index},
                        className="small fw-semibold font-monospace",
                    ),
                ],
                className="d-flex justify-content-between",
            ),
            dcc.Slider(
                id={"type": SLIDER, "index": index},
                min=0,
                max=sim.POSITIONS,
                step=1,
                value=feature.position_of(value),
                marks={
                    0: fmt_value(feature, feature.slider_low),
                    sim.POSITIONS: fmt_value(feature, feature.high),
                },
                allow_direct_input=False,
                disabled=feature.high <= feature.slider_low,
                className="simulator-slider",
            ),
        ],
        className="mb-3",
    )


def _point(prediction: sim.Prediction) -> tuple[float, float]:
    """The simulated customer's PC1/PC2 (0 where the model has fewer components)."""
    pcs = list(prediction.score.pcs) + [0.0, 0.0]
    return float(pcs[0]), float(pcs[1])


def positions(ids: Any, values: Any, count: int) -> dict[int, Any]:
    """{feature index: untrusted position} from the sliders' ids and values (at most `count` entries)."""
    if not isinstance(ids, list) or not isinstance(values, list):
        return {}
    out: dict[int, Any] = {}
    for id_, value in list(zip(ids, values, strict=False))[:count]:
        index = id_.get("index") if isinstance(id_, dict) else None
        if isinstance(index, int) and not isinstance(index, bool) and 0 <= index < count:
            out.setdefault(index, value)
    return out


def slider_values(model: sim.SimModel, at: dict[int, Any], current: Any) -> tuple[float, ...]:
    """The values the sliders stand for: a slider still at the position of its current value (the page's
    store, untrusted) keeps that exact value (a URL's 1200 stays 1200); a moved one takes its position's
    value; a slider not sent keeps its current value (the start profile's if that is unusable)."""
    current = model.clamp(current if isinstance(current, list) else [])
    values = []
    for i, feature in enumerate(model.features):
        if i not in at or feature.position_of(current[i]) == at[i]:
            values.append(current[i])
        else:
            values.append(feature.value_at(at[i]))
    return tuple(values)


def _output_indices(position: int) -> list[Any]:
    """The `index` of each component a pattern-matching output (at `position`) targets."""
    try:
        return [o["id"].get("index") for o in dash.ctx.outputs_list[position]]
    except (AttributeError, IndexError, KeyError, TypeError):
        return []


def _failed(message: str) -> tuple[Any, ...]:
    """The callback's answer when the data is gone or a query ran too long: the message, nothing moved."""
    skip = dash.no_update
    sliders, readouts = _output_indices(0), _output_indices(3)
    alert = dbc.Alert(message, color="warning")
    return [skip] * len(sliders), alert, skip, [skip] * len(readouts), skip, skip


def _index_ok(i: Any, count: int) -> bool:
    """True for a feature index of the model (an int, not a bool, in range)."""
    return isinstance(i, int) and not isinstance(i, bool) and 0 <= i < count


def _filters(search: Any, run_id: int) -> Filters:
    """The shared filters the page was opened with (its stored query, validated again against the run)."""
    search = search if isinstance(search, str) and len(search) <= _MAX_SEARCH else ""
    query: dict[str, Any] = {k: v[0] if len(v) == 1 else v for k, v in parse_qs(search).items()}
    query["run"] = str(run_id)
    return filter_bar.filters_from_url(query)[0]


@callback(
    Output({"type": SLIDER, "index": ALL}, "value"),
    Output("simulator-result", "children"),
    Output("simulator-scatter", "figure"),
    Output({"type": VALUE, "index": ALL}, "children"),
    Output("simulator-values", "data"),
    Output("simulator-url-state", "data"),
    Input("simulator-start", "value"),
    Input({"type": SLIDER, "index": ALL}, "value"),
    State({"type": SLIDER, "index": ALL}, "id"),
    State("simulator-values", "data"),
    State("simulator-run", "data"),
    State("simulator-filters", "data"),
    prevent_initial_call=True,
)
@callback_errors.answers(_failed)
def update(start: Any, values: Any, ids: Any, current: Any, run: Any, search: Any) -> tuple[Any, ...]:
    """A new start profile (sliders set to its medians) or moved sliders: score the values (validated and
    clamped), move the star, write the readouts and the URL's canonical query."""
    sliders, readouts = _output_indices(0), _output_indices(3)
    run_id = queries.resolve_run(run)
    model = sim.load_model(run_id)
    f = _filters(search, run_id)
    segment_id = view.start_from_query(model, start)
    count = len(model.features)
    if dash.ctx.triggered_id == "simulator-start":
        chosen = model.profile(segment_id)
        new_positions = [
            model.features[i].position_of(chosen[i]) if _index_ok(i, count) else dash.no_update
            for i in sliders
        ]
    else:
        chosen = slider_values(model, positions(ids, values, count), current)
        new_positions = [dash.no_update] * len(sliders)
    prediction = sim.predict(model, chosen)
    patch = Patch()
    x, y = _point(prediction)
    patch["data"][figures.SIMULATOR_POINT_TRACE]["x"] = [x]
    patch["data"][figures.SIMULATOR_POINT_TRACE]["y"] = [y]
    patch["data"][figures.SIMULATOR_POINT_TRACE]["marker"]["color"] = figures.segment_color(
        prediction.segment.name, [s.name for s in model.segments]
    )
    texts = [
        fmt_value(model.features[i], prediction.values[i]) if _index_ok(i, count) else dash.no_update
        for i in readouts
    ]
    return (
        new_positions,
        view.result_panel(model, prediction),
        patch,
        texts,
        list(prediction.values),
        url_state(model, f, segment_id, prediction.values),
    )


clientside_callback(  # writes the query into the address bar; the sink only gives it an output
    ClientsideFunction(namespace="url_state", function_name="replace"),
    Output("simulator-url-sink", "data"),
    Input("simulator-url-state", "data"),
)
