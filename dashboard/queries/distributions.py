"""Explore's histograms of the filtered customers: tenure, recency, frequency and revenue, stacked by segment.

Rules (unchanged): the 1st..99th percentile range is binned and the tails land in the end bins (a few big
spenders must not squash every other bar into one); whole-number columns get whole-number widths.

How: one scan fetches the filtered customers' segment and four values as Arrow columns, and NumPy counts the
bins. Whole-number columns are counted per (segment, value), so their 1st and 99th percentiles are exact;
revenue's only place its bins (every count stays exact), so past feature_stats.QUANTILE_SAMPLE customers
with a revenue they come from every k-th of them in stored order. On 1M customers (one thread, 90 random
filter sets, old and new interleaved) the median went from 129 to 96 ms and p95 from 154 to 126 ms (the
old way: a GROUPING SETS query over the four columns after a revenue-range query), with the same counts.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from dashboard import queries
from dashboard.filters import Filters
from dashboard.queries import feature_stats, filtered, result_cache

HISTOGRAM_BINS = 30
# Explore's histogram columns in display order (their labels: figures.EXPLORE_HISTOGRAM_LABELS) -> the
# customers column; all but monetary are whole numbers (days, orders).
HISTOGRAM_COLUMNS: dict[str, str] = {
    "tenure": "tenure_days",
    "recency": "recency_days",
    "frequency": "frequency",
    "monetary": "monetary",
}
HISTOGRAM_FEATURES: tuple[str, ...] = tuple(HISTOGRAM_COLUMNS)
COLUMNS = ["feature", "segment_id", "bin", "customers", "lo", "width", "vmin", "vmax"]
_VALUES = """
SELECT segment_id, tenure_days, recency_days, frequency, monetary::DOUBLE AS monetary
FROM filtered WHERE segment_id IS NOT NULL
"""
# Above this many ids or values between the smallest and largest, counts use np.unique instead of a
# bincount as long as the range.
_DENSE_SPAN = 1 << 22


def histograms(f: Filters, bins: int = HISTOGRAM_BINS) -> pd.DataFrame:
    """Customers per bin and segment of tenure, recency, frequency and revenue under the filters.

    Columns: feature (a HISTOGRAM_FEATURES key), segment_id, bin (0-based), customers, lo and width (bin
    i covers [lo + i*width, lo + (i+1)*width); width is NULL when every value is equal), vmin, vmax (the
    first and last bins also hold the values below and above the binned 1st..99th percentile range).
    """
    bins = min(max(int(bins), 1), 200)
    return result_cache.memo("histograms", {**f.params(), "bins": bins}, lambda: _histograms(f, bins))


def _histograms(f: Filters, bins: int) -> pd.DataFrame:
    table = queries.fetch_arrow(filtered.cte(f, rows=False) + _VALUES, f.params())
    ids, segment_at = _codes(table.column("segment_id").to_numpy())
    parts = []
    for feature, column in HISTOGRAM_COLUMNS.items():
        values, at = table.column(column).to_numpy(), segment_at  # NULL as NaN
        if table.column(column).null_count:  # NULL values are left out
            known = ~np.isnan(values)
            values, at = values[known], at[known]
        if values.size == 0:
            continue
        binned = _money_bins if feature == "monetary" else _whole_bins
        totals, lo, width = binned(values, at, len(ids), bins)
        segment, bin_ = np.nonzero(totals)
        parts.append(
            pd.DataFrame(
                {
                    "feature": feature,
                    "segment_id": ids[segment],
                    "bin": bin_,
                    "customers": totals[segment, bin_],
                    "lo": lo,
                    "width": width,
                    "vmin": float(values.min()),
                    "vmax": float(values.max()),
                }
            )
        )
    if not parts:
        return pd.DataFrame({c: [] for c in COLUMNS})
    out = pd.concat(parts, ignore_index=True).astype(
        {"segment_id": "int64", "bin": "int64", "customers": "int64"}
    )
    return out.sort_values(["feature", "bin", "segment_id"], ignore_index=True)


def _codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct integers of `values` in order, and each value's position among them (int64)."""
    values = values.astype(np.int64, copy=False)
    if values.size and int(values.max()) - int(values.min()) < _DENSE_SPAN:
        low, high = int(values.min()), int(values.max())
        shifted = values - low
        present = np.flatnonzero(np.bincount(shifted, minlength=high - low + 1))
        if present.size == high - low + 1:  # every integer in the range occurs: positions are the offsets
            return present + low, shifted
        position = np.zeros(high - low + 1, dtype=np.int64)
        position[present] = np.arange(present.size)
        return present + low, position[shifted]
    distinct, at = np.unique(values, return_inverse=True)
    return distinct, at.astype(np.int64)


def _money_bins(
    values: np.ndarray, at: np.ndarray, segments: int, bins: int
) -> tuple[np.ndarray, float, float]:
    """Revenue's customers per (segment, bin), the bins' start and width: the range from its 1st and 99th
    percentiles (linear interpolation, as quantile_cont; from every k-th value past QUANTILE_SAMPLE) in
    `bins` equal widths; all values equal: one bin, NaN width."""
    sample = values[:: feature_stats.sample_every(values.size)]
    lo, hi = (float(q) for q in np.quantile(sample, (0.01, 0.99)))
    if not hi > lo:
        return np.bincount(at, minlength=segments).reshape(segments, 1), lo, math.nan
    width = (hi - lo) / bins
    last = min(math.floor((hi - lo) / width), bins - 1)
    bin_ = np.clip(np.floor((values - lo) / width), 0, last).astype(np.int64)
    return np.bincount(at * bins + bin_, minlength=segments * bins).reshape(segments, bins), lo, width


def _whole_bins(
    values: np.ndarray, at: np.ndarray, segments: int, bins: int
) -> tuple[np.ndarray, float, float]:
    """A whole-number column's customers per (segment, bin), the bins' start and width: the range from its
    exact 1st and 99th percentiles (quantile_cont's linear interpolation over the sorted values), widened to
    whole numbers. Counted per (segment, value) first when that grid is small (days, orders), else per row."""
    values = values.astype(np.int64, copy=False)
    low, high = int(values.min()), int(values.max())
    span = high - low + 1
    if span * segments < _DENSE_SPAN:
        grid = np.bincount(at * span + (values - low), minlength=segments * span).reshape(segments, span)
        per_value = grid.sum(axis=0)
        present = np.flatnonzero(per_value)
        distinct, per_value, grid = present + low, per_value[present], grid[:, present]
    else:
        distinct, per_value = np.unique(values, return_counts=True)
        grid = None
    q01, q99 = _quantiles(distinct.astype(np.float64), per_value, (0.01, 0.99))
    lo, hi = math.floor(q01), math.ceil(q99)
    width = max(math.ceil((hi - lo + 1) / bins), 1)
    last = min(math.floor((hi - lo) / width), bins - 1)
    if grid is not None:  # each distinct value's bin; a segment's bin counts add its values' counts
        value_bin = np.clip((distinct - lo) // width, 0, last)
        totals = np.stack([np.bincount(value_bin, weights=row, minlength=bins) for row in grid])
        return totals.astype(np.int64), float(lo), float(width)
    bin_ = np.clip((values - lo) // width, 0, last)
    totals = np.bincount(at * bins + bin_, minlength=segments * bins).reshape(segments, bins)
    return totals, float(lo), float(width)


def _quantiles(values: np.ndarray, counts: np.ndarray, qs: tuple[float, ...]) -> list[float]:
    """Quantiles of sorted distinct `values` repeated `counts` times, interpolated at (n - 1) * q as
    DuckDB's quantile_cont and NumPy's default do."""
    ends = np.cumsum(counts)  # the i-th smallest value (0-based) is values[searchsorted(ends, i, 'right')]
    n = int(ends[-1])
    out = []
    for q in qs:
        pos = (n - 1) * q
        below, above = math.floor(pos), math.ceil(pos)
        a = values[np.searchsorted(ends, below, side="right")]
        b = values[np.searchsorted(ends, above, side="right")]
        out.append(float(a + (pos - below) * (b - a)))
    return out
