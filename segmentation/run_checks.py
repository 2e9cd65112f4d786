"""The checks a run's parameters pass before any file is read (segments run exits 2 with one sentence)."""

from __future__ import annotations

from segmentation import features as feat
from segmentation.config import ALGORITHMS, LOG_FEATURES, SCALERS, TRANSACTION_FEATURES, RunConfig
from segmentation.errors import InputError

K_LIMITS = (2, 50)


def validate(cfg: RunConfig) -> None:
    """Reject parameters that cannot work before any file is read."""
    low, high = K_LIMITS
    if cfg.k is not None and not low <= cfg.k <= high:
        raise InputError(f"--k {cfg.k}: expected a whole number from {low} to {high}.")
    if not (low <= cfg.k_min <= cfg.k_max <= high):
        raise InputError(
            f"--k-range {cfg.k_min}..{cfg.k_max}: expected two whole numbers from {low} to {high}, "
            "the first not above the second."
        )
    if cfg.scaler not in SCALERS:
        raise InputError(f"--scaler {cfg.scaler}: expected one of {', '.join(SCALERS)}.")
    if cfg.log_features not in LOG_FEATURES:
        raise InputError(f"--log-features {cfg.log_features}: expected one of {', '.join(LOG_FEATURES)}.")
    if cfg.algorithm not in ALGORITHMS:
        raise InputError(f"--algorithm {cfg.algorithm}: expected one of {', '.join(ALGORITHMS)}.")
    if cfg.mode == "transactions":
        unknown = [f for f in cfg.model_features if f not in TRANSACTION_FEATURES]
        if unknown or not cfg.model_features:
            raise InputError(
                f"--features {','.join(cfg.model_features)}: expected names from "
                f"{', '.join(TRANSACTION_FEATURES)}."
            )
    for name, cuts in cfg.rfm_cuts.items():
        if name not in feat.RFM_COLUMNS or len(cuts) != 4 or list(cuts) != sorted(set(cuts)):
            raise InputError(
                f"--rfm-cuts {name}={','.join(f'{c:g}' for c in cuts)}: expected one of "
                f"{', '.join(feat.RFM_COLUMNS)} with four increasing numbers."
            )
    if not 1 <= cfg.horizon_days <= 3650:
        raise InputError(
            f"--horizon-days {cfg.horizon_days}: expected a whole number of days from 1 to 3650."
        )
    if not 0 <= cfg.discount_rate <= 1:
        raise InputError(
            f"--discount-rate {cfg.discount_rate:g}: expected an annual rate from 0 to 1, e.g. 0.1."
        )
    if cfg.holdout_days is not None and cfg.holdout_days < 1:
        raise InputError(f"--holdout-days {cfg.holdout_days}: expected a whole number of days, 1 or more.")
    if not cfg.inputs:
        raise InputError(
            "segments run: no input file given; expected at least one CSV, XLSX or Parquet file."
        )
    if cfg.engine not in ("duckdb", "spark"):
        raise InputError(f"--engine {cfg.engine}: expected duckdb or spark.")
    if cfg.engine == "spark" and cfg.mode != "transactions":
        raise InputError("--engine spark reads sales lines; a customer table is read with --engine duckdb.")
