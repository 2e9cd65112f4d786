"""Customers: the filtered customers in a server-fed grid (infinite scroll, sort, column choice), exports,
presets, an empty state that names the filter that left nobody, and "why this segment".

The filter bar is Explore's. The grid (dashboard/customers_grid.py) asks for one block of rows at a time;
`fetch_rows` validates the request and the controls, fetches that block (LIMIT/OFFSET, ORDER BY a
whitelisted column) and returns, with it, the count, the export buttons (links to the whole filtered list in
the grid's order, disabled when nobody is left), the empty state and the canonical query for the address
bar. A filter change makes the browser drop the grid's blocks (assets/customers_grid.js), so the next
request carries the new filters. Clicking a row opens "why this segment" for that customer.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import dash
import dash_bootstrap_components as dbc
from dash import ClientsideFunction, Input, Output, State, callback, clientside_callback, dcc, html
from dash.exceptions import PreventUpdate
from flask import g, has_request_context

from dashboard import callback_errors, components, empty_result, export, filter_bar, queries, why_view
from dashboard import customers_grid as grid
from dashboard.filters import Filters, TableView
from dashboard.queries import NoData, QueryTimeout, customer, filtered

dash.register_page(
    __name__, path="/customers", name="Customers", order=3, title="Customers · Customer segments"
)

PREFIX = "customers"


def _path() -> str:
    return dash.get_relative_path("/customers")


@components.requires_data
def layout(**query: Any) -> html.Div:
    """The Customers page for the run, filters, sort, scroll page and columns in the URL query."""
    f, allowed = filter_bar.filters_from_url(query)
    info = queries.run_info(f.run_id)
    view = TableView.from_query(query)
    sort = view.sort if view.sort in grid.COLUMN_BY_SORT else None
    descending = (
        bool(view.descending) if view.descending is not None else filtered.DEFAULT_DESC.get(sort or "", False)
    )
    cols = grid.columns_from_query(query.get("cols"))
    total = filtered.count(f)
    state = view_state(f, total, sort, descending)
    start_row = min((view.page - 1) * grid.PAGE_SIZE, max(total - 1, 0) // grid.PAGE_SIZE * grid.PAGE_SIZE)
    return html.Div(
        [
            components.page_header("Customers", info),
            dbc.Row(
                [
                    filter_bar.filter_column(PREFIX, f, allowed),
                    dbc.Col(
                        _card(
                            state, grid.grid(cols, sort, descending, total, start_row, allowed.currency), cols
                        ),
                        xs=12,
                        lg=True,
                        className="content-column",  # min-width 0: a wide grid scrolls, not the page
                    ),
                ],
                className="g-3",
            ),
            dbc.Offcanvas(
                html.Div(id="customers-why-body"),
                id="customers-why",
                title="Why this segment",
                is_open=False,
                placement="end",
                scrollable=True,
                className="customers-why",  # 44rem wide (assets/style.css)
            ),
            dcc.Store(id="customers-run", data=f.run_id),
            dcc.Store(id="customers-url-sink"),
            dcc.Store(id="customers-grid-sink"),
            dcc.Store(id="customers-url-state", data=state["url_state"]),
            dcc.Store(id="customers-cols", data=grid.columns_query(cols)),
        ]
    )


def _card(state: dict[str, Any], table: Any, cols: tuple[str, ...]) -> dbc.Card:
    """The grid's card: count, filters, column chooser and exports above; the empty state over the grid."""
    header = html.Div(
        [
            html.Span(state["count"], id="customers-count", className="fw-semibold"),
            html.Div(state["summary"], id="customers-summary", className="me-auto"),
            dbc.Button(
                "Columns",
                id="customers-columns-toggle",
                color="secondary",
                outline=True,
                size="sm",
                n_clicks=0,
            ),
            html.Div(state["exports"], id="customers-exports", className="d-flex gap-2"),
        ],
        className="d-flex align-items-center flex-wrap gap-2",
    )
    chooser = dbc.Collapse(
        dbc.Checklist(
            id="customers-columns",
            options=grid.chooser_options(),
            value=grid.chooser_value(cols),
            inline=True,
            className="small pt-2",
        ),
        id="customers-columns-collapse",
        is_open=False,
    )
    return dbc.Card(
        [
            dbc.CardHeader([header, chooser]),
            dbc.CardBody(
                html.Div(
                    [table, html.Div(state["empty"], id="customers-empty", className="customers-empty")],
                    className="customers-grid-box",
                )
            ),
            dbc.CardFooter(
                "Click a customer to see why it is in its segment. Scroll for more; exports hold every "
                "filtered customer in the grid's order.",
                className="small text-muted",
            ),
        ],
        className="shadow-sm",
    )


# ---------------------------------------------------------------------------------------------------------
# Filters + sort -> count, exports, empty state, URL; getRowsRequest -> one block


def export_buttons(f: Filters, view: TableView, total: int) -> list[Any]:
    """CSV and XLSX links to the filtered list in the grid's order; disabled buttons when it is empty or
    the signed-in user's role may not export (the export routes answer such a user 403 anyway)."""
    refused = _export_refused()
    if total == 0 or refused:
        return [
            html.Button(
                f"Export {ext.upper()}",
                id=f"customers-{ext}",
                disabled=True,
                title=refused or "No customer to export",
                className="btn btn-outline-secondary btn-sm",
            )
            for ext in ("csv", "xlsx")
        ]
    return [
        html.A(
            f"Export {ext.upper()}",
            id=f"customers-{ext}",
            href=export.export_href(f, ext, view),
            className="btn btn-outline-primary btn-sm",
        )
        for ext in ("csv", "xlsx")
    ]


def _export_refused() -> str | None:
    """Why this request's user may not export (a viewer, set by dashboard/auth.py's guard), else None."""
    if has_request_context() and g.get("user_role") == "viewer":
        return "Your role (viewer) may not export customer lists; an admin can give you the exporter role."
    return None


def view_state(f: Filters, total: int, sort: str | None, descending: bool | None) -> dict[str, Any]:
    """What the filters and the grid's sort show around the grid: count, summary, exports, empty, URL."""
    view = TableView(sort=sort, descending=descending if sort else None)
    return {
        "count": f"{total:,} customer" + ("" if total == 1 else "s"),
        "summary": components.filter_summary(f),
        "exports": export_buttons(f, view, total),
        "empty": empty_result.empty_state(f) if total == 0 else None,
        "url_state": {"path": _path(), "query": urlencode(f.query_pairs() + view.query_pairs())},
    }


def rows_response(request: Any, controls: Any, run: Any) -> dict[str, Any]:
    """The block of rows a getRowsRequest asks for under the controls' filters (all values untrusted)."""
    f, _ = filter_bar.filters_from_controls(controls if isinstance(controls, dict) else {}, run)
    block = grid.block_request(request)
    df, total = filtered.customers_block(f, block.sort, block.descending, block.offset, block.limit)
    rows = {"rowData": grid.records(df), "rowCount": total}
    return {"rows": rows, **view_state(f, total, block.sort, block.descending)}


def _failed(message: str) -> dict[str, Any]:
    """An answer the grid accepts (no rows) when there is no run or the query timed out."""
    return {
        "rows": {"rowData": [], "rowCount": 0},
        "count": message,
        "summary": html.Span(),
        "exports": dash.no_update,
        "empty": None,
        "url_state": dash.no_update,
    }


@callback(
    output={
        "rows": Output(grid.GRID_ID, "getRowsResponse"),
        "count": Output("customers-count", "children"),
        "summary": Output("customers-summary", "children"),
        "exports": Output("customers-exports", "children"),
        "empty": Output("customers-empty", "children"),
        "url_state": Output("customers-url-state", "data"),
    },
    inputs={"request": Input(grid.GRID_ID, "getRowsRequest")},
    state={"controls": filter_bar.states(PREFIX), "run": State("customers-run", "data")},
    prevent_initial_call=True,
)
@callback_errors.answers(_failed)
def fetch_rows(request: Any, controls: dict[str, Any], run: Any) -> dict[str, Any]:
    """Answer the grid's request for a block of rows; every request gets an answer, or the grid waits."""
    return rows_response(request, controls, run)


@callback(
    Output(grid.GRID_ID, "columnDefs"),
    Output("customers-cols", "data"),
    Input("customers-columns", "value"),
    State("customers-run", "data"),
    prevent_initial_call=True,
)
@callback_errors.answers()
def choose_columns(value: Any, run: Any = None) -> tuple[list[dict[str, Any]], str]:
    """Show the checked columns (known ids only; the customer id always) and keep the choice for the URL."""
    cols = grid.columns_from_chooser(value)
    try:
        currency = queries.run_currency(queries.resolve_run(run))
    except (NoData, QueryTimeout):
        currency = None
    return grid.column_defs(cols, currency=currency), grid.columns_query(cols)


@callback(
    Output(filter_bar.control_id(PREFIX, "alive"), "value", allow_duplicate=True),
    Input(filter_bar.control_id(PREFIX, "preset"), "value"),
    State(filter_bar.control_id(PREFIX, "alive"), "value"),
    State("customers-run", "data"),
    prevent_initial_call=True,
)
@callback_errors.answers()
def show_threshold(preset: Any, alive: Any, run: Any) -> Any:
    """Picking the at-risk list moves the "Chance still active" slider to the list's threshold."""
    value = filter_bar.threshold_for_preset(preset, alive, run)
    if value is None:
        raise PreventUpdate
    return value


@callback(
    output=filter_bar.outputs(PREFIX),
    inputs={"clear": Input(filter_bar.clear_id(PREFIX), "n_clicks")},
    state={"run": State("customers-run", "data")},
    prevent_initial_call=True,
)
@callback_errors.answers()
def clear(clear: Any, run: Any) -> dict[str, Any]:
    """Reset every filter control (the browser then drops the grid's blocks: it scrolls back to the top)."""
    f, allowed = filter_bar.filters_from_controls({}, run)
    return filter_bar.cleared(f, allowed)


@callback(
    Output("customers-why", "is_open"),
    Output("customers-why-body", "children"),
    Input(grid.GRID_ID, "cellClicked"),
    State("customers-run", "data"),
    prevent_initial_call=True,
)
@callback_errors.answers(lambda message: (True, dbc.Alert(message, color="warning", className="mb-0")))
def show_why(clicked: Any, run: Any) -> tuple[Any, Any]:
    """Open 'why this segment' for the clicked row's customer (the id is checked to exist in the run); the
    panel says so when the data is gone or the query ran too long."""
    if not isinstance(clicked, dict) or clicked.get("rowId") is None:
        raise PreventUpdate  # a click on a row still loading, or junk
    run_id = queries.resolve_run(run)
    w = customer.why(run_id, clicked.get("rowId"))
    return True, why_view.why_panel(w)


clientside_callback(  # a filter change: drop the grid's blocks and go back to the top (at-risk: its ranking)
    ClientsideFunction(namespace="customers_grid", function_name="refresh"),
    Output("customers-grid-sink", "data"),
    [Input(filter_bar.control_id(PREFIX, key), "value") for key in filter_bar.CONTROLS]
    + [Input(filter_bar.attribute_control(PREFIX), "value")],
    prevent_initial_call=True,
)
clientside_callback(  # filters + sort (server) and columns (server) + scroll page (browser) -> address bar
    ClientsideFunction(namespace="customers_grid", function_name="url"),
    Output("customers-url-sink", "data"),
    Input("customers-url-state", "data"),
    Input("customers-cols", "data"),
)
clientside_callback(
    ClientsideFunction(namespace="customers_grid", function_name="toggle"),
    Output("customers-columns-collapse", "is_open"),
    Input("customers-columns-toggle", "n_clicks"),
    State("customers-columns-collapse", "is_open"),
    prevent_initial_call=True,
)
