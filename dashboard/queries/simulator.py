"""The Simulator's data: a run's stored model, one slider range per model feature, the segments' texts and
median profiles, and a seeded PCA background sample.

The dashboard never fits a model: it scores slider values with segmentation.scoring and the run's `models`
row, so a prediction is exactly what the run would have assigned. Every query here is a point lookup or
a LIMITed sample; they are small enough to run on each callback, so nothing is cached between requests.
Slider values from the browser are untrusted: `FeatureRange.value_at` and `clamp` accept any JSON and
return a finite number inside the run's own range (the population median for anything unusable).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from dashboard import queries
from dashboard.filters import Filters, as_filters
from dashboard.queries.filtered import cte
from segmentation.scoring import ModelParams, Score, scaled, score

POSITIONS = 1000  # slider positions per feature (0..POSITIONS)
SAMPLE_MAX = 3000  # background points on the PCA scatter
SAMPLE_SEED = 17  # the background sample is the same on every load
BORDERLINE_RATIO = 0.8  # own distance >= 80% of the runner-up's: the customer sits near a border
# Transaction features stored as whole numbers (store.SCHEMA: INTEGER columns).
INTEGER_FEATURES = frozenset({"recency_days", "frequency", "tenure_days", "distinct_products"})
FEATURE_LABELS: dict[str, str] = {
    "recency_days": "Recency (days since last purchase)",
    "frequency": "Frequency (orders)",
    "monetary": "Monetary (net revenue)",
    "quantity": "Quantity (items)",
    "avg_basket_value": "Average basket value",
    "tenure_days": "Tenure (days since first purchase)",
    "distinct_products": "Distinct products",
    "return_rate": "Return rate",
}


def finite(value: Any) -> float | None:
    """A finite float from an int, float or short numeric string; None for bools, dicts, NaN, text."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        if len(value) > 40:
            return None
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, numbers.Real):
        try:
            number = float(value)
        except OverflowError:  # a huge int: infinite, not a value
            return None
        return number if math.isfinite(number) else None
    return None


@dataclasses.dataclass(frozen=True)
class FeatureRange:
    """One model feature's allowed range [low, high], its default (population median) and slider scale.

    Features the model log-scales get a log1p slider (even steps in the model's own space), starting at
    0 when the range holds negative values (the model treats every value below 0 as 0).
    """

    name: str
    low: float
    high: float
    default: float
    log: bool = False
    integer: bool = False

    @property
    def label(self) -> str:
        """A readable label: the known description of a transaction feature, else the column name."""
        return FEATURE_LABELS.get(self.name, self.name.replace("_", " "))

    @property
    def slider_low(self) -> float:
        """The value at slider position 0."""
        return max(self.low, 0.0) if self.log and self.high > 0 else self.low

    def clamp(self, value: Any) -> float:
        """An untrusted value as a finite number inside [low, high] (rounded if whole); default otherwise."""
        number = finite(value)
        if number is None:
            return self.default
        number = min(max(number, self.low), self.high)
        if self.integer:
            number = min(max(float(round(number)), math.ceil(self.low)), math.floor(self.high))
        return number

    def value_at(self, position: Any) -> float:
        """The feature value at an untrusted slider position (the default for anything not a number),
        rounded to a short decimal (at most 1/40 of a slider step) so the URL can carry it exactly."""
        pos = finite(position)
        if pos is None:
            return self.default
        t = min(max(pos, 0.0), float(POSITIONS)) / POSITIONS
        lo, hi = self.slider_low, self.high
        if t <= 0.0 or t >= 1.0:  # the ends are the range's own values
            return self.clamp(lo if t <= 0.0 else hi)
        if self.log:
            value = math.expm1(math.log1p(lo) + t * (math.log1p(hi) - math.log1p(lo)))
            step = (1.0 + value) * (math.log1p(hi) - math.log1p(lo)) / POSITIONS
        else:
            value = lo + t * (hi - lo)
            step = (hi - lo) / POSITIONS
        if step > 0:
            value = round(value, -math.floor(math.log10(step / 20)))
        return self.clamp(value)

    def position_of(self, value: float) -> int:
        """The slider position nearest to a value (values below the slider's start go to 0)."""
        lo, hi = self.slider_low, self.high
        value = min(max(self.clamp(value), lo), hi)
        if hi <= lo:
            return 0
        if self.log:
            t = (math.log1p(value) - math.log1p(lo)) / (math.log1p(hi) - math.log1p(lo))
        else:
            t = (value - lo) / (hi - lo)
        return int(round(min(max(t, 0.0), 1.0) * POSITIONS))


@dataclasses.dataclass(frozen=True)
class Segment:
    """A segment's id, name and the texts that say what it is and what to do."""

    id: int
    name: str
    description: str
    action: str
    size: int | None = None
    share: float | None = None


@dataclasses.dataclass(frozen=True)
class SimModel:
    """Everything the Simulator needs about one run's model (no customer rows)."""

    run_id: int
    mode: str
    params: ModelParams
    features: tuple[FeatureRange, ...]
    segments: tuple[Segment, ...]
    # segment id -> its median profile, in features order
    medians: Mapping[int, tuple[float, ...]] = dataclasses.field(default_factory=dict)
    currency: str | None = None  # the run's money unit, for the simulated customer's revenue and basket

    def segment(self, segment_id: int | None) -> Segment | None:
        """The segment with this id (a placeholder when the run stored no row for it)."""
        if segment_id is None:
            return None
        for s in self.segments:
            if s.id == segment_id:
                return s
        return Segment(segment_id, f"Segment {segment_id}", "", "")

    def defaults(self) -> tuple[float, ...]:
        """The population medians, the sliders' starting values."""
        return tuple(f.default for f in self.features)

    def profile(self, segment_id: int | None) -> tuple[float, ...]:
        """A start profile: the segment's median customer, or the population medians (None, unknown id)."""
        return self.medians.get(segment_id, self.defaults()) if segment_id is not None else self.defaults()

    def clamp(self, values: Any) -> tuple[float, ...]:
        """Untrusted values (a list in feature order; extra entries ignored) as valid feature values."""
        items = list(values[: len(self.features)]) if isinstance(values, (list, tuple)) else []
        items += [None] * (len(self.features) - len(items))
        return tuple(f.clamp(v) for f, v in zip(self.features, items, strict=True))

    def values_at(self, positions: Mapping[int, Any]) -> tuple[float, ...]:
        """Feature values from {feature index: untrusted slider position}; missing indices take defaults."""
        return tuple(
            f.value_at(positions[i]) if i in positions else f.default for i, f in enumerate(self.features)
        )


@dataclasses.dataclass(frozen=True)
class Prediction:
    """Where a simulated customer lands: the scored values, the segment, the runner-up and how clearly."""

    values: tuple[float, ...]
    score: Score
    segment: Segment
    next_segment: Segment | None
    ratio: float | None  # own distance / runner-up distance: near 0 = deep inside, near 1 = on the border
    # per feature: (distance to the runner-up)^2 - (distance to the own centre)^2 along that feature, in
    # the model's scaled space; > 0 pulls toward the own segment, < 0 toward the runner-up; they sum to
    # dist_next^2 - dist_own^2 (empty with one segment)
    pulls: tuple[float, ...] = ()

    @property
    def borderline(self) -> bool:
        """True when the runner-up centroid is almost as close as the own one."""
        return self.ratio is not None and self.ratio >= BORDERLINE_RATIO


def _profile_value(row: Mapping[str, Any], key: str, fallback: float) -> float:
    """A finite number from a profile row's column, else the fallback."""
    value = finite(row.get(key))
    return fallback if value is None else value


def load_model(run_id: int) -> SimModel:
    """The run's stored model, slider ranges, segments and median profiles (NoData if the run has none)."""
    row = queries.fetch_df(
        """SELECT m.features, m.log_transform, m.center, m.scale, m.centroids, m.pca_mean, m.pca_components,
                  m.feature_min, m.feature_max, m.feature_median, r.mode
           FROM seg.models AS m JOIN seg.runs AS r ON r.id = m.run_id
           WHERE m.run_id = ?""",
        [int(run_id)],
    )
    if row.empty:
        raise queries.NoData("empty", queries.current_db())
    record = {k: _as_list(v) for k, v in row.iloc[0].to_dict().items()}
    params = ModelParams.from_row(record)
    mode = str(record["mode"] or "transactions")
    profiles = queries.fetch_df(
        """SELECT segment_id, feature, median, min, max FROM seg.segment_profiles
           WHERE run_id = ? AND list_contains(?, feature)""",
        [int(run_id), list(params.features)],
    )
    population = {r["feature"]: r for r in profiles[profiles["segment_id"] == -1].to_dict("records")}
    features = []
    for i, name in enumerate(params.features):
        pop = population.get(name, {})
        low = finite(_at(record["feature_min"], i))
        high = finite(_at(record["feature_max"], i))
        low = _profile_value(pop, "min", 0.0) if low is None else low
        high = _profile_value(pop, "max", low) if high is None else high
        low, high = min(low, high), max(low, high)
        median = finite(_at(record["feature_median"], i))
        median = _profile_value(pop, "median", (low + high) / 2) if median is None else median
        integer = mode == "transactions" and name in INTEGER_FEATURES
        log = bool(params.log_transform[i]) if i < len(params.log_transform) else False
        feature = FeatureRange(name, low, high, median, log=log, integer=integer)
        features.append(dataclasses.replace(feature, default=feature.clamp(median)))
    segments = tuple(
        Segment(int(s[0]), str(s[1] or f"Segment {s[0]}"), str(s[2] or ""), str(s[3] or ""), s[4], s[5])
        for s in queries.fetch_all(
            "SELECT segment_id, name, description, action, size, share FROM seg.segments "
            "WHERE run_id = ? ORDER BY segment_id",
            [int(run_id)],
        )
    )
    medians: dict[int, tuple[float, ...]] = {}
    by_segment = profiles[profiles["segment_id"] >= 0]
    for segment_id, part in by_segment.groupby("segment_id"):
        found = {r["feature"]: r for r in part.to_dict("records")}
        medians[int(segment_id)] = tuple(
            f.clamp(_profile_value(found.get(f.name, {}), "median", f.default)) for f in features
        )
    return SimModel(
        int(run_id), mode, params, tuple(features), segments, medians, queries.run_currency(int(run_id))
    )


def _as_list(value: Any) -> Any:
    """DuckDB list cells come back as numpy arrays or lists; nested lists as arrays of arrays."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, list):
        return [_as_list(v) for v in value]
    return value


def _at(values: Sequence[Any] | None, i: int) -> Any:
    """values[i], or None when the list is missing or short."""
    return values[i] if values is not None and i < len(values) else None


def predict(model: SimModel, values: Any) -> Prediction:
    """Score untrusted feature values (clamped first) with the run's stored model."""
    clean = model.clamp(values)
    result = score(model.params, clean)
    segment = model.segment(result.segment_id)
    assert segment is not None
    ratio = (
        result.distance / result.next_distance
        if result.next_distance is not None and result.next_distance > 0
        else None
    )
    pulls: tuple[float, ...] = ()
    if result.next_segment_id is not None:
        z = scaled(model.params, clean)
        own = model.params.centroids[result.segment_id]
        runner_up = model.params.centroids[result.next_segment_id]
        pulls = tuple(float(v) for v in (z - runner_up) ** 2 - (z - own) ** 2)
    return Prediction(clean, result, segment, model.segment(result.next_segment_id), ratio, pulls)


def pca_sample(run: int | Filters, n: int = SAMPLE_MAX) -> pd.DataFrame:
    """A repeatable sample (at most SAMPLE_MAX) of the run's (filtered) customers: pc1, pc2, segment_id,
    is_outlier."""
    f = as_filters(run)
    return queries.fetch_df(
        queries.sql(
            cte(f, rows=False),
            """SELECT coalesce(pc1, 0.0) AS pc1, coalesce(pc2, 0.0) AS pc2, segment_id,
                  coalesce(is_outlier, false) AS is_outlier
           FROM filtered
           WHERE pc1 IS NOT NULL
           ORDER BY hash(customer_id, $seed), customer_id
           LIMIT $n""",
        ),
        {**f.params(), "seed": SAMPLE_SEED, "n": min(max(int(n), 0), SAMPLE_MAX)},
    )
