"""A range slider's ends from a run's range: one rule for the fixed filters and the attribute filters."""

from __future__ import annotations

import math


def widened(
    lo: float, hi: float, step: float, limits: tuple[float, float] | None = None
) -> tuple[float, float]:
    """[lo, hi] widened outward to whole steps (rounded first: 12.3 / 0.1 is 122.99999999999999), clamped to
    `limits` when given, the upper end at least one step above the lower."""
    lo_i = math.floor(round(lo / step, 6)) * step
    hi_i = math.ceil(round(hi / step, 6)) * step
    if limits is not None:
        lo_i, hi_i = max(lo_i, limits[0]), min(hi_i, limits[1])
    return round(lo_i, 6), round(hi_i if hi_i > lo_i else lo_i + step, 6)
