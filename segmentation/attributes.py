"""Customer attributes beside the run's customers: checked keys, the join, the `--use` model columns.

The attributes table (ingest.attributes, table `attribute_rows`) must have one row per key. Every customer of
the run gets its row's numbers and texts (NULL lists when it has none: counted, never dropped). Numeric
columns named by `--use` join the model's features; a customer without a value gets the column's median,
and the report says how many did.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from segmentation.config import RunConfig
from segmentation.errors import InputError
from segmentation.ingest.attributes import AttributeTable, load_attributes
from segmentation.ingest.common import TextShape, _quote

MAX_CATEGORIES = 1_000  # values a category filter lists (commonest first)


@dataclass(frozen=True)
class ColumnFacts:
    """One attribute column among the run's customers: how many have a value, how many distinct values,
    a number column's range and a category column's values (commonest first)."""

    with_value: int
    distinct: int
    lo: float | None = None
    hi: float | None = None
    categories: list[str] | None = None


@dataclass(frozen=True)
class Joined:
    """The attributes of the run's customers, in the frame's row order, and how they matched."""

    table: AttributeTable
    numbers: pa.Array  # list<double> per customer (null: no attributes row)
    texts: pa.Array  # list<string> per customer
    rows_without_key: int
    matched: int
    missing: int
    unmatched_rows: int
    facts: dict[str, ColumnFacts]  # column -> what the run's customers hold in it
    used: tuple[str, ...] = ()  # --use columns, now columns of the frame
    imputed: dict[str, tuple[int, float]] | None = None  # --use column -> (customers imputed, median)

    def report_line(self) -> str:
        """One line for the run's report."""
        kinds = f"{len(self.table.numbers())} numeric, {len(self.table.categories())} category"
        line = (
            f"attributes: {self.table.source} (key {self.table.key}): {len(self.table.columns)} columns "
            f"({kinds}); {self.matched:,} customers matched, {self.missing:,} without attributes"
        )
        if self.unmatched_rows:
            line += f", {self.unmatched_rows:,} attribute rows match no customer"
        if self.rows_without_key:
            line += f", {self.rows_without_key:,} rows without a key left out"
        return line

    def warnings(self) -> list[str]:
        """Sentences for the run's warnings: --use columns whose missing values took the median."""
        out = []
        for name, (count, median) in (self.imputed or {}).items():
            out.append(
                f"--use {name}: {count:,} customers have no value; the model used the median ({median:g})."
            )
        return out


def join(
    con: duckdb.DuckDBPyConnection,
    frame: pd.DataFrame,
    source: Path | str,
    key: str,
    use: tuple[str, ...],
    shape: TextShape | None = None,
) -> Joined:
    """Read the attributes, check their keys, and attach them to `frame`'s customers (use: adds columns)."""
    table = load_attributes(con, source, key, shape)
    without_key = _count(con, "SELECT count(*) FROM attribute_rows WHERE customer_id IS NULL")
    _check_unique(con, table)
    _check_use(table, use, frame)
    ids = pa.table(
        {"customer_id": pa.array(frame["customer_id"].astype(str)), "row": pa.array(np.arange(len(frame)))}
    )
    con.register("attribute_run_ids", ids)
    try:
        con.execute(
            """CREATE OR REPLACE TEMP TABLE attribute_joined AS
               SELECT i.row, a.numbers, a.texts FROM attribute_run_ids i
               LEFT JOIN attribute_rows a ON a.customer_id = i.customer_id"""
        )
        (unmatched,) = con.execute(
            """SELECT count(*) FROM attribute_rows a WHERE a.customer_id IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM attribute_run_ids i WHERE i.customer_id = a.customer_id)"""
        ).fetchall()[0]
    finally:
        con.unregister("attribute_run_ids")
    joined = con.sql("SELECT numbers, texts FROM attribute_joined ORDER BY row").to_arrow_table()
    matched = _count(con, "SELECT count(*) FROM attribute_joined WHERE numbers IS NOT NULL")
    facts = _column_facts(con, table)
    imputed = _add_used(con, frame, table, use)
    return Joined(
        table=table,
        numbers=joined.column("numbers").combine_chunks(),
        texts=joined.column("texts").combine_chunks(),
        rows_without_key=int(without_key),
        matched=int(matched),
        missing=len(frame) - int(matched),
        unmatched_rows=int(unmatched),
        facts=facts,
        used=use,
        imputed=imputed,
    )


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    """A count query's number (fetchall: DuckDB refuses new work while a result is unfinished)."""
    return int(con.execute(sql).fetchall()[0][0])


def _check_unique(con: duckdb.DuckDBPyConnection, table: AttributeTable) -> None:
    """One row per key, or one sentence naming a repeated key and how many repeat."""
    rows = con.execute(
        """SELECT customer_id, count(*) AS n, count(*) OVER () AS keys FROM attribute_rows
           WHERE customer_id IS NOT NULL GROUP BY customer_id HAVING count(*) > 1
           ORDER BY n DESC, customer_id LIMIT 1"""
    ).fetchall()
    if rows:
        key, n, keys = rows[0]
        more = f" ({keys - 1:,} more keys repeat too)" if keys > 1 else ""
        raise InputError(
            f"{table.source}: key column '{table.key}' has {_quote(key)} on {n} rows{more}; expected one "
            "row per customer."
        )


def _check_use(table: AttributeTable, use: tuple[str, ...], frame: pd.DataFrame) -> None:
    """--use names numeric attribute columns that are not already the frame's columns."""
    by_name = {c.name: c for c in table.columns}
    numeric = ", ".join(c.name for c in table.numbers()) or "none"
    for name in use:
        column = by_name.get(name)
        if column is None:
            raise InputError(
                f"--use {name}: {table.source} has no attribute column '{name}'; its numeric columns: "
                f"{numeric}."
            )
        if column.kind != "number":
            raise InputError(
                f"--use {name}: column '{name}' of {table.source} holds text, not numbers; expected one of "
                f"its numeric columns: {numeric}."
            )
        if name in frame.columns:
            raise InputError(f"--use {name}: the run already has a feature of that name; rename the column.")


def _column_facts(con: duckdb.DuckDBPyConnection, table: AttributeTable) -> dict[str, ColumnFacts]:
    """Per column, from the joined customers: counts and a number's range in one scan, the categories'
    values (at most MAX_CATEGORIES each, commonest first) in a second."""
    parts = [
        f"count(numbers[{c.slot}]), count(DISTINCT numbers[{c.slot}]), min(numbers[{c.slot}]), "
        f"max(numbers[{c.slot}])"
        if c.kind == "number"
        else f"count(texts[{c.slot}]), count(DISTINCT texts[{c.slot}]), NULL, NULL"
        for c in table.columns
    ]
    row = con.execute(f"SELECT {', '.join(parts)} FROM attribute_joined").fetchall()[0]  # noqa: S608 - slots
    names = [c.name for c in table.categories()]
    values: dict[str, list[str]] = {name: [] for name in names}
    if names:
        for name, value in con.execute(_CATEGORY_VALUES, {"names": names, "top": MAX_CATEGORIES}).fetchall():
            values[name].append(value)
    return {
        c.name: ColumnFacts(
            int(row[4 * i]),
            int(row[4 * i + 1]),
            row[4 * i + 2],
            row[4 * i + 3],
            values[c.name] if c.kind == "category" else None,
        )
        for i, c in enumerate(table.columns)
    }


# Each category column's values among the joined customers, commonest first (ties by value).
_CATEGORY_VALUES = """
WITH long AS (
    SELECT unnest($names::VARCHAR[]) AS attribute, unnest(texts) AS value
    FROM attribute_joined WHERE texts IS NOT NULL
), counted AS (
    SELECT attribute, value, count(*) AS n FROM long WHERE value IS NOT NULL GROUP BY attribute, value
)
SELECT attribute, value FROM counted
QUALIFY row_number() OVER (PARTITION BY attribute ORDER BY n DESC, value) <= $top
ORDER BY attribute, n DESC, value
"""


def _add_used(
    con: duckdb.DuckDBPyConnection, frame: pd.DataFrame, table: AttributeTable, use: tuple[str, ...]
) -> dict[str, tuple[int, float]]:
    """The --use columns as frame columns; missing values take the column's median (counted)."""
    imputed: dict[str, tuple[int, float]] = {}
    slots = {c.name: c.slot for c in table.columns}
    for name in use:
        slot = int(slots[name])  # from the table's own columns, never user text
        column = (
            con.sql(f"SELECT numbers[{slot}] FROM attribute_joined ORDER BY row")  # noqa: S608
            .to_arrow_table()
            .column(0)
            .to_numpy(zero_copy_only=False)
            .astype(float)
        )
        missing = np.isnan(column)
        if missing.all():
            raise InputError(
                f"--use {name}: no customer of the run has a value in column '{name}' of {table.source}; "
                "expected a column with values for the run's customers."
            )
        median = float(np.median(column[~missing]))
        if missing.any():
            column = np.where(missing, median, column)
            imputed[name] = (int(missing.sum()), median)
        frame[name] = column
    return imputed


# --- The run's side: attach before the model, store after the customers -------------------------------

TOP_VALUES = 5  # per segment and category attribute, in segment_categories


def attach(con: duckdb.DuckDBPyConnection, cfg: RunConfig, frame: pd.DataFrame) -> Joined | None:
    """The run's --attributes joined to `frame` (None without them); --use columns become frame columns."""
    if cfg.attributes is None or cfg.attributes_key is None:
        return None
    from segmentation.ingest.load import _shape

    return join(con, frame, cfg.attributes, cfg.attributes_key, cfg.attributes_use, _shape(cfg))


def warnings(joined: Joined | None) -> list[str]:
    """The run's warnings about its attributes (none without them)."""
    return joined.warnings() if joined is not None else []


def notes(joined: Joined | None) -> tuple[str, ...]:
    """The report's lines about the attributes: how they matched, and columns left out."""
    return () if joined is None else (joined.report_line(), *joined.table.notes)


_PROFILE_NUMBERS = """
INSERT OR IGNORE INTO out.segment_profiles
WITH long AS (
    SELECT segment_id, unnest($names::VARCHAR[]) AS feature, unnest(attr_numbers) AS v
    FROM out.customers WHERE run_id = $run AND attr_numbers IS NOT NULL
)
SELECT $run, CASE WHEN grouping(segment_id) = 1 THEN -1 ELSE segment_id END, feature, avg(v), median(v),
       quantile_cont(v, 0.25), quantile_cont(v, 0.75), min(v), max(v)
FROM long
GROUP BY GROUPING SETS ((segment_id, feature), (feature))
"""

# Every customer counts in its segment's shares; no attributes row or an empty cell is the value NULL.
_CATEGORY_SHARES = """
INSERT INTO out.segment_categories
WITH long AS (
    SELECT segment_id, unnest($names::VARCHAR[]) AS attribute,
           unnest(coalesce(attr_texts, list_transform($names::VARCHAR[], lambda x: NULL::VARCHAR))) AS value
    FROM out.customers WHERE run_id = $run
), counts AS (
    SELECT CASE WHEN grouping(segment_id) = 1 THEN -1 ELSE segment_id END AS seg, attribute, value,
           count(*) AS n
    FROM long GROUP BY GROUPING SETS ((segment_id, attribute, value), (attribute, value))
), ranked AS (
    SELECT seg, attribute, value, n, n / sum(n) OVER (PARTITION BY seg, attribute) AS share,
           row_number() OVER (PARTITION BY seg, attribute ORDER BY n DESC, value NULLS LAST) AS rank
    FROM counts
)
SELECT $run, seg, attribute, value, n, share, rank FROM ranked WHERE rank <= $top
"""


def store(con: duckdb.DuckDBPyConnection, run_id: int, joined: Joined | None) -> None:
    """The run's attribute tables, numeric profiles and category shares (after out.customers is written)."""
    if joined is None:
        return
    table = joined.table
    rows = []
    for c in table.columns:
        f = joined.facts[c.name]
        rows.append(
            [run_id, c.position, c.name, c.kind, c.slot, c.name in joined.used, f.with_value, f.distinct,
             f.lo, f.hi, f.categories]
        )  # fmt: skip
    con.executemany("INSERT INTO out.attribute_columns VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    con.execute(
        "INSERT INTO out.attribute_sources VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [run_id, table.source, table.key, table.rows_in, joined.rows_without_key, joined.matched,
         joined.missing, joined.unmatched_rows],
    )  # fmt: skip
    numbers = [c.name for c in table.numbers()]
    if numbers:
        con.execute(_PROFILE_NUMBERS, {"run": run_id, "names": numbers})
    categories = [c.name for c in table.categories()]
    if categories:
        con.execute(_CATEGORY_SHARES, {"run": run_id, "names": categories, "top": TOP_VALUES})
