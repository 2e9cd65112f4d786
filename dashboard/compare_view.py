"""The Compare page's pieces of text and tables: the segment picker's options, the scope line saying
which customers are compared, the profile table and one card per compared segment. Plain Dash components
from small DataFrames (queries.profiles, queries.filtered); the page module holds layout and callbacks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dash_bootstrap_components as dbc
import pandas as pd
from dash import html

from dashboard import components, figures, measures, value_view
from dashboard.filters import Filters

MAX_SEGMENTS = 4


def segment_options(segs: pd.DataFrame, chosen: Sequence[int]) -> list[dict[str, Any]]:
    """Dropdown options (plain-text labels); once MAX_SEGMENTS are chosen the others are disabled."""
    full = len(chosen) >= MAX_SEGMENTS
    return [
        {
            "label": f"{name} ({components.fmt_int(size)})",
            "value": int(sid),
            "disabled": full and int(sid) not in chosen,
        }
        for sid, name, size in zip(segs["segment_id"], segs["name"], segs["size"], strict=True)
    ]


def scope_line(f: Filters) -> html.Div:
    """Which customers the page compares, and that the filters apply to every figure on it."""
    if f.is_default():
        return html.Div(
            "All customers of the run. The filters apply to every table and chart here.",
            className="text-muted small",
        )
    return html.Div(
        [
            html.Span("Compared among the filtered customers: ", className="small text-muted me-1"),
            components.filter_summary(f),
            html.Div(
                "Every table and chart here, Everyone included, counts only these customers.",
                className="small text-muted",
            ),
        ]
    )


def _fmt(value: Any, feature: str = "") -> str:
    """A profile value for the table: thousands separated, fewer decimals for bigger numbers; rates in %."""
    if value is None or pd.isna(value):
        return "–"
    number = float(value)
    if measures.is_rate(feature):
        return f"{number:.1%}"
    if abs(number) >= 1000:
        return f"{number:,.0f}"
    if abs(number) >= 10:
        return f"{number:,.1f}"
    return f"{number:.3g}" if number else "0"


def profile_table(
    prof: pd.DataFrame,
    series: Sequence[int],
    names: dict[int, str],
    features: Sequence[str],
    categories: pd.DataFrame | None = None,
) -> dbc.Table:
    """Features as rows; per series a mean and a median column (plain text cells); then each category
    attribute as a row of the series' commonest value and its share."""
    by_key = prof.set_index(["segment_id", "feature"])
    head_top = [html.Th("", rowSpan=2)] + [
        html.Th(
            names.get(s, f"Segment {s}"),
            colSpan=2,
            className="text-center",
            style={"borderBottom": f"3px solid {figures.series_color(s, names)}"},
        )
        for s in series
    ]
    head_sub = [html.Th(label, className="text-end small") for _ in series for label in ("mean", "median")]
    body = []
    for feature in features:
        cells: list[Any] = [html.Th(figures.FEATURE_LABELS.get(feature, feature), className="fw-normal")]
        for s in series:
            row = by_key.loc[(s, feature)] if (s, feature) in by_key.index else None
            for column in ("mean", "median"):
                cells.append(
                    html.Td(_fmt(None if row is None else row[column], feature), className="text-end")
                )
        body.append(html.Tr(cells))
    body += _category_rows(categories, series)
    return dbc.Table(
        [html.Thead([html.Tr(head_top), html.Tr(head_sub)]), html.Tbody(body)],
        size="sm",
        hover=True,
        className="mb-0 compare-table",
        style={"fontVariantNumeric": "tabular-nums"},
    )


def _category_rows(categories: pd.DataFrame | None, series: Sequence[int]) -> list[html.Tr]:
    """One row per category attribute: in each series, 'value · share' across its two columns."""
    if categories is None or categories.empty:
        return []
    by_key = categories.set_index(["segment_id", "attribute"])
    rows = []
    for attribute in dict.fromkeys(categories["attribute"]):
        cells: list[Any] = [html.Th(f"{attribute} (commonest)", className="fw-normal")]
        for s in series:
            top = by_key.loc[(s, attribute)] if (s, attribute) in by_key.index else None
            text = "–"
            if top is not None:
                value = "no value" if top["value"] is None or pd.isna(top["value"]) else str(top["value"])
                text = f"{value} · {float(top['share']):.0%}"
            cells.append(html.Td(text, colSpan=2, className="text-end"))
        rows.append(html.Tr(cells))
    return rows


def sample_note(stats: pd.DataFrame, names: dict[int, str], table_sampled: bool) -> html.P | None:
    """One line naming the series whose percentiles came from a sample (feature_stats' q_n below n), and
    where that shows: the box plots, and the table's median and quartiles when it was computed live."""
    if stats.empty or "q_n" not in stats:
        return None
    sampled = stats[(stats["q_n"] < stats["n"]) & (stats["n"] > 0)]
    if sampled.empty:
        return None
    groups = [
        f"{names.get(int(s), s)} ({sampled.loc[sampled['segment_id'] == s, 'n'].max():,} customers)"
        for s in dict.fromkeys(sampled["segment_id"])
    ]
    where = "The median and quartiles in the table and the box plots" if table_sampled else "The box plots"
    return html.P(
        f"{where} of {', '.join(groups)} come from an evenly spaced sample of about "
        f"{int(sampled['q_n'].max()):,} customers each; counts, means, minima and maxima use every customer.",
        className="small text-muted mb-0",
    )


def segment_cards(
    segs: pd.DataFrame,
    chosen: Sequence[int],
    countries: pd.DataFrame,
    value: pd.DataFrame | None = None,
    currency: str | None = None,
) -> dbc.Row:
    """One card per chosen segment: size, description, recommended action and top countries (plain text)."""
    info = segs.set_index("segment_id")
    cards = []
    for sid in chosen:
        if sid not in info.index:
            continue
        s = info.loc[sid]
        top = countries[countries["segment_id"] == sid]
        share = f"{float(s['share']):.1%}" if pd.notna(s["share"]) else "–"
        revenue = f"{float(s['revenue_share']):.1%}" if pd.notna(s["revenue_share"]) else "–"
        cards.append(
            dbc.Col(
                dbc.Card(
                    dbc.CardBody(
                        [
                            html.H3(str(s["name"]), className="h6 mb-1"),
                            html.Div(
                                f"{components.fmt_int(s['size'])} customers · {share} of customers · "
                                f"{revenue} of revenue",
                                className="small text-muted mb-2",
                            ),
                            html.P(str(s["description"] or ""), className="small mb-2"),
                            html.Div("Customer value", className="kpi-label"),
                            html.P(
                                value_view.segment_value_line(value, sid, currency)
                                if value is not None
                                else "–",
                                className="small mb-2",
                            ),
                            html.Div("Recommended action", className="kpi-label"),
                            html.P(str(s["action"] or ""), className="small mb-2"),
                            html.Div("Top countries", className="kpi-label"),
                            html.Ul(
                                [
                                    html.Li(
                                        f"{c if isinstance(c, str) else 'Unknown'}: "
                                        f"{components.fmt_int(n)} ({float(p):.0%})"
                                    )
                                    for c, n, p in zip(
                                        top["country"], top["customers"], top["share"], strict=True
                                    )
                                ],
                                className="small mb-0 ps-3",
                            ),
                        ]
                    ),
                    className="shadow-sm h-100",
                    style={"borderTop": f"4px solid {figures.segment_color(s['name'], segs['name'])}"},
                    id={"type": "compare-card", "index": int(sid)},
                ),
                md=6,
                xl=3,
            )
        )
    return dbc.Row(cards, className="g-3")
