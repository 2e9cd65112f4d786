"""Values from an untrusted URL query or callback, one rule for every filter: short scalars, finite numbers,
and numbers written back for URLs and labels (dashboard.filters and dashboard.attribute_filters use them)."""

from __future__ import annotations

import math
from typing import Any

MAX_TEXT = 200  # longest string value considered at all


def scalar(value: Any) -> str | None:
    """A short string from a str/int/float (one-element lists unwrapped); None otherwise."""
    if isinstance(value, (list, tuple)) and len(value) == 1:
        value = value[0]
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str) and len(value) <= MAX_TEXT:
        return value.strip()
    return None


def number(value: Any) -> float | None:
    """A finite float from a number or a short numeric string; None for NaN, inf, text or containers."""
    text = scalar(value)
    if text is None or len(text) > 32:
        return None
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def fmt(value: float) -> str:
    """A number for URLs and labels: integers without '.0', others in full precision."""
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(float(value))
