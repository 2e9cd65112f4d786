"""Derived features of a sales run: `--feature "aov = monetary / frequency"` over the per-customer features
(and the numeric --attributes columns), compiled by segmentation.derived to bound DuckDB SQL.

They join the model's features. A value the expression cannot give (a division by zero, a missing input)
becomes the feature's median for the model, and the run warns how many customers that touched.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from segmentation import derived as expressions
from segmentation.attributes import Joined
from segmentation.config import TRANSACTION_FEATURES, RunConfig
from segmentation.errors import InputError

# What an expression can read of each customer: the model's candidate features and the purchase dates.
NUMBERS = TRANSACTION_FEATURES
DATES = ("first_purchase", "last_purchase")


@dataclass(frozen=True)
class DerivedResult:
    """The derived features added to the frame, and the warnings about missing values."""

    names: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


def add(
    con: duckdb.DuckDBPyConnection,
    cfg: RunConfig,
    frame: pd.DataFrame,
    joined: Joined | None,
    snapshot: date | None,
) -> DerivedResult:
    """Compute cfg.derived_features for every customer of a sales run and add them to `frame`."""
    if cfg.mode != "transactions" or not cfg.derived_features:
        return DerivedResult()
    parsed = [expressions.parse(text) for text in cfg.derived_features]
    attribute_slots = {c.name: c.slot for c in joined.table.numbers()} if joined else {}
    available = (*NUMBERS, *DATES, *attribute_slots)
    taken = set(frame.columns) | set(attribute_slots)
    names: list[str] = []
    for d in parsed:
        expressions.check_columns(d, available)
        if d.name in taken or d.name in names:
            raise InputError(
                f"--feature \"{d.source}\": the run already has a column named '{d.name}'; "
                "expected a new name."
            )
        names.append(d.name)
    table = pa.table(
        {
            "row": pa.array(np.arange(len(frame))),
            **{n: pa.array(frame[n].to_numpy(dtype=float), from_pandas=True) for n in NUMBERS if n in frame},
            **{n: pa.array(frame[n], type=pa.timestamp("us")) for n in DATES if n in frame},
        }
    )
    if joined is not None:
        table = table.append_column("attr_numbers", joined.numbers)
    con.register("derived_input", table)
    warnings: list[str] = []
    try:
        for d in parsed:
            try:
                sql, params = expressions.compile_sql(
                    d,
                    lambda name: _number(name, attribute_slots),
                    lambda name: f"strftime({_date(name)}, '%Y-%m-%d')",
                    snapshot or date.today(),
                )
            except ValueError as exc:
                raise InputError(f'--feature "{d.source}": {exc}') from None
            values = (
                con.execute(f"SELECT {sql} FROM derived_input ORDER BY row", params)  # noqa: S608 - compiled
                .fetchnumpy()
                .popitem()[1]
            )
            column = np.ma.filled(np.ma.asarray(values).astype(float), np.nan)  # NULL (masked): NaN
            missing = ~np.isfinite(column)
            if missing.all():
                raise InputError(
                    f'--feature "{d.source}": no customer has a value (every one divides by zero or reads '
                    "a missing value); expected an expression with values."
                )
            if missing.any():
                median = float(np.median(column[~missing]))
                column = np.where(missing, median, column)
                warnings.append(
                    f"--feature {d.name}: {int(missing.sum()):,} customers have no value (a division by zero "
                    f"or a missing input); the model used the median ({median:g})."
                )
            frame[d.name] = column
    finally:
        con.unregister("derived_input")
    return DerivedResult(tuple(names), tuple(warnings))


def _number(name: str, attribute_slots: dict[str, int]) -> str:
    """A column of derived_input as a number (checked names only; attributes by their stored slot)."""
    if name in attribute_slots:
        return f"attr_numbers[{int(attribute_slots[name])}]"
    if name in DATES:
        return f"epoch({_date(name)}) / 86400"
    return f'"{NUMBERS[NUMBERS.index(name)]}"'


def _date(name: str) -> str:
    """A date column of derived_input (checked against DATES)."""
    if name not in DATES:
        raise ValueError(f"'{name}' is not a date column; expected one of {', '.join(DATES)}.")
    return f'"{DATES[DATES.index(name)]}"'


_PROFILE = """
INSERT OR IGNORE INTO out.segment_profiles
WITH long AS (
    SELECT segment_id, unnest($names::VARCHAR[]) AS feature, unnest(list_select(features, $positions)) AS v
    FROM out.customers WHERE run_id = $run
)
SELECT $run, CASE WHEN grouping(segment_id) = 1 THEN -1 ELSE segment_id END, feature, avg(v), median(v),
       quantile_cont(v, 0.25), quantile_cont(v, 0.75), min(v), max(v)
FROM long
GROUP BY GROUPING SETS ((segment_id, feature), (feature))
"""


def store_profiles(
    con: duckdb.DuckDBPyConnection, run_id: int, result: DerivedResult, model_features: tuple[str, ...]
) -> None:
    """Segment profiles of the derived features (the Compare page's rows), from the stored model inputs."""
    if not result.names:
        return
    positions = [model_features.index(name) + 1 for name in result.names]
    con.execute(_PROFILE, {"run": run_id, "names": list(result.names), "positions": positions})
