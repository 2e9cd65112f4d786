"""Dates: the format detected from a sample of every row (or given), the column typed with it, and
every block checked to have dates.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb

from segmentation import date_order
from segmentation.config import RunConfig
from segmentation.errors import InputError
from segmentation.ingest.common import _Block, _quote, _Span

# Candidate strptime formats, each with its field order; ties between "mdy" and "dmy" are ambiguous.
DATE_FORMATS: tuple[tuple[str, str], ...] = (
    ("%Y-%m-%d %H:%M:%S", "iso"),
    ("%Y-%m-%d %H:%M:%S.%f", "iso"),
    ("%Y-%m-%d %H:%M", "iso"),
    ("%Y-%m-%d", "iso"),
    ("%Y-%m-%dT%H:%M:%S", "iso"),
    ("%Y-%m-%dT%H:%M:%S.%f", "iso"),
    ("%Y/%m/%d %H:%M:%S", "iso"),
    ("%Y/%m/%d %H:%M", "iso"),
    ("%Y/%m/%d", "iso"),
    ("%m/%d/%Y %H:%M", "mdy"),
    ("%m/%d/%Y %H:%M:%S", "mdy"),
    ("%m/%d/%Y", "mdy"),
    ("%m/%d/%y %H:%M", "mdy"),
    ("%m/%d/%y", "mdy"),
    ("%m-%d-%Y %H:%M", "mdy"),
    ("%m-%d-%Y %H:%M:%S", "mdy"),
    ("%m-%d-%Y", "mdy"),
    ("%d/%m/%Y %H:%M", "dmy"),
    ("%d/%m/%Y %H:%M:%S", "dmy"),
    ("%d/%m/%Y", "dmy"),
    ("%d/%m/%y %H:%M", "dmy"),
    ("%d/%m/%y", "dmy"),
    ("%d-%m-%Y %H:%M", "dmy"),
    ("%d-%m-%Y %H:%M:%S", "dmy"),
    ("%d-%m-%Y", "dmy"),
    ("%d.%m.%Y %H:%M", "dmy"),
    ("%d.%m.%Y %H:%M:%S", "dmy"),
    ("%d.%m.%Y", "dmy"),
)


DATE_SAMPLE = 50_000


def _type_dates(con: duckdb.DuckDBPyConnection, spans: list[_Span], cfg: RunConfig) -> str:
    """Choose the date format (or take cfg's), type invoice_ts with it, and check every block has dates."""
    stats = dict.fromkeys(range(len(spans)), (0, None))
    for k, nonnull, first in con.execute(
        "SELECT segments_block, count(invoice_ts), "
        "arg_min(invoice_ts, rowid) FILTER (WHERE invoice_ts IS NOT NULL) FROM lines GROUP BY segments_block"
    ).fetchall():
        stats[k] = (nonnull, first)
    for k, (block, cols, _) in enumerate(spans):
        if stats[k][0] == 0:
            raise InputError(f"{block.label}: column '{_date_name(block, cols)}'{block.place} has no dates.")
    if cfg.date_format:
        fmt = cfg.date_format
        try:
            con.execute("SELECT try_strptime('2000-01-01', ?)", [fmt]).fetchall()
        except duckdb.Error as exc:
            raise InputError(f"--date-format '{fmt}' is not a valid strptime format.") from exc
    else:
        where = [date_order.Where(b.label, _date_name(b, cols), b.place) for b, cols, _ in spans]
        fmt = _detect_format(con, sum(rows for _, _, rows in spans), cfg.dayfirst, where)
        if fmt is None:
            block, cols, _ = spans[0]
            raise InputError(
                f"{block.label}: column '{_date_name(block, cols)}'{block.place}: "
                f"no value is a date in a known format (first value {_quote(stats[0][1])}); "
                "give the format with --date-format."
            )
    con.execute("SET VARIABLE segments_ingest_date_format = ?", [fmt])
    try:
        con.execute(
            "ALTER TABLE lines ALTER invoice_ts TYPE TIMESTAMP "
            "USING try_strptime(invoice_ts, getvariable('segments_ingest_date_format'))"
        )
    finally:
        con.execute("RESET VARIABLE segments_ingest_date_format")
    parsed = dict(
        con.execute("SELECT segments_block, count(invoice_ts) FROM lines GROUP BY segments_block").fetchall()
    )
    for k, (block, cols, _) in enumerate(spans):
        if parsed.get(k, 0) == 0:
            raise InputError(
                f"{block.label}: column '{_date_name(block, cols)}'{block.place}: no value matches the date "
                f"format '{fmt}' (first value {_quote(stats[k][1])})."
            )
    con.execute("ALTER TABLE lines DROP COLUMN segments_block")
    return fmt


def _date_name(block: _Block, cols: dict[str, int | None]) -> str:
    """The date column's name in the file."""
    index = cols["invoice_date"]
    return block.header[index] if index is not None else "invoice_date"


def _detect_format(
    con: duckdb.DuckDBPyConnection, total: int, dayfirst: bool | None, where: list[date_order.Where]
) -> str | None:
    """The candidate format that parses most of a sample of the date texts; day or month first is
    settled on every row (date_order.settle), never guessed."""
    # a failed parse costs DuckDB about 0.5 us: rule out formats on ~1,000 values, count the rest on ~50,000
    survivors = [
        (fmt, order)
        for (fmt, order), n in zip(DATE_FORMATS, _parse_counts(con, DATE_FORMATS, total, 1_000), strict=True)
        if n > 0
    ]
    if not survivors:
        return None
    counts = _parse_counts(con, survivors, total, DATE_SAMPLE)
    best = max(counts)
    if best == 0:
        return None
    fmt, order = next(w for w, n in zip(survivors, counts, strict=True) if n == best)
    month_first = fmt if order == "mdy" else date_order.twin(fmt)
    if order in ("mdy", "dmy") and (month_first, "mdy") in DATE_FORMATS:
        return date_order.settle(con, month_first, dayfirst, where)
    return fmt


def _parse_counts(
    con: duckdb.DuckDBPyConnection, formats: Sequence[tuple[str, str]], total: int, sample: int
) -> list[int]:
    """How many date texts of every (total // sample)-th row each format parses to a year in 1900-2199."""
    counts_sql = ", ".join(
        "count(*) FILTER (WHERE try_strptime(d, ?) BETWEEN TIMESTAMP '1900-01-01' AND TIMESTAMP '2200-01-01')"
        for _ in formats
    )
    # every step-th row: spread over all files, deterministic, and a parallel scan (a reservoir is not)
    sql = (
        "WITH s AS (SELECT invoice_ts AS d FROM lines WHERE rowid % ? = 0 AND invoice_ts IS NOT NULL) "  # noqa: S608
        f"SELECT {counts_sql} FROM s"
    )
    row = con.execute(sql, [max(total // sample, 1), *(fmt for fmt, _ in formats)]).fetchone()
    return [int(n) for n in row] if row else [0] * len(formats)
