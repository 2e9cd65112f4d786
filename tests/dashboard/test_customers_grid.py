"""The Customers grid's pure parts: getRowsRequest validation (sort whitelist, hostile payloads), the column
choice from the URL and the chooser, column definitions and row records."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pytest

from dashboard import customers_grid as grid
from dashboard.filters import SORT_KEYS
from dashboard.queries import filtered


def test_grd001_every_sortable_column_maps_to_a_sort_key_the_sql_knows() -> None:
    assert set(grid.SORT_BY_COLUMN.values()) <= set(SORT_KEYS) <= set(filtered.SORT_COLUMNS)
    assert grid.COLUMN_BY_SORT["monetary"] == "monetary" and grid.COLUMN_BY_SORT["segment"] == "segment_name"
    assert grid.BLOCK_SIZE == filtered.PAGE_SIZE_MAX


def test_grd002_a_plain_request_becomes_offset_limit_and_sort() -> None:
    req = {
        "startRow": 200,
        "endRow": 300,
        "sortModel": [{"colId": "monetary", "sort": "desc"}],
        "filterModel": {},
    }
    assert grid.block_request(req) == grid.BlockRequest(
        offset=200, limit=100, sort="monetary", descending=True
    )
    req = {"startRow": 0, "endRow": 100, "sortModel": [{"colId": "segment_name", "sort": "asc"}]}
    assert grid.block_request(req) == grid.BlockRequest(0, 100, "segment", False)
    assert grid.block_request({"startRow": 0, "endRow": 100, "sortModel": []}) == grid.BlockRequest()
    # the first usable entry of a multi-sort wins
    req = {
        "startRow": 0,
        "endRow": 100,
        "sortModel": [{"colId": "rfm", "sort": "asc"}, {"colId": "country", "sort": "desc"}],
    }
    assert grid.block_request(req).sort == "country"


@pytest.mark.parametrize(
    "request_",
    [
        None,
        "startRow=0",
        [0, 100],
        {"startRow": "0; DROP TABLE customers", "endRow": "100"},
        {"startRow": True, "endRow": False},
        {"startRow": float("nan"), "endRow": float("inf")},
        {"startRow": 1.5, "endRow": {"x": 1}},
        {"startRow": -50, "endRow": -10},
        {"startRow": 10, "endRow": 5},
        {"sortModel": "monetary DESC; --"},
        {"sortModel": [{"colId": 'monetary"; DROP TABLE x; --', "sort": "desc"}]},
        {"sortModel": [{"colId": "monetary", "sort": "sideways"}]},
        {"sortModel": [{"colId": ["monetary"], "sort": "desc"}]},
        {"sortModel": [{"colId": "rfm", "sort": "asc"}]},  # a column the server cannot sort
        {"sortModel": [{"colId": "dist_own", "sort": "asc"}]},  # a sort key, but not a column id
        {"sortModel": ["monetary"] * 100_000},
        {"sortModel": {"colId": "monetary", "sort": "desc"}},
        {"filterModel": {"country": {"filter": "' OR 1=1"}}, "context": {"sql": "x"}},
    ],
)
def test_grd003_hostile_requests_give_a_safe_default(request_: Any) -> None:
    block = grid.block_request(request_)
    assert block.sort is None and block.descending is None
    assert 0 <= block.offset <= grid.MAX_START and 1 <= block.limit <= grid.BLOCK_SIZE


def test_grd004_huge_rows_are_clamped() -> None:
    block = grid.block_request({"startRow": 10**30, "endRow": 10**31})
    assert block.offset == grid.MAX_START and block.limit == grid.BLOCK_SIZE
    block = grid.block_request({"startRow": 0, "endRow": 10**12})
    assert block.offset == 0 and block.limit == grid.BLOCK_SIZE
    assert grid.block_request({"startRow": 40.0, "endRow": 65.0}) == grid.BlockRequest(40, 25)


def test_grd005_columns_from_the_url() -> None:
    assert grid.columns_from_query(None) == grid.DEFAULT_COLUMNS
    assert grid.columns_from_query("monetary,country") == ("customer_id", "country", "monetary")
    assert grid.columns_from_query(["monetary", "country,rfm"]) == (
        "customer_id",
        "country",
        "rfm",
        "monetary",
    )
    assert grid.columns_from_query(" monetary , monetary ") == ("customer_id", "monetary")
    for junk in (
        "",
        "nope",
        "customer_id",
        "'; DROP TABLE x; --",
        {"a": 1},
        7,
        ["x"] * 10_000,
        "a," * 10_000,
    ):
        assert grid.columns_from_query(junk) == grid.DEFAULT_COLUMNS, junk
    assert grid.columns_query(grid.DEFAULT_COLUMNS) == ""
    assert grid.columns_query(("customer_id", "country")) == "cols=customer_id,country"
    # a choice written to the URL reads back as itself
    cols = ("customer_id", "segment_name", "value_at_risk")
    assert grid.columns_from_query(grid.columns_query(cols).removeprefix("cols=")) == cols


def test_grd006_columns_from_the_chooser() -> None:
    assert grid.columns_from_chooser(["action", "country"]) == ("customer_id", "country", "action")
    assert grid.columns_from_chooser([]) == ("customer_id",)  # the id always stays
    for junk in (None, "country", {"x": 1}, [1, None, {"a": 1}, "nope"]):
        assert grid.columns_from_chooser(junk) == ("customer_id",)
    assert grid.columns_from_chooser(grid.chooser_value(grid.DEFAULT_COLUMNS)) == grid.DEFAULT_COLUMNS
    assert "customer_id" not in [o["value"] for o in grid.chooser_options()]


def test_grd007_column_defs_hide_sort_and_format() -> None:
    defs = {d["field"]: d for d in grid.column_defs(("customer_id", "monetary"), "monetary", True)}
    assert list(defs) == list(grid.COLUMN_IDS)
    assert not defs["monetary"]["hide"] and defs["country"]["hide"] and not defs["customer_id"]["hide"]
    assert defs["monetary"]["initialSort"] == "desc" and "sort" not in defs["monetary"]
    assert all("initialSort" not in d for f, d in defs.items() if f != "monetary")
    assert defs["rfm"]["sortable"] is False and defs["list_reason"]["sortable"] is False
    assert defs["monetary"]["valueFormatter"] == {"function": "customersFormat(params.value, 'money')"}
    assert defs["customer_id"]["pinned"] == "left"
    # no string AG Grid would run as code: formatters are {"function": ...} objects
    assert all(not isinstance(d.get("valueFormatter"), str) for d in defs.values())


def test_grd008_grid_serves_rows_from_the_server_only() -> None:
    g = grid.grid(grid.DEFAULT_COLUMNS, None, False, 250, 50).to_plotly_json()["props"]
    assert g["rowModelType"] == "infinite" and "rowData" not in g
    assert g["dashGridOptions"]["maxConcurrentDatasourceRequests"] == 1
    assert g["dashGridOptions"]["infiniteInitialRowCount"] == 250
    assert g["scrollTo"] == {"rowIndex": 50, "rowPosition": "top"}
    assert "dangerously_allow_code" not in g
    assert (
        grid.grid(grid.DEFAULT_COLUMNS, None, False, 0, 0).to_plotly_json()["props"].get("scrollTo") is None
    )


def test_grd009_records_are_plain_text_and_numbers() -> None:
    df = pd.DataFrame(
        {
            "customer_id": ["=1+1", "C1"],
            "country": [None, "<b>x</b>"],
            "r_score": [None, 4],
            "f_score": [3, 2],
            "m_score": [1, 5],
            "monetary": [float("nan"), 12.5],
            "is_outlier": [True, None],
            "p_alive": [0.25, None],
        }
    )
    rows = grid.records(df)
    assert rows[0]["customer_id"] == "=1+1" and rows[0]["country"] == "" and rows[0]["monetary"] is None
    assert rows[0]["rfm"] == "– 3 1" and rows[0]["is_outlier"] == "yes" and rows[0]["p_alive"] == 0.25
    assert (
        rows[1]["country"] == "<b>x</b>" and rows[1]["is_outlier"] == "" and rows[1]["recency_days"] is None
    )
    assert set(rows[0]) == set(grid.COLUMN_IDS)
    json.dumps(rows, allow_nan=False)  # no NaN reaches the browser
