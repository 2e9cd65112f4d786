"""Model: how the segments were found: the k sweep with the chosen k, the algorithms compared, sampled
customers on the principal components (2-D, and 3-D on request: the WebGL scene is what kept the page from
settling for seconds; outliers marked), feature distributions, the cleaning steps and the stability of the
segments.
"""

from __future__ import annotations

from typing import Any

import dash
import dash_bootstrap_components as dbc
import pandas as pd
import plotly.graph_objects as go
from dash import Input, Output, State, callback, dcc, html
from dash.exceptions import PreventUpdate

from dashboard import callback_errors, components, figures, filter_bar, queries, value_view
from dashboard.filters import Filters
from dashboard.queries import aggregates, profiles
from dashboard.queries import model as model_q
from segmentation import currency as money

dash.register_page(__name__, path="/model", name="Model", order=4, title="Model · Customer segments")

ALGORITHM_NAMES = {"kmeans": "K-Means", "agglomerative": "Agglomerative (Ward)", "dbscan": "DBSCAN"}
STABILITY_TEXT = (
    "Adjusted Rand index between the stored segments and refits on seeded 80% subsamples: "
    "1 = the same segments every time, 0 = no better than chance."
)


@components.requires_data
def layout(**query: Any) -> html.Div:
    """The Model page of the run in the URL query (latest by default)."""
    f, _ = filter_bar.filters_from_url(query)
    run_id = f.run_id
    info = queries.run_info(run_id)
    summary = model_q.summary(run_id)
    segs = profiles.segments(run_id)
    names = {int(s): str(n) for s, n in zip(segs["segment_id"], segs["name"], strict=True)}
    features = profiles.features(run_id)
    feature = features[0] if features else None
    sample = model_q.pca_sample(f)
    pca = model_q.pca_axes(run_id)
    titles = figures.pca_axis_titles(pca.features, pca.loadings, pca.explained) if pca else None
    histogram, histogram_note = histogram_figure(f, feature, names)
    warnings, money_in = queries.run_extras(run_id)
    steps = model_q.cleaning_steps(run_id)
    return html.Div(
        [
            components.page_header("Model", info),
            components.filter_scope(
                f,
                "the customers on the PCA maps and the feature distribution",
                "the k sweep, algorithm scores, value model, backtest and cleaning",
                "model",
            ),
            _warnings(warnings),
            _kpi_row(summary),
            _card(
                "The k sweep",
                dcc.Graph(
                    id="model-sweep",
                    figure=figures.k_sweep(model_q.k_sweep(run_id), summary.k),
                    config=components.graph_config(),
                ),
                f"How k was chosen: {summary.k_reason}" if summary.k_reason else None,
                footer_id="model-k-reason",
            ),
            _card(
                "Algorithms compared",
                html.Div(
                    algorithm_table(model_q.algorithm_comparison(run_id)),
                    className="table-responsive",
                    id="model-algorithms",
                ),
                "Scores on the same scaled features. DBSCAN finds its own number of clusters; its noise "
                "points are the outliers marked below.",
            ),
            dbc.Row(
                [
                    dbc.Col(
                        _card(
                            "Customers on the first two principal components",
                            dcc.Graph(
                                id="model-pca2d",
                                figure=figures.pca_scatter(sample, dims=2, names=names, axis_titles=titles),
                                config=components.graph_config(),
                            ),
                            _sample_note(sample, summary, f),
                            className="h-100",
                        ),
                        lg=6,
                    ),
                    dbc.Col(
                        _card(
                            "… and the first three (drag to turn)",
                            pca3d_placeholder(len(sample)),
                            "Outliers: density-based noise, drawn as black-edged diamonds.",
                            className="h-100",
                        ),
                        lg=6,
                    ),
                ],
                className="g-3 mb-3",
            ),
            _card(
                html.Div(
                    [
                        html.Span("Distribution of a feature", className="me-auto"),
                        dcc.Dropdown(
                            id="model-feature",
                            options=[
                                {"label": figures.FEATURE_LABELS.get(f, f), "value": f} for f in features
                            ],
                            value=feature,
                            clearable=False,
                            searchable=False,
                            style={"minWidth": "14rem"},
                        ),
                    ],
                    className="d-flex align-items-center flex-wrap gap-3",
                ),
                dcc.Graph(
                    id="model-histogram",
                    figure=histogram,
                    config=components.graph_config(),
                ),
                histogram_note,
                footer_id="model-histogram-note",
            ),
            value_view.value_card(run_id),
            _card(
                "Cleaning steps",
                html.Div(
                    cleaning_table(steps, info.currency), className="table-responsive", id="model-cleaning"
                ),
                money_line(steps, money_in, info.currency),
                footer_id="model-cleaning-money",
            ),
            dcc.Store(id="model-run", data=run_id),
            dcc.Store(id="model-filters", data=f.to_query()),
        ]
    )


def pca3d_placeholder(points: int) -> html.Div:
    """Where the 3-D scatter goes: a button that asks for it (WebGL with thousands of points is what made
    the page slow to settle, so it is drawn only on request, by show_pca3d)."""
    return html.Div(
        [
            html.P(
                f"The same {components.fmt_int(points)} customers in three dimensions, drawn on request.",
                className="text-muted small mb-3",
            ),
            dbc.Button("Show the 3-D view", id="model-pca3d-show", color="primary", outline=True),
        ],
        id="model-pca3d-box",
        className="d-flex flex-column align-items-center justify-content-center text-center",
        style={"minHeight": "480px"},
    )


def _card(
    title: Any, body: Any, footer: str | None = None, className: str = "mb-3", footer_id: str | None = None
) -> dbc.Card:
    """A shadowed card with a header, a body and an optional small grey footer."""
    parts: list[Any] = [dbc.CardHeader(title), dbc.CardBody(body)]
    if footer is not None or footer_id:
        extra = {"id": footer_id} if footer_id else {}
        parts.append(dbc.CardFooter(footer or "", className="small text-muted", **extra))
    return dbc.Card(parts, className=f"shadow-sm {className}")


def _score(value: float | None, digits: int = 3) -> str:
    """A score for cards and tables ('–' when undefined)."""
    if value is None or pd.isna(value):
        return "–"
    return f"{value:,.{digits}f}" if abs(value) < 1000 else f"{value:,.0f}"


def _kpi_row(s: model_q.ModelSummary) -> dbc.Row:
    """Model, silhouette, Davies-Bouldin, stability and outliers as cards."""
    algorithm = ALGORITHM_NAMES.get(s.algorithm or "", s.algorithm or "–")
    cards = [
        components.kpi_card(
            "Model", f"k = {s.k}" if s.k else "–", f"{algorithm}, {s.scaler or '?'} scaling", "model-kpi-k"
        ),
        components.kpi_card("Silhouette", _score(s.silhouette), "−1 to 1, higher is better", "model-kpi-sil"),
        components.kpi_card("Davies-Bouldin", _score(s.davies_bouldin), "lower is better", "model-kpi-dbi"),
        components.kpi_card("Stability (ARI)", _score(s.stability_ari, 2), STABILITY_TEXT, "model-kpi-ari"),
        components.kpi_card(
            "Outliers",
            components.fmt_int(s.outliers),
            f"of {components.fmt_int(s.customers)} customers" if s.customers else None,
            "model-kpi-outliers",
        ),
    ]
    return dbc.Row([dbc.Col(c) for c in cards], className="g-3 mb-3 row-cols-2 row-cols-md-3 row-cols-xl-5")


def _sample_note(sample: pd.DataFrame, s: model_q.ModelSummary, f: Filters) -> str:
    """How many (filtered) customers the scatter shows, and that every outlier is among them."""
    shown = len(sample)
    total = (s.customers if f.is_default() else aggregates.kpis(f).customers) or shown
    what = (
        f"All {components.fmt_int(total)} {'customers' if f.is_default() else 'filtered customers'}"
        if shown >= total
        else f"A repeatable sample of {components.fmt_int(shown)} of {components.fmt_int(total)} customers"
    )
    return f"{what}; every outlier included (black-edged crosses)."


def algorithm_table(df: pd.DataFrame) -> dbc.Table | html.P:
    """The algorithm comparison as a plain table, the stored model's row marked."""
    if df.empty:
        return html.P("This run stores no algorithm comparison.", className="text-muted")
    head = html.Tr(
        [
            html.Th(h, className="text-end" if i > 0 else None)
            for i, h in enumerate(
                [
                    "Algorithm",
                    "k",
                    "Silhouette",
                    "Davies-Bouldin",
                    "Calinski-Harabasz",
                    "Inertia",
                    "Noise share",
                    "Customers scored",
                    "Fit (s)",
                ]
            )
        ]
    )
    rows = []
    for r in df.itertuples(index=False):
        name = ALGORITHM_NAMES.get(r.algorithm, str(r.algorithm))
        label: list[Any] = [name]
        if r.chosen:
            label.append(html.Span("stored model", className="badge text-bg-primary ms-2 fw-normal"))
        noise = "–" if pd.isna(r.noise_share) else f"{r.noise_share:.1%}"
        cells = [
            str(r.k),
            _score(r.silhouette),
            _score(r.davies_bouldin),
            _score(r.calinski_harabasz, 1),
            _score(r.inertia, 1),
            noise,
            components.fmt_int(r.n_scored),
            _score(r.fit_seconds, 3),
        ]
        rows.append(
            html.Tr(
                [html.Td(label)] + [html.Td(c, className="text-end") for c in cells],
                className="table-primary" if r.chosen else None,
            )
        )
    return dbc.Table(
        [html.Thead(head), html.Tbody(rows)],
        size="sm",
        hover=True,
        className="mb-0",
        style={"fontVariantNumeric": "tabular-nums"},
    )


def _warnings(warnings: tuple[str, ...]) -> html.Div | dbc.Alert:
    """The run's warnings (low stability, customers a rule removed whole, negative revenue), if any."""
    if not warnings:
        return html.Div(id="model-warnings")
    return dbc.Alert(
        [html.Strong("This run warns: "), html.Ul([html.Li(w) for w in warnings], className="mb-0")],
        color="warning",
        id="model-warnings",
        className="mb-3",
    )


def money_line(df: pd.DataFrame, money_in: float | None, currency: str | None = None) -> str | None:
    """Where the input's money went: in = removed + kept (net revenue of the customers)."""
    if money_in is None or df.empty or df["money"].isna().all():
        return None
    removed = float(df["money"].fillna(0).sum())
    return (
        f"Money: {components.fmt_cents(money_in, currency)} in the input = "
        f"{components.fmt_cents(removed, currency)} removed by these rules + "
        f"{components.fmt_cents(money_in - removed, currency)} kept as the customers' net revenue "
        "(returns count negative)."
    )


def cleaning_table(df: pd.DataFrame, currency: str | None = None) -> dbc.Table | html.P:
    """The cleaning steps in order: the rule, lines removed and left, customers touched and lost, money."""
    if df.empty:
        return html.P("This run stores no cleaning steps.", className="text-muted")
    head = html.Tr(
        [
            html.Th("#"),
            html.Th("Rule"),
            html.Th("Lines removed", className="text-end"),
            html.Th("Lines left", className="text-end"),
            html.Th(
                "Customers", className="text-end", title="customers whose lines or money the rule removed"
            ),
            html.Th(
                "Lost", className="text-end", title="customers with lines before the rule and none after"
            ),
            html.Th(f"Money removed ({money.unit(currency)})", className="text-end"),
        ]
    )
    rows = [
        html.Tr(
            [
                html.Td(str(r.step)),
                html.Td(str(r.description or r.rule)),
                html.Td(components.fmt_int(r.removed), className="text-end"),
                html.Td(components.fmt_int(r.rows_left), className="text-end"),
                html.Td(
                    components.fmt_int(None if pd.isna(r.customers) else r.customers), className="text-end"
                ),
                html.Td(
                    components.fmt_int(None if pd.isna(r.customers_lost) else r.customers_lost),
                    className="text-end",
                ),
                html.Td(components.fmt_cents(r.money), className="text-end"),
            ]
        )
        for r in df.itertuples(index=False)
    ]
    return components.number_table(head, rows)


def histogram_figure(
    f: Filters, feature: str | None, names: dict[int, str]
) -> tuple[dict[str, Any] | go.Figure, str]:
    """The histogram of one feature (checked against the run's features) over the filtered customers, and
    a note on its range."""
    hist = model_q.histogram(f, feature) if isinstance(feature, str) else None
    if hist is None:
        return figures.empty_figure("Pick a feature."), ""
    note = f"{hist.bins} bins, stacked by segment"
    if hist.clipped:
        note += (
            f"; range cut to the 1st-99th percentile: {components.fmt_int(hist.below)} lower and "
            f"{components.fmt_int(hist.above)} higher customers are counted in the end bins"
        )
    if hist.missing:
        note += f"; {components.fmt_int(hist.missing)} customers have no value"
    return figures.feature_histogram(hist.counts, hist.edges(), names, hist.feature), note + "."


@callback(
    Output("model-histogram", "figure"),
    Output("model-histogram-note", "children"),
    Input("model-feature", "value"),
    State("model-filters", "data"),
    prevent_initial_call=True,
)
@callback_errors.answers(lambda message: (figures.empty_figure(message), ""))
def update_histogram(feature: Any, search: Any) -> tuple[dict[str, Any] | go.Figure, str]:
    """Redraw the histogram for the chosen feature (untrusted: unknown names give an empty chart) over the
    page's filtered customers (the stored query, validated again)."""
    f, _ = filter_bar.filters_from_search(search)
    segs = profiles.segments(f.run_id)
    names = {int(s): str(n) for s, n in zip(segs["segment_id"], segs["name"], strict=True)}
    return histogram_figure(f, feature if isinstance(feature, str) else None, names)


@callback(
    Output("model-pca3d-box", "children"),
    Input("model-pca3d-show", "n_clicks"),
    State("model-filters", "data"),
    prevent_initial_call=True,
)
@callback_errors.answers(lambda message: _pca3d_graph(figures.empty_figure(message)))
def show_pca3d(clicks: Any, search: Any) -> Any:
    """Draw the 3-D scatter when the button is pressed, over the page's filtered customers (the stored
    query, validated again); a message in its place when there is nothing to draw."""
    if not isinstance(clicks, int) or isinstance(clicks, bool) or clicks < 1:
        raise PreventUpdate
    f, _ = filter_bar.filters_from_search(search)
    segs = profiles.segments(f.run_id)
    names = {int(s): str(n) for s, n in zip(segs["segment_id"], segs["name"], strict=True)}
    pca = model_q.pca_axes(f.run_id)
    titles = figures.pca_axis_titles(pca.features, pca.loadings, pca.explained) if pca else None
    return _pca3d_graph(figures.pca_scatter(model_q.pca_sample(f), dims=3, names=names, axis_titles=titles))


def _pca3d_graph(figure: go.Figure) -> dcc.Graph:
    """The 3-D view's graph (or a message drawn in its place)."""
    return dcc.Graph(id="model-pca3d", figure=figure, config=components.graph_config(), className="w-100")
