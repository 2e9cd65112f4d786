"""Per-customer predictions from fitted BG/NBD and Gamma-Gamma models: probability alive, expected purchases
over a horizon, discounted value over the next 12 months, and value at risk."""

from __future__ import annotations

import numpy as np
import pandas as pd

from segmentation.value import bgnbd, gamma_gamma

MONTH_DAYS = 365.25 / 12


def predict(
    counts: bgnbd.BgNbd,
    spend: gamma_gamma.GammaGamma | None,
    inputs: pd.DataFrame,
    horizon_days: int,
    annual_discount_rate: float,
    months: int = 12,
) -> pd.DataFrame:
    """customer_id, p_alive, expected_purchases (over horizon_days), predicted_value (the next `months`
    months of expected purchases x expected spend, each month discounted) and value_at_risk =
    predicted_value x (1 - p_alive); the value columns are NaN without a spend model."""
    x, t_x, T = (inputs[c].to_numpy(dtype=float) for c in ("x", "t_x", "T"))
    out = pd.DataFrame({"customer_id": inputs["customer_id"].to_numpy()})
    alive = bgnbd.p_alive(counts, x, t_x, T)
    out["p_alive"] = alive
    out["expected_purchases"] = bgnbd.expected_purchases(counts, float(horizon_days), x, t_x, T)
    if spend is None:
        out["predicted_value"] = np.nan
        out["value_at_risk"] = np.nan
        return out
    per_purchase = gamma_gamma.expected_spend(spend, x, inputs["m"].fillna(0).to_numpy(dtype=float))
    monthly = (1.0 + annual_discount_rate) ** (1.0 / 12.0) - 1.0
    value = np.zeros(len(x))
    previous = np.zeros(len(x))
    for month in range(1, months + 1):
        cumulative = bgnbd.expected_purchases(counts, month * MONTH_DAYS, x, t_x, T)
        value += (cumulative - previous) * per_purchase / (1.0 + monthly) ** month
        previous = cumulative
    out["predicted_value"] = value
    out["value_at_risk"] = value * (1.0 - alive)
    return out
