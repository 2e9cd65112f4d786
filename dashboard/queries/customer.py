"""One customer's "why this segment" and the facts behind the Customers page's empty state (a column's
range and the values present under a filter set; Explore's histograms are in queries.distributions).

Same rules as queries.filtered: static SQL text, bound parameters only, aggregates or single rows. The
customer id comes from the browser, so it is bound as a value and the customer must exist in the run; the
centroids come from the run's stored model (segmentation.scoring), never from a fit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from dashboard import queries
from dashboard.filters import Filters
from dashboard.queries import filtered
from segmentation import scoring

BORDERLINE_RATIO = 1.25  # next centroid less than 25% farther than its own: a borderline member
MAX_ID_LENGTH = 200


# ---------------------------------------------------------------------------------------------------------
# The empty state's facts: what the customers a filter set keeps look like in one column

# UI range name (filters.RANGE_COLUMNS) -> its expression in the filters' own units (alive in percent).
_RANGE_EXPR: dict[str, str] = {
    "tenure": "tenure_days",
    "recency": "recency_days",
    "frequency": "frequency",
    "monetary": "monetary",
    "value": "predicted_value",
    "alive": "p_alive * 100",
}
# Listed value kind -> its fixed column of `filtered`.
_VALUE_COLUMNS: dict[str, str] = {"country": "country", "segment": "segment_name"}
MAX_VALUES = 50


def range_under(f: Filters, name: str) -> tuple[float | None, float | None]:
    """(min, max) of one range column (a filters.RANGE_COLUMNS key) among the customers f keeps."""
    expr = _RANGE_EXPR[name]  # a fixed expression; an unknown name is a KeyError, never SQL
    row = queries.fetch_one(
        queries.sql(
            filtered.cte(f, rows=False),
            "SELECT min(",
            expr,
            ")::DOUBLE, max(",
            expr,
            ")::DOUBLE FROM filtered",
        ),
        f.params(),
    )
    return (None, None) if row is None else (_maybe(row[0]), _maybe(row[1]))


def values_under(f: Filters, kind: str) -> list[str]:
    """The countries or segment names ('country' / 'segment') of the customers f keeps, most common first."""
    column = _VALUE_COLUMNS[kind]
    rows = queries.fetch_all(
        queries.sql(
            filtered.cte(f),
            "SELECT",
            column,
            "FROM filtered WHERE",
            column,
            "IS NOT NULL GROUP BY ALL ORDER BY count(*) DESC, 1 LIMIT $n",
        ),
        {**f.params(), "n": MAX_VALUES},
    )
    return [str(r[0]) for r in rows]


# ---------------------------------------------------------------------------------------------------------
# Why this segment


@dataclass(frozen=True)
class Why:
    """One customer's segment, runner-up and distances, with each model feature against the profiles.

    features columns: feature, value (the customer's), centroid (the segment's centre in the feature's own
    units), segment_median, segment_p25, segment_p75, population_median, z (the customer in the model's
    scaled space), z_centroid, z_next (own and next-nearest centroid there); NaN where the run lacks it.
    """

    run_id: int
    customer_id: str
    country: str | None
    segment_id: int | None
    segment_name: str
    description: str | None
    action: str | None
    next_segment_id: int | None
    next_segment_name: str | None
    dist_own: float | None
    dist_next: float | None
    is_outlier: bool
    rfm_group: str | None
    features: pd.DataFrame
    p_alive: float | None = None  # the value model's; None when the run has none
    predicted_value: float | None = None
    value_at_risk: float | None = None
    expected_purchases: float | None = None

    def borderline(self) -> bool | None:
        """True when the next-nearest centroid is less than BORDERLINE_RATIO times as far as its own."""
        if self.dist_own is None or self.dist_next is None:
            return None
        return self.dist_next < BORDERLINE_RATIO * self.dist_own

    def verdict(self) -> str:
        """'3.1 from its centroid, 4.0 from Loyal: a clear member.' (or 'borderline')."""
        if self.dist_own is None:
            return "The run stored no distances for this customer."
        own = f"{self.dist_own:.1f} from its centroid"
        if self.dist_next is None or self.next_segment_name is None:
            return own + "."
        kind = "borderline" if self.borderline() else "a clear member"
        return f"{own}, {self.dist_next:.1f} from {self.next_segment_name}: {kind}."


_WHY_SQL = """
SELECT c.customer_id, c.country, c.segment_id, coalesce(s.name, 'Segment ' || c.segment_id), s.description,
       s.action, c.next_segment_id, coalesce(n.name, 'Segment ' || c.next_segment_id), c.dist_own,
       c.dist_next, coalesce(c.is_outlier, false), c.rfm_group, c.features, r.features, c.p_alive,
       c.predicted_value::DOUBLE, c.value_at_risk::DOUBLE, c.expected_purchases
FROM seg.customers AS c
JOIN seg.runs AS r ON r.id = c.run_id
LEFT JOIN seg.segments AS s ON s.run_id = c.run_id AND s.segment_id = c.segment_id
LEFT JOIN seg.segments AS n ON n.run_id = c.run_id AND n.segment_id = c.next_segment_id
WHERE c.run_id = $run_id AND c.customer_id = $customer_id
"""
_PROFILES_SQL = """
SELECT segment_id, feature, median, p25, p75 FROM seg.segment_profiles
WHERE run_id = $run_id AND list_contains($segments, segment_id)
"""
_MODEL_SQL = """
SELECT features, log_transform, center, scale, centroids, pca_mean, pca_components
FROM seg.models WHERE run_id = ?
"""


def clean_id(value: Any) -> str | None:
    """A customer id from the browser: a short string (or an int, as ids may look numeric); None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and abs(value) < 10**18:
        return str(value)
    if isinstance(value, str) and 0 < len(value) <= MAX_ID_LENGTH:
        return value
    return None


def why(run_id: int, customer_id: Any) -> Why | None:
    """Why a customer of the run is in its segment; None when the id is malformed or not in the run."""
    cid = clean_id(customer_id)
    if cid is None:
        return None
    row = queries.fetch_one(_WHY_SQL, {"run_id": int(run_id), "customer_id": cid})
    if row is None:
        return None
    names = [str(n) for n in (row[13] or ())]
    values = [_float(v) for v in (row[12] or ())][: len(names)]
    values += [math.nan] * (len(names) - len(values))
    segment_id = None if row[2] is None else int(row[2])
    next_id = None if row[6] is None else int(row[6])
    table = pd.DataFrame({"feature": names, "value": values})
    table = table.merge(_profiles(int(run_id), segment_id), on="feature", how="left")
    table = _add_model_space(table, _model(int(run_id)), values, segment_id, next_id)
    return Why(
        run_id=int(run_id),
        customer_id=str(row[0]),
        country=row[1],
        segment_id=segment_id,
        segment_name=str(row[3]),
        description=row[4],
        action=row[5],
        next_segment_id=next_id,
        next_segment_name=None if next_id is None else str(row[7]),
        dist_own=_maybe(row[8]),
        dist_next=_maybe(row[9]),
        is_outlier=bool(row[10]),
        rfm_group=row[11],
        p_alive=_maybe(row[14]),
        predicted_value=_maybe(row[15]),
        value_at_risk=_maybe(row[16]),
        expected_purchases=_maybe(row[17]),
        features=table,
    )


def _profiles(run_id: int, segment_id: int | None) -> pd.DataFrame:
    """Median, p25, p75 per feature of the segment and of the population (segment -1), side by side."""
    df = queries.fetch_df(
        _PROFILES_SQL, {"run_id": run_id, "segments": [-1] if segment_id is None else [segment_id, -1]}
    )
    columns = ["feature", "segment_median", "segment_p25", "segment_p75", "population_median"]
    if df.empty:
        return pd.DataFrame({c: pd.Series(dtype=object if c == "feature" else float) for c in columns})
    own = df[df["segment_id"] == segment_id].rename(
        columns={"median": "segment_median", "p25": "segment_p25", "p75": "segment_p75"}
    )
    population = df[df["segment_id"] == -1][["feature", "median"]].rename(
        columns={"median": "population_median"}
    )
    out = own[["feature", "segment_median", "segment_p25", "segment_p75"]].merge(
        population, on="feature", how="outer"
    )
    return out[columns]


def _model(run_id: int) -> scoring.ModelParams | None:
    """The run's stored scaler and centroids, or None when the run has no model row."""
    row = queries.fetch_one(_MODEL_SQL, [run_id])
    if row is None or row[0] is None:
        return None
    keys = ("features", "log_transform", "center", "scale", "centroids", "pca_mean", "pca_components")
    return scoring.ModelParams.from_row(dict(zip(keys, row, strict=True)))


def _add_model_space(
    table: pd.DataFrame,
    params: scoring.ModelParams | None,
    values: list[float],
    segment_id: int | None,
    next_id: int | None,
) -> pd.DataFrame:
    """Add centroid (feature units) and z, z_centroid, z_next (the model's scaled space) columns."""
    n = len(table)
    nan = np.full(n, np.nan)
    table = table.assign(centroid=nan, z=nan, z_centroid=nan, z_next=nan)
    if params is None or list(params.features) != list(table["feature"]) or n == 0:
        return table
    with np.errstate(invalid="ignore"):
        table["z"] = scoring.scaled(params, values)
    k = len(params.centroids)
    if segment_id is not None and 0 <= segment_id < k:
        centre = params.centroids[segment_id]
        table["z_centroid"] = centre
        table["centroid"] = _unscaled(params, centre)
    if next_id is not None and 0 <= next_id < k:
        table["z_next"] = params.centroids[next_id]
    return table


def _unscaled(params: scoring.ModelParams, z: np.ndarray) -> np.ndarray:
    """A point of the scaled space back in the features' own units (undo scaling, then log1p)."""
    x = np.asarray(z, dtype=float) * params.scale + params.center
    flags = np.asarray(params.log_transform, dtype=bool)
    x[flags] = np.expm1(x[flags])
    return x


def _float(value: Any) -> float:
    return math.nan if value is None else float(value)


def _maybe(value: Any) -> float | None:
    return None if value is None or value != value else float(value)
