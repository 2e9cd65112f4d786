"""The run's customer-value models and backtest, as stored by `segments run` (read-only)."""

from __future__ import annotations

from typing import Any

import duckdb
import pandas as pd

from dashboard import queries


def value_model(run_id: int) -> dict[str, Any] | None:
    """The run's value_models row as a dict; None in files written before customer value (schema < 3)."""
    try:
        df = queries.fetch_df("SELECT * FROM seg.value_models WHERE run_id = ?", [int(run_id)])
    except duckdb.CatalogException:
        return None
    return None if df.empty else {k: (None if pd.isna(v) else v) for k, v in df.iloc[0].items()}


def backtest(run_id: int) -> pd.DataFrame:
    """calibration_purchases (7 = 7+), customers, predicted, actual; empty without a backtest."""
    try:
        return queries.fetch_df(
            "SELECT calibration_purchases, customers, predicted, actual FROM seg.value_backtest "
            "WHERE run_id = ? ORDER BY calibration_purchases",
            [int(run_id)],
        )
    except duckdb.CatalogException:
        return pd.DataFrame(columns=["calibration_purchases", "customers", "predicted", "actual"])


def segment_value(run_id: int) -> pd.DataFrame:
    """Per segment: customers, total and mean predicted value, total and mean value at risk (exact sums)."""
    return queries.fetch_df(
        """SELECT segment_id, count(*) AS customers,
                  sum(predicted_value)::DOUBLE AS value, avg(predicted_value)::DOUBLE AS mean_value,
                  sum(value_at_risk)::DOUBLE AS at_risk, avg(value_at_risk)::DOUBLE AS mean_at_risk
           FROM seg.customers WHERE run_id = ? GROUP BY segment_id ORDER BY segment_id""",
        [int(run_id)],
    )
