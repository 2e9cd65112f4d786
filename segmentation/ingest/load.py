"""The two reads a run starts with: sales lines into `lines`, or a customer table into
`customer_rows`.
"""

from __future__ import annotations

import duckdb

from segmentation.config import RunConfig
from segmentation.errors import InputError
from segmentation.ingest import money
from segmentation.ingest.columns import _money_columns, _sales_wants
from segmentation.ingest.common import _LINES_COLUMNS, IngestResult, TextShape, _Block, _Span
from segmentation.ingest.detection import _type_dates
from segmentation.ingest.inputs import _Inputs
from segmentation.ingest.typing_sql import (
    _customer_id_sql,
    _hash_sql,
    _insert,
    _number_sql,
    _text_sql,
    detect_decimal,
)


def load_sales(con: duckdb.DuckDBPyConnection, cfg: RunConfig) -> IngestResult:
    """Read the sales files into table `lines`, one row per input row, typed; nothing is dropped here."""
    wants = _sales_wants(cfg.column_map)
    shape = _shape(cfg)
    with _Inputs(cfg.inputs, wants, shape) as inputs:
        # segments_block tells the blocks apart for the date checks; dropped once dates are typed
        con.execute(f"CREATE OR REPLACE TABLE lines ({_LINES_COLUMNS}, segments_block INTEGER)")
        spans: list[_Span] = []
        notes: list[str] = []
        total = 0
        for path in inputs.paths:
            file_rows = 0
            for block, cols in inputs.blocks(path):
                _money_columns(block, cols, wants)
                numbers = [cols["quantity"], cols["unit_price"], cols["line_total"]]
                decimal = _decimal(con, block, numbers, shape)
                exprs = [
                    _text_sql(cols["invoice"]),
                    _text_sql(cols["stock_code"]),
                    _hash_sql(cols["description"]),
                    _number_sql(cols["quantity"], decimal),
                    _text_sql(cols["invoice_date"]),
                    _number_sql(cols["unit_price"], decimal),
                    _customer_id_sql(cols["customer_id"]),
                    _text_sql(cols["country"]),
                    _number_sql(cols["line_total"], decimal),
                    str(len(spans)),
                ]
                rows = _insert(con, "lines", exprs, block, numbers, decimal)
                spans.append((block, cols, rows))
                total += rows
                file_rows += rows
                layout = [block.note] if block.note else []
                if decimal == "," and not shape.decimal:
                    layout.append("decimal commas")
                if layout:
                    notes.append(f"{block.label}{block.place}: {', '.join(layout)}")
            if file_rows == 0:
                raise InputError(f"{path}: no data rows after the header.")
        formats = _type_dates(con, spans, cfg)
        notes += money.check_and_derive(con, spans)
        con.execute("ALTER TABLE lines DROP COLUMN segments_block")
        headers = tuple(tuple(block.header) for block, _, _ in spans)
        return IngestResult(
            inputs.sources,
            inputs.sha256(),
            total,
            _formats_text(spans, formats),
            headers=headers,
            date_formats=tuple((b.label + b.place, f) for (b, _, _), f in zip(spans, formats, strict=True)),
            notes=tuple(notes),
        )


def _shape(cfg: RunConfig) -> TextShape:
    """The text-file layout flags of the run (getattr: configs stored before the flags existed)."""
    return TextShape(
        no_header=bool(getattr(cfg, "no_header", False)),
        delimiter=getattr(cfg, "delimiter", None),
        decimal=getattr(cfg, "decimal", None),
        skip_rows=getattr(cfg, "skip_rows", None),
    )


def _decimal(
    con: duckdb.DuckDBPyConnection, block: _Block, numbers: list[int | None], shape: TextShape
) -> str:
    """The block's decimal mark: --decimal for text files, else detected (Parquet numbers and XLSX number
    cells are written with a point; an XLSX text cell may have a comma)."""
    if block.kind == "csv" and shape.decimal:
        return shape.decimal
    return detect_decimal(con, block, numbers)


def _formats_text(spans: list[_Span], formats: list[str]) -> str | None:
    """The date format of every block: one format when they agree, else "file: format; file: format"."""
    if not formats:
        return None
    if len(set(formats)) == 1:
        return formats[0]
    return "; ".join(f"{b.label}{b.place}: {f}" for (b, _, _), f in zip(spans, formats, strict=True))
