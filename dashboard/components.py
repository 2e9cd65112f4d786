"""Shared layout pieces: functions that take values (and an id or prefix) and return components.

Pages wrap their layout in `requires_data`, so a missing DB file or a file with no run shows the same
"how to make a run" page instead of a traceback.
"""

from __future__ import annotations

import functools
import shlex
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from dashboard import callback_errors
from dashboard.filters import Filters
from dashboard.queries import NoData, QueryTimeout, RunInfo, current_db
from segmentation import currency as money

SAMPLE_CSV = "data/online_retail_sample.csv"  # the bundled sample, as the README names it
_REASONS = {
    "missing": "The database file {name} does not exist yet.",
    "empty": "The database file {name} holds no segmentation run yet.",
    "unreadable": "The file {name} could not be opened as a segmentation database.",
    "stray_wal": "{name}.wal beside {name} does not belong to it (left by a crash or another program), so "
    "the file cannot be read; make a new run (it removes the stray .wal) or remove {name}.wal.",
}


def fmt_int(value: float | int | None) -> str:
    """1234567 -> '1,234,567' ('–' for missing)."""
    return "–" if value is None else f"{round(value):,}"


def fmt_cents(value: Any, currency: str | None = None) -> str:
    """Money to the cent with separators and the run's currency: 1234.5 -> '£1,234.50' ('–' for missing
    or NaN; no unit when the currency is unknown)."""
    if value is None or value != value:
        return "–"
    return money.money(float(value), currency, digits=2)


def fmt_money(value: float | None, currency: str | None = None) -> str:
    """Revenue for cards, with the run's currency: 1234567.8 -> '£1.23M', 12345.6 -> '£12,346' ('–' for
    missing; no unit when the currency is unknown)."""
    if value is None or value != value:
        return "–"
    return money.money(value, currency, millions=abs(value) >= 1e6)


def served_db() -> Path | None:
    """The DB file this app serves (None outside the app and a `queries.using` block)."""
    try:
        return current_db()
    except RuntimeError:
        return None


def make_run_commands(db: Path | None) -> tuple[str, str]:
    """The commands that make a run in the DB file the app serves (absolute, shell-quoted), so a copied
    command writes the file this dashboard reads: `segments run <sample> --db <db>`, `segments demo ...`."""
    target = f" --db {shlex.quote(str(db.absolute()))}" if db is not None else ""
    return f"segments run {SAMPLE_CSV}{target}", f"segments demo{target}"


def empty_state(reason: NoData | None = None) -> html.Div:
    """The page shown when there is nothing to show: why, and the commands that make a run in this DB."""
    commands = make_run_commands(reason.path if reason is not None else served_db())
    sentence = (
        _REASONS.get(reason.reason, _REASONS["empty"]).format(name=reason.path.name)
        if reason is not None
        else "There is no segmentation run to show yet."
    )
    return html.Div(
        dbc.Card(
            dbc.CardBody(
                [
                    html.H2(
                        "The segmentation database cannot be read"
                        if reason is not None and reason.reason == "stray_wal"
                        else "No segmentation run yet",
                        className="h4 card-title",
                    ),
                    html.P(sentence, className="text-body-secondary"),
                    html.P("Make one from the bundled sample, then reload this page:", className="mb-2"),
                    html.Pre(html.Code(commands[0]), className="bg-body-tertiary p-2 rounded"),
                    html.P("or segment the sample and serve the dashboard in one step:", className="mb-2"),
                    html.Pre(html.Code(commands[1]), className="bg-body-tertiary p-2 rounded"),
                ]
            ),
            className="shadow-sm",
        ),
        className="empty-state mx-auto my-5",
        id="empty-state",
    )


def requires_data(layout: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate a page layout: NoData (no file, no run) renders the empty state, a timeout a warning."""

    @functools.wraps(layout)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return layout(*args, **kwargs)
        except NoData as exc:
            return empty_state(exc)
        except QueryTimeout as exc:
            return dbc.Alert(callback_errors.message(exc), color="warning", className="my-4")

    return wrapper


def kpi_card(label: str, value: str, hint: str | None = None, card_id: str | None = None) -> dbc.Card:
    """A small card with a label, a big value and an optional grey hint line."""
    body = [html.Div(label, className="kpi-label"), html.Div(value, className="kpi-value")]
    if hint:
        body.append(html.Div(hint, className="kpi-hint"))
    extra = {"id": card_id} if card_id else {}
    return dbc.Card(dbc.CardBody(body), className="kpi-card shadow-sm h-100", **extra)


def run_badge(info: RunInfo) -> html.Span:
    """'Run 3 · snapshot 2011-12-10 · k = 4 (kmeans)' as a pill, for page headers."""
    parts = [f"Run {info.id}"]
    if info.snapshot_date:
        parts.append(f"snapshot {info.snapshot_date:%Y-%m-%d}")
    if info.k:
        parts.append(f"k = {info.k}" + (f" ({info.algorithm})" if info.algorithm else ""))
    if info.mode == "customers":
        parts.append("customer table")
    parts.append(f"money in {info.currency}" if info.currency else "currency unknown")
    return html.Span(" · ".join(parts), className="badge rounded-pill text-bg-light border run-badge")


def filter_badges(f: Filters) -> list[html.Span]:
    """One badge per active filter, in words (Filters.describe)."""
    return [html.Span(line, className="badge text-bg-secondary me-1 fw-normal") for line in f.describe()]


def filter_summary(f: Filters, clear_href: str | None = None) -> html.Div:
    """The active filters as badges (from Filters.describe), with a 'clear' link when any is set."""
    if f.is_default():
        return html.Div()
    badges: list[Any] = filter_badges(f)
    if clear_href:
        badges.append(dcc.Link("clear filters", href=clear_href, className="small ms-1"))
    return html.Div(badges, className="filter-summary")


def filter_scope(f: Filters, applies: str, not_applies: str, page: str) -> html.Div:
    """Which of the shared filters a page uses and where: the active filters as badges, what they narrow
    and what describes the whole run; links to change them (Explore) or drop them here."""
    explore = dash.get_relative_path("/explore") + "?" + f.to_query()
    if f.is_default():
        return html.Div(
            [
                html.Span(
                    f"All customers of the run. Filters set on Explore or Customers narrow {applies} here. ",
                    className="small text-muted",
                ),
                dcc.Link("Set filters on Explore", href=explore, className="small"),
            ],
            className="mb-3",
            id=f"{page}-scope",
        )
    return dbc.Alert(
        [
            html.Div(
                [
                    html.Span("Filtered customers: ", className="me-1"),
                    *filter_badges(f),
                ]
            ),
            html.Div(
                [
                    f"The filters apply to {applies}; {not_applies} describe the whole run. ",
                    dcc.Link("Change them on Explore", href=explore),
                    " · ",
                    dcc.Link(
                        "show all customers",
                        href=dash.get_relative_path(f"/{page}") + f"?run={f.run_id}",
                    ),
                ],
                className="small mt-1",
            ),
        ],
        color="light",
        className="border mb-3 py-2",
        id=f"{page}-scope",
    )


def page_header(
    title: str, info: RunInfo, f: Filters | None = None, clear_href: str | None = None
) -> html.Div:
    """A page's title row: title, run badge, active filters."""
    return html.Div(
        [
            html.Div(
                [html.H1(title, className="h3 mb-0 me-3"), run_badge(info)],
                className="d-flex align-items-center flex-wrap gap-2",
            ),
            filter_summary(f, clear_href) if f is not None else html.Div(),
        ],
        className="mb-3",
    )


def map_config() -> dict[str, Any]:
    """dcc.Graph config for geo maps: topojson from the app's own assets, never the CDN."""
    return {**graph_config(), "topojsonURL": dash.get_relative_path("/assets/topojson/")}


# Mode-bar buttons that talk to a remote service (Plotly Cloud / Chart Studio). The product works offline
# and hover text carries customer ids: no button may send a chart anywhere. Download-as-PNG stays (local).
REMOTE_BUTTONS = ("sendDataToCloud", "editInChartStudio")


def graph_config() -> dict[str, Any]:
    """dcc.Graph config: no Plotly logo, no link or button that sends the chart to a remote service."""
    return {
        "displaylogo": False,
        "showSendToCloud": False,
        "showEditInChartStudio": False,
        "showLink": False,
        "plotlyServerURL": "",
        "modeBarButtonsToRemove": list(REMOTE_BUTTONS),
        "toImageButtonOptions": {"format": "png", "filename": "customer-segments-chart"},
    }


def country_views(prefix: str, map_figure: Any, bar_figure: Any) -> dbc.Row:
    """The country map and, beside it, the ranked country bar (ids <prefix>-map, <prefix>-countries); on a
    narrow screen the bar goes under the map."""
    return dbc.Row(
        [
            dbc.Col(
                dcc.Graph(
                    id=f"{prefix}-map", figure=map_figure, config=map_config(), className="country-map"
                ),
                xs=12,
                md=8,
            ),
            dbc.Col(
                html.Div(
                    dcc.Graph(id=f"{prefix}-countries", figure=bar_figure, config=graph_config()),
                    className="country-bars",
                ),
                xs=12,
                md=4,
            ),
        ],
        className="g-2",
    )


def run_options(runs: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Dropdown options for the run selector from queries.runs() records."""
    options = []
    for r in runs:
        when = r.get("created_at")
        label = f"Run {r['id']}" + (f" · {when:%Y-%m-%d %H:%M}" if when is not None else "")
        options.append({"label": label, "value": int(r["id"])})
    return options


def navbar(
    pages: Iterable[Mapping[str, Any]],
    options: list[dict[str, Any]],
    value: int | None,
    account: Any = None,
) -> dbc.Navbar:
    """The app's navbar: brand, one link per page (ids for the run-sync callback) and the run selector.

    Below the xl breakpoint the links and the selector fold behind a toggler (nav_menu opens and closes
    it): a phone keeps a one-row navbar, and 992-1199 px screens, too narrow for brand, seven links and
    the selector in one row (about 1,110 px), do not scroll sideways."""
    links = [
        dbc.NavItem(
            dbc.NavLink(
                page["name"],
                href=page["relative_path"],
                active="exact",
                id={"type": "nav-link", "index": page["module"]},
            )
        )
        for page in pages
    ]
    return dbc.Navbar(
        dbc.Container(
            [
                dbc.NavbarBrand(
                    "Customer segments", href=dash.get_relative_path("/"), className="fw-semibold"
                ),
                dbc.NavbarToggler(id="navbar-toggler", n_clicks=0),
                dbc.Collapse(
                    [
                        dbc.Nav(links, navbar=True, className="me-auto"),
                        html.Div(
                            dcc.Dropdown(
                                id="run-select",
                                options=options,
                                value=value,
                                clearable=False,
                                searchable=False,
                                placeholder="No run yet",
                                disabled=not options,
                                className="run-select",
                            ),
                            className="navbar-run ms-xl-3",
                        ),
                        *([account] if account is not None else []),  # user name and log out (auth.py)
                    ],
                    id="navbar-collapse",
                    is_open=False,
                    navbar=True,
                ),
            ],
            fluid=True,
        ),
        color="dark",
        dark=True,
        expand="xl",
        className="mb-3",
    )


def number_table(head: Any, rows: list[Any]) -> dbc.Table:
    """A small table of figures: one header row, body rows, digits in aligned columns."""
    return dbc.Table(
        [html.Thead(head), html.Tbody(rows)],
        size="sm",
        className="mb-0",
        style={"fontVariantNumeric": "tabular-nums"},
    )
