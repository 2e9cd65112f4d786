"""The sentences a run warns with (printed, stored in runs.warnings, shown on the Model page): nothing that
should change how a user reads a run is silent."""

from __future__ import annotations

import numpy as np
import pandas as pd

from segmentation.clean import CleaningStep
from segmentation.config import STABILITY_WARNING, RunConfig
from segmentation.model import ModelResult
from segmentation.value import run as value_run


def collect(
    cfg: RunConfig,
    frame: pd.DataFrame,
    steps: list[CleaningStep],
    model: ModelResult,
    value: value_run.ValueResult | None,
) -> list[str]:
    """Sentences the report, the runs table and the Model page warn with: nothing here is silent."""
    out: list[str] = []
    if np.isfinite(model.stability_ari) and model.stability_ari < STABILITY_WARNING:
        out.append(
            f"Stability at k = {model.k} is {model.stability_ari:.2f}, below {STABILITY_WARNING}: refits on "
            "subsamples put many customers in other segments, so treat these segments as tentative "
            "(try another k from the sweep)."
        )
    if "monetary" in frame.columns and cfg.mode == "transactions":
        negative = frame.loc[frame["monetary"] < 0, "customer_id"].astype(str).tolist()
        if negative:
            out.append(
                f"{_customers(len(negative))} negative net revenue (returns priced above the purchases "
                f"they reverse): {', '.join(negative[:5])}{', ...' if len(negative) > 5 else ''}."
            )
    if value is not None and value.status == "failed":
        out.append(f"No customer value for this run: {value.reason}.")
    elif value is not None and value.status == "partial":
        out.append(f"Probability alive and expected purchases only, no predicted value: {value.reason}.")
    for s in steps:  # rules that judge real purchases (the others are facts of the data)
        if s.customers_lost and s.rule in ("extreme_outlier", "return_of_removed_purchase"):
            out.append(
                f"Cleaning rule {s.rule} removed every line of {s.customers_lost:,} "
                f"customer{'' if s.customers_lost == 1 else 's'}; they are not in this run."
            )
    return out


def _customers(n: int) -> str:
    return "1 customer has" if n == 1 else f"{n:,} customers have"
