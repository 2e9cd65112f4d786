"""SQL that formats an export row in DuckDB: one CSV line, or one XLSX `<row>` element, per customer.

Python then only moves bytes (dashboard/export.py joins an Arrow batch's strings into one buffer), which is
what lets a 1M-row export stream at DuckDB's speed instead of csv.writer's or xlsxwriter's. The SQL is built
from the export's fixed column names (filtered.EXPORT_COLUMNS, quoted) and their DuckDB types, never from
user text. The formats are the ones csv.writer and xlsxwriter wrote before, tested byte for byte:

- CSV (RFC 4180 as Python's csv module writes it): CRLF line ends; a field holding , " CR or LF is quoted
  with "" doubling; text that a spreadsheet would run as a formula (starting = + - @ TAB CR NUL) gets a
  leading apostrophe (OWASP ASVS 1.2.10); numbers as DuckDB prints them (integers, DECIMAL money exact to
  the cent, doubles as Python's repr), NaN and NULL empty, booleans true/false, dates ISO, timestamps
  'YYYY-MM-DD HH:MM:SS' (+ '.ffffff' when the microseconds are not zero).
- XLSX: text as inline strings (never formulas), neutralised the same way, control characters as Excel's
  _xHHHH_ escapes (a literal _xHHHH_ escaped itself), & < > as entities; numbers as `n`, booleans `b`,
  timestamps and dates as serial days with a date style; NULL, NaN and infinities as an empty `<c/>`, which
  keeps the next cell in its column (cells carry no reference, so each row has every column).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from dashboard.xlsx_stream import DATE, DATETIME

_INTEGER = {
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "UHUGEINT",
}
_FLOAT = {"FLOAT", "DOUBLE"}
_TIMESTAMP = {"TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS"}
# Characters that make a spreadsheet run text as a formula (export.neutralise uses the same tuple).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\0")
_CONTROL_CHARS = [c for c in range(0x20) if c not in (0x09, 0x0A)]


def kind(duckdb_type: str) -> str:
    """How a column of this DuckDB type is written: text, integer (also DECIMAL), float, bool, timestamp or
    date; any other type is written as its text."""
    name = duckdb_type.upper()
    if name in _INTEGER or name.startswith("DECIMAL"):
        return "exact"
    if name in _FLOAT:
        return "float"
    if name == "BOOLEAN":
        return "bool"
    if name in _TIMESTAMP:
        return "timestamp"
    if name == "DATE":
        return "date"
    return "text"


def _ident(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def _neutralised(v: str) -> str:
    """SQL: the text with a leading apostrophe when it starts like a formula (export.neutralise). The first
    character's code point against a list: seven starts_with calls took three times as long (1M values,
    167 against 55 ms); ascii('') is 0 like a leading NUL's, hence the test for empty text."""
    codes = ", ".join(str(ord(c)) for c in FORMULA_START)
    return f"CASE WHEN {v} <> '' AND ascii({v}) IN ({codes}) THEN '''' || {v} ELSE {v} END"


def _xml_escaped(v: str) -> str:
    """SQL: xlsx_stream.escape_text in one step: only text that needs it (rare) goes through the chain of
    a literal _xHHHH_ escaped as _x005F_xHHHH_ (else Excel would decode it), control characters (but TAB
    and LF) and U+FFFE/U+FFFF as Excel's _xHHHH_ escapes, then & < > as entities."""
    chain = f"regexp_replace({v}, '(_x[0-9a-fA-F]{{4}}_)', '_x005F\\1', 'g')"
    for code in _CONTROL_CHARS:
        chain = f"replace({chain}, chr({code}), '_x{code:04X}_')"
    chain = f"replace(replace({chain}, chr(65534), '_xFFFE_'), chr(65535), '_xFFFF_')"
    chain = f"replace(replace(replace({chain}, '&', '&amp;'), '<', '&lt;'), '>', '&gt;')"
    pattern = "'[&<>\\x00-\\x08\\x0b-\\x1f\\x{FFFE}\\x{FFFF}]|_x[0-9a-fA-F]{4}_'"
    return f"CASE WHEN regexp_matches({v}, {pattern}) THEN {chain} ELSE {v} END"


def _csv_quoted(v: str) -> str:
    """SQL: the field quoted (with "" doubling) when it holds , " CR or LF; NULL as the empty field."""
    return (
        f"CASE WHEN {v} IS NULL THEN '' "
        f"WHEN contains({v}, ',') OR contains({v}, '\"') OR contains({v}, chr(13)) OR contains({v}, chr(10)) "
        f"THEN '\"' || replace({v}, '\"', '\"\"') || '\"' "
        f"ELSE {v} END"
    )


def _timestamp_text(v: str) -> str:
    """SQL: Python's datetime.isoformat(sep=' '): seconds always, microseconds only when not zero."""
    return (
        f"CASE WHEN epoch_us({v}) % 1000000 = 0 THEN strftime({v}, '%Y-%m-%d %H:%M:%S') "
        f"ELSE strftime({v}, '%Y-%m-%d %H:%M:%S.%f') END"
    )


def csv_field(v: str, duckdb_type: str) -> str:
    """SQL: the final CSV field of a non-text column v (text columns arrive escaped by the layers)."""
    k = kind(duckdb_type)
    if k in ("exact", "bool", "date"):
        return f"coalesce(CAST({v} AS VARCHAR), '')"
    if k == "float":
        return f"CASE WHEN {v} IS NULL OR isnan({v}) THEN '' ELSE CAST({v} AS VARCHAR) END"
    if k == "timestamp":
        return f"CASE WHEN {v} IS NULL THEN '' ELSE {_timestamp_text(v)} END"
    return v


def xlsx_cell(v: str, duckdb_type: str) -> str:
    """SQL: the `<c>` element of column v (text columns arrive escaped); `<c/>` for NULL, NaN, infinity."""
    k = kind(duckdb_type)
    if k == "exact":
        return f"CASE WHEN {v} IS NULL THEN '<c/>' ELSE '<c><v>' || CAST({v} AS VARCHAR) || '</v></c>' END"
    if k == "float":
        return (
            f"CASE WHEN {v} IS NULL OR NOT isfinite({v}) THEN '<c/>' "
            f"ELSE '<c><v>' || CAST({v} AS VARCHAR) || '</v></c>' END"
        )
    if k == "bool":
        return (
            f"CASE WHEN {v} IS NULL THEN '<c/>' "
            f"WHEN {v} THEN '<c t=\"b\"><v>1</v></c>' ELSE '<c t=\"b\"><v>0</v></c>' END"
        )
    if k == "timestamp":  # serial days since 1899-12-30 (Excel's 1900 date system, from March 1900 on)
        serial = f"CAST(epoch_us(CAST({v} AS TIMESTAMP)) / 86400000000.0 + 25569 AS VARCHAR)"
        return (
            f"CASE WHEN {v} IS NULL THEN '<c/>' ELSE '<c s=\"{DATETIME}\"><v>' || {serial} || '</v></c>' END"
        )
    if k == "date":
        serial = f"CAST({v} - DATE '1899-12-30' AS VARCHAR)"
        return f"CASE WHEN {v} IS NULL THEN '<c/>' ELSE '<c s=\"{DATE}\"><v>' || {serial} || '</v></c>' END"
    return (
        f"CASE WHEN {v} IS NULL THEN '<c/>' "
        f"ELSE '<c t=\"inlineStr\"><is><t xml:space=\"preserve\">' || {v} || '</t></is></c>' END"
    )


def _text_layers(fmt: str) -> list[Callable[[str], str]]:
    """The steps a text cell goes through, one query layer each (so no step repeats the one before)."""
    if fmt == "csv":
        return [_neutralised]
    return [_neutralised, _xml_escaped]


def render(inner: str, columns: Sequence[tuple[str, str]], fmt: str) -> str:
    """SQL over `inner` (a query of the ordering column _export_pos and the (name, DuckDB type) columns)
    yielding one column, `line`: each row as a CSV line (fmt 'csv') or a `<row>` element ('xlsx'), in
    order. Text columns go through one query layer per step; the names are quoted identifiers."""
    if fmt not in ("csv", "xlsx"):
        raise ValueError(f"{fmt!r}: expected 'csv' or 'xlsx'.")
    cols = [(_ident(name), t, kind(t) == "text") for name, t in columns]
    first = ", ".join(
        f"CAST({n} AS VARCHAR) AS {n}" if text and t.upper() != "VARCHAR" else n for n, t, text in cols
    )
    sql = f"SELECT _export_pos, {first} FROM ({inner}) AS q0"  # noqa: S608 - quoted fixed column names
    for depth, step in enumerate(_text_layers(fmt), start=1):
        layer = ", ".join(f"{step(n)} AS {n}" if text else n for n, _, text in cols)
        sql = f"SELECT _export_pos, {layer} FROM ({sql}) AS q{depth}"  # noqa: S608 - generated
    if fmt == "csv":
        fields = ", ',', ".join(_csv_quoted(n) if text else csv_field(n, t) for n, t, text in cols)
        line = f"concat({fields}, chr(13) || chr(10))"
    else:
        cells = ", ".join(xlsx_cell(n, t) for n, t, _ in cols)
        line = f"concat('<row>', {cells}, '</row>')"
    return f"SELECT {line} AS line FROM ({sql}) AS q ORDER BY _export_pos"  # noqa: S608 - generated


def csv_header(columns: Sequence[str]) -> bytes:
    """The header line: the column names as csv.writer writes them (they are fixed identifiers)."""
    fields = ['"' + c.replace('"', '""') + '"' if any(ch in c for ch in ',"\r\n') else c for c in columns]
    return (",".join(fields) + "\r\n").encode("utf-8")
