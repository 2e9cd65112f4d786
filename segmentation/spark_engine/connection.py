"""A DuckDB-shaped connection over a SparkSession, so clean.py, features.py and value/ run unchanged.

`execute(sql, params)` takes the same DuckDB statements and `$name` parameters the DuckDB engine runs,
translates them (dialect.py) and runs them in Spark SQL: a TEMP TABLE is cached and counted (built once,
like DuckDB's), a TEMP VIEW stays lazy, a query's rows come to the driver as Arrow. Results are read
through an in-memory DuckDB relation over that Arrow table, so fetchone(), fetchall() and df() give the
same Python and pandas types as the DuckDB engine (DECIMAL as Decimal or float64, TIMESTAMP as datetime).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import duckdb

from segmentation.spark_engine import dialect

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession


# SEGMENTS_SPARK_PROFILE=1: each statement's seconds on stderr (bench/spark_bench.py's breakdown)
PROFILE = os.environ.get("SEGMENTS_SPARK_PROFILE") == "1"


class SparkResult:
    """A query's rows on the driver, read like a DuckDB result."""

    def __init__(self, table: pa.Table | None) -> None:
        self._table = table
        self._rows: list[tuple[Any, ...]] | None = None

    def _read(self, how: Callable[[duckdb.DuckDBPyRelation], Any]) -> Any:
        """The rows read through DuckDB on a connection of their own: the module's default connection is
        shared with whatever else the process runs, and DuckDB refuses new work on a connection that has
        an unfinished result (a full CI run found one left there by an earlier test)."""
        if self._table is None:
            raise ValueError("the statement returned no rows")
        with duckdb.connect() as con:
            return how(con.from_arrow(self._table))

    def fetchall(self) -> list[tuple[Any, ...]]:
        """Every row, as DuckDB would give them."""
        if self._rows is None:
            self._rows = self._read(lambda relation: relation.fetchall())
        return self._rows

    def fetchone(self) -> tuple[Any, ...] | None:
        """The first row (the statements read here return one row), or None."""
        rows = self.fetchall()
        return rows[0] if rows else None

    def df(self) -> pd.DataFrame:
        """The rows as pandas, with DuckDB's type mapping."""
        return self._read(lambda relation: relation.df())

    def arrow(self) -> pa.Table:
        """The rows as Arrow, as Spark gave them."""
        if self._table is None:
            raise ValueError("the statement returned no rows")
        return self._table


class SparkConnection:
    """Runs DuckDB-dialect statements on Spark; tracks the temp views it made so close() drops them."""

    def __init__(self, spark: SparkSession) -> None:
        self.spark = spark
        self._cached: dict[str, DataFrame] = {}
        self._views: set[str] = set()

    def execute(self, sql: str, params: dict[str, object] | None = None) -> SparkResult:
        """Run one or more DuckDB statements; the result holds the last query's rows (none after a CREATE)."""
        result = SparkResult(None)
        for statement in dialect.to_spark(sql, params):
            started = time.perf_counter()
            if statement.drop is not None:
                self.drop(statement.drop)
            elif statement.create is not None:
                self.register(statement.create, self.spark.sql(statement.sql), cache=True)
                result = SparkResult(None)
            else:
                result = SparkResult(self.spark.sql(statement.sql).toArrow())
            if PROFILE and statement.create is None:
                what = statement.drop or " ".join(statement.sql.split())[:70]
                print(f"spark {time.perf_counter() - started:7.2f} s  {what}", file=sys.stderr, flush=True)
        return result

    def register(self, name: str, frame: DataFrame, cache: bool = False) -> None:
        """Make `frame` the temp view `name`; cached and counted now when `cache` (a TEMP TABLE)."""
        old = self._cached.pop(name, None)
        started = time.perf_counter()
        if cache:
            # rows kept on the executors and the plan cut there: later statements plan against a scan of
            # these rows instead of the whole chain of statements before (planning time grows with it)
            frame = frame.localCheckpoint(eager=True)
            self._cached[name] = frame
        frame.createOrReplaceTempView(name)
        self._views.add(name)
        if PROFILE:
            print(f"spark {time.perf_counter() - started:7.2f} s  {name}", file=sys.stderr, flush=True)
        if old is not None:
            old.unpersist()

    def drop(self, name: str) -> None:
        """Drop temp view `name` and free its cached rows."""
        self.spark.catalog.dropTempView(name)
        self._views.discard(name)
        old = self._cached.pop(name, None)
        if old is not None:
            old.unpersist()

    def close(self) -> None:
        """Drop every temp view this connection made (a shared session is left clean)."""
        for name in sorted(self._views | set(self._cached)):
            self.drop(name)
