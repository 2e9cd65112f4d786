"""Read a customer-attributes table (`--attributes FILE_OR_ADDRESS --attributes-key COLUMN`) into table
`attribute_rows`: the key as a customer id, then every other column typed once for the whole table.

A column is a number when every value it has reads as one (with the file's decimal mark); otherwise it is a
category (trimmed text). Empty cells and null words ('nan', 'None', 'NULL') are missing values. Columns
named like a customer column the run stores itself (country, monetary, ...) are left out, with a note.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from segmentation.errors import InputError
from segmentation.ingest.common import _NULL_WORDS, TextShape, _Block, _Want
from segmentation.ingest.inputs import _Inputs
from segmentation.ingest.typing_sql import _bad_number_sql, _customer_id_sql, _insert, _number_sql
from segmentation.ingest.typing_sql import detect_decimal as _detect_decimal

KEY = "customer_id"
# Names an attribute cannot have: the customers table's own columns (and what the pages call them).
RESERVED = frozenset(
    {
        "customer_id", "country", "first_purchase", "last_purchase", "recency_days", "frequency",
        "monetary", "quantity", "avg_basket_value", "tenure_days", "distinct_products", "return_rate",
        "r_score", "f_score", "m_score", "rfm_group", "segment_id", "segment", "is_outlier", "p_alive",
        "expected_purchases", "predicted_value", "value_at_risk", "features",
    }
)  # fmt: skip
MAX_COLUMNS = 200  # attribute columns kept (each becomes a filter); wider tables are refused


@dataclass(frozen=True)
class AttributeColumn:
    """One attribute: its name in the file, 'number' or 'category', and its 1-based slot in that list."""

    name: str
    kind: str
    slot: int
    position: int  # order among the kept columns


@dataclass(frozen=True)
class AttributeTable:
    """What was read: the source as shown, the key column, the columns, and the rows read."""

    source: str
    key: str
    columns: tuple[AttributeColumn, ...]
    rows_in: int
    notes: tuple[str, ...] = ()

    def numbers(self) -> tuple[AttributeColumn, ...]:
        return tuple(c for c in self.columns if c.kind == "number")

    def categories(self) -> tuple[AttributeColumn, ...]:
        return tuple(c for c in self.columns if c.kind == "category")


def load_attributes(
    con: duckdb.DuckDBPyConnection, source: Path | str, key: str, shape: TextShape | None = None
) -> AttributeTable:
    """Read the attributes table into `attribute_rows (customer_id, numbers DOUBLE[], texts VARCHAR[])`."""
    wants = [_Want(KEY, (key,), True, named=True)]
    con.execute(
        "CREATE OR REPLACE TEMP TABLE attribute_rows (customer_id VARCHAR, numbers DOUBLE[], texts VARCHAR[])"
    )
    columns: tuple[AttributeColumn, ...] | None = None
    notes: list[str] = []
    total = 0
    with _Inputs((source,), wants, shape) as inputs:
        shown = inputs.sources[0]
        for path in inputs.paths:
            for block, cols in inputs.blocks(path):
                key_col = cols[KEY]
                assert key_col is not None  # required: _match_or_raise said so otherwise
                kept, skipped = _attribute_indexes(block, key_col, shown)
                if skipped and not notes:
                    notes.append(
                        f"attributes: {', '.join(repr(n) for n in skipped)} left out: the run stores "
                        "customer columns of that name itself"
                    )
                decimal = shape.decimal if shape and shape.decimal else _detect_decimal(con, block, kept)
                kinds = _kinds(con, block, kept, decimal)
                block_columns = _columns(block, kept, kinds)
                if columns is None:
                    columns = block_columns
                elif [(c.name, c.kind) for c in block_columns] != [(c.name, c.kind) for c in columns]:
                    raise InputError(
                        f"{block.label}{block.place}: its columns differ from the first sheet's; expected "
                        "one attributes table with the same columns throughout."
                    )
                numbers = [i for i, k in zip(kept, kinds, strict=True) if k == "number"]
                texts = [i for i, k in zip(kept, kinds, strict=True) if k == "category"]
                exprs = [
                    _customer_id_sql(key_col),
                    "[" + ", ".join(_number_sql(i, decimal) for i in numbers) + "]::DOUBLE[]",
                    "[" + ", ".join(_text(i) for i in texts) + "]::VARCHAR[]",
                ]
                total += _insert(con, "attribute_rows", exprs, block, numbers, decimal)
        if total == 0:
            raise InputError(f"{shown}: no attribute rows after the header.")
    assert columns is not None
    if not columns:
        raise InputError(
            f"{shown}: no attribute columns beside the key '{key}'; expected at least one more column."
        )
    return AttributeTable(shown, key, columns, total, tuple(notes))


def _attribute_indexes(block: _Block, key_col: int, shown: str) -> tuple[list[int], list[str]]:
    """The block's columns other than the key (and unnamed ones), and the names left out as reserved."""
    kept: list[int] = []
    skipped: list[str] = []
    seen: set[str] = set()
    for i, name in enumerate(block.header):
        if i == key_col or not name.strip():
            continue
        if name.strip().lower() in RESERVED:
            skipped.append(name)
            continue
        if name in seen:
            raise InputError(
                f"{block.label}{block.place}: column '{name}' appears twice; expected unique names."
            )
        seen.add(name)
        kept.append(i)
    if len(kept) > MAX_COLUMNS:
        raise InputError(
            f"{shown}: {len(kept)} attribute columns; expected at most {MAX_COLUMNS} (each one becomes a "
            "dashboard filter): keep the ones you use in a smaller file."
        )
    return kept, skipped


def _kinds(con: duckdb.DuckDBPyConnection, block: _Block, kept: list[int], decimal: str) -> list[str]:
    """'number' for each column whose every value reads as a number (and that has one), else 'category'."""
    if not kept:
        return []
    checks = ", ".join(
        f"count(*) FILTER (WHERE {_bad_number_sql(i, decimal)}), "
        f"count(*) FILTER (WHERE c{i} IS NOT NULL AND lower(trim(c{i})) NOT IN {_NULL_WORDS})"
        for i in kept
    )
    sql = f"SELECT {checks} FROM {block.relation}"  # noqa: S608 - generated from column indexes
    if block.arrow is not None:
        con.register(block.view, block.arrow)
    try:
        row = con.execute(sql, list(block.params)).fetchall()[0]
    except duckdb.Error:  # a broken file: the INSERT says what is wrong with it
        row = None
    finally:
        if block.arrow is not None:
            con.unregister(block.view)
    if row is None:
        return ["category"] * len(kept)
    return ["number" if row[2 * j] == 0 and row[2 * j + 1] > 0 else "category" for j in range(len(kept))]


def _columns(block: _Block, kept: list[int], kinds: list[str]) -> tuple[AttributeColumn, ...]:
    """The kept columns with their slots (1-based, per kind, in file order)."""
    out: list[AttributeColumn] = []
    slots = {"number": 0, "category": 0}
    for position, (i, kind) in enumerate(zip(kept, kinds, strict=True)):
        slots[kind] += 1
        out.append(AttributeColumn(block.header[i].strip(), kind, slots[kind], position))
    return tuple(out)


def _text(col: int) -> str:
    """Trimmed text; empty and null words are missing."""
    return f"CASE WHEN lower(trim(c{col})) IN {_NULL_WORDS} THEN NULL ELSE trim(c{col}) END"
