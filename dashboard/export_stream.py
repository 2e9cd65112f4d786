"""The rows of an export, formatted by DuckDB and streamed in bounded memory (CSV lines or XLSX rows).

Two steps on a connection of its own (past PARALLEL_ROWS customers: queries.export_connection, every core
by default) or a cursor of the thread's, so every query reads one file even if a re-run swaps a new one in:
1. the filtered customers' stored row numbers in the export's order (a narrow sort: the sort key only);
2. the rows, EXPORT_CHUNK_ROWS at a time, each chunk's rows picked by row number and formatted in SQL
   (dashboard/export_sql.py), handed over as Arrow batches whose text is one contiguous buffer.
Sorting whole rows at once held every row in DuckDB's memory: the first 1M-row CSV export grew a gunicorn
worker by 323 MiB, and the memory stayed with the worker.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from dashboard import queries
from dashboard.filters import Filters, TableView
from dashboard.queries import filtered

# Customers formatted per query: it bounds the memory of one step. On 1M customers (one thread, in-process,
# the whole CSV), when each step joined its ids back by customer id: 50,000 took 5.5 s, 200,000 2.9-3.5 s
# with 60 MB more peak memory, 1,000,000 (one step) 3.0 s and 335 MB more. With steps picking their rows by
# stored row number on a two-thread connection of their own (a gunicorn worker, bench/dashboard_latency.py):
# 100,000 took 3.0-3.1 s and grew the worker by 160 MB, 150,000 2.4-2.7 s and 178 MB, 200,000 2.5 s and
# 201 MB (that connection caches the file's blocks again: a 100k-row export alone grows it by 137 MB).
EXPORT_CHUNK_ROWS = 150_000
EXPORT_BATCH_ROWS = 8_192  # rows per Arrow batch handed to the writer
# Lists longer than this are formatted on a connection of their own with every core; shorter ones on a
# cursor of the thread's connection, whose cache already holds the file's blocks: under the 50-user load
# test the small exports' own connections read those blocks again on every download, taking CPU from the
# pages.
PARALLEL_ROWS = 100_000
_SELECT = ", ".join(f'"{c}"' for c in filtered.EXPORT_COLUMNS)
_CHUNK_VIEW = "export_chunk_ids"  # the registered Arrow table of one chunk's row numbers
_CHUNK_ROWS = "SELECT row_id FROM export_chunk_ids"  # cte's `among`: the chunk's stored rows


@dataclass
class ExportStream:
    """A started export: its columns, how many customers the list holds (`top` applied) and the formatted
    rows as bytes, one piece per Arrow batch, each piece with its row count."""

    columns: list[str]
    total: int
    pieces: Iterator[tuple[bytes, int]]

    def close(self) -> None:
        """Stop early: end the running query and free its cursor."""
        close = getattr(self.pieces, "close", None)
        if close is not None:
            close()


def joined(column: Any) -> bytes:
    """An Arrow string array's values concatenated, as one bytes copy of its data buffer."""
    if column.null_count:
        raise ValueError("an export row was formatted as NULL; expected text for every row.")
    if pa.types.is_string_view(column.type) or pa.types.is_large_string(column.type):
        column = column.cast(pa.large_string())
        width = np.int64
    else:
        width = np.int32
    if len(column) == 0:
        return b""
    offsets = np.frombuffer(column.buffers()[1], dtype=width)
    start, end = int(offsets[column.offset]), int(offsets[column.offset + len(column)])
    return column.buffers()[2][start:end].to_pybytes()


def export_stream(
    f: Filters,
    view: TableView | None,
    render: Callable[[str, list[tuple[str, str]]], str],
    top: int | None = None,
    limit: int | None = None,
    chunk_rows: int = EXPORT_CHUNK_ROWS,
) -> ExportStream:
    """Start streaming every filtered customer (or the first `top`; at most `limit` formatted) in the
    table's order. render(inner, [(column, DuckDB type)]) wraps `inner` (a query of _export_pos and
    EXPORT_COLUMNS) into SQL yielding one text column ordered by _export_pos (export_sql.render).

    The ids step runs now (errors surface before any byte is sent); the rows come as pieces are pulled.
    No timeout: exports are long by nature.
    """
    params = f.params()
    rows_cte = filtered.cte(f, row_ids=True)
    attribute_items, attribute_names = filtered.attribute_export(f.run_id)
    select = _SELECT + attribute_items
    listed = filtered.count(f) if top is None else min(filtered.count(f), max(int(top), 0))
    cur = queries.export_connection() if listed > PARALLEL_ROWS else queries.connection().cursor()
    try:
        typed_sql = queries.sql(rows_cte, "SELECT", select, "FROM filtered LIMIT 0")
        typed = cur.sql(typed_sql, params=queries.bound(typed_sql, params))
        columns = [(name, str(t)) for name, t in zip(typed.columns, typed.types, strict=True)]
        ids_sql = queries.sql(
            rows_cte,
            "SELECT row_id FROM filtered",
            filtered._order_by(f, view or TableView()),  # whitelisted columns only
            "LIMIT $top",
        )
        ids_params = queries.bound(ids_sql, {**params, "top": top})
        ids = cur.sql(ids_sql, params=ids_params).to_arrow_table().column(0).combine_chunks()
        chunk_sql = render(
            queries.sql(
                filtered.cte(f, row_ids=True, among=_CHUNK_ROWS),
                "SELECT p._export_pos,",
                select,
                f"FROM filtered JOIN {_CHUNK_VIEW} AS p USING (row_id)",
            ),
            columns,
        )
    except BaseException:
        cur.close()
        raise
    wanted = len(ids) if limit is None else min(len(ids), max(limit, 0))

    def pieces() -> Iterator[tuple[bytes, int]]:
        try:
            for start in range(0, wanted, chunk_rows):
                size = min(chunk_rows, wanted - start)
                # the chunk's ids and positions as an Arrow table the query scans in place: no Python
                # list of ids, no parameter copy (a third of the export's time went to both)
                chunk = pa.table({"row_id": ids.slice(start, size), "_export_pos": np.arange(size)})
                cur.register(_CHUNK_VIEW, chunk)
                try:
                    reader = cur.sql(chunk_sql, params=queries.bound(chunk_sql, params))
                    for batch in reader.to_arrow_reader(EXPORT_BATCH_ROWS):
                        yield joined(batch.column(0)), batch.num_rows
                finally:
                    cur.unregister(_CHUNK_VIEW)
        finally:
            cur.close()

    names = [attribute_names.get(name, name) for name, _ in columns]  # attributes under their own names
    return ExportStream(names, len(ids), pieces())
