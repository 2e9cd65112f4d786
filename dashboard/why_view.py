"""The Customers page's "why this segment" panel: the customer's features against its centroid, its
segment and everyone, its distance to the next-nearest segment, and its value and churn risk."""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
from dash import dcc, html

from dashboard import components, figures
from dashboard.queries import customer, profiles


def _fmt(value: Any) -> str:
    """A feature value for the why table: '–' when missing, else 4 significant digits with separators."""
    if value is None or value != value:
        return "–"
    number = float(value)
    return f"{number:,.0f}" if abs(number) >= 100 else f"{number:,.3g}"


def why_panel(w: customer.Why | None) -> html.Div:
    """The 'why this segment' panel: verdict, description and action, a chart and a table per feature."""
    if w is None:
        return html.Div(
            "That customer is not in this run.", className="text-muted", id="customers-why-missing"
        )
    facts = [f"Country: {w.country or 'unknown'}", f"RFM group: {w.rfm_group or '–'}"]
    among = [str(n) for n in profiles.segments(w.run_id)["name"]]  # colours as on the run's other pages
    if w.is_outlier:
        facts.append("Flagged as an outlier (density-based noise).")
    value = (
        html.P(
            [
                "Chance still active: ",
                html.Strong(f"{w.p_alive:.1%}"),
                " · expected purchase days in the horizon: ",
                html.Strong(_fmt(w.expected_purchases)),
                " · predicted value, next 12 months: ",
                html.Strong(components.fmt_cents(w.predicted_value)),
                " · value at risk: ",
                html.Strong(components.fmt_cents(w.value_at_risk)),
            ],
            className="small mb-2",
            id="customers-why-value",
        )
        if w.p_alive is not None
        else html.P(
            "No value model for this run: chance still active and predicted value are unavailable.",
            className="small text-muted mb-2",
            id="customers-why-value",
        )
    )
    rows = [
        html.Tr(
            [
                html.Td(figures.FEATURE_LABELS.get(r.feature, r.feature)),
                html.Td(_fmt(r.value), className="text-end fw-semibold"),
                html.Td(_fmt(r.centroid), className="text-end"),
                html.Td(
                    f"{_fmt(r.segment_median)} ({_fmt(r.segment_p25)} to {_fmt(r.segment_p75)})",
                    className="text-end",
                ),
                html.Td(_fmt(r.population_median), className="text-end"),
            ]
        )
        for r in w.features.itertuples(index=False)
    ]
    table = dbc.Table(
        [
            html.Thead(
                html.Tr(
                    [
                        html.Th("Feature"),
                        html.Th("Customer", className="text-end"),
                        html.Th("Centroid", className="text-end"),
                        html.Th("Segment median (IQR)", className="text-end"),
                        html.Th("Everyone's median", className="text-end"),
                    ]
                )
            ),
            html.Tbody(rows),
        ],
        size="sm",
        className="small mb-3",
    )
    return html.Div(
        [
            html.H2(f"Customer {w.customer_id}", className="h5 mb-1"),
            html.Div(
                [
                    html.Span(
                        w.segment_name,
                        className="badge me-2",
                        style={"backgroundColor": figures.segment_color(w.segment_name, among)},
                    ),
                    html.Span(w.verdict(), id="customers-why-verdict"),
                ],
                className="mb-2",
            ),
            html.P(w.description or "", className="small mb-1"),
            html.P(["The segment's action: ", html.Strong(w.action or "–")], className="small mb-2"),
            value,
            html.P(" · ".join(facts), className="small text-muted"),
            dcc.Graph(
                figure=figures.why_segment(
                    w.features, w.segment_id, w.segment_name, w.next_segment_id, w.next_segment_name, among
                ),
                config=components.graph_config(),
            ),
            table,
            html.P(
                "Distances are measured in the model's scaled feature space, where the chart places the "
                "customer and the centroids; the nearest centroid decides the segment.",
                className="small text-muted",
            ),
        ]
    )
