"""The two reads a run starts with: sales lines into `lines`, or a customer table into
`customer_rows`.
"""

from __future__ import annotations

import duckdb

from segmentation.config import RunConfig
from segmentation.errors import InputError
from segmentation.ingest.columns import _sales_wants
from segmentation.ingest.common import _LINES_COLUMNS, IngestResult, _Span, _Want
from segmentation.ingest.detection import _type_dates
from segmentation.ingest.inputs import _Inputs
from segmentation.ingest.typing_sql import _customer_id_sql, _hash_sql, _insert, _number_sql, _text_sql


def load_sales(con: duckdb.DuckDBPyConnection, cfg: RunConfig) -> IngestResult:
    """Read the sales files into table `lines`, one row per input row, typed; nothing is dropped here."""
    wants = _sales_wants(cfg.column_map)
    with _Inputs(cfg.inputs, wants) as inputs:
        # segments_block tells the blocks apart for the date checks; dropped once dates are typed
        con.execute(f"CREATE OR REPLACE TABLE lines ({_LINES_COLUMNS}, segments_block INTEGER)")
        spans: list[_Span] = []
        total = 0
        for path in inputs.paths:
            file_rows = 0
            for block, cols in inputs.blocks(path):
                exprs = [
                    _text_sql(cols["invoice"]),
                    _text_sql(cols["stock_code"]),
                    _hash_sql(cols["description"]),
                    _number_sql(cols["quantity"]),
                    _text_sql(cols["invoice_date"]),
                    _number_sql(cols["unit_price"]),
                    _customer_id_sql(cols["customer_id"]),
                    _text_sql(cols["country"]),
                    str(len(spans)),
                ]
                rows = _insert(con, "lines", exprs, block, [cols["quantity"], cols["unit_price"]])
                spans.append((block, cols, rows))
                total += rows
                file_rows += rows
            if file_rows == 0:
                raise InputError(f"{path}: no data rows after the header.")
        date_format = _type_dates(con, spans, cfg)
        headers = tuple(tuple(block.header) for block, _, _ in spans)
        return IngestResult(inputs.sources, inputs.sha256(), total, date_format, headers=headers)


def load_customer_table(con: duckdb.DuckDBPyConnection, cfg: RunConfig) -> IngestResult:
    """Read a one-row-per-customer table into `customer_rows`, features as a list in the order named."""
    if not cfg.id_column or not cfg.feature_columns:
        raise InputError("A customer table needs an id column and at least one feature column.")
    wants = [_Want("customer_id", (cfg.id_column,), True, named=True)]
    if cfg.country_column:
        wants.append(_Want("country", (cfg.country_column,), True, named=True))
    if cfg.tenure_column:
        wants.append(_Want("tenure", (cfg.tenure_column,), True, named=True))
    wants += [_Want(f"f{i}", (name,), True, named=True) for i, name in enumerate(cfg.feature_columns)]
    with _Inputs(cfg.inputs, wants) as inputs:
        con.execute(
            "CREATE OR REPLACE TABLE customer_rows "
            "(customer_id VARCHAR, country VARCHAR, tenure_days DOUBLE, features DOUBLE[])"
        )
        total = 0
        for path in inputs.paths:
            file_rows = 0
            for block, cols in inputs.blocks(path):
                features = [cols[f"f{i}"] for i in range(len(cfg.feature_columns))]
                exprs = [
                    _customer_id_sql(cols["customer_id"]),
                    _text_sql(cols.get("country")),
                    _number_sql(cols.get("tenure")),
                    "[" + ", ".join(_number_sql(c) for c in features) + "]",
                ]
                rows = _insert(con, "customer_rows", exprs, block, [cols.get("tenure"), *features])
                total += rows
                file_rows += rows
            if file_rows == 0:
                raise InputError(f"{path}: no data rows after the header.")
        return IngestResult(inputs.sources, inputs.sha256(), total, None, tuple(cfg.feature_columns))
