"""A one-row-per-customer table into `customer_rows`: the id, optional country and tenure, and the features,
named columns and derived ones (`--feature "value = MntWines + MntFruits"`, segmentation/derived.py).

A tenure column may hold numbers (days) or dates; dates become the days from that date to the as-of day
(`--snapshot-date`, else the day of the run), their format detected from the column's first values or
given with `--date-format`.
"""

from __future__ import annotations

import datetime as dt

import duckdb

from segmentation import derived as expressions
from segmentation.config import RunConfig
from segmentation.errors import InputError
from segmentation.ingest.common import _NULL_WORDS, IngestResult, _Block, _quote, _Want
from segmentation.ingest.detection import DATE_FORMATS
from segmentation.ingest.inputs import _Inputs
from segmentation.ingest.load import _decimal, _shape
from segmentation.ingest.typing_sql import (
    _bad_number_sql,
    _customer_id_sql,
    _insert,
    _number_sql,
    _text_sql,
)

_DATE_PROBE_ROWS = 1_000  # the tenure column's first values that decide between numbers and a date format


def load_customer_table(con: duckdb.DuckDBPyConnection, cfg: RunConfig) -> IngestResult:
    """Read a one-row-per-customer table into `customer_rows`, features as a list in the order named:
    the --features columns, then the --feature expressions."""
    derived = [expressions.parse(text) for text in cfg.derived_features]
    if not cfg.id_column or not (cfg.feature_columns or derived):
        raise InputError("A customer table needs an id column and at least one feature column.")
    names = [*cfg.feature_columns, *(d.name for d in derived)]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise InputError(f"feature '{repeated[0]}' is named twice; expected each feature once.")
    wants = [_Want("customer_id", (cfg.id_column,), True, named=True)]
    if cfg.country_column:
        wants.append(_Want("country", (cfg.country_column,), True, named=True))
    if cfg.tenure_column:
        wants.append(_Want("tenure", (cfg.tenure_column,), True, named=True))
    wants += [_Want(f"f{i}", (name,), True, named=True) for i, name in enumerate(cfg.feature_columns)]
    referenced = list(dict.fromkeys(name for d in derived for name in d.columns()))
    # not required here: a missing one is reported below, naming the expression that reads it
    wants += [_Want(f"x:{name}", (name,), False, named=True) for name in referenced]
    as_of = cfg.snapshot_date or dt.date.today()
    shape = _shape(cfg)
    with _Inputs(cfg.inputs, wants, shape) as inputs:
        con.execute(
            "CREATE OR REPLACE TABLE customer_rows "
            "(customer_id VARCHAR, country VARCHAR, tenure_days DOUBLE, features DOUBLE[])"
        )
        total = 0
        for path in inputs.paths:
            file_rows = 0
            for block, cols in inputs.blocks(path):
                found = tuple(n for n in referenced if cols[f"x:{n}"] is not None)
                for d in derived:
                    expressions.check_columns(d, found + tuple(h for h in block.header if h not in found))
                features = [cols[f"f{i}"] for i in range(len(cfg.feature_columns))]
                tenure_format = _tenure_format(con, block, cols.get("tenure"), cfg)
                as_numbers = {name for d in derived for name in _numeric_uses(d)}
                numbers = [
                    None if tenure_format else cols.get("tenure"),
                    *features,
                    *(cols[f"x:{name}"] for name in referenced if name in as_numbers),
                ]
                decimal = _decimal(con, block, numbers, shape)
                params: list[object] = []
                if tenure_format:
                    tenure = _days_since_sql(cols["tenure"])
                    params += [tenure_format, as_of]
                else:
                    tenure = _number_sql(cols.get("tenure"), decimal)
                items = [_number_sql(c, decimal) for c in features]
                columns = {name: cols[f"x:{name}"] for name in referenced}
                for d in derived:
                    sql, bound = expressions.compile_sql(
                        d,
                        lambda name, c=columns, m=decimal: _number_sql(c[name], m),
                        lambda name, c=columns: f"NULLIF(trim(c{c[name]}), '')",
                        as_of,
                    )
                    items.append(sql)
                    params += bound
                exprs = [
                    _customer_id_sql(cols["customer_id"]),
                    _text_sql(cols.get("country")),
                    tenure,
                    "[" + ", ".join(items) + "]",
                ]
                rows = _insert(con, "customer_rows", exprs, block, numbers, decimal, params)
                total += rows
                file_rows += rows
            if file_rows == 0:
                raise InputError(f"{path}: no data rows after the header.")
        return IngestResult(inputs.sources, inputs.sha256(), total, None, tuple(names))


def _numeric_uses(d: expressions.Derived) -> set[str]:
    """The columns an expression reads as numbers (not only as the date of days_since/years_since)."""
    out: set[str] = set()

    def walk(node: expressions.Node, as_date: bool = False) -> None:
        if isinstance(node, expressions.Column):
            if not as_date:
                out.add(node.name)
        elif isinstance(node, expressions.Unary):
            walk(node.operand)
        elif isinstance(node, expressions.Binary):
            walk(node.left)
            walk(node.right)
        elif isinstance(node, expressions.Call):
            dated = node.function in expressions.DATE_FUNCTIONS
            for i, arg in enumerate(node.args):
                walk(arg, as_date=dated and i == 0)

    walk(d.expression)
    return out


def _days_since_sql(col: int) -> str:
    """Days from the column's date (format: the first ?) to the as-of day (the second ?), as a number."""
    return f"date_diff('day', try_strptime(NULLIF(trim(c{col}), ''), ?)::DATE, ?::DATE)::DOUBLE"


def _tenure_format(
    con: duckdb.DuckDBPyConnection, block: _Block, col: int | None, cfg: RunConfig
) -> str | None:
    """None when the tenure column holds numbers (days); else the strptime format of its dates:
    --date-format, or the one known format that reads every one of its first non-empty values."""
    if col is None:
        return None
    # a number by the numbers path's own rule, with either decimal mark (typing_sql); empty and null words
    # ('nan', 'None', ...) are missing values, not dates
    number = f"NOT ({_bad_number_sql(col, '.')} AND {_bad_number_sql(col, ',')})"
    probe = (
        f"SELECT trim(c{col}), {number}, lower(trim(c{col})) IN {_NULL_WORDS} "  # noqa: S608 - generated
        f"FROM {block.relation} WHERE c{col} IS NOT NULL LIMIT {_DATE_PROBE_ROWS}"
    )
    if block.arrow is not None:
        con.register(block.view, block.arrow)
    try:
        rows = con.execute(probe, list(block.params)).fetchall()
    finally:
        if block.arrow is not None:
            con.unregister(block.view)
    if all(is_number for _, is_number, _ in rows):
        return None
    values = [text for text, _, missing in rows if not missing]
    if cfg.date_format:
        return cfg.date_format
    fits = [(fmt, order) for fmt, order in DATE_FORMATS if all(_parses(v, fmt) for v in values)]
    orders = {order for _, order in fits}
    if not fits:
        raise InputError(
            f"{block.label}: column '{cfg.tenure_column}'{block.place}: expected days (a number) or dates "
            f"in a known format, got {_quote(values[0])}; give the format with --date-format."
        )
    if {"mdy", "dmy"} <= orders:
        raise InputError(
            f"{block.label}: column '{cfg.tenure_column}'{block.place}: the dates read both day first and "
            f"month first (e.g. {_quote(values[0])}); give the format with --date-format."
        )
    return fits[0][0]


def _parses(text: str, fmt: str) -> bool:
    try:
        dt.datetime.strptime(text, fmt)
    except ValueError:
        return False
    return True
