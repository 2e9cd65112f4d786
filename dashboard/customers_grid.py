"""The Customers grid (dash-ag-grid, infinite row model): its columns, the column choice, and the block of
rows one getRowsRequest asks for.

The grid asks the server for one block of rows at a time (`getRowsRequest`: startRow, endRow, sortModel,
filterModel), and all of it is untrusted JSON (RELIABILITY.md §2). `block_request` turns it into an offset,
a limit of at most BLOCK_SIZE rows and a sort key from filters.SORT_KEYS (an unknown column or direction
means the default order; filterModel is ignored, the filter bar filters); queries.filtered runs the SQL. The
visible columns come from the URL (`cols=a,b`) or the chooser, checked against COLUMNS.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import dash_ag_grid as dag
import pandas as pd

from dashboard import measures
from dashboard.queries import filtered

GRID_ID = "customers-grid"
BLOCK_SIZE = filtered.PAGE_SIZE_MAX  # rows per request (the grid's cacheBlockSize)
PAGE_SIZE = 25  # the URL's page=N means row (N-1) * 25 at the top, as in the old 25-row pages
MAX_START = 10**9  # a startRow beyond this is a hostile request: the last rows are asked for instead
_MAX_ITEMS = 100  # longest list (sortModel, column choice) looked at


@dataclass(frozen=True)
class Column:
    """One grid column: row field, header, how its numbers read, sort key (None: the server cannot sort)."""

    field: str
    header: str  # measures (dashboard.measures) take their one name and unit from there, see header()
    kind: str  # "text", "int", "money" or "percent" (a 0..1 share shown as %)
    sort: str | None
    width: int  # px at first show; the grid scrolls sideways when they add up past its card


COLUMNS: tuple[Column, ...] = (
    Column("customer_id", "Customer", "text", "customer_id", 120),
    Column("country", "Country", "text", "country", 150),
    Column("segment_name", "Segment", "text", "segment", 180),
    Column("rfm_group", "RFM group", "text", "rfm_group", 150),
    Column("rfm", "R F M", "text", None, 90),
    Column("recency_days", measures.name("recency_days"), "int", "recency", 120),
    Column("frequency", measures.name("frequency"), "int", "frequency", 125),
    Column("monetary", measures.name("monetary"), "money", "monetary", 125),
    Column("tenure_days", measures.name("tenure_days"), "int", "tenure", 115),
    Column("avg_basket_value", measures.name("avg_basket_value"), "money", "avg_basket_value", 135),
    Column("return_rate", measures.name("return_rate"), "percent", "return_rate", 120),
    Column("is_outlier", "Outlier", "text", None, 95),
    Column("p_alive", measures.name("p_alive"), "percent", "p_alive", 135),
    Column("predicted_value", measures.name("predicted_value"), "money", "predicted_value", 150),
    Column("value_at_risk", measures.name("value_at_risk"), "money", "value_at_risk", 130),
    Column("list_reason", "Why listed", "text", None, 220),
    Column("action", "Action", "text", None, 260),
)
COLUMN_IDS: tuple[str, ...] = tuple(c.field for c in COLUMNS)
DEFAULT_COLUMNS: tuple[str, ...] = COLUMN_IDS  # every column; the chooser hides some
FIXED_COLUMNS: tuple[str, ...] = ("customer_id",)  # always shown: a click on its row opens "why"
SORT_BY_COLUMN: dict[str, str] = {c.field: c.sort for c in COLUMNS if c.sort}
COLUMN_BY_SORT: dict[str, str] = {key: field for field, key in SORT_BY_COLUMN.items()}


# ---------------------------------------------------------------------------------------------------------
# Column choice: URL `cols=` and the chooser, untrusted in, known column ids out


def _known(items: list[Any]) -> tuple[str, ...]:
    """The known column ids among at most _MAX_ITEMS items, in grid order, the fixed ones always in."""
    chosen = {v for v in items[:_MAX_ITEMS] if isinstance(v, str)} | set(FIXED_COLUMNS)
    return tuple(c for c in COLUMN_IDS if c in chosen)


def columns_from_query(value: Any) -> tuple[str, ...]:
    """Visible columns from the URL's cols ('a,b' or repeated keys); DEFAULT_COLUMNS when none is known."""
    if isinstance(value, str):
        items: list[Any] = value[:2000].split(",")
    elif isinstance(value, (list, tuple)):
        items = [part for v in value[:_MAX_ITEMS] if isinstance(v, str) for part in v[:2000].split(",")]
    else:
        return DEFAULT_COLUMNS
    cols = _known([i.strip() for i in items])
    return cols if set(cols) - set(FIXED_COLUMNS) else DEFAULT_COLUMNS


def columns_from_chooser(value: Any) -> tuple[str, ...]:
    """Visible columns from the chooser's checked values (an empty choice leaves the customer id alone)."""
    return _known(list(value) if isinstance(value, (list, tuple)) else [])


def columns_query(cols: tuple[str, ...]) -> str:
    """The URL part for a column choice: '' for the default set, else 'cols=a,b' (ids are URL-safe)."""
    return "" if cols == DEFAULT_COLUMNS else "cols=" + ",".join(cols)


def chooser_options() -> list[dict[str, str]]:
    """The chooser's checkboxes: every column but the fixed ones, by header."""
    return [{"label": header(c), "value": c.field} for c in COLUMNS if c.field not in FIXED_COLUMNS]


def chooser_value(cols: tuple[str, ...]) -> list[str]:
    """The checked boxes for a column choice."""
    return [c for c in cols if c not in FIXED_COLUMNS]


# ---------------------------------------------------------------------------------------------------------
# The grid


def header(c: Column, currency: str | None = None) -> str:
    """A column's header: the measure's one name and unit (dashboard.measures), else its own."""
    return measures.label(c.field, currency) if c.field in measures.MEASURES else c.header


def column_defs(
    cols: tuple[str, ...], sort: str | None = None, descending: bool = False, currency: str | None = None
) -> list[dict[str, Any]]:
    """AG Grid column definitions: hidden unless in cols, sortable when the server can sort them.

    `initialSort` (not `sort`) marks the URL's sort, so a later update of the definitions (the chooser)
    keeps the sort the user clicked; formats are functions from assets/customers_grid.js.
    """
    defs = []
    for c in COLUMNS:
        spec: dict[str, Any] = {
            "field": c.field,
            "headerName": header(c, currency),
            "headerTooltip": header(c, currency),
            "wrapHeaderText": True,
            "autoHeaderHeight": True,
            "sortable": c.sort is not None,
            "hide": c.field not in cols,
            "initialWidth": c.width,
            "minWidth": 80,
        }
        if c.kind != "text":
            spec["type"] = "rightAligned"
            spec["valueFormatter"] = {"function": f"customersFormat(params.value, '{c.kind}')"}
        if c.field in FIXED_COLUMNS:
            spec["pinned"] = "left"
            spec["lockVisible"] = True
        if sort is not None and COLUMN_BY_SORT.get(sort) == c.field:
            spec["initialSort"] = "desc" if descending else "asc"
        defs.append(spec)
    return defs


def grid(
    cols: tuple[str, ...],
    sort: str | None,
    descending: bool,
    total: int,
    start_row: int,
    currency: str | None = None,
) -> dag.AgGrid:
    """The grid: infinite row model, one request at a time, opened at start_row (the URL's page)."""
    return dag.AgGrid(
        id=GRID_ID,
        rowModelType="infinite",
        columnDefs=column_defs(cols, sort, descending, currency),
        defaultColDef={
            "resizable": True,
            "suppressHeaderMenuButton": True,
            "sortingOrder": ["asc", "desc", None],
        },
        getRowId="params.data.customer_id",
        dashGridOptions={
            "cacheBlockSize": BLOCK_SIZE,
            # dash-ag-grid answers the latest request only, so blocks must be asked for one at a time
            "maxConcurrentDatasourceRequests": 1,
            "blockLoadDebounceMillis": 60,
            "infiniteInitialRowCount": max(total, 1),
            "rowSelection": {"mode": "singleRow", "checkboxes": False, "enableClickSelection": True},
            "suppressMovableColumns": True,
            "rowHeight": 34,
            "headerHeight": 38,
            "animateRows": False,
        },
        eventListeners={
            "bodyScrollEnd": ["customersScrolled(params)"],
            "sortChanged": ["customersSorted(params)"],
        },
        scrollTo={"rowIndex": start_row, "rowPosition": "top"} if start_row > 0 else None,
        className="customers-grid",
        style={"height": "min(640px, calc(100vh - 220px))", "minHeight": "360px"},
    )


# ---------------------------------------------------------------------------------------------------------
# getRowsRequest -> one block


@dataclass(frozen=True)
class BlockRequest:
    """A validated block request: rows offset .. offset+limit in the order of sort (None: default)."""

    offset: int = 0
    limit: int = BLOCK_SIZE
    sort: str | None = None
    descending: bool | None = None


def _row_index(value: Any) -> int | None:
    """A non-negative row index from an int or an integral float; None for anything else."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and (not math.isfinite(value) or not value.is_integer()):
        return None
    return min(max(int(value), 0), MAX_START)


def _sort(model: Any) -> tuple[str | None, bool | None]:
    """The first sortModel entry naming a sortable column and a direction, as (SORT_KEYS key, descending)."""
    if not isinstance(model, list):
        return None, None
    for entry in model[:_MAX_ITEMS]:
        if not isinstance(entry, dict):
            continue
        column, direction = entry.get("colId"), entry.get("sort")
        if isinstance(column, str) and column in SORT_BY_COLUMN and direction in ("asc", "desc"):
            return SORT_BY_COLUMN[column], direction == "desc"
    return None, None


def block_request(request: Any) -> BlockRequest:
    """Validate a getRowsRequest: startRow/endRow clamped (at most BLOCK_SIZE rows), sort whitelisted."""
    if not isinstance(request, dict):
        return BlockRequest()
    start = _row_index(request.get("startRow")) or 0
    end = _row_index(request.get("endRow"))
    limit = BLOCK_SIZE if end is None or end <= start else min(end - start, BLOCK_SIZE)
    sort, descending = _sort(request.get("sortModel"))
    return BlockRequest(offset=start, limit=limit, sort=sort, descending=descending)


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Grid rows: plain text and numbers only (never HTML); R/F/M scores as one text cell."""
    rows = []
    for r in df.to_dict("records"):
        scores = [r.get("r_score"), r.get("f_score"), r.get("m_score")]
        rows.append(
            {
                "customer_id": str(r["customer_id"]),
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
    return rows


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and value != value)


def _text(value: Any) -> str:
    return "" if _missing(value) else str(value)


def _number(value: Any) -> float | None:
    return None if _missing(value) else float(value)
