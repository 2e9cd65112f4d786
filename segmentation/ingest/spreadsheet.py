"""XLSX sheets read with calamine: the header row among the first rows, and each cell as text."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import python_calamine

from segmentation.errors import InputError
from segmentation.ingest.columns import _match
from segmentation.ingest.common import _HEADER_SEARCH_ROWS, TextShape, _Block, _first_line, _Want


def _sheet_header(
    rows: list[list[Any]], wants: list[_Want], shape: TextShape | None = None
) -> tuple[tuple[str, ...], int] | None:
    """The column names and their row's index: after --skip-rows rows; with --no-header the positions
    1, 2, ... and the index of the row above the data; else the first row with every required wanted
    column (title rows above it are skipped), else the first non-empty row. None for an empty sheet."""
    shape = shape or TextShape()
    start = shape.skip_rows or 0
    if shape.no_header:
        width = max((len(row) for row in rows), default=0)
        return (tuple(str(k + 1) for k in range(width)), start - 1) if width else None
    first = None
    required = [w for w in wants if w.required and shape.skip_rows is None]
    for index, row in enumerate(rows):
        if index >= start and any(cell != "" for cell in row):
            names = tuple((_cell_text(cell) or "").strip() for cell in row)
            first = first or (names, index)
            if not required or all(v is not None for v in _match(names, required).values()):
                return names, index
    return first


def _sheet_table(rows: list[list[Any]], header: tuple[tuple[str, ...], int]) -> tuple[pa.Table, list[int]]:
    """The rows under the header as text columns c0..cN (empty rows skipped), with their Excel row numbers."""
    names, start = header
    data = [(i + 1, row) for i, row in enumerate(rows) if i > start and any(cell != "" for cell in row)]
    columns = {
        f"c{j}": pa.array([_cell_text(row[j]) for _, row in data], pa.string()) for j in range(len(names))
    }
    return pa.table(columns), [number for number, _ in data]


def _cell_text(value: Any) -> str | None:
    """A cell as text: whole floats without '.0', datetimes in ISO form, empty cells None."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(value)
    if isinstance(value, dt.datetime):  # to the second: Excel's float days are rarely exact
        return (value + dt.timedelta(microseconds=500_000)).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value)


def xlsx_blocks(
    path: Path,
    label: str,
    wants: list[_Want],
    view_name: Callable[[], str],
    shape: TextShape | None = None,
) -> Iterator[tuple[_Block, dict[str, int | None]]]:
    """Every sheet whose header has the wanted columns, each as an Arrow table to register under
    view_name(); an error when no sheet has them."""
    found = []
    try:
        book = python_calamine.CalamineWorkbook.from_path(str(path))
        for name in book.sheet_names:
            sheet = book.get_sheet_by_name(name)
            top = sheet.to_python(
                skip_empty_area=False, nrows=_HEADER_SEARCH_ROWS + (shape and shape.skip_rows or 0)
            )
            header = _sheet_header(top, wants, shape)
            if header is None:
                continue
            cols = _match(header[0], wants)
            money = (
                "unit_price" not in cols or cols["unit_price"] is not None or cols["line_total"] is not None
            )
            if money and all(cols[w.key] is not None for w in wants if w.required):
                table, excel_rows = _sheet_table(sheet.to_python(skip_empty_area=False), header)
                found.append((name, header[0], table, excel_rows, cols))
    except python_calamine.CalamineError as exc:
        raise InputError(f"{label}: not a readable XLSX file ({_first_line(str(exc))}).") from exc
    if not found:
        wanted = ", ".join("/".join(w.names) for w in wants if w.required)
        prices = [w for w in wants if w.key in ("unit_price", "line_total")]
        if prices:  # sales: a unit price or a line total
            wanted += ", " + " or ".join("/".join(w.names) for w in prices)
        sheets = ", ".join(book.sheet_names)
        raise InputError(f"{label}: no sheet has the columns {wanted}; sheets: {sheets}.")
    for name, header_names, table, excel_rows, cols in found:
        view = view_name()
        block = _Block(
            kind="xlsx",
            label=label,
            header=header_names,
            relation=view,
            params=(),
            place=f" in sheet '{name}'",
            row_name=lambda i, rows=excel_rows, name=name: f"sheet '{name}', row {rows[i]}",
            arrow=table,
            view=view,
            numbered=bool(shape and shape.no_header),
        )
        yield block, cols
