"""The SQL that types a block's text columns (numbers, ids, texts) and inserts them, and the
one-sentence errors when a value or the CSV itself is bad.
"""

from __future__ import annotations

import re

import duckdb
import pyarrow.compute as pc

from segmentation.errors import InputError
from segmentation.ingest.common import _BAD_NUMBER, _NULL_WORDS, _Block, _first_line, _quote


def _text_sql(col: int | None) -> str:
    """Trimmed text, empty -> NULL."""
    return "NULL::VARCHAR" if col is None else f"NULLIF(trim(c{col}), '')"


def _hash_sql(col: int | None) -> str:
    """A 64-bit hash of the trimmed text (empty and missing alike); only duplicate detection reads it."""
    return "hash(NULL::VARCHAR)" if col is None else f"hash(NULLIF(trim(c{col}), ''))"


# Number texts that read one way only: with a decimal comma ('2,55', '1.234,56') or a decimal point
# ('2.55'; '1.234' is left out, as it is also a thousand with a grouping point).
_COMMA_NUMBER = r"[+-]?([0-9]{1,3}(\.[0-9]{3})+|[0-9]*),[0-9]+"
_POINT_NUMBER = r"[+-]?[0-9]*\.[0-9]+"
_GROUPED = r"[+-]?[0-9]{1,3}(\.[0-9]{3})+"
_COMMA_FORM = r"[+-]?([0-9]{1,3}(\.[0-9]{3})+|[0-9]*)(,[0-9]+)?"  # what --decimal , reads
DECIMAL_SAMPLE = 20_000  # rows at the top of a block that decide its decimal mark


def _numeric_text(col: int, decimal: str) -> str:
    """The column's text as DuckDB reads numbers: with decimal ',' the points (grouping) go and the
    comma becomes the point."""
    c = f"c{col}"
    if decimal != ",":
        return c
    # only texts in that form: '2.55' would otherwise read as 255
    return (
        f"CASE WHEN regexp_full_match(trim({c}), '{_COMMA_FORM}') "
        f"THEN replace(replace(trim({c}), '.', ''), ',', '.') END"
    )


def _number_sql(col: int | None, decimal: str = ".") -> str:
    """A finite DOUBLE; empty/'nan'/'None'/'NULL' -> NULL; anything else stops the statement."""
    if col is None:
        return "NULL::DOUBLE"
    c = f"c{col}"
    n = _numeric_text(col, decimal)
    return (
        f"CASE WHEN {c} IS NULL THEN NULL::DOUBLE "
        f"WHEN isfinite(TRY_CAST({n} AS DOUBLE)) THEN TRY_CAST({n} AS DOUBLE) "
        f"WHEN lower(trim({c})) IN {_NULL_WORDS} THEN NULL::DOUBLE "
        f"ELSE error('{_BAD_NUMBER}') END"
    )


def _bad_number_sql(col: int, decimal: str = ".") -> str:
    """True where _number_sql would stop."""
    c = f"c{col}"
    n = _numeric_text(col, decimal)
    return (
        f"({c} IS NOT NULL AND NOT coalesce(isfinite(TRY_CAST({n} AS DOUBLE)), false) "
        f"AND lower(trim({c})) NOT IN {_NULL_WORDS})"
    )


def detect_decimal(con: duckdb.DuckDBPyConnection, block: _Block, numbers: list[int | None]) -> str:
    """',' when the block's first DECIMAL_SAMPLE rows have a number with a decimal comma and none with a
    decimal point (docs/cleaning.md, "File shapes"), else '.'."""
    cols = [c for c in numbers if c is not None]
    if not cols or block.kind == "parquet":
        return "."
    values = " UNION ALL ".join(f"SELECT trim(c{c}) AS v FROM top" for c in cols)  # noqa: S608
    sql = (
        f"WITH top AS (SELECT * FROM {block.relation} LIMIT {DECIMAL_SAMPLE}), v AS ({values}) "  # noqa: S608
        "SELECT count(*) FILTER (WHERE regexp_full_match(v, ?)), "
        "count(*) FILTER (WHERE regexp_full_match(v, ?) AND NOT regexp_full_match(v, ?)) FROM v"
    )
    with duckdb.connect() as scratch:
        if block.arrow is not None:
            scratch.register(block.view, block.arrow)
        try:
            row = scratch.execute(sql, [*block.params, _COMMA_NUMBER, _POINT_NUMBER, _GROUPED]).fetchone()
        except duckdb.Error:  # a broken file: the INSERT says what is wrong with it
            return "."
    commas, points = row if row else (0, 0)
    return "," if commas and not points else "."


def _customer_id_sql(col: int | None) -> str:
    """Trimmed id; '17850.0' -> '17850'; empty/'nan'/'None'/'NULL' -> NULL."""
    if col is None:
        return "NULL::VARCHAR"
    t = f"trim(c{col})"
    return (
        f"CASE WHEN lower({t}) IN {_NULL_WORDS} THEN NULL "
        f"WHEN regexp_full_match({t}, '[0-9]+\\.0+') THEN split_part({t}, '.', 1) ELSE {t} END"
    )


def _insert(
    con: duckdb.DuckDBPyConnection,
    table: str,
    exprs: list[str],
    block: _Block,
    numbers: list[int | None],
    decimal: str = ".",
    params: list[object] | None = None,
) -> int:
    """INSERT one block's typed rows; bad numbers and broken CSV become one-sentence errors. `params`
    bind the ? placeholders of `exprs` (they come before the block's own)."""
    sql = f"INSERT INTO {table} SELECT {', '.join(exprs)} FROM {block.relation}"  # noqa: S608 - generated
    if block.arrow is not None:
        con.register(block.view, block.arrow)
    try:
        row = con.execute(sql, [*(params or []), *block.params]).fetchone()
    except duckdb.Error as exc:
        if _BAD_NUMBER in str(exc):
            raise _bad_number_error(block, [c for c in numbers if c is not None], decimal) from exc
        if block.kind == "csv" and isinstance(exc, duckdb.InvalidInputException):
            raise InputError(_csv_error(block.label, str(exc))) from exc
        if block.kind == "parquet" and isinstance(exc, (duckdb.InvalidInputException, duckdb.IOException)):
            reason = _first_line(str(exc))
            raise InputError(f"{block.label}: not a readable Parquet file ({reason}).") from exc
        raise
    finally:
        if block.arrow is not None:
            con.unregister(block.view)
    rows = int(row[0]) if row else 0
    if block.expected_rows is not None and rows != block.expected_rows and block.recount is not None:
        counted = block.recount()  # -1: Python's csv module could not read it either; trust DuckDB
        if counted not in (rows, -1):
            raise InputError(
                f"{block.label}: read {rows:,} rows but the file has {counted:,} data lines; "
                "check its delimiter and quoting."
            )
    return rows


def _bad_number_error(block: _Block, numbers: list[int], decimal: str = ".") -> InputError:
    """Find the first row with a bad number (file order, on a scratch connection) and say where it is."""
    cases = " ".join(f"WHEN {_bad_number_sql(col, decimal)} THEN {k}" for k, col in enumerate(numbers))
    values = ", ".join(f"c{col}" for col in numbers)
    sql = f"SELECT CASE {cases} END AS which, {values} FROM {block.relation}"  # noqa: S608 - generated
    with duckdb.connect() as scratch:
        if block.arrow is not None:
            scratch.register(block.view, block.arrow)
        reader = scratch.sql(sql, params=list(block.params)).to_arrow_reader(1_000_000)
        offset = 0
        for batch in reader:
            flags = pc.is_valid(batch.column(0))
            if pc.any(flags).as_py():
                i = pc.index(flags, True).as_py()
                k = batch.column(0)[i].as_py()
                value = batch.column(1 + k)[i].as_py()
                name = block.header[numbers[k]]
                hint = ""
                if decimal == "." and block.kind == "csv" and re.fullmatch(_COMMA_NUMBER, str(value).strip()):
                    hint = " (with a decimal point; pass --decimal , for decimal commas)"
                return InputError(
                    f"{block.label}: column '{name}', {block.row_name(offset + i)}: "
                    f"expected a number{hint}, got {_quote(value)}."
                )
            offset += batch.num_rows
    return InputError(f"{block.label}: a value that should be a number is not one.")


def _csv_error(label: str, message: str) -> str:
    """DuckDB's CSV error, told in one sentence."""
    line = re.search(r"CSV Error on Line: (\d+)", message)
    where = f"line {line.group(1)}: " if line else ""
    counts = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", message)
    if counts:
        return f"{label}: {where}expected {counts.group(1)} fields, found {counts.group(2)}."
    if "unterminated quote" in message:
        return f"{label}: {where}a quoted value is never closed."
    size = re.search(r"Maximum line size of (\d+) bytes exceeded", message)
    if size:
        return f"{label}: {where}the line is longer than {int(size.group(1)):,} bytes."
    # DuckDB: "CSV Error on Line: N", "Original Line: ...", the reason, then "Possible ..." hints
    lines = []
    for text in message.splitlines():
        if text.startswith("Possible"):
            break
        if text.strip():
            lines.append(text.strip())
    reason = lines[-1] if len(lines) > 1 else _first_line(message)
    return f"{label}: {where}cannot be read as CSV ({reason[:200].rstrip('.')})."
