"""Explore: the filter bar drives KPIs, segment bars, a world map and histograms; chart clicks add filters.

The layout renders the URL's filters once. Afterwards one callback turns the controls into a validated
Filters and redraws everything, returning the canonical query for the address bar (assets/url_state.js
writes it with history.replaceState, so the page is never re-rendered). Clicking a segment bar or a
country on the map adds it to the segment or country control, which re-runs that callback.
"""

from __future__ import annotations

from typing import Any

import dash
import dash_bootstrap_components as dbc
import plotly.graph_objects as go
from dash import ClientsideFunction, Input, Output, State, callback, clientside_callback, dcc, html
from dash.exceptions import PreventUpdate

from dashboard import callback_errors, components, empty_result, figures, filter_bar, queries
from dashboard.filters import Allowed, Filters, url
from dashboard.queries import aggregates, distributions

dash.register_page(__name__, path="/explore", name="Explore", order=1, title="Explore · Customer segments")

PREFIX = "explore"
METRIC_OPTIONS = [{"label": "Customers", "value": "customers"}, {"label": "Revenue", "value": "revenue"}]


def _path() -> str:
    return dash.get_relative_path("/explore")


@components.requires_data
def layout(**query: Any) -> html.Div:
    """The Explore page for the run and filters in the URL query."""
    f, allowed = filter_bar.filters_from_url(query)
    info = queries.run_info(f.run_id)
    view = render(f, allowed, "customers")
    return html.Div(
        [
            components.page_header("Explore", info),
            dbc.Row(
                [
                    filter_bar.filter_column(PREFIX, f, allowed),
                    dbc.Col(
                        [
                            html.Div(
                                [
                                    html.Div(view["summary"], id="explore-summary", className="me-auto"),
                                    dcc.Link(
                                        "Open these customers →",
                                        id="explore-open-customers",
                                        href=view["customers_href"],
                                        className="btn btn-primary btn-sm",
                                    ),
                                ],
                                className="d-flex align-items-start flex-wrap gap-2 mb-3",
                            ),
                            html.Div(view["kpis"], id="explore-kpis"),
                            dbc.Row(
                                [
                                    dbc.Col(_segments_card(view["segments"]), xl=5, xxl=4),
                                    dbc.Col(_map_card(view["map"], view["countries"]), xl=7, xxl=8),
                                ],
                                className="g-3 mb-3",
                            ),
                            dbc.Card(
                                [
                                    dbc.CardHeader("Distributions of the filtered customers, by segment"),
                                    dbc.CardBody(
                                        dcc.Graph(
                                            id="explore-histograms",
                                            figure=view["histograms"],
                                            config=components.graph_config(),
                                        )
                                    ),
                                    dbc.CardFooter(
                                        "The first and last bars also hold the lowest and highest 1%.",
                                        className="small text-muted",
                                    ),
                                ],
                                className="shadow-sm",
                            ),
                        ],
                        xs=12,
                        lg=True,
                        className="content-column",  # min-width 0: a wide table scrolls, not the page
                    ),
                ],
                className="g-3",
            ),
            dcc.Store(id="explore-run", data=f.run_id),
            dcc.Store(id="explore-url-sink"),
            dcc.Store(id="explore-url-state", data=view["url_state"]),
        ]
    )


def _segments_card(figure: go.Figure) -> dbc.Card:
    return dbc.Card(
        [
            dbc.CardHeader(
                [
                    "Segments: share of customers ",
                    html.Span("(solid)", className="text-muted small"),
                    " and of revenue ",
                    html.Span("(hatched)", className="text-muted small"),
                ]
            ),
            dbc.CardBody(dcc.Graph(id="explore-segments", figure=figure, config=components.graph_config())),
            dbc.CardFooter("Click a bar to add its segment to the filters.", className="small text-muted"),
        ],
        className="shadow-sm h-100",
    )


def _map_card(figure: go.Figure, bars: go.Figure) -> dbc.Card:
    return dbc.Card(
        [
            dbc.CardHeader(
                html.Div(
                    [
                        html.Span("By country", className="me-auto"),
                        dbc.RadioItems(
                            id="explore-map-metric",
                            options=METRIC_OPTIONS,
                            value="customers",
                            inline=True,
                            className="small",
                        ),
                    ],
                    className="d-flex align-items-center flex-wrap gap-3",
                )
            ),
            dbc.CardBody(components.country_views("explore", figure, bars)),
            dbc.CardFooter(
                "Click a country on the map or in the list to add it to the filters.",
                className="small text-muted",
            ),
        ],
        className="shadow-sm h-100",
    )


def _kpi_row(k: aggregates.Kpis, allowed: Allowed) -> dbc.Row:
    """Customers, revenue, segments, outliers of the filtered set (aggregates.kpis, as on Overview)."""
    share = (
        f"{k.customers / k.run_customers:.0%} of {components.fmt_int(k.run_customers)}"
        if k.run_customers
        else None
    )
    outlier_share = f"{k.outliers / k.customers:.1%} of these customers" if k.customers else None
    cur = allowed.currency
    avg = f"{components.fmt_money(k.avg_monetary, cur)} per customer" if k.avg_monetary is not None else None
    cards = [
        components.kpi_card("Customers", components.fmt_int(k.customers), share, "explore-kpi-customers"),
        components.kpi_card("Revenue", components.fmt_money(k.revenue, cur), avg, "explore-kpi-revenue"),
        components.kpi_card(
            "Segments", f"{k.segments}", f"of {len(allowed.segments)} in the run", "explore-kpi-segments"
        ),
        components.kpi_card(
            "Outliers", components.fmt_int(k.outliers), outlier_share, "explore-kpi-outliers"
        ),
    ]
    return dbc.Row([dbc.Col(c) for c in cards], className="g-3 mb-3 row-cols-2 row-cols-xl-4")


def render(f: Filters, allowed: Allowed, metric: Any) -> dict[str, Any]:
    """Everything the filters drive: KPI cards, the three figures, the summary, links and the URL state."""
    metric = metric if metric in ("customers", "revenue") else "customers"
    names = {int(s): n for s, n in allowed.segments.items()}
    summary = aggregates.summary(f, lean=True)  # KPIs, segment bars and map from one scan
    kpi_row: Any = _kpi_row(summary.kpis, allowed)
    if summary.kpis.customers == 0:  # say which filter emptied the view, and what the data holds for it
        kpi_row = [
            dbc.Alert(empty_result.message(f), color="warning", id="explore-empty", className="mb-3"),
            kpi_row,
        ]
    return {
        "kpis": kpi_row,
        "segments": figures.segment_shares(summary.segments, allowed.currency),
        **_country_figures(summary.country_summary(metric), metric, allowed.currency),
        "histograms": figures.explore_histograms(distributions.histograms(f), names),
        "summary": _summary(f),
        "customers_href": url(dash.get_relative_path("/customers"), f),
        "url_state": {"path": _path(), "query": f.to_query()},
    }


def _country_figures(summary: Any, metric: str, currency: str | None) -> dict[str, go.Figure]:
    """The map and the ranked country bar, from one per-country query."""
    return {
        "map": figures.country_map(summary, metric, currency=currency),
        "countries": figures.country_bars(summary, metric, currency=currency),
    }


def _summary(f: Filters) -> Any:
    """The active filters as badges, or a line saying there are none."""
    if f.is_default():
        return html.Span("All customers of the run. Narrow them with the filters.", className="text-muted")
    return components.filter_summary(f)


def _failed(message: str) -> dict[str, Any]:
    """What the page shows when the data is gone or a query ran too long."""
    empty = figures.empty_figure(message)
    return {
        "kpis": dbc.Alert(message, color="warning"),
        "segments": empty,
        "map": empty,
        "countries": empty,
        "histograms": empty,
        "summary": html.Span(),
        "customers_href": dash.get_relative_path("/customers"),
        "url_state": dash.no_update,
    }


@callback(
    output={
        "kpis": Output("explore-kpis", "children"),
        "segments": Output("explore-segments", "figure"),
        "map": Output("explore-map", "figure"),
        "countries": Output("explore-countries", "figure"),
        "histograms": Output("explore-histograms", "figure"),
        "summary": Output("explore-summary", "children"),
        "customers_href": Output("explore-open-customers", "href"),
        "url_state": Output("explore-url-state", "data"),
    },
    inputs={"controls": filter_bar.inputs(PREFIX), "metric": Input("explore-map-metric", "value")},
    state={"run": State("explore-run", "data")},
    prevent_initial_call=True,
)
@callback_errors.answers(_failed)
def update(controls: dict[str, Any], metric: Any, run: Any) -> dict[str, Any]:
    """Redraw every KPI and chart for the controls' values (untrusted: validated by Filters.from_query)."""
    f, allowed = filter_bar.filters_from_controls(controls, run)
    return render(f, allowed, metric)


def _clicked(click: Any) -> Any:
    """customdata[0] of the first clicked point, or None for anything unexpected."""
    try:
        return click["points"][0]["customdata"][0]
    except (KeyError, IndexError, TypeError):
        return None


def _clicked_segment(click: Any, allowed: Allowed) -> Any:
    """The clicked bar's segment id: its customdata, else its label looked up among the run's names."""
    segment = _clicked(click)
    if segment is not None:
        return segment
    try:
        label = click["points"][0]["y"]
    except (KeyError, IndexError, TypeError):
        return None
    by_name = {figures.plain(name): sid for sid, name in allowed.segments.items()}  # bar labels are inert
    return by_name.get(label) if isinstance(label, str) else None


def cross_filter_values(
    trigger: Any,
    bar_click: Any,
    map_click: Any,
    controls: dict[str, Any],
    run: Any,
    country_click: Any = None,
) -> dict[str, Any] | None:
    """The controls' new values after a segment-bar click, a map or country-bar click or 'clear'; None for
    no change."""
    f, allowed = filter_bar.filters_from_controls(controls, run)
    if trigger == filter_bar.clear_id(PREFIX) + ".n_clicks":
        return filter_bar.cleared(f, allowed)
    if trigger == "explore-segments.clickData":
        new = filter_bar.with_added(f, allowed, segment=_clicked_segment(bar_click, allowed))
    elif trigger == "explore-map.clickData":
        new = filter_bar.with_added(f, allowed, country=_clicked(map_click))
    elif trigger == "explore-countries.clickData":
        new = filter_bar.with_added(f, allowed, country=_clicked(country_click))
    else:
        return None
    return new if new != filter_bar.control_values(f, allowed) else None


@callback(
    output=filter_bar.outputs(PREFIX),
    inputs={
        "bar_click": Input("explore-segments", "clickData"),
        "map_click": Input("explore-map", "clickData"),
        "country_click": Input("explore-countries", "clickData"),
        "clear": Input(filter_bar.clear_id(PREFIX), "n_clicks"),
    },
    state={"controls": filter_bar.states(PREFIX), "run": State("explore-run", "data")},
    prevent_initial_call=True,
)
@callback_errors.answers()  # the controls stay as they are
def cross_filter(
    bar_click: Any, map_click: Any, country_click: Any, clear: Any, controls: dict[str, Any], run: Any
) -> Any:
    """Add the clicked segment or country to the filter controls (or clear them all)."""
    values = cross_filter_values(filter_bar.triggered(), bar_click, map_click, controls, run, country_click)
    if values is None:
        raise PreventUpdate
    return values


filter_bar.register_band_buttons(PREFIX, "explore-run")

clientside_callback(  # writes the query into the address bar; the sink only gives it an output
    ClientsideFunction(namespace="url_state", function_name="replace"),
    Output("explore-url-sink", "data"),
    Input("explore-url-state", "data"),
)
