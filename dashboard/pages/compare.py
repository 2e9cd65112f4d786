"""Compare: 2-4 segments (or one against everyone) side by side: means and medians, a normalised profile,
distributions, top countries, each segment's description and action, and segments x RFM groups.

The selection lives in the URL (?run=1&segment=0&segment=2&vs=everyone) and is restored from it on load.
Changing it rewrites the URL in place (assets/url_state.js writes the canonical query with
history.replaceState), so the page is not re-rendered and a copied link opens the same comparison.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple
from urllib.parse import urlencode

import dash
import dash_bootstrap_components as dbc
import pandas as pd
from dash import ClientsideFunction, Input, Output, State, callback, clientside_callback, dcc, html

from dashboard import components, figures, queries, value_view
from dashboard.queries import NoData, profiles
from dashboard.queries import value as value_q

dash.register_page(__name__, path="/compare", name="Compare", order=2, title="Compare · Customer segments")

MAX_SEGMENTS = 4
EVERYONE = "everyone"
_MAX_ITEMS = 64  # longest list looked at, whatever the browser sends


def _path() -> str:
    """This page's path as the browser sees it (with the app's URL prefix)."""
    return dash.get_relative_path("/compare")


class Selection(NamedTuple):
    """Validated choice: segment ids of the run (at most MAX_SEGMENTS, in the order picked) and whether
    the population is shown beside them. (A NamedTuple: Dash runs page modules outside sys.modules, where
    dataclasses cannot resolve postponed annotations.)"""

    run_id: int
    segments: tuple[int, ...]
    everyone: bool

    def series(self) -> tuple[int, ...]:
        """What the charts show: the segments, then the population (-1) if asked for or with one segment."""
        add = self.everyone or len(self.segments) == 1
        return self.segments + ((profiles.POPULATION,) if add and self.segments else ())

    def to_query(self) -> str:
        """The URL query string of this selection (no leading '?')."""
        pairs = [("run", str(self.run_id))] + [("segment", str(s)) for s in self.segments]
        if self.everyone:
            pairs.append(("vs", EVERYONE))
        return urlencode(pairs)

    def url_state(self) -> dict[str, str]:
        """What assets/url_state.js writes into the address bar: this page's path and the canonical query."""
        return {"path": _path(), "query": self.to_query()}


def _segment_id(value: Any) -> int | None:
    """An int from an int or a short digit string; None for bools, floats, text, containers."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and 0 < len(value) <= 9 and value.isascii() and value.lstrip("-").isdigit():
        return int(value)
    return None


def pick_segments(value: Any, allowed: Sequence[int]) -> tuple[int, ...]:
    """The valid segment ids in an untrusted value (one value or a list), de-duplicated, in the order given,
    capped at MAX_SEGMENTS; anything not a segment of the run is dropped."""
    items = value[:_MAX_ITEMS] if isinstance(value, list) else [value]
    valid = set(allowed)
    chosen: list[int] = []
    for item in items:
        sid = _segment_id(item)
        if sid is not None and sid in valid and sid not in chosen:
            chosen.append(sid)
    return tuple(chosen[:MAX_SEGMENTS])


def _is_everyone(value: Any) -> bool:
    """True only for the URL's vs=everyone (a list of one unwrapped); the switch's bool is checked apart."""
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    return isinstance(value, str) and value == EVERYONE


def selection_from_query(query: Any, allowed: Sequence[int], run_id: int) -> Selection:
    """The selection in a URL query; none given: the two largest segments (or one against everyone)."""
    query = query if isinstance(query, dict) else {}
    segments = pick_segments(query.get("segment"), allowed)
    everyone = _is_everyone(query.get("vs"))
    if not segments:
        segments = tuple(allowed[: 1 if everyone or len(allowed) < 2 else 2])
    return Selection(run_id, segments, everyone)


# ---------------------------------------------------------------------------------------------------------
# Layout


@components.requires_data
def layout(**query: Any) -> html.Div:
    """The Compare page for the run and selection in the URL query."""
    run_id = queries.resolve_run(query.get("run"))
    info = queries.run_info(run_id)
    segs = profiles.segments(run_id)
    allowed = [int(s) for s in segs["segment_id"]]
    sel = selection_from_query(query, allowed, run_id)
    view = render(sel, segs)
    crosstab = profiles.rfm_crosstab(run_id)
    return html.Div(
        [
            components.page_header("Compare segments", info),
            dbc.Card(
                dbc.CardBody(
                    dbc.Row(
                        [
                            dbc.Col(
                                [
                                    dbc.Label("Segments (up to 4)", html_for="compare-segments"),
                                    dcc.Dropdown(
                                        id="compare-segments",
                                        options=segment_options(segs, sel.segments),
                                        value=list(sel.segments),
                                        multi=True,
                                        clearable=True,
                                        placeholder="Pick segments to compare",
                                    ),
                                ],
                                md=8,
                            ),
                            dbc.Col(
                                dbc.Switch(
                                    id="compare-vs",
                                    label="Compare with everyone",
                                    value=sel.everyone,
                                    className="mt-md-4",
                                ),
                                md=4,
                            ),
                        ],
                        className="g-3 align-items-center",
                    )
                ),
                className="shadow-sm mb-3",
            ),
            dbc.Row(
                [
                    dbc.Col(
                        _card(
                            "Means and medians of every feature",
                            html.Div(view["table"], id="compare-table", className="table-responsive"),
                            "Everyone = all customers of the run.",
                        ),
                        lg=6,
                    ),
                    dbc.Col(
                        _card(
                            "Profile against everyone",
                            dcc.Graph(
                                id="compare-radar", figure=view["radar"], config=components.graph_config()
                            ),
                            "Each axis: the segment's median minus everyone's median, in interquartile "
                            "ranges of everyone (0 = typical customer; shown up to ±3).",
                        ),
                        lg=6,
                    ),
                ],
                className="g-3 mb-3",
            ),
            _card(
                "Distributions per feature",
                dcc.Graph(id="compare-boxes", figure=view["boxes"], config=components.graph_config()),
                "Box: 25th to 75th percentile with the median; dashed: mean; whiskers: 5th and 95th "
                "percentile. Computed over all customers of each segment.",
                className="mb-3",
            ),
            html.Div(view["cards"], id="compare-cards", className="mb-3"),
            _card(
                "Learned segments × rule-based RFM groups",
                dcc.Graph(
                    id="compare-heatmap",
                    figure=figures.rfm_heatmap(crosstab, profiles.rfm_columns(crosstab)),
                    config=components.graph_config(),
                ),
                "Rows: the model's segments; columns: the classic RFM groups from R/F/M quintile scores. "
                "Cell: customers; colour: share of the row's segment.",
            ),
            dcc.Store(id="compare-run", data=run_id),
            dcc.Store(id="compare-url-sink"),
            dcc.Store(id="compare-url-state", data=sel.url_state()),
        ]
    )


def _card(title: str, body: Any, footer: str | None = None, className: str = "h-100") -> dbc.Card:
    """A shadowed card with a header, a body and an optional small grey footer."""
    parts: list[Any] = [dbc.CardHeader(title), dbc.CardBody(body)]
    if footer:
        parts.append(dbc.CardFooter(footer, className="small text-muted"))
    return dbc.Card(parts, className=f"shadow-sm {className}")


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


# ---------------------------------------------------------------------------------------------------------
# Content for one selection


def render(sel: Selection, segs: pd.DataFrame) -> dict[str, Any]:
    """The selection's table, radar, box plots and segment cards (computed in DuckDB, small results)."""
    names = {int(s): str(n) for s, n in zip(segs["segment_id"], segs["name"], strict=True)}
    names[profiles.POPULATION] = "Everyone"
    series = sel.series()
    if not series:
        message = "Pick one to four segments to compare."
        return {
            "table": html.P(message, className="text-muted"),
            "radar": figures.empty_figure(message),
            "boxes": figures.empty_figure(message),
            "cards": [],
        }
    features = profiles.features(sel.run_id)
    prof = profiles.profiles(sel.run_id, sel.segments, population=True)
    stats = profiles.box_stats(sel.run_id, sel.segments, population=profiles.POPULATION in series)
    countries = profiles.top_countries(sel.run_id, sel.segments, n=5)
    return {
        "table": profile_table(prof, series, names, features),
        "radar": figures.profile_radar(profiles.normalise(prof), names, features),
        "boxes": figures.profile_boxes(stats, names, features),
        "cards": segment_cards(segs, sel.segments, countries, value_q.segment_value(sel.run_id)),
    }


def _fmt(value: Any) -> str:
    """A profile value for the table: thousands separated, fewer decimals for bigger numbers."""
    if value is None or pd.isna(value):
        return "–"
    number = float(value)
    if abs(number) >= 1000:
        return f"{number:,.0f}"
    if abs(number) >= 10:
        return f"{number:,.1f}"
    return f"{number:.3g}" if number else "0"


def profile_table(
    prof: pd.DataFrame, series: Sequence[int], names: dict[int, str], features: Sequence[str]
) -> dbc.Table:
    """Features as rows; per series a mean and a median column (plain text cells)."""
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
                cells.append(html.Td(_fmt(None if row is None else row[column]), className="text-end"))
        body.append(html.Tr(cells))
    return dbc.Table(
        [html.Thead([html.Tr(head_top), html.Tr(head_sub)]), html.Tbody(body)],
        size="sm",
        hover=True,
        className="mb-0 compare-table",
        style={"fontVariantNumeric": "tabular-nums"},
    )


def segment_cards(
    segs: pd.DataFrame, chosen: Sequence[int], countries: pd.DataFrame, value: pd.DataFrame | None = None
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
                                value_view.segment_value_line(value, sid) if value is not None else "–",
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


# ---------------------------------------------------------------------------------------------------------
# Callback


@callback(
    Output("compare-segments", "value"),
    Output("compare-segments", "options"),
    Output("compare-table", "children"),
    Output("compare-radar", "figure"),
    Output("compare-boxes", "figure"),
    Output("compare-cards", "children"),
    Output("compare-url-state", "data"),
    Input("compare-segments", "value"),
    Input("compare-vs", "value"),
    State("compare-run", "data"),
    prevent_initial_call=True,
)
def update(segments: Any, vs: Any, run: Any) -> tuple[Any, ...]:
    """Redraw for a new selection; every input is untrusted (validated against the run, capped at 4)."""
    try:
        run_id = queries.resolve_run(run)
        segs = profiles.segments(run_id)
    except NoData:
        message = "No segmentation run yet."
        empty = figures.empty_figure(message)
        return [], [], html.P(message), empty, empty, [], dash.no_update
    allowed = [int(s) for s in segs["segment_id"]]
    sel = Selection(run_id, pick_segments(segments if segments is not None else [], allowed), vs is True)
    view = render(sel, segs)
    value: Any = list(sel.segments) if segments != list(sel.segments) else dash.no_update
    return (
        value,
        segment_options(segs, sel.segments),
        view["table"],
        view["radar"],
        view["boxes"],
        view["cards"],
        sel.url_state(),
    )


clientside_callback(  # writes the query into the address bar; the sink only gives it an output
    ClientsideFunction(namespace="url_state", function_name="replace"),
    Output("compare-url-sink", "data"),
    Input("compare-url-state", "data"),
)
