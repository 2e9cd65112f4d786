"""Overview: KPIs, segment sizes and revenue shares, a world map by country, and the cleaning report.

Filters come from the URL (the same keys as every page). Clicking a segment bar or a country on the map
opens the Customers page filtered to it.
"""

from __future__ import annotations

import dataclasses
from typing import Any
from urllib.parse import parse_qs

import dash
import dash_bootstrap_components as dbc
import pandas as pd
from dash import Input, Output, State, callback, dcc, html

from dashboard import callback_errors, components, figures, queries, value_view
from dashboard.filters import Filters, url
from dashboard.queries import aggregates, filtered

dash.register_page(__name__, path="/", name="Overview", order=0, title="Overview · Customer segments")

ALL_SEGMENTS = "all"
METRIC_OPTIONS = [{"label": "Customers", "value": "customers"}, {"label": "Revenue", "value": "revenue"}]


# Short words for the cleaning rules in the one-line summary (the Model page has each rule in full).
RULE_WORDS = {
    "missing_customer_id": "no customer id",
    "unparseable_date": "bad date",
    "after_snapshot": "after the snapshot",
    "exact_duplicate": "duplicates",
    "non_product": "postage and fees",
    "non_positive": "zero or negative price or quantity",
    "unmatched_return": "returns of nothing bought here",
    "extreme_outlier": "extreme purchases",
    "return_of_removed_purchase": "returns of extreme purchases",
    "missing_feature": "missing values",
}


@components.requires_data
def layout(**query: Any) -> html.Div:
    """The Overview of the run and filters in the URL query."""
    f = filtered.filters_from_query(query)
    info = queries.run_info(f.run_id)
    summary = aggregates.summary(f)  # KPIs and segment bars from one scan
    kpis, segments = summary.kpis, summary.segments
    steps = queries.cleaning_steps(f.run_id)
    map_segments = segments if not f.segments else segments[segments["segment_id"].isin(f.segments)]
    return html.Div(
        [
            components.page_header(
                "Overview", info, f, clear_href=url(dash.get_relative_path("/"), _run_only(f))
            ),
            _kpi_row(kpis, info),
            dbc.Row(
                [
                    dbc.Col(
                        dbc.Card(
                            [
                                dbc.CardHeader(
                                    [
                                        "Segments: share of customers ",
                                        html.Span("(solid)", className="text-muted small"),
                                        " and of revenue ",
                                        html.Span("(hatched)", className="text-muted small"),
                                    ]
                                ),
                                dbc.CardBody(
                                    dcc.Graph(
                                        id="overview-segments",
                                        figure=figures.segment_shares(segments, info.currency),
                                        config=components.graph_config(),
                                    )
                                ),
                                dbc.CardFooter(
                                    "Click a bar to list its customers.", className="small text-muted"
                                ),
                            ],
                            className="shadow-sm h-100",
                        ),
                        lg=5,
                    ),
                    dbc.Col(
                        dbc.Card(
                            [
                                dbc.CardHeader(
                                    html.Div(
                                        [
                                            html.Span("Customers by country", className="me-auto"),
                                            dbc.RadioItems(
                                                id="overview-map-metric",
                                                options=METRIC_OPTIONS,
                                                value="customers",
                                                inline=True,
                                                className="small",
                                            ),
                                            dcc.Dropdown(
                                                id="overview-map-segment",
                                                options=[{"label": "All segments", "value": ALL_SEGMENTS}]
                                                + [
                                                    {"label": n, "value": int(s)}
                                                    for s, n in zip(
                                                        map_segments["segment_id"],
                                                        map_segments["name"],
                                                        strict=True,
                                                    )
                                                ],
                                                value=ALL_SEGMENTS,
                                                clearable=False,
                                                searchable=False,
                                                className="overview-segment-select",
                                            ),
                                        ],
                                        className="d-flex align-items-center flex-wrap gap-3",
                                    )
                                ),
                                dbc.CardBody(
                                    components.country_views(
                                        "overview", *map_figures(f, "customers", None, summary)
                                    )
                                ),
                                dbc.CardFooter(
                                    "Click a country on the map or in the list to list its customers.",
                                    className="small text-muted",
                                ),
                            ],
                            className="shadow-sm h-100",
                        ),
                        lg=7,
                    ),
                ],
                className="g-3 mb-3",
            ),
            dbc.Card(
                [
                    dbc.CardHeader("Customer value by segment: the next 12 months, and what is at risk"),
                    dbc.CardBody(
                        value_view.segment_value_table(segments, info.currency), className="table-responsive"
                    ),
                ],
                className="shadow-sm mb-3",
                id="overview-value",
            ),
            html.P(cleaning_line(info, steps), className="small text-muted", id="overview-cleaning"),
            dcc.Store(id="overview-query", data=f.to_query()),
        ]
    )


def _run_only(f: Filters) -> Filters:
    """The same run with no filters (the 'clear filters' link)."""
    return Filters(run_id=f.run_id, segment_names=f.segment_names)


def _kpi_row(kpis: aggregates.Kpis, info: queries.RunInfo) -> dbc.Row:
    """Five cards: customers, revenue, segments, outliers, run date."""
    share = f"{kpis.customers / kpis.run_customers:.0%} of {components.fmt_int(kpis.run_customers)}"
    outlier_share = f"{kpis.outliers / kpis.customers:.1%} of these customers" if kpis.customers else None
    cur = info.currency
    avg = (
        f"{components.fmt_money(kpis.avg_monetary, cur)} per customer"
        if kpis.avg_monetary is not None
        else None
    )
    created = f"made {info.created_at:%Y-%m-%d %H:%M}" if info.created_at else None
    cards = [
        components.kpi_card("Customers", components.fmt_int(kpis.customers), share, "overview-kpi-customers"),
        components.kpi_card("Revenue", components.fmt_money(kpis.revenue, cur), avg, "overview-kpi-revenue"),
        components.kpi_card(
            "Segments",
            f"{kpis.segments}",
            f"of {info.k} in the run" if info.k else None,
            "overview-kpi-segments",
        ),
        components.kpi_card(
            "Outliers", components.fmt_int(kpis.outliers), outlier_share, "overview-kpi-outliers"
        ),
        components.kpi_card(
            "Snapshot date",
            f"{info.snapshot_date:%Y-%m-%d}" if info.snapshot_date else "–",
            created,
            "overview-kpi-run",
        ),
    ]
    return dbc.Row([dbc.Col(c) for c in cards], className="g-3 mb-3 row-cols-2 row-cols-md-3 row-cols-xl-5")


def cleaning_line(info: queries.RunInfo, steps: pd.DataFrame) -> str:
    """The cleaning report in one sentence: lines read, removed per rule, lines kept."""
    if steps.empty:
        return (
            f"Input: {components.fmt_int(info.rows_in)} rows, {components.fmt_int(info.customers)} customers."
        )
    removed = " · ".join(
        f"{RULE_WORDS.get(r, str(r).replace('_', ' '))} −{components.fmt_int(n)}"
        for r, n in zip(steps["rule"], steps["removed"], strict=True)
        if n
    )
    kept = info.rows_clean if info.rows_clean is not None else steps["rows_left"].iloc[-1]
    return (
        f"Cleaning: {components.fmt_int(info.rows_in)} lines read, {components.fmt_int(kept)} kept"
        + (f" ({removed})" if removed else "")
        + f"; {components.fmt_int(info.customers)} customers."
    )


def map_figures(
    f: Filters, metric: str, segment_id: int | None, summary: aggregates.Summary | None = None
) -> tuple[Any, Any]:
    """The country map and ranked country bar under the filters (one query, or `summary` of f when the
    caller has it), narrowed to one segment when given (and allowed by the filters)."""
    if (
        segment_id is not None
        and segment_id in dict(f.segment_names)
        and (not f.segments or segment_id in f.segments)
    ):
        f = dataclasses.replace(f, segments=(segment_id,))
        summary = None
    names = dict(f.segment_names)
    color = None if segment_id is None else figures.id_colors(names, [segment_id])[segment_id]
    summary = (summary or aggregates.summary(f, lean=True)).country_summary(metric)
    cur = queries.run_currency(f.run_id)
    return (
        figures.country_map(summary, metric, color, cur),
        figures.country_bars(summary, metric, color, cur),
    )


def _query(search: Any) -> dict[str, Any]:
    """The stored query string as the {key: str | list} mapping Filters.from_query takes."""
    if not isinstance(search, str) or len(search) > 20_000:
        return {}
    return {k: v[0] if len(v) == 1 else v for k, v in parse_qs(search).items()}


@callback(
    Output("overview-map", "figure"),
    Output("overview-countries", "figure"),
    Input("overview-map-metric", "value"),
    Input("overview-map-segment", "value"),
    State("overview-query", "data"),
    prevent_initial_call=True,
)
@callback_errors.answers(lambda message: (figures.empty_figure(message), figures.empty_figure(message)))
def update_map(metric: Any, segment: Any, search: Any) -> tuple[Any, Any]:
    """Redraw the map and country bar for the chosen metric and segment (untrusted: checked before use)."""
    metric = metric if metric in ("customers", "revenue") else "customers"
    segment_id = segment if isinstance(segment, int) and not isinstance(segment, bool) else None
    f = filtered.filters_from_query(_query(search))
    return map_figures(f, metric, segment_id)


def _clicked(click: Any) -> Any:
    """customdata[0] of the first clicked point, or None for anything unexpected."""
    try:
        return click["points"][0]["customdata"][0]
    except (KeyError, IndexError, TypeError):
        return None


@callback(
    Output("url", "href"),
    Input("overview-segments", "clickData"),
    Input("overview-map", "clickData"),
    Input("overview-countries", "clickData"),
    State("overview-query", "data"),
    State("overview-map-segment", "value"),
    prevent_initial_call=True,
)
@callback_errors.answers()  # nowhere to say it: the click does nothing
def drill_down(bar_click: Any, map_click: Any, country_click: Any, search: Any, map_segment: Any) -> Any:
    """Open the Customers page filtered to the clicked segment or country (validated like any URL)."""
    # Also fires (clicks None) when the page's graphs are inserted: the output (the shell's url) already
    # exists, which makes Dash ignore prevent_initial_call. Only a real click navigates.
    query = _query(search)
    if dash.ctx.triggered_id == "overview-segments" and _clicked(bar_click) is not None:
        clicked = _clicked(bar_click)
        query["segment"] = str(clicked)
    elif dash.ctx.triggered_id in ("overview-map", "overview-countries") and (
        _clicked(map_click if dash.ctx.triggered_id == "overview-map" else country_click) is not None
    ):
        query["country"] = _clicked(map_click if dash.ctx.triggered_id == "overview-map" else country_click)
        if isinstance(map_segment, int) and not isinstance(map_segment, bool):
            query["segment"] = str(map_segment)
    else:
        return dash.no_update
    target = filtered.filters_from_query(query)
    return url(dash.get_relative_path("/customers"), target)
