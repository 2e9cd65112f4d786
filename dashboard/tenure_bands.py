"""Tenure bands cut from a run's own tenure range (the filter bar's quick picks under the tenure slider)."""

from __future__ import annotations

import math

# Where a band may start (days), most useful first: a run spanning many of them gets the first four inside.
_BAND_EDGES: tuple[int, ...] = (365, 90, 730, 180, 1825, 30, 1095, 3650)
_MAX_BANDS = 5


def tenure_bands(lo: float | None, hi: float | None) -> list[tuple[str, float, float]]:
    """Tenure bands cut from a run's own range [lo, hi] days: (label, first day, last day), at most
    _MAX_BANDS, at the usual edges (90 days, 1 year, 2 years...) that fall inside the range; none if the
    run has no tenure or spans less than two bands."""
    if lo is None or hi is None or hi <= lo:
        return []
    inside = sorted([e for e in _BAND_EDGES if lo < e < hi][: _MAX_BANDS - 1])
    if not inside:
        return []
    starts = [math.floor(lo), *inside]
    ends = [e - 1 for e in inside] + [math.ceil(hi)]
    bands = []
    for i, (a, b) in enumerate(zip(starts, ends, strict=True)):
        if i == 0:
            label = f"under {_days(inside[0])}"
        elif i == len(starts) - 1:
            label = f"{_days(a)}+"
        else:
            label = f"{_days(a)}–{_days(b + 1)}"
        bands.append((label, float(a), float(b)))
    return bands


def _days(days: float) -> str:
    """90 -> '90 days', 365 -> '1 year', 730 -> '2 years' (band labels)."""
    years = days / 365
    if days >= 365 and years.is_integer():
        return f"{int(years)} year" + ("s" if years > 1 else "")
    return f"{int(days)} days"
