"""Per segment and feature of the (filtered) customers: count, mean, min, max and five percentiles, for
the Compare page's table and box plots.

Counts, means, minima and maxima are exact. Percentiles are exact for a group of up to QUANTILE_SAMPLE
customers; a larger group's come from every k-th of its customers in stored order (k = the group's size
over QUANTILE_SAMPLE, rounded up; customers are stored by segment, country and id), and `q_n` says how
many values they came from, so the page can say so. Why: DuckDB's exact percentiles hold every value of
a group, which took 0.9-1.2 s for eight features of a million customers and their population on one
thread; with the sample this query takes 0.15-0.25 s there, and its cost stops growing with the customers.

One wide query per part (no list-and-unnest of every value): the SQL text holds fixed column names and
integer list positions only; the feature names, read from the run, are matched to the columns in Python.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import pandas as pd

from dashboard import queries
from dashboard.filters import Filters
from dashboard.queries.filtered import allowed, cte
from segmentation.config import TRANSACTION_FEATURES

POPULATION = -1
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
QUANTILE_NAMES = ("p05", "p25", "median", "p75", "p95")
QUANTILE_SAMPLE = 50_000  # values per group and feature above which percentiles come from a sample
COLUMNS = ("segment_id", "feature", "n", "mean", "min", "max", *QUANTILE_NAMES, "q_n")


def feature_columns(run_id: int) -> list[tuple[str, str]]:
    """(name, SQL expression over `c`) of each numeric feature Compare shows, in this order: a customer
    table's features (or a sales run's eight fixed columns), the numeric attributes, a sales run's derived
    features. Expressions are fixed column names or integer positions in a stored list, never a name."""
    row = queries.fetch_all("SELECT mode, features FROM seg.runs WHERE id = ?", [int(run_id)])
    mode, names = (row[0][0], list(row[0][1] or [])) if row else (None, [])
    if mode == "customers":
        out = [(name, f"c.features[{i + 1}]") for i, name in enumerate(names)]
    else:
        out = [(col, f"c.{col}::DOUBLE") for col in TRANSACTION_FEATURES]
    out += [(name, f"c.attr_numbers[{i + 1}]") for i, name in enumerate(attribute_names(run_id, "number"))]
    if mode != "customers":  # derived features: the run's model features that are not columns
        known = set(TRANSACTION_FEATURES) | {a.name for a in allowed(run_id).attributes}
        out += [(name, f"c.features[{i + 1}]") for i, name in enumerate(names) if name not in known]
    return out


def attribute_names(run_id: int, kind: str) -> list[str]:
    """The run's attribute names of one kind ('number' or 'category') in their list order (the slots of
    attr_numbers or attr_texts)."""
    return [a.name for a in sorted(allowed(run_id).attributes, key=lambda a: a.slot) if a.kind == kind]


def feature_stats(f: Filters, ids: list[int], population: bool) -> pd.DataFrame:
    """The statistics of the segments `ids` (checked against the run) and, when asked, of every filtered
    customer (segment_id -1); columns COLUMNS, ordered by segment id and feature name."""
    cols = feature_columns(f.run_id)
    if not cols:
        return pd.DataFrame(columns=list(COLUMNS))
    params = {**f.params(), "ids": ids, "population": bool(population)}
    segments = queries.fetch_all(queries.sql(cte(f, rows=False), _exact(cols)), params)
    exact = [r for r in segments if r[0] in ids]
    if population and segments:
        exact.append(_combined(segments, len(cols)))
    if not exact:
        return pd.DataFrame(columns=list(COLUMNS))
    sizes = {int(r[0]): int(r[1]) for r in exact}
    every = [sample_every(sizes.get(i, 0)) for i in ids]
    sampled = queries.fetch_all(
        queries.sql(cte(f, rows=False, row_ids=True), _sampled(cols)),
        {**params, "every": every or [1], "every_all": sample_every(sizes.get(POPULATION, 0))},
    )
    quantiles = {int(r[0]): r[2:] for r in sampled}
    rows = []
    for r in exact:
        group = int(r[0])
        q = quantiles.get(group)
        for i, (name, _) in enumerate(cols):
            n, total, low, high = r[2 + 4 * i : 6 + 4 * i]
            mean = _mean(total, int(n))
            low, high = _float(low), _float(high)
            qs = q[2 * i] if q is not None else None
            q_n = int(q[2 * i + 1]) if q is not None else 0
            values = list(qs) if qs is not None else [None] * len(QUANTILES)
            rows.append((group, name, int(n), mean, low, high, *values, q_n))
    out = pd.DataFrame(rows, columns=list(COLUMNS))
    for col in ("mean", "min", "max", *QUANTILE_NAMES):
        out[col] = out[col].astype("float64")
    return out.sort_values(["segment_id", "feature"], kind="stable").reset_index(drop=True)


def sample_every(size: int) -> int:
    """Take every k-th customer of a group of `size` so at most QUANTILE_SAMPLE remain (1: all of them)."""
    return max(1, math.ceil(size / QUANTILE_SAMPLE))


def _exact(cols: list[tuple[str, str]]) -> str:
    """Every segment's row count and per feature count, sum, min and max, from one scan (the population's
    follow from these: _combined). The aggregates read the stored columns as they are (a fixed column's
    `::DOUBLE` is left off): integer and DECIMAL sums are exact, and on 1M customers one thread took 41 ms
    instead of 65 ms for avg, min and max of the doubles."""
    select = ", ".join(
        f"count({x}), sum({x}), min({x}), max({x})" for x in (e.removesuffix("::DOUBLE") for _, e in cols)
    )
    return f"""SELECT c.segment_id, count(*), {select} FROM filtered AS c GROUP BY c.segment_id
"""  # noqa: S608 - `select` holds fixed column names and integer positions only (feature_columns)


def _combined(segments: list[tuple], features: int) -> tuple:
    """The population's row (-1) from every segment's: counts and sums add, min of the minima, max of the
    maxima (a second GROUPING SETS pass over the customers cost as much)."""
    out: list = [POPULATION, sum(int(r[1]) for r in segments)]
    for i in range(features):
        parts = [r[2 + 4 * i : 6 + 4 * i] for r in segments if r[2 + 4 * i]]
        n = sum(int(p[0]) for p in parts)
        total = sum(p[1] for p in parts) if parts else None
        lows = [p[2] for p in parts if p[2] is not None]
        highs = [p[3] for p in parts if p[3] is not None]
        out += [n, total, min(lows) if lows else None, max(highs) if highs else None]
    return tuple(out)


def _mean(total: Any, n: int) -> float | None:
    """A sum over a count as a float; exact sums stay exact until the division (int / int rounds once,
    DECIMAL divides to 28 digits), a double sum divides as a double."""
    if total is None or n == 0:
        return None
    if isinstance(total, Decimal):
        return float(total / Decimal(n))
    return float(total / n) if isinstance(total, int) else float(total) / n


def _float(value: Any) -> float | None:
    """A minimum or maximum as a float (None for NULL)."""
    return None if value is None else float(value)


def _sampled(cols: list[tuple[str, str]]) -> str:
    """The selected segments' percentiles from every k-th row ($every, by position in $ids) and the
    population's (when $population) from every $every_all-th."""
    q = "[" + ", ".join(str(x) for x in QUANTILES) + "]"
    select = ", ".join(f"quantile_cont({e}, {q}), count({e})" for _, e in cols)
    return f"""SELECT c.segment_id AS g, count(*), {select}
FROM filtered AS c
WHERE list_contains($ids, c.segment_id)
  AND c.row_id % list_extract($every::BIGINT[], list_position($ids, c.segment_id)) = 0
GROUP BY c.segment_id
UNION ALL
SELECT -1 AS g, count(*), {select}
FROM filtered AS c WHERE $population AND c.row_id % $every_all = 0 GROUP BY g
"""  # noqa: S608 - `select` holds fixed column names and integer positions only (feature_columns)
