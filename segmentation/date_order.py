"""Day first or month first: decided by the dates themselves, by --dayfirst/--monthfirst, or not at all.

'01/02/2011' is 1 February or 2 January; only a value with a day over 12 ('13/02/2011') tells. All input
files are read with one format, so the evidence of every file counts, and files that contradict each
other stop the run. When no date tells and no flag is given, the run stops rather than guess.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import duckdb

from segmentation.errors import InputError

# Evidence per block (segments_block): dates only the month-first format reads, dates only the day-first
# format reads, their first examples, and the first date the two formats read differently.
_EVIDENCE_SQL = """
WITH t AS (
    SELECT segments_block AS b, rowid AS r, invoice_ts AS d,
           try_strptime(invoice_ts, ?) AS m, try_strptime(invoice_ts, ?) AS dd
    FROM lines WHERE invoice_ts IS NOT NULL
)
SELECT b,
       count(*) FILTER (WHERE m IS NOT NULL AND dd IS NULL),
       count(*) FILTER (WHERE dd IS NOT NULL AND m IS NULL),
       arg_min(d, r) FILTER (WHERE m IS NOT NULL AND dd IS NULL),
       arg_min(d, r) FILTER (WHERE dd IS NOT NULL AND m IS NULL),
       arg_min(d, r) FILTER (WHERE m <> dd)
FROM t GROUP BY b ORDER BY b
"""
_SECOND_EXAMPLE_SQL = """
SELECT invoice_ts FROM lines
WHERE invoice_ts <> ? AND try_strptime(invoice_ts, ?) <> try_strptime(invoice_ts, ?)
ORDER BY rowid LIMIT 1
"""


@dataclass(frozen=True)
class Where:
    """A block's date column, for messages: the file, the column name and ' in sheet ...' or ''."""

    label: str
    column: str
    place: str = ""

    def __str__(self) -> str:
        return f"{self.label}: column '{self.column}'{self.place}"


def twin(fmt: str) -> str:
    """The same format with day and month swapped: '%m/%d/%Y' <-> '%d/%m/%Y'."""
    return fmt.replace("%m", "\0").replace("%d", "%m").replace("\0", "%d")


def settle(
    con: duckdb.DuckDBPyConnection, month_first: str, dayfirst: bool | None, where: Sequence[Where]
) -> str:
    """The format to read table `lines` with: month_first or its day-first twin.

    A date only one of them reads decides (in all files); dates that decide both ways in different
    files stop the run; with no deciding date, --dayfirst/--monthfirst decides, else the run stops.
    """
    day_first = twin(month_first)
    rows = con.execute(_EVIDENCE_SQL, [month_first, day_first]).fetchall()
    only_m = [(b, ex) for b, n_m, _, ex, _, _ in rows if n_m]
    only_d = [(b, ex) for b, _, n_d, _, ex, _ in rows if n_d]
    if only_m and only_d:
        m_blocks = {b for b, _ in only_m}
        d_blocks = {b for b, _ in only_d}
        if not m_blocks & d_blocks:  # each file is consistent, but not with the others
            (bm, exm), (bd, exd) = only_m[0], only_d[0]
            raise InputError(
                f"{where[bd]} has day-first dates ({_quote(exd)}) but {where[bm]} has month-first dates "
                f"({_quote(exm)}); all input files are read with one date format, so convert one of "
                "them or run them separately."
            )
        # one file mixes both orders: the format that reads more of them wins, as for any mixed column
        return month_first if sum(r[1] for r in rows) >= sum(r[2] for r in rows) else day_first
    if only_m:
        return month_first
    if only_d:
        return day_first
    differ = [(b, ex) for b, _, _, _, _, ex in rows if ex is not None]
    if not differ:  # every date has day == month: both readings are the same
        return day_first if dayfirst else month_first
    if dayfirst is not None:
        return day_first if dayfirst else month_first
    block, first = differ[0]
    second = con.execute(_SECOND_EXAMPLE_SQL, [first, month_first, day_first]).fetchone()
    examples = [first] + ([second[0]] if second else [])
    readings = "; ".join(_readings(con, value, month_first, day_first) for value in examples)
    raise InputError(
        f"{where[block]}: every date reads both day first and month first ({readings}), and no date in "
        "the input has a day over 12 to tell; pass --dayfirst or --monthfirst."
    )


def _readings(con: duckdb.DuckDBPyConnection, value: str, month_first: str, day_first: str) -> str:
    """A date's two readings, day first first: '01/02/2011' is 1 February 2011 or 2 January 2011."""
    sql = "SELECT strptime(?, ?), strptime(?, ?)"
    row = con.execute(sql, [value, day_first, value, month_first]).fetchone()
    as_d, as_m = row if row else (None, None)
    return f"{_quote(value)} is {_day(as_d)} or {_day(as_m)}"


def _day(ts: dt.datetime | None) -> str:
    """'1 February 2011'."""
    return f"{ts.day} {ts:%B %Y}" if ts else "?"


def _quote(value: object, limit: int = 40) -> str:
    """A date text for a message, shortened."""
    text = str(value)
    return f"'{text[:limit]}...'" if len(text) > limit else f"'{text}'"
