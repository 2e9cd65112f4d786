"""Parquet files read by DuckDB, every column cast to text so it is typed like CSV."""

from __future__ import annotations

import duckdb

from segmentation.errors import InputError
from segmentation.ingest.common import _Block, _first_line


def _parquet_block(read_path: str, label: str) -> _Block:
    """A Parquet file, every column cast to text so it is typed like CSV."""
    try:
        with duckdb.connect() as scratch:
            described = scratch.execute("DESCRIBE SELECT * FROM read_parquet(?)", [read_path]).fetchall()
    except duckdb.Error as exc:
        raise InputError(f"{label}: not a readable Parquet file ({_first_line(str(exc))}).") from exc
    header = tuple(str(row[0]) for row in described)
    names = ", ".join(f"c{i}" for i in range(len(header)))
    exprs = ", ".join(_parquet_text_sql(i, str(row[1])) for i, row in enumerate(described))
    relation = f"(SELECT {exprs} FROM read_parquet(?) AS p({names})) AS t({names})"  # noqa: S608
    return _Block("parquet", label, header, relation, (read_path,), "", lambda i: f"row {i + 1}")


def _parquet_text_sql(index: int, type_name: str) -> str:
    """A Parquet column as text; dates and timestamps (in UTC) as '%Y-%m-%d %H:%M:%S'.

    DuckDB prints a timestamp's fraction only where it is non-zero, which no single format reads.
    """
    c = f"c{index}"
    if type_name == "TIMESTAMPTZ_NS":  # the one timestamp type epoch_us does not take
        return f"strftime(make_timestamp(epoch_ns({c}) // 1000), '%Y-%m-%d %H:%M:%S')"
    if type_name.startswith(("TIMESTAMP", "DATE")):
        return f"strftime(make_timestamp(epoch_us({c})), '%Y-%m-%d %H:%M:%S')"
    return f"CAST({c} AS VARCHAR)"
