"""Compare: 2-4 segments (or one against everyone) side by side: means and medians, a normalised profile,
distributions, top countries, each segment's description and action, and segments x RFM groups.

The selection lives in the URL (?run=1&segment=0&segment=2&vs=everyone) and is restored from it on load.
Changing it rewrites the URL in place (assets/url_state.js writes the canonical query with
history.replaceState), so the page is not re-rendered and a copied link opens the same comparison.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, NamedTuple
from urllib.parse import urlencode

import dash
import dash_bootstrap_components as dbc
import pandas as pd
from dash import ClientsideFunction, Input, Output, State, callback, clientside_callback, dcc, html
from dash.exceptions import PreventUpdate

from dashboard import callback_errors, compare_view, components, figures, filter_bar, queries
from dashboard.filters import Filters
from dashboard.queries import aggregates, profiles
from dashboard.queries import value as value_q

dash.register_page(__name__, path="/compare", name="Compare", order=2, title="Compare · Customer segments")

MAX_SEGMENTS = compare_view.MAX_SEGMENTS
EVERYONE = "everyone"
PREFIX = "compare-filter"  # the filter bar's id prefix ("compare-segments" is the page's own picker)
WITHOUT = ("segment",)  # the bar's segment control: the picker above chooses segments here
_MAX_ITEMS = 64  # longest list looked at, whatever the browser sends


def _path() -> str:
    """This page's path as the browser sees it (with the app's URL prefix)."""
    return dash.get_relative_path("/compare")


class Selection(NamedTuple):
    """Validated choice: segment ids of the run (at most MAX_SEGMENTS, in the order picked), whether the
    population is shown beside them, and the shared filters (which customers count). (A NamedTuple: Dash
    runs page modules outside sys.modules, where dataclasses cannot resolve postponed annotations.)"""

    run_id: int
    segments: tuple[int, ...]
    everyone: bool
    filters: Filters | None = None

    def scope(self) -> Filters:
        """The customers compared: the filters without a segment filter (the selection picks segments)."""
        f = self.filters or Filters(run_id=self.run_id)
        return dataclasses.replace(f, segments=())

    def series(self) -> tuple[int, ...]:
        """What the charts show: the segments, then the population (-1) if asked for or with one segment."""
        add = self.everyone or len(self.segments) == 1
        return self.segments + ((profiles.POPULATION,) if add and self.segments else ())

    def to_query(self) -> str:
        """The URL query string of this selection (no leading '?')."""
        pairs = [("run", str(self.run_id))] + [("segment", str(s)) for s in self.segments]
        if self.everyone:
            pairs.append(("vs", EVERYONE))
        pairs += [(k, v) for k, v in self.scope().query_pairs() if k != "run"]
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


def selection_from_query(
    query: Any, allowed: Sequence[int], run_id: int, filters: Filters | None = None
) -> Selection:
    """The selection in a URL query; none given: the two largest segments (or one against everyone)."""
    query = query if isinstance(query, dict) else {}
    segments = pick_segments(query.get("segment"), allowed)
    everyone = _is_everyone(query.get("vs"))
    if not segments:
        segments = tuple(allowed[: 1 if everyone or len(allowed) < 2 else 2])
    return Selection(run_id, segments, everyone, filters)


# ---------------------------------------------------------------------------------------------------------
# Layout


@components.requires_data
def layout(**query: Any) -> html.Div:
    """The Compare page for the run and selection in the URL query."""
    f, allowed_filters = filter_bar.filters_from_url(query)
    run_id = f.run_id
    info = queries.run_info(run_id)
    segs = profiles.segments(run_id)
    allowed = [int(s) for s in segs["segment_id"]]
    sel = selection_from_query(query, allowed, run_id, f)
    view = render(sel, segs)
    content = html.Div(
        [
            html.Div(view["scope"], id="compare-scope", className="mb-3"),
            dbc.Card(
                dbc.CardBody(
                    dbc.Row(
                        [
                            dbc.Col(
                                [
                                    dbc.Label("Segments (up to 4)", html_for="compare-segments"),
                                    dcc.Dropdown(
                                        id="compare-segments",
                                        options=compare_view.segment_options(segs, sel.segments),
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
                            "Everyone = all customers the filters keep (all of the run without filters).",
                        ),
                        lg=6,
                    ),
                    dbc.Col(
                        _card(
                            "Profile against everyone",
                            dcc.Graph(
                                id="compare-radar", figure=view["radar"], config=components.graph_config()
                            ),
                            "Each axis: how far the segment's median is from everyone's, in "
                            "interquartile ranges of everyone (0 = typical; shown up to ±3). Outward is "
                            "better: recency and return rate are inverted, so lower values point outward.",
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
                "percentile. Computed over the filtered customers of each segment.",
                className="mb-3",
            ),
            html.Div(view["cards"], id="compare-cards", className="mb-3"),
            _card(
                "Learned segments × rule-based RFM groups",
                dcc.Graph(id="compare-heatmap", figure=view["heatmap"], config=components.graph_config()),
                "Rows: the model's segments; columns: the classic RFM groups from R/F/M quintile scores. "
                "Cell: customers; colour: share of the row's segment.",
            ),
        ]
    )
    return html.Div(
        [
            components.page_header("Compare segments", info),
            dbc.Row(
                [
                    filter_bar.filter_column(PREFIX, sel.scope(), allowed_filters, WITHOUT),
                    dbc.Col(content, xs=12, lg=True, className="content-column"),
                ],
                className="g-3",
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


# ---------------------------------------------------------------------------------------------------------
# Content for one selection


def render(sel: Selection, segs: pd.DataFrame) -> dict[str, Any]:
    """The selection's scope line, table, radar, box plots, segment cards and RFM cross tab over the
    filtered customers (computed in DuckDB, small results)."""
    names = {int(s): str(n) for s, n in zip(segs["segment_id"], segs["name"], strict=True)}
    names[profiles.POPULATION] = "Everyone"
    series = sel.series()
    scope = sel.scope()
    crosstab = profiles.rfm_crosstab(scope)
    heatmap = figures.rfm_heatmap(crosstab, profiles.rfm_columns(crosstab))
    if not series:
        message = "Pick one to four segments to compare."
        return {
            "scope": compare_view.scope_line(scope),
            "table": html.P(message, className="text-muted"),
            "radar": figures.empty_figure(message),
            "boxes": figures.empty_figure(message),
            "cards": [],
            "heatmap": heatmap,
        }
    features = profiles.features(sel.run_id)
    prof, stats = profiles.profiles_and_boxes(scope, sel.segments, profiles.POPULATION in series)
    countries = profiles.top_countries(scope, sel.segments, n=5)
    if scope.is_default():
        cards = compare_view.segment_cards(
            segs, sel.segments, countries, value_q.segment_value(sel.run_id), queries.run_currency(sel.run_id)
        )
    else:  # sizes, shares and value of the filtered customers
        summary = aggregates.segment_summary(scope).rename(
            columns={"customers": "size", "value_at_risk": "at_risk", "mean_value_at_risk": "mean_at_risk"}
        )
        cards = compare_view.segment_cards(
            summary, sel.segments, countries, summary, queries.run_currency(sel.run_id)
        )
    return {
        "scope": compare_view.scope_line(scope),
        "table": [
            compare_view.profile_table(prof, series, names, features, profiles.category_tops(scope)),
            compare_view.sample_note(stats, names, table_sampled=not scope.is_default()),
        ],
        "radar": figures.profile_radar(profiles.normalise(prof), names, features),
        "boxes": figures.profile_boxes(stats, names, features),
        "cards": cards,
        "heatmap": heatmap,
    }


# ---------------------------------------------------------------------------------------------------------
# Callback


def _failed(message: str) -> dict[str, Any]:
    """What the page shows when the data is gone or a query ran too long."""
    empty = figures.empty_figure(message)
    return {
        "value": dash.no_update,
        "options": dash.no_update,
        "scope": html.P(message),
        "table": html.P(message),
        "radar": empty,
        "boxes": empty,
        "cards": [],
        "heatmap": empty,
        "url_state": dash.no_update,
    }


@callback(
    output={
        "value": Output("compare-segments", "value"),
        "options": Output("compare-segments", "options"),
        "scope": Output("compare-scope", "children"),
        "table": Output("compare-table", "children"),
        "radar": Output("compare-radar", "figure"),
        "boxes": Output("compare-boxes", "figure"),
        "cards": Output("compare-cards", "children"),
        "heatmap": Output("compare-heatmap", "figure"),
        "url_state": Output("compare-url-state", "data"),
    },
    inputs={
        "segments": Input("compare-segments", "value"),
        "vs": Input("compare-vs", "value"),
        "controls": filter_bar.inputs(PREFIX, WITHOUT),
    },
    state={"run": State("compare-run", "data")},
    prevent_initial_call=True,
)
@callback_errors.answers(_failed)
def update(segments: Any, vs: Any, controls: dict[str, Any], run: Any) -> dict[str, Any]:
    """Redraw for a new selection or filter; every input is untrusted (validated against the run, capped
    at 4 segments)."""
    f, _ = filter_bar.filters_from_controls(controls, run)
    segs = profiles.segments(f.run_id)
    allowed = [int(s) for s in segs["segment_id"]]
    chosen = pick_segments(segments if segments is not None else [], allowed)
    sel = Selection(f.run_id, chosen, vs is True, f)
    view = render(sel, segs)
    return {
        "value": list(sel.segments) if segments != list(sel.segments) else dash.no_update,
        "options": compare_view.segment_options(segs, sel.segments),
        **view,
        "url_state": sel.url_state(),
    }


@callback(
    output=filter_bar.outputs(PREFIX, WITHOUT),
    inputs={"clear": Input(filter_bar.clear_id(PREFIX), "n_clicks")},
    state={"run": State("compare-run", "data")},
    prevent_initial_call=True,
)
@callback_errors.answers()
def clear_filters(clear: Any, run: Any) -> dict[str, Any]:
    """Reset the filter bar (the compared segments stay)."""
    if not clear:
        raise PreventUpdate
    f, allowed = filter_bar.filters_from_controls({}, run)
    values = filter_bar.cleared(f, allowed)
    return {key: value for key, value in values.items() if key not in WITHOUT}


filter_bar.register_band_buttons(PREFIX, "compare-run")

clientside_callback(  # writes the query into the address bar; the sink only gives it an output
    ClientsideFunction(namespace="url_state", function_name="replace"),
    Output("compare-url-sink", "data"),
    Input("compare-url-state", "data"),
)
