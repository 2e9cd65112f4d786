"""History: every run with its parameters and scores, and how customers moved between two chosen runs.

The two runs live in the URL (?run=..&a=..&b=..): the layout reads them (checked against the stored runs),
and the callback returns the canonical query for assets/url_state.js, which writes it back with
history.replaceState: the address stays shareable without making the Pages router re-render the page.
"""

from __future__ import annotations

import math
import shlex
from typing import Any
from urllib.parse import urlencode

import dash
import dash_bootstrap_components as dbc
import pandas as pd
from dash import ClientsideFunction, Input, Output, State, callback, clientside_callback, dcc, html

from dashboard import callback_errors, components, figures, queries
from dashboard.queries import history

dash.register_page(__name__, path="/history", name="History", order=6, title="History · Customer segments")


def run_label(run: pd.Series | dict[str, Any]) -> str:
    """'Run 3 · 2024-01-02 12:00 · k = 4' for dropdowns and chart captions."""
    parts = [f"Run {int(run['id'])}"]
    created = run.get("created_at")
    if created is not None and not pd.isna(created):
        parts.append(f"{pd.Timestamp(created):%Y-%m-%d %H:%M}")
    k = run.get("k")
    if k is not None and not pd.isna(k):
        parts.append(f"k = {int(k)}")
    return " · ".join(parts)


@components.requires_data
def layout(**query: Any) -> html.Div:
    """The runs table and, with two runs or more, the migration between the pair in the URL."""
    run_id = queries.resolve_run(query.get("run"))
    info = queries.run_info(run_id)
    runs = history.runs_table()
    ids = [int(i) for i in runs["id"]]
    pair = history.choose_runs(query.get("a"), query.get("b"), ids)
    body: list[Any] = [
        components.page_header("History", info),
        dbc.Card(
            [dbc.CardHeader(f"Runs ({len(runs)})"), dbc.CardBody(runs_table(runs), className="p-0")],
            className="shadow-sm mb-3",
        ),
    ]
    if pair is None:
        body.append(one_run_notice(runs))
    else:
        body.append(_migration_card(runs, pair, run_id))
    return html.Div(body)


def _fmt(value: Any, spec: str) -> str:
    """A number in the given format, '–' when missing."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return format(float(value), spec)


def runs_table(runs: pd.DataFrame) -> dbc.Table:
    """One row per run: when, what, how many, the model's parameters and its quality scores."""
    header = [
        "Run",
        "Made",
        "Mode",
        "Sources",
        "Customers",
        "k",
        "Algorithm",
        "Scaler",
        "Seed",
        "Silhouette",
        "Davies-Bouldin",
        "Stability (ARI)",
        "Outliers",
        "Seconds",
    ]
    rows = []
    for r in runs.to_dict("records"):
        created = r.get("created_at")
        sources = r.get("sources")
        cells = [
            str(int(r["id"])),
            f"{pd.Timestamp(created):%Y-%m-%d %H:%M}"
            if created is not None and not pd.isna(created)
            else "–",
            str(r.get("mode") or "–"),
            ", ".join(str(s) for s in sources) if sources is not None and len(sources) else "–",
            _fmt(r.get("customers"), ",.0f"),
            _fmt(r.get("k"), ".0f"),
            str(r.get("algorithm") or "–"),
            str(r.get("scaler") or "–"),
            _fmt(r.get("seed"), ".0f"),
            _fmt(r.get("silhouette"), ".3f"),
            _fmt(r.get("davies_bouldin"), ".3f"),
            _fmt(r.get("stability_ari"), ".3f"),
            _fmt(r.get("outliers"), ",.0f"),
            _fmt(r.get("duration_s"), ".1f"),
        ]
        rows.append(html.Tr([html.Td(c) for c in cells], title=str(r.get("k_reason") or "")))
    return dbc.Table(
        [html.Thead(html.Tr([html.Th(h) for h in header])), html.Tbody(rows)],
        id="history-runs",
        hover=True,
        responsive=True,
        size="sm",
        className="mb-0 small",
    )


def one_run_notice(runs: pd.DataFrame) -> dbc.Alert:
    """With a single run there is no movement to show: say so, with the command that makes a second run."""
    sources = runs["sources"].iloc[0] if len(runs) else None
    files = [str(s) for s in sources] if sources is not None and len(sources) else ["SALES.csv"]
    k = runs["k"].iloc[0] if len(runs) else None
    other_k = int(k) + 1 if k is not None and not pd.isna(k) else 5
    command = "segments run " + " ".join(shlex.quote(f) for f in files) + f" --k {other_k}"
    db = components.served_db()
    command += f" --db {shlex.quote(str(db.absolute()))}" if db is not None else ""
    return dbc.Alert(
        [
            html.P(
                "A second run is needed to see how customers move between segments. Make one, on newer "
                "data or with other settings, for example:",
                className="mb-2",
            ),
            html.Pre(html.Code(command), className="bg-body-tertiary p-2 rounded mb-0"),
        ],
        color="info",
        id="history-one-run",
    )


def _migration_card(runs: pd.DataFrame, pair: tuple[int, int], run_id: int) -> dbc.Card:
    """Run pickers, a summary line, the Sankey and the transition table for the chosen pair."""
    options = [{"label": run_label(r), "value": int(r["id"])} for r in runs.to_dict("records")]
    labels = {o["value"]: o["label"] for o in options}
    figure, table, summary = migration_view(*pair, labels)
    return dbc.Card(
        [
            dbc.CardHeader("How customers moved between two runs"),
            dbc.CardBody(
                [
                    dbc.Row(
                        [
                            dbc.Col(
                                [
                                    html.Label("From run (A)", htmlFor="history-a", className="small"),
                                    dcc.Dropdown(
                                        id="history-a",
                                        options=options,
                                        value=pair[0],
                                        clearable=False,
                                        searchable=False,
                                    ),
                                ],
                                md=4,
                            ),
                            dbc.Col(
                                [
                                    html.Label("To run (B)", htmlFor="history-b", className="small"),
                                    dcc.Dropdown(
                                        id="history-b",
                                        options=options,
                                        value=pair[1],
                                        clearable=False,
                                        searchable=False,
                                    ),
                                ],
                                md=4,
                            ),
                        ],
                        className="g-3 mb-3",
                    ),
                    html.P(summary, id="history-summary", className="mb-2"),
                    dcc.Graph(id="history-sankey", figure=figure, config=components.graph_config()),
                    html.H2("Transition table", className="h6 mt-3"),
                    html.P(
                        "Rows: segments of run A; columns: segments of run B. Each cell: customers, and "
                        "their share of the row.",
                        className="small text-muted mb-2",
                    ),
                    html.Div(table, id="history-transitions"),
                    dcc.Store(id="history-run", data=run_id),
                    dcc.Store(id="history-url-sink"),
                    dcc.Store(id="history-url-state", data=url_state(run_id, pair)),
                ]
            ),
        ],
        className="shadow-sm",
    )


def url_state(run_id: int, pair: tuple[int, int]) -> dict[str, str]:
    """What assets/url_state.js writes into the address bar: this page's path and its canonical query (the
    page's run, as the layout resolved it, then the pair)."""
    query = urlencode([("run", run_id), ("a", pair[0]), ("b", pair[1])])
    return {"path": dash.get_relative_path("/history"), "query": query}


def migration_view(run_a: int, run_b: int, labels: dict[int, str]) -> tuple[Any, Any, str]:
    """The Sankey, the transition table and the summary sentence for runs A and B."""
    m = history.migration(run_a, run_b)
    label_a, label_b = labels.get(run_a, f"Run {run_a}"), labels.get(run_b, f"Run {run_b}")
    figure = figures.migration_sankey(m.flows, m.left, m.new, f"Run {run_a}", f"Run {run_b}")
    return figure, transition_table(m), summary_sentence(m, label_a, label_b)


def summary_sentence(m: history.Migration, label_a: str, label_b: str) -> str:
    """Who is in both runs, how many kept a segment of the same name, and who left or is new."""
    same = int(m.flows.loc[m.flows["name_a"] == m.flows["name_b"], "customers"].sum())
    kept = f"; {same:,} ({same / m.both:.0%}) kept a segment of the same name" if m.both else ""
    return (
        f"{label_a} → {label_b}: {m.both:,} customers are in both runs{kept}. "
        f"{m.only_a:,} are only in run {m.run_a} (left) and {m.only_b:,} only in run {m.run_b} (new)."
    )


def transition_table(m: history.Migration) -> dbc.Table:
    """Rows: A's segments (plus customers new in B); columns: B's segments (plus those who left)."""
    rows_a = sorted(
        set(zip(m.flows["segment_a"], m.flows["name_a"], strict=True))
        | set(zip(m.left["segment_a"], m.left["name_a"], strict=True))
    )
    cols_b = sorted(
        set(zip(m.flows["segment_b"], m.flows["name_b"], strict=True))
        | set(zip(m.new["segment_b"], m.new["name_b"], strict=True))
    )
    counts: dict[tuple[int, int], int] = {}
    for r in m.flows.itertuples(index=False):
        counts[(int(r.segment_a), int(r.segment_b))] = int(r.customers)
    for r in m.left.itertuples(index=False):
        counts[(int(r.segment_a), -1)] = int(r.customers)
    for r in m.new.itertuples(index=False):
        counts[(-1, int(r.segment_b))] = int(r.customers)
    columns = [(int(s), str(n)) for s, n in cols_b]
    if not m.left.empty:
        columns.append((-1, f"Not in run {m.run_b} (left)"))
    lines = [(int(s), str(n)) for s, n in rows_a]
    if not m.new.empty:
        lines.append((-1, f"Not in run {m.run_a} (new)"))
    palette = figures.segment_colors(n for s, n in [*columns, *lines] if s >= 0)  # as the Sankey's
    head = html.Thead(
        html.Tr(
            [html.Th(f"Run {m.run_a} ↓ · run {m.run_b} →")]
            + [html.Th(_swatch(s, name, palette)) for s, name in columns]
            + [html.Th("Total")]
        )
    )
    body = []
    for a, name_a in lines:
        total = sum(counts.get((a, b), 0) for b, _ in columns)
        cells = [html.Th(_swatch(a, name_a, palette), scope="row")]
        for b, _ in columns:
            n = counts.get((a, b), 0)
            share = n / total if total else 0.0
            if not n:
                cells.append(html.Td("0", className="text-end text-muted"))
                continue
            cells.append(
                html.Td(
                    [html.Span(f"{n:,}"), html.Span(f" {share:.0%}", className="text-muted small")],
                    style={"backgroundColor": f"rgba(13,110,253,{0.05 + 0.45 * share:.3f})"},
                    className="text-end",
                )
            )
        cells.append(html.Td(f"{total:,}", className="text-end fw-semibold"))
        body.append(html.Tr(cells))
    return dbc.Table(
        [head, html.Tbody(body)], bordered=True, responsive=True, size="sm", className="small mb-0"
    )


def _swatch(segment_id: int, name: str, palette: dict[str, str]) -> list[Any]:
    """A segment's name with its colour dot (palette: figures.segment_colors; grey for 'not in the run')."""
    color = figures.ABSENT_COLOR if segment_id < 0 else palette[name]
    return [
        html.Span("●", style={"color": color}, className="me-1", **{"aria-hidden": "true"}),
        name,
    ]


@callback(
    Output("history-sankey", "figure"),
    Output("history-transitions", "children"),
    Output("history-summary", "children"),
    Output("history-url-state", "data"),
    Input("history-a", "value"),
    Input("history-b", "value"),
    State("history-run", "data"),
    prevent_initial_call=True,
)
@callback_errors.answers(
    lambda message: (figures.empty_figure(message), dash.no_update, dash.no_update, dash.no_update)
)
def update_migration(run_a: Any, run_b: Any, run: Any) -> tuple[Any, Any, Any, Any]:
    """Redraw the migration for the chosen runs (untrusted values: unknown ids fall back to the defaults)."""
    run_id = queries.resolve_run(run)
    runs = history.runs_table()
    ids = [int(i) for i in runs["id"]]
    pair = history.choose_runs(run_a, run_b, ids)
    if pair is None:
        return dash.no_update, dash.no_update, dash.no_update, dash.no_update
    labels = {int(r["id"]): run_label(r) for r in runs.to_dict("records")}
    figure, table, summary = migration_view(*pair, labels)
    return figure, table, summary, url_state(run_id, pair)


clientside_callback(  # writes the query into the address bar; the sink only gives it an output
    ClientsideFunction(namespace="url_state", function_name="replace"),
    Output("history-url-sink", "data"),
    Input("history-url-state", "data"),
)
