"""The calibration/holdout check: fit BG/NBD on everything before the last N days, predict each customer's
purchases in those N days, and compare with what really happened (in total, by calibration purchases, and
as the mean absolute error per customer)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd

from segmentation.value import bgnbd, inputs

TOP_BUCKET = 7  # repeat purchases in calibration are grouped 0, 1, ..., 6, 7+


@dataclass(frozen=True)
class Backtest:
    """What the holdout showed; by_calibration has bucket (7 = 7+), customers, predicted, actual."""

    holdout_days: int
    cutoff: date  # first day of the holdout
    customers: int
    predicted_total: float
    actual_total: float
    mae: float
    by_calibration: pd.DataFrame
    model: bgnbd.BgNbd


def run(con: duckdb.DuckDBPyConnection, snapshot: date, holdout_days: int) -> Backtest:
    """Fit on purchase days before snapshot - holdout_days; compare predictions for the holdout days."""
    cutoff = snapshot - timedelta(days=holdout_days)
    calibration = inputs.rfm_t(con, cutoff - timedelta(days=1), cutoff)
    if len(calibration) < 10:
        raise ValueError(f"only {len(calibration)} customers bought before {cutoff}; expected at least 10")
    x, t_x, T = (calibration[c].to_numpy(dtype=float) for c in ("x", "t_x", "T"))
    model = bgnbd.fit(x, t_x, T)
    predicted = bgnbd.expected_purchases(model, float(holdout_days), x, t_x, T)
    actual = inputs.holdout_actual(con, cutoff).reindex(calibration["customer_id"]).fillna(0.0).to_numpy()
    if not np.all(np.isfinite(predicted)):
        raise ValueError("the calibration fit gave non-finite predictions")
    frame = pd.DataFrame(
        {"bucket": np.minimum(x, TOP_BUCKET).astype(int), "predicted": predicted, "actual": actual}
    )
    by = frame.groupby("bucket").agg(
        customers=("predicted", "size"), predicted=("predicted", "sum"), actual=("actual", "sum")
    )
    by = by.reindex(range(TOP_BUCKET + 1), fill_value=0).reset_index()
    return Backtest(
        holdout_days=holdout_days,
        cutoff=cutoff,
        customers=len(frame),
        predicted_total=float(predicted.sum()),
        actual_total=float(actual.sum()),
        mae=float(np.mean(np.abs(predicted - actual))),
        by_calibration=by,
        model=model,
    )
