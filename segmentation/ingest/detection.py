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
    ("%Y%m%d", "iso"),
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


def _type_dates(con: duckdb.DuckDBPyConnection, spans: list[_Span], cfg: RunConfig) -> list[str]:
    """Choose each block's date format (or take cfg's for all), type invoice_ts with them, and check
    every block has dates; returns the format of every block."""
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
        formats = [fmt] * len(spans)
    else:
        where = [date_order.Where(b.label, _date_name(b, cols), b.place) for b, cols, _ in spans]
        settled: dict[str, str] = {}  # day or month first is decided on every file's dates at once
        formats = []
        for k, (block, cols, rows) in enumerate(spans):
            found = _detect_format(con, k, rows, cfg.dayfirst, where, settled)
            if found is None:
                raise InputError(
                    f"{block.label}: column '{_date_name(block, cols)}'{block.place}: "
                    f"no value is a date in a known format (first value {_quote(stats[k][1])}); "
                    "give the format with --date-format."
                )
            formats.append(found)
    _alter_dates(con, formats)
    parsed = dict(
        con.execute("SELECT segments_block, count(invoice_ts) FROM lines GROUP BY segments_block").fetchall()
    )
    for k, (block, cols, _) in enumerate(spans):
        if parsed.get(k, 0) == 0:
            raise InputError(
                f"{block.label}: column '{_date_name(block, cols)}'{block.place}: no value matches the date "
                f"format '{formats[k]}' (first value {_quote(stats[k][1])})."
            )
    return formats


def _alter_dates(con: duckdb.DuckDBPyConnection, formats: list[str]) -> None:
    """Type invoice_ts, each block with its format (formats bound as variables, never pasted)."""
    groups: dict[str, list[int]] = {}
    for k, fmt in enumerate(formats):
        groups.setdefault(fmt, []).append(k)
    names = [f"segments_ingest_date_format_{i}" for i in range(len(groups))]
    cases = " ".join(
        f"WHEN segments_block IN ({', '.join(map(str, blocks))}) "
        f"THEN try_strptime(invoice_ts, getvariable('{name}'))"
        for name, blocks in zip(names, groups.values(), strict=True)
    )
    try:
        for name, fmt in zip(names, groups, strict=True):
            con.execute(f"SET VARIABLE {name} = ?", [fmt])
        con.execute(f"ALTER TABLE lines ALTER invoice_ts TYPE TIMESTAMP USING CASE {cases} END")
    finally:
        for name in names:
            con.execute(f"RESET VARIABLE {name}")


def _date_name(block: _Block, cols: dict[str, int | None]) -> str:
    """The date column's name in the file."""
    index = cols["invoice_date"]
    return block.header[index] if index is not None else "invoice_date"


def _detect_format(
    con: duckdb.DuckDBPyConnection,
    block: int,
    total: int,
    dayfirst: bool | None,
    where: list[date_order.Where],
    settled: dict[str, str],
) -> str | None:
    """The candidate format that parses most of a sample of the block's date texts; day or month first
    is settled on every block's rows (date_order.settle), never guessed."""
    # a failed parse costs DuckDB about 0.5 us: rule out formats on ~1,000 values, count the rest on ~50,000
    survivors = [
        (fmt, order)
        for (fmt, order), n in zip(
            DATE_FORMATS, _parse_counts(con, block, DATE_FORMATS, total, 1_000), strict=True
        )
        if n > 0
    ]
    if not survivors:
        return None
    counts = _parse_counts(con, block, survivors, total, DATE_SAMPLE)
    best = max(counts)
    if best == 0:
        return None
    fmt, order = next(w for w, n in zip(survivors, counts, strict=True) if n == best)
    month_first = fmt if order == "mdy" else date_order.twin(fmt)
    if order in ("mdy", "dmy") and (month_first, "mdy") in DATE_FORMATS:
        if month_first not in settled:
            settled[month_first] = date_order.settle(con, month_first, dayfirst, where)
        return settled[month_first]
    return fmt


def _parse_counts(
    con: duckdb.DuckDBPyConnection, block: int, formats: Sequence[tuple[str, str]], total: int, sample: int
) -> list[int]:
    """How many date texts of every (total // sample)-th row of the block each format parses to a year
    in 1900-2199."""
    counts_sql = ", ".join(
        "count(*) FILTER (WHERE try_strptime(d, ?) BETWEEN TIMESTAMP '1900-01-01' AND TIMESTAMP '2200-01-01')"
        for _ in formats
    )
    # every step-th row: spread over the block, deterministic, and a parallel scan (a reservoir is not)
    sql = (
        "WITH s AS (SELECT invoice_ts AS d FROM lines "  # noqa: S608
        "WHERE segments_block = ? AND rowid % ? = 0 AND invoice_ts IS NOT NULL) "
        f"SELECT {counts_sql} FROM s"
    )
    row = con.execute(sql, [block, max(total // sample, 1), *(fmt for fmt, _ in formats)]).fetchone()
    return [int(n) for n in row] if row else [0] * len(formats)
