"""Fit the value models of one sales run; a fit that fails or does not converge never fails the run, it
gives a status and a reason instead."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd

from segmentation.value import backtest as bt
from segmentation.value import bgnbd, clv, gamma_gamma, inputs

MIN_CUSTOMERS = 10  # fewer than this and there is nothing to fit
MIN_REPEAT_BUYERS = 10  # the spend model needs this many repeat buyers with a positive average spend


@dataclass(frozen=True)
class ValueResult:
    """status: 'ok'; 'partial' (purchase model only: no spend model, so no value); 'failed'."""

    status: str
    reason: str | None
    predictions: (
        pd.DataFrame | None
    )  # customer_id, p_alive, expected_purchases, predicted_value, value_at_risk
    counts: bgnbd.BgNbd | None = None
    spend: gamma_gamma.GammaGamma | None = None
    spend_customers: int = 0
    correlation: float = float("nan")
    backtest: bt.Backtest | None = None
    backtest_error: str | None = None
    seconds: float = 0.0


def _spend_model(data: pd.DataFrame) -> tuple[gamma_gamma.GammaGamma | None, int, float, str | None]:
    """The Gamma-Gamma fit on repeat buyers with a positive average spend, or why there is none."""
    buyers = data[(data["x"] > 0) & (data["m"] > 0)]
    correlation = gamma_gamma.spend_frequency_correlation(buyers["x"].to_numpy(), buyers["m"].to_numpy())
    if len(buyers) < MIN_REPEAT_BUYERS:
        return (
            None,
            len(buyers),
            correlation,
            (
                f"only {len(buyers)} repeat buyers with a positive average spend; the spend model needs "
                f"{MIN_REPEAT_BUYERS}"
            ),
        )
    model = gamma_gamma.fit(buyers["x"].to_numpy(), buyers["m"].to_numpy())
    if not model.converged:
        return None, len(buyers), correlation, f"the spend model did not converge ({model.message})"
    if model.q <= 1:
        return (
            None,
            len(buyers),
            correlation,
            (f"the spend model's q = {model.q:.3f} is not above 1, so mean spend is unbounded"),
        )
    return model, len(buyers), correlation, None


def fit(
    con: duckdb.DuckDBPyConnection,
    snapshot: date,
    horizon_days: int,
    discount_rate: float,
    holdout_days: int | None = None,
) -> ValueResult:
    """Value and risk per customer from the cleaned purchases (tables `sales` and `kept_alloc`)."""
    started = time.perf_counter()
    try:
        inputs.prepare(con)
        data = inputs.rfm_t(con, snapshot - timedelta(days=1))
        if len(data) < MIN_CUSTOMERS:
            return ValueResult("failed", f"only {len(data)} customers; the models need {MIN_CUSTOMERS}", None)
        x, t_x, T = (data[c].to_numpy(dtype=float) for c in ("x", "t_x", "T"))
        counts = bgnbd.fit(x, t_x, T)
        params = np.array([counts.r, counts.alpha, counts.a, counts.b])
        if not counts.converged or not np.all(np.isfinite(params)):
            return ValueResult(
                "failed", f"the purchase model did not converge ({counts.message})", None, counts
            )
        spend, spend_customers, correlation, why_no_spend = _spend_model(data)
        predictions = clv.predict(counts, spend, data, horizon_days, discount_rate)
        numbers = predictions.drop(columns="customer_id").to_numpy(dtype=float)
        if spend is None:
            numbers = numbers[:, :2]
        if not np.all(np.isfinite(numbers)) or np.any(numbers < -1e-9):
            return ValueResult(
                "failed", "the fitted models gave non-finite or negative predictions", None, counts
            )
        value_columns = ["p_alive", "expected_purchases", "predicted_value", "value_at_risk"]
        predictions[value_columns] = predictions[value_columns].clip(lower=0.0)
        test, test_error = None, None
        if holdout_days:
            try:
                test = bt.run(con, snapshot, holdout_days)
            except (ValueError, FloatingPointError, ArithmeticError) as exc:
                test_error = str(exc)
        return ValueResult(
            "ok" if spend is not None else "partial",
            why_no_spend,
            predictions,
            counts,
            spend,
            spend_customers,
            correlation,
            test,
            test_error,
            time.perf_counter() - started,
        )
    except (ValueError, FloatingPointError, ArithmeticError, np.linalg.LinAlgError) as exc:
        return ValueResult(
            "failed", f"the value models failed: {exc}", None, seconds=time.perf_counter() - started
        )
