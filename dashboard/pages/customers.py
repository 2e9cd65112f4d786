"""Customers: the filtered customers in a server-side paged and sorted table, exports, presets, and "why".

The filter bar is Explore's. One callback validates the controls, the table's page and its sort, fetches
one page (queries.filtered.customers_page: at most PAGE_SIZE_MAX rows) and returns the count, the export
links (the whole filtered list, through dashboard/export.py's routes) and the canonical query for the
address bar (assets/url_state.js). Clicking a row opens "why this segment" for that customer.
"""

from __future__ import annotations

import warnings
from typing import Any
from urllib.parse import urlencode

import dash
import dash_bootstrap_components as dbc
import pandas as pd
from dash import (
    ClientsideFunction,
    Input,
    Output,
    State,
    callback,
    clientside_callback,
    dash_table,
    dcc,
    html,
)
from dash.dash_table.Format import Format, Group, Scheme
from dash.exceptions import PreventUpdate

from dashboard import components, export, figures, filter_bar, queries, why_view
from dashboard.filters import MAX_PAGE, Filters, TableView
from dashboard.queries import NoData, QueryTimeout, customer, filtered

dash.register_page(
    __name__, path="/customers", name="Customers", order=3, title="Customers · Customer segments"
)

PREFIX = "customers"
PAGE_SIZE = 25
assert PAGE_SIZE <= filtered.PAGE_SIZE_MAX

_MONEY = Format(precision=2, scheme=Scheme.fixed, group=Group.yes)
_WHOLE = Format(precision=0, scheme=Scheme.fixed, group=Group.yes)
_PERCENT = Format(precision=1, scheme=Scheme.percentage)
# (column id, header, format or None for text, sort key or None when the column cannot be sorted)
COLUMNS: tuple[tuple[str, str, Format | None, str | None], ...] = (
    ("customer_id", "Customer", None, "customer_id"),
    ("country", "Country", None, "country"),
    ("segment_name", "Segment", None, "segment"),
    ("rfm_group", "RFM group", None, "rfm_group"),
    ("rfm", "R F M", None, None),
    ("recency_days", "Recency (d)", _WHOLE, "recency"),
    ("frequency", "Orders", _WHOLE, "frequency"),
    ("monetary", "Revenue", _MONEY, "monetary"),
    ("tenure_days", "Tenure (d)", _WHOLE, "tenure"),
    ("avg_basket_value", "Basket", _MONEY, "avg_basket_value"),
    ("return_rate", "Returns", _PERCENT, "return_rate"),
    ("is_outlier", "Outlier", None, None),
    ("p_alive", "Active %", _PERCENT, "p_alive"),
    ("predicted_value", "Value 12m", _MONEY, "predicted_value"),
    ("value_at_risk", "At risk", _MONEY, "value_at_risk"),
    ("list_reason", "Why listed", None, None),
    ("action", "Action", None, None),
)
SORT_BY_COLUMN: dict[str, str] = {c: key for c, _, _, key in COLUMNS if key}
COLUMN_BY_SORT: dict[str, str] = {key: c for c, key in SORT_BY_COLUMN.items()}


def _path() -> str:
    return dash.get_relative_path("/customers")


@components.requires_data
def layout(**query: Any) -> html.Div:
    """The Customers page for the run, filters, sort and page in the URL query."""
    f, allowed = filter_bar.filters_from_url(query)
    info = queries.run_info(f.run_id)
    state = render(f, TableView.from_query(query))
    return html.Div(
        [
            components.page_header("Customers", info),
            dbc.Row(
                [
                    filter_bar.filter_column(PREFIX, f, allowed),
                    dbc.Col(
                        dbc.Card(
                            [
                                dbc.CardHeader(
                                    html.Div(
                                        [
                                            html.Span(
                                                state["count"], id="customers-count", className="fw-semibold"
                                            ),
                                            html.Div(
                                                state["summary"], id="customers-summary", className="me-auto"
                                            ),
                                            html.A(
                                                "Export CSV",
                                                id="customers-csv",
                                                href=state["csv_href"],
                                                className="btn btn-outline-primary btn-sm",
                                            ),
                                            html.A(
                                                "Export XLSX",
                                                id="customers-xlsx",
                                                href=state["xlsx_href"],
                                                className="btn btn-outline-primary btn-sm",
                                            ),
                                        ],
                                        className="d-flex align-items-center flex-wrap gap-2",
                                    )
                                ),
                                dbc.CardBody(_table(state)),
                                dbc.CardFooter(
                                    "Click a customer to see why it is in its segment. Exports hold every "
                                    "filtered customer, not just this page.",
                                    className="small text-muted",
                                ),
                            ],
                            className="shadow-sm",
                        ),
                        xs=12,
                        lg=True,
                        className="content-column",  # min-width 0: a wide table scrolls, not the page
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
            dcc.Store(id="customers-url-state", data=state["url_state"]),
        ]
    )


def _table(state: dict[str, Any]) -> dash_table.DataTable:
    """The server-side paged and sorted table (page_action and sort_action 'custom')."""
    columns = []
    for column_id, header, fmt, _ in COLUMNS:
        spec: dict[str, Any] = {"id": column_id, "name": header}
        if fmt is not None:
            spec.update(type="numeric", format=fmt)
        columns.append(spec)
    with warnings.catch_warnings():  # DataTable warns that a future Dash moves it out (to dash-ag-grid)
        warnings.filterwarnings("ignore", r"\s*The dash_table.DataTable will be removed", DeprecationWarning)
        return _data_table(state, columns)


def _data_table(state: dict[str, Any], columns: list[dict[str, Any]]) -> dash_table.DataTable:
    return dash_table.DataTable(
        id="customers-table",
        columns=columns,
        data=state["data"],
        page_action="custom",
        page_current=state["page_current"],
        page_size=PAGE_SIZE,
        page_count=state["page_count"],
        sort_action="custom",
        sort_mode="single",
        sort_by=state["sort_by"],
        cell_selectable=True,
        style_table={"overflowX": "auto"},
        style_cell={
            "fontFamily": figures.FONT,
            "fontSize": "0.85rem",
            "padding": "4px 8px",
            "cursor": "pointer",
        },
        style_header={"fontWeight": "600", "backgroundColor": "#f8f9fa"},
        style_data_conditional=[
            {"if": {"state": "active"}, "backgroundColor": "#e7f1ff", "border": "1px solid #9ec5fe"}
        ],
        style_cell_conditional=[
            {"if": {"column_id": column_id}, "textAlign": "left"}
            for column_id, _, fmt, _ in COLUMNS
            if fmt is None
        ],
        css=[{"selector": ".dash-spreadsheet-menu", "rule": "display: none"}]
        + [  # columns the server cannot sort show no sort arrow
            {"selector": f'th[data-dash-column="{column_id}"] .column-header--sort', "rule": "display: none"}
            for column_id, _, _, key in COLUMNS
            if key is None
        ],
    )


# ---------------------------------------------------------------------------------------------------------
# Filters + view -> table state


def view_from_table(sort_by: Any, page_current: Any) -> TableView:
    """A TableView from the table's (untrusted) sort_by and 0-based page_current."""
    sort = descending = None
    if isinstance(sort_by, list) and sort_by and isinstance(sort_by[0], dict):
        key = (
            SORT_BY_COLUMN.get(sort_by[0].get("column_id"))
            if isinstance(sort_by[0].get("column_id"), str)
            else None
        )
        direction = sort_by[0].get("direction")
        if key is not None and direction in ("asc", "desc"):
            sort, descending = key, direction == "desc"
    page = page_current + 1 if isinstance(page_current, int) and not isinstance(page_current, bool) else 1
    return TableView(sort=sort, descending=descending, page=min(max(page, 1), MAX_PAGE))


def _rows(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Table records: the row id is the customer id (for 'why'); R/F/M scores as one text cell."""
    records = []
    for r in df.to_dict("records"):
        scores = [r.get("r_score"), r.get("f_score"), r.get("m_score")]
        records.append(
            {
                "id": r["customer_id"],
                "customer_id": r["customer_id"],
                "country": _text(r.get("country")),
                "segment_name": _text(r.get("segment_name")),
                "rfm_group": _text(r.get("rfm_group")),
                "rfm": " ".join("–" if _missing(s) else str(int(s)) for s in scores),
                "recency_days": _number(r.get("recency_days")),
                "frequency": _number(r.get("frequency")),
                "monetary": _number(r.get("monetary")),
                "tenure_days": _number(r.get("tenure_days")),
                "avg_basket_value": _number(r.get("avg_basket_value")),
                "return_rate": _number(r.get("return_rate")),
                "is_outlier": "yes" if r.get("is_outlier") is True else "",
                "p_alive": _number(r.get("p_alive")),
                "predicted_value": _number(r.get("predicted_value")),
                "value_at_risk": _number(r.get("value_at_risk")),
                "list_reason": _text(r.get("list_reason")),
                "action": _text(r.get("action")),
            }
        )
    return records


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and value != value)


def _text(value: Any) -> str:
    return "" if _missing(value) else str(value)


def _number(value: Any) -> float | None:
    return None if _missing(value) else float(value)


def render(f: Filters, view: TableView) -> dict[str, Any]:
    """One page of the table for the filters and view, with count, export links and the URL state."""
    df, total = filtered.customers_page(f, view.sort, view.descending, view.page, PAGE_SIZE)
    page_count = max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    view = TableView(sort=view.sort, descending=view.descending, page=min(view.page, page_count))
    link_view = TableView(sort=view.sort, descending=view.descending)
    sort_by = (
        [{"column_id": COLUMN_BY_SORT[view.sort], "direction": "desc" if view.descending else "asc"}]
        if view.sort and view.descending is not None
        else []
    )
    return {
        "data": _rows(df),
        "page_current": view.page - 1,
        "page_count": page_count,
        "sort_by": sort_by,
        "count": f"{total:,} customer" + ("" if total == 1 else "s"),
        "summary": components.filter_summary(f),
        "csv_href": export.export_href(f, "csv", link_view),
        "xlsx_href": export.export_href(f, "xlsx", link_view),
        "url_state": {"path": _path(), "query": urlencode(f.query_pairs() + view.query_pairs())},
    }


def table_state(
    trigger: Any, controls: dict[str, Any], page_current: Any, sort_by: Any, run: Any
) -> dict[str, Any]:
    """The table for controls, page and sort: a filter change goes to page 1, at-risk sorts by revenue."""
    f, _ = filter_bar.filters_from_controls(controls, run)
    view = view_from_table(sort_by, page_current)
    restart = {filter_bar.control_id(PREFIX, key) + ".value" for key in filter_bar.CONTROLS}
    if trigger in restart | {"customers-table.sort_by"}:  # new filters or a new sort: back to page 1
        view = TableView(sort=view.sort, descending=view.descending, page=1)
    if trigger == filter_bar.control_id(PREFIX, "preset") + ".value" and f.preset == "at-risk":
        view = TableView(sort="value_at_risk" if f.value_ready else "monetary", descending=True, page=1)
    return render(f, view)


def _failed(message: str) -> dict[str, Any]:
    return {
        "data": [],
        "page_current": 0,
        "page_count": 1,
        "sort_by": [],
        "count": message,
        "summary": html.Span(),
        "csv_href": dash.no_update,
        "xlsx_href": dash.no_update,
        "url_state": dash.no_update,
    }


@callback(
    output={
        "data": Output("customers-table", "data"),
        "page_current": Output("customers-table", "page_current"),
        "page_count": Output("customers-table", "page_count"),
        "sort_by": Output("customers-table", "sort_by"),
        "count": Output("customers-count", "children"),
        "summary": Output("customers-summary", "children"),
        "csv_href": Output("customers-csv", "href"),
        "xlsx_href": Output("customers-xlsx", "href"),
        "url_state": Output("customers-url-state", "data"),
    },
    inputs={
        "controls": filter_bar.inputs(PREFIX),
        "page_current": Input("customers-table", "page_current"),
        "sort_by": Input("customers-table", "sort_by"),
    },
    state={"run": State("customers-run", "data")},
    prevent_initial_call=True,
)
def update_table(controls: dict[str, Any], page_current: Any, sort_by: Any, run: Any) -> dict[str, Any]:
    """Fetch the page of filtered customers the controls, pager and sort ask for (all values untrusted)."""
    try:
        return table_state(filter_bar.triggered(), controls, page_current, sort_by, run)
    except NoData:
        return _failed("No segmentation run yet.")
    except QueryTimeout as exc:
        return _failed(f"{exc} Narrow the filters, or try again in a moment.")


@callback(
    Output(filter_bar.control_id(PREFIX, "alive"), "value", allow_duplicate=True),
    Input(filter_bar.control_id(PREFIX, "preset"), "value"),
    State(filter_bar.control_id(PREFIX, "alive"), "value"),
    State("customers-run", "data"),
    prevent_initial_call=True,
)
def show_threshold(preset: Any, alive: Any, run: Any) -> Any:
    """Picking the at-risk list moves the "Chance still active" slider to the list's threshold."""
    try:
        value = filter_bar.threshold_for_preset(preset, alive, run)
    except (NoData, QueryTimeout):
        raise PreventUpdate from None
    if value is None:
        raise PreventUpdate
    return value


@callback(
    output=filter_bar.outputs(PREFIX),
    inputs={"clear": Input(filter_bar.clear_id(PREFIX), "n_clicks")},
    state={"run": State("customers-run", "data")},
    prevent_initial_call=True,
)
def clear(clear: Any, run: Any) -> dict[str, Any]:
    """Reset every filter control (the table callback then goes back to page 1)."""
    try:
        f, allowed = filter_bar.filters_from_controls({}, run)
    except (NoData, QueryTimeout):
        raise PreventUpdate from None
    return filter_bar.cleared(f, allowed)


# ---------------------------------------------------------------------------------------------------------
# Why this segment


@callback(
    Output("customers-why", "is_open"),
    Output("customers-why-body", "children"),
    Output("customers-table", "active_cell"),
    Input("customers-table", "active_cell"),
    State("customers-run", "data"),
    prevent_initial_call=True,
)
def show_why(active_cell: Any, run: Any) -> tuple[Any, Any, Any]:
    """Open 'why this segment' for the clicked row's customer (the id is checked to exist in the run)."""
    if not isinstance(active_cell, dict) or "row_id" not in active_cell:
        raise PreventUpdate
    try:
        run_id = queries.resolve_run(run)
        w = customer.why(run_id, active_cell.get("row_id"))
    except (NoData, QueryTimeout):
        raise PreventUpdate from None
    return True, why_view.why_panel(w), None


clientside_callback(  # writes the query into the address bar; the sink only gives it an output
    ClientsideFunction(namespace="url_state", function_name="replace"),
    Output("customers-url-sink", "data"),
    Input("customers-url-state", "data"),
)
