"""DuckDB statements (segmentation/sql.py and the other modules' SQL) as Spark SQL, by sqlglot.

There is one definition of the cleaning, feature and value-input SQL: DuckDB's. This module parses it
with sqlglot (read="duckdb"), applies the few transforms below, and writes Spark SQL (write="spark"):

* `$name` parameters become typed literals (a date is `CAST('2011-12-10' AS DATE)`, a list an array):
  Spark SQL has no bound parameters in CREATE VIEW, and every value here is the run's own, not user text;
* `CREATE [OR REPLACE] TEMP TABLE/VIEW name AS query` becomes a `Statement` with the name, the query and
  whether it is a table (the connection caches a table's rows, a view stays lazy);
* `HUGEINT` becomes `DECIMAL(38,0)` (Spark has no 128-bit integer; the values are whole numbers either way);
* `quantile_cont(x, q)` becomes `percentile(x, q)` (both interpolate linearly between the two nearest
  values);
* ingest's typing helpers: `error(m)` is `raise_error(m)`, `isfinite(x)` is `NOT isnan(x) AND
  abs(x) < Infinity`, `regexp_full_match(s, p)` is `s RLIKE '^(?:p)$'`, `hash(s)` is `xxhash64(s)` (only
  compared for equality) and `try_strptime(s, f)` is `try_to_timestamp(s, f')` with f' the Java pattern
  sqlglot writes for strptime's f.

Statements that would need more (ASOF joins, ordered aggregates, subqueries inside FILTER) are written in
sql.py in a form both engines accept instead, so nothing here is a second copy of the logic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache

import sqlglot
from sqlglot import exp


@dataclass(frozen=True)
class Statement:
    """One Spark SQL statement: a query (`create` is None) or a query that makes temp table/view `create`."""

    sql: str
    create: str | None = None
    table: bool = False  # a TEMP TABLE: the connection materializes (caches) it
    drop: str | None = None  # DROP TABLE/VIEW name


def literal(value: object) -> exp.Expression:
    """A parameter value as a typed SQL literal."""
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, datetime):
        return exp.cast(exp.Literal.string(value.isoformat(sep=" ")), "TIMESTAMP")
    if isinstance(value, date):
        return exp.cast(exp.Literal.string(value.isoformat()), "DATE")
    if isinstance(value, int):
        return exp.Literal.number(value)
    if isinstance(value, Decimal):
        return exp.Literal.number(str(value))
    if isinstance(value, float):
        return exp.cast(exp.Literal.string(repr(value)), "DOUBLE")
    if isinstance(value, str):
        return exp.Literal.string(value)
    if isinstance(value, (list, tuple)):
        return exp.Array(expressions=[literal(v) for v in value])
    raise TypeError(f"no SQL literal for {type(value).__name__}")


def _java_time_format(fmt: str) -> str:
    """The Java pattern Spark reads for a strptime format, as sqlglot writes strptime for Spark."""
    written = exp.StrToTime(this=exp.column("x"), format=exp.Literal.string(fmt)).sql("spark")
    found = re.fullmatch(r"TO_TIMESTAMP\(x, '(.*)'\)", written)
    if found is None:
        raise ValueError(f"sqlglot wrote strptime format {fmt!r} as {written}")
    return found.group(1)


def _function(node: exp.Expression) -> exp.Expression:
    """The Spark form of the DuckDB-only functions ingest's typing SQL uses (module docstring)."""
    if isinstance(node, exp.RegexpFullMatch):
        pattern = node.expression
        if not isinstance(pattern, exp.Literal):
            raise ValueError("regexp_full_match needs a literal pattern for Spark")
        return exp.RegexpLike(this=node.this, expression=exp.Literal.string(f"^(?:{pattern.this})$"))
    if not isinstance(node, exp.Anonymous):
        return node
    name = node.name.upper()
    args = node.expressions
    if name == "HASH":
        return exp.Anonymous(this="XXHASH64", expressions=args)
    if name == "ERROR":
        return exp.Anonymous(this="RAISE_ERROR", expressions=args)
    if name == "ISFINITE":
        x = args[0]
        infinity = exp.cast(exp.Literal.string("Infinity"), "DOUBLE")
        return exp.paren(
            exp.and_(
                exp.not_(exp.Anonymous(this="ISNAN", expressions=[x.copy()])),
                exp.LT(this=exp.Abs(this=x.copy()), expression=infinity),
            )
        )
    if name == "TRY_STRPTIME":
        fmt = args[1]
        if not isinstance(fmt, exp.Literal):
            raise ValueError("try_strptime needs a literal format for Spark")
        java = exp.Literal.string(_java_time_format(fmt.this))
        return exp.Anonymous(this="TRY_TO_TIMESTAMP", expressions=[args[0], java])
    return node


def _transform(node: exp.Expression, params: dict[str, object]) -> exp.Expression:
    """Parameters to literals and DuckDB-only types and functions to Spark's (module docstring)."""
    if isinstance(node, exp.Placeholder) and node.name:
        if node.name not in params:
            raise KeyError(f"parameter ${node.name} has no value")
        return literal(params[node.name])
    if isinstance(node, exp.DataType) and node.this == exp.DataType.Type.INT128:
        return exp.DataType.build("DECIMAL(38, 0)")
    if isinstance(node, exp.PercentileCont) and node.args.get("expression") is not None:
        return exp.Anonymous(this="PERCENTILE", expressions=[node.this, node.expression])
    return _function(node)


def _statement(tree: exp.Expression, params: dict[str, object]) -> Statement:
    """One parsed DuckDB statement as a Spark Statement."""
    tree = tree.transform(lambda n: _transform(n, params))
    if isinstance(tree, exp.Drop):
        (table,) = tree.args.get("tables") or [tree.this]
        return Statement("", drop=table.name)
    if isinstance(tree, exp.Create):
        kind = (tree.args.get("kind") or "").upper()
        if kind not in ("TABLE", "VIEW") or tree.expression is None:
            raise ValueError(f"cannot run on Spark: {tree.sql('duckdb')[:80]}")
        name = tree.this.name if isinstance(tree.this, exp.Table) else tree.this.this.name
        return Statement(tree.expression.sql("spark"), create=name, table=kind == "TABLE")
    return Statement(tree.sql("spark"))


@lru_cache(maxsize=256)
def _parse(sql: str) -> tuple[exp.Expression, ...]:
    return tuple(e for e in sqlglot.parse(sql, read="duckdb") if e is not None)


def to_spark(sql: str, params: dict[str, object] | None = None) -> list[Statement]:
    """DuckDB `sql` (one or more statements, `$name` parameters from `params`) as Spark statements."""
    return [_statement(tree.copy(), params or {}) for tree in _parse(sql)]


def expression(sql: str) -> str:
    """One DuckDB scalar expression (ingest's typing SQL) as Spark SQL."""
    (statement,) = to_spark(f"SELECT {sql}")
    return statement.sql.removeprefix("SELECT ")
