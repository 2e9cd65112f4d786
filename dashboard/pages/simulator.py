"""Simulator: move one slider per model feature and see which segment such a customer would join.

The prediction comes from the run's stored scaler and centroids (segmentation.scoring); nothing is fitted
here. Sliders send positions (0..POSITIONS); skewed features move on a log scale, like the model sees them.
Every position is untrusted JSON: it becomes a finite value clamped to the feature's range before scoring.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, Patch, State, callback, dcc, html

from dashboard import components, figures, filter_bar, queries
from dashboard.queries import NoData, QueryTimeout
from dashboard.queries import model as model_q
from dashboard.queries import simulator as sim

dash.register_page(
    __name__, path="/simulator", name="Simulator", order=5, title="Simulator · Customer segments"
)

POPULATION = "population"
SLIDER = "simulator-slider"
VALUE = "simulator-value"


def fmt_value(feature: sim.FeatureRange, value: float) -> str:
    """A slider value for people: whole numbers with separators, small ones with a few digits."""
    if feature.integer or abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:,.1f}"
    return f"{value:.3g}"


@components.requires_data
def layout(**query: Any) -> html.Div:
    """The simulator for the run in the URL (the latest by default), starting at the population medians."""
    f, _ = filter_bar.filters_from_url(query)
    run_id = f.run_id
    info = queries.run_info(run_id)
    model = sim.load_model(run_id)
    prediction = sim.predict(model, model.defaults())
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
                                            value=POPULATION,
                                            clearable=False,
                                            searchable=False,
                                            className="mb-4",
                                        ),
                                        html.Div(
                                            [
                                                _slider(i, f, v)
                                                for i, (f, v) in enumerate(
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
                                dbc.CardBody(
                                    result_panel(prediction, list(names.values())), id="simulator-result"
                                ),
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


def result_panel(prediction: sim.Prediction, among: Sequence[str] = ()) -> list[Any]:
    """The predicted segment (large, in its name's colour among the run's names `among`), its description and
    action, and how clearly the customer belongs."""
    segment = prediction.segment
    score = prediction.score
    if prediction.next_segment is None or score.next_distance is None:
        verdict = dbc.Badge("Only segment", color="secondary", className="me-2")
        detail = f"Distance to its centre {score.distance:.2f}."
    else:
        verdict = (
            dbc.Badge("Borderline", color="warning", text_color="dark", className="me-2")
            if prediction.borderline
            else dbc.Badge("Clear member", color="success", className="me-2")
        )
        detail = (
            f"Distance to its centre {score.distance:.2f}; to the next-nearest segment, "
            f"{prediction.next_segment.name}, {score.next_distance:.2f} "
            f"(ratio {prediction.ratio:.2f}; borderline from {sim.BORDERLINE_RATIO:.2f})."
        )
    return [
        html.Div("Predicted segment", className="kpi-label"),
        html.Div(
            segment.name,
            id="simulator-segment",
            className="display-6 fw-semibold mb-2",
            style={"color": figures.segment_color(segment.name, among)},
        ),
        html.P(segment.description, className="mb-2", id="simulator-description"),
        html.P(
            [html.Strong("Recommended action: "), segment.action], className="mb-3", id="simulator-action"
        ),
        html.Div([verdict, html.Span(detail, className="small")], id="simulator-verdict"),
    ]


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


def _output_indices(position: int | None) -> list[Any]:
    """The `index` of each component a pattern-matching output targets (position None: the only output)."""
    try:
        outputs = dash.ctx.outputs_list if position is None else dash.ctx.outputs_list[position]
        return [o["id"].get("index") for o in outputs]
    except (AttributeError, IndexError, KeyError, TypeError):
        return []


@callback(
    Output({"type": SLIDER, "index": ALL}, "value"),
    Input("simulator-start", "value"),
    State("simulator-run", "data"),
    prevent_initial_call=True,
)
def apply_start(start: Any, run: Any) -> Any:
    """Set every slider to a segment's median profile, or back to the population medians."""
    targets = _output_indices(None)
    try:
        model = sim.load_model(queries.resolve_run(run))
    except (NoData, QueryTimeout):
        return [dash.no_update] * len(targets)
    segment_id = start if isinstance(start, int) and not isinstance(start, bool) else None
    values = model.medians.get(segment_id, model.defaults()) if segment_id is not None else model.defaults()
    return [
        model.features[i].position_of(values[i])
        if isinstance(i, int) and not isinstance(i, bool) and 0 <= i < len(model.features)
        else dash.no_update
        for i in targets
    ]


@callback(
    Output("simulator-result", "children"),
    Output("simulator-scatter", "figure"),
    Output({"type": VALUE, "index": ALL}, "children"),
    Input({"type": SLIDER, "index": ALL}, "value"),
    State({"type": SLIDER, "index": ALL}, "id"),
    State("simulator-run", "data"),
    prevent_initial_call=True,
)
def update_prediction(values: Any, ids: Any, run: Any) -> tuple[Any, Any, list[Any]]:
    """Score the sliders' values (validated and clamped) and move the star on the PCA scatter."""
    targets = _output_indices(2)
    try:
        model = sim.load_model(queries.resolve_run(run))
    except (NoData, QueryTimeout) as exc:
        message = dbc.Alert(str(exc), color="warning")
        return message, dash.no_update, [dash.no_update] * len(targets)
    features = model.values_at(positions(ids, values, len(model.features)))
    prediction = sim.predict(model, features)
    patch = Patch()
    x, y = _point(prediction)
    patch["data"][figures.SIMULATOR_POINT_TRACE]["x"] = [x]
    patch["data"][figures.SIMULATOR_POINT_TRACE]["y"] = [y]
    patch["data"][figures.SIMULATOR_POINT_TRACE]["marker"]["color"] = figures.segment_color(
        prediction.segment.name, [s.name for s in model.segments]
    )
    readouts = [
        fmt_value(model.features[i], prediction.values[i])
        if isinstance(i, int) and not isinstance(i, bool) and 0 <= i < len(model.features)
        else dash.no_update
        for i in targets
    ]
    return result_panel(prediction, [s.name for s in model.segments]), patch, readouts
