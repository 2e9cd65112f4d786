"""Per-customer features as of a snapshot date, computed in DuckDB, and the R/F/M scores."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import duckdb
import numpy as np
import pandas as pd

from segmentation import sql
from segmentation.errors import InputError

RFM_COLUMNS = ("recency_days", "frequency", "monetary")


@dataclass(frozen=True)
class FeatureResult:
    """The per-customer table and the day it was measured to."""

    frame: pd.DataFrame
    snapshot: date
    first_sale: datetime | None
    last_sale: datetime | None


def sales_features(con: duckdb.DuckDBPyConnection, snapshot: date | None, source: str) -> FeatureResult:
    """Aggregate `sales` and `returns` into one row per customer (sorted by id) as of the snapshot.

    The default snapshot is the day after the last sale, so the most recent buyer has recency 1.
    """
    row = con.execute(sql.LAST_SALE).fetchone()
    assert row is not None
    last_sale, first_sale = row
    if snapshot is None:
        snapshot = last_sale.date() + timedelta(days=1)
    elif snapshot <= first_sale.date():
        raise InputError(
            f"{source}: snapshot date {snapshot} is on or before the first sale ({first_sale.date()}); "
            "expected a later date."
        )
    con.execute(sql.FEATURES, {"snapshot": snapshot})
    frame = con.execute("SELECT * FROM features").df()
    frame["customer_id"] = frame["customer_id"].astype(str)
    return FeatureResult(frame, snapshot, first_sale, last_sale)


def customer_table_features(con: duckdb.DuckDBPyConnection, names: tuple[str, ...]) -> pd.DataFrame:
    """The customer table's rows as a frame: id, country, tenure_days and one column per feature."""
    frame = con.execute("SELECT * FROM features").df()
    values = np.array(frame["features"].tolist(), dtype=float).reshape(len(frame), len(names))
    out = frame[["customer_id", "country", "tenure_days"]].copy()
    out["customer_id"] = out["customer_id"].astype(str)
    for i, name in enumerate(names):
        out[name] = values[:, i]
    return out


def quintile_cuts(values: np.ndarray) -> tuple[float, ...]:
    """Four cut points splitting `values` into five score bins of about a fifth each.

    Ties are explicit: equal values always fall in the same bin, because cuts are placed only between
    distinct values; every bin is non-empty, because each cut leaves enough distinct values for the bins
    after it. Each cut is the distinct value whose cumulative share is nearest its target (20, 40, 60,
    80%), ties going to the lower value. With fewer than five distinct values there are fewer cuts.
    """
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return ()
    distinct, counts = np.unique(finite, return_counts=True)
    cumulative = np.cumsum(counts)
    n, d = finite.size, distinct.size
    bins = min(5, d)
    cuts: list[float] = []
    lowest = 0  # index of the smallest distinct value the next cut may take
    for i in range(1, bins):
        highest = d - (bins - i) - 1  # leave one distinct value for each later bin
        window = cumulative[lowest : highest + 1]
        j = lowest + int(np.argmin(np.abs(window - i * n / 5)))
        cuts.append(float(distinct[j]))
        lowest = j + 1
    return tuple(cuts)


def scores(values: np.ndarray, cuts: tuple[float, ...], higher_is_better: bool = True) -> np.ndarray:
    """Scores 1-5 from cut points (a value equal to a cut belongs to the lower bin).

    With fewer than four cuts the bins are spread evenly over 1-5; recency uses higher_is_better=False.
    """
    bins = np.searchsorted(np.asarray(cuts, dtype=float), values, side="left")
    if len(cuts) == 0:
        result = np.full(values.shape, 3, dtype=np.int8)
    else:
        result = (1 + np.rint(bins * 4 / len(cuts))).astype(np.int8)
    return result if higher_is_better else (6 - result).astype(np.int8)
