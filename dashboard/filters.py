"""The filter set: parsed from an untrusted URL query (or callback values), checked against one run's values.

Every value the browser sends is arbitrary JSON (RELIABILITY.md §2), so `Filters.from_query` keeps only what
it can prove valid against `Allowed` (the run's own countries, segment ids and value ranges) and drops the
rest silently. The result feeds bound SQL parameters (`params()`), the shareable URL (`to_query()`), and the
export's header (`describe()`). Rules, decided once:

* lists (country, segment) keep allowed values only, de-duplicated, in the run's order; a list longer than
  the number of allowed values is cut to that length before checking;
* numbers must parse as finite floats (short strings or ints, never bools, dicts or lists of several);
* an inverted range (min > max) is swapped: the user meant the range between the two values;
* a bound that excludes no value of the run (min at or below the run's minimum, max at or above its
  maximum) is dropped, so the URL stays short and NULLs stay included; a column the run does not have
  (all NULL, e.g. recency in a customer-table run) accepts no bounds;
* unknown keys, unknown choices and anything that is not a string/number are ignored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from dashboard import attribute_filters as attrs
from dashboard.measures import MEASURES
from dashboard.tenure_bands import tenure_bands  # noqa: F401 - re-exported: the bar's bands (filters.tenure_bands)
from dashboard.url_values import MAX_TEXT as _MAX_TEXT
from dashboard.url_values import fmt as _fmt
from dashboard.url_values import number as _number
from dashboard.url_values import scalar as _scalar
from segmentation.rfm_groups import RFM_GROUP_ACTIONS

# UI name -> customers column; the keys are also the URL prefixes (tenure_min, tenure_max, ...).
RANGE_COLUMNS: dict[str, str] = {
    "tenure": "tenure_days",
    "recency": "recency_days",
    "frequency": "frequency",
    "monetary": "monetary",
    "value": "predicted_value",
    "alive": "p_alive",  # filtered and shown in percent (p_alive x 100)
}
# Each range filter's name and unit, from the one list of measures (money: the run's currency, added by
# the bar; the chance still active is filtered in percent).
RANGE_LABELS: dict[str, tuple[str, str]] = {
    name: (MEASURES[column].name, "" if MEASURES[column].unit == "money" else MEASURES[column].unit)
    for name, column in RANGE_COLUMNS.items()
}
# The at-risk preset with a value model: customers whose chance of still being active is below this many
# percent (the "Chance still active" slider's upper end moves it), ranked by value at risk.
AT_RISK_ALIVE_PERCENT = 50.0
# What the at-risk list tells customer success to do (never an upsell).
RETENTION_ACTION = RFM_GROUP_ACTIONS["At Risk"]
# Tenure bands of old links (`tenure_band=1-2y`): read as the tenure range they name, in whole days. The bar
# itself offers bands cut from each run's own range (tenure_bands), as buttons that set the tenure slider.
TENURE_BANDS: dict[str, tuple[float, float | None]] = {
    "0-90d": (0, 89),
    "90-365d": (90, 364),
    "1-2y": (365, 729),
    "2y+": (730, None),
}
OUTLIER_MODES = ("include", "exclude", "only")
PRESETS: dict[str, str] = {"at-risk": "At risk", "outliers": "Outliers"}
# Segment names the at-risk preset selects (compared lower-cased); rfm_group is the fallback.
AT_RISK_NAMES: tuple[str, ...] = ("at risk", "can't lose", "can\u2019t lose", "cant lose")
# Sort keys the customer table accepts (queries.filtered maps each to a fixed column).
SORT_KEYS: tuple[str, ...] = (
    "customer_id",
    "country",
    "segment",
    "rfm_group",
    "recency",
    "frequency",
    "monetary",
    "tenure",
    "avg_basket_value",
    "return_rate",
    "dist_own",
    "p_alive",
    "predicted_value",
    "value_at_risk",
)
MAX_PAGE = 1_000_000
QUERY_KEYS: tuple[str, ...] = (
    "run",
    "country",
    "segment",
    *(f"{name}_{end}" for name in RANGE_COLUMNS for end in ("min", "max")),
    "tenure_band",
    "outliers",
    "preset",
    "sort",
    "desc",
    "page",
)


@dataclass(frozen=True)
class Allowed:
    """One run's valid filter values: countries, segment id -> name, and (min, max) per range column."""

    run_id: int
    countries: tuple[str, ...] = ()
    segments: Mapping[int, str] = field(default_factory=dict)
    ranges: Mapping[str, tuple[float | None, float | None]] = field(default_factory=dict)
    value_ready: bool = False  # the run has a value model (p_alive stored)
    currency: str | None = None  # the run's money unit (ISO 4217), for labels; None: unknown
    attributes: tuple[attrs.AttributeInfo, ...] = ()  # the run's --attributes columns (attribute_filters)
    country_codes: Mapping[str, int] = field(default_factory=dict)  # customers.country_code (empty: none)
    attribute_source: str = ""  # where the attributes came from and how many customers matched (one line)


@dataclass(frozen=True)
class Filters:
    """A validated filter set for one run; build it with from_query, never from raw browser values."""

    run_id: int
    countries: tuple[str, ...] = ()
    segments: tuple[int, ...] = ()
    tenure_min: float | None = None
    tenure_max: float | None = None
    recency_min: float | None = None
    recency_max: float | None = None
    frequency_min: float | None = None
    frequency_max: float | None = None
    monetary_min: float | None = None
    monetary_max: float | None = None
    value_min: float | None = None
    value_max: float | None = None
    alive_min: float | None = None
    alive_max: float | None = None
    outliers: str = "include"
    preset: str | None = None
    attributes: tuple[attrs.AttributeFilter, ...] = ()  # filters on the run's customer attributes
    # the countries' codes in the run (Allowed.country_codes), for the SQL only: equality follows countries
    country_codes: tuple[int, ...] = field(default=(), compare=False, repr=False)
    value_ready: bool = field(default=False, compare=False, repr=False)  # from Allowed, for the at-risk rule
    # The run's segment names (id, name), for describe() and file names only; not part of equality.
    segment_names: tuple[tuple[int, str], ...] = field(default=(), compare=False, repr=False)

    @classmethod
    def from_query(cls, query: Mapping[str, Any], allowed: Allowed) -> Filters:
        """Parse an untrusted query mapping (str or list values) keeping only values valid for the run."""
        query = query if isinstance(query, Mapping) else {}
        country_set = set(allowed.countries)
        countries = _pick(
            _texts(query.get("country"), len(allowed.countries)), allowed.countries, country_set
        )
        seg_ids = [
            i for i in (_int(v) for v in _items(query.get("segment"), len(allowed.segments))) if i is not None
        ]
        segments = tuple(i for i in sorted(allowed.segments) if i in set(seg_ids))
        bounds: dict[str, float | None] = {}
        preset = _choice(query.get("preset"), PRESETS)
        band = _choice(query.get("tenure_band"), TENURE_BANDS)  # an old link's band: its tenure range
        if band and query.get("tenure_min") is None and query.get("tenure_max") is None:
            query = {**query, "tenure_min": TENURE_BANDS[band][0], "tenure_max": TENURE_BANDS[band][1]}
        for name in RANGE_COLUMNS:
            lo, hi = _number(query.get(f"{name}_min")), _number(query.get(f"{name}_max"))
            if lo is not None and hi is not None and lo > hi:
                lo, hi = hi, lo
            run_lo, run_hi = allowed.ranges.get(name, (None, None))
            if run_lo is None or run_hi is None:  # the run has no values in this column
                lo = hi = None
            else:
                lo = None if lo is not None and lo <= run_lo else lo
                hi = None if hi is not None and hi >= run_hi else hi
                if name == "alive" and preset == "at-risk" and hi == AT_RISK_ALIVE_PERCENT:
                    hi = None  # the at-risk list's default threshold, written once: no bound in the URL
            bounds[f"{name}_min"], bounds[f"{name}_max"] = lo, hi
        return cls(
            run_id=allowed.run_id,
            countries=countries,
            segments=segments,
            outliers=_choice(query.get("outliers"), OUTLIER_MODES) or "include",
            preset=preset,
            attributes=attrs.parse(query, allowed.attributes),
            country_codes=tuple(allowed.country_codes[c] for c in countries if c in allowed.country_codes)
            if allowed.country_codes
            else (),
            value_ready=allowed.value_ready,
            segment_names=tuple(sorted(allowed.segments.items())),
            **bounds,
        )

    def query_pairs(self) -> list[tuple[str, str]]:
        """The URL query as (key, value) pairs in a stable order, run first, defaults left out."""
        pairs: list[tuple[str, str]] = [("run", str(self.run_id))]
        pairs += [("country", c) for c in self.countries]
        pairs += [("segment", str(s)) for s in self.segments]
        for name in RANGE_COLUMNS:
            for end in ("min", "max"):
                value = getattr(self, f"{name}_{end}")
                if value is not None:
                    pairs.append((f"{name}_{end}", _fmt(value)))
        if self.outliers != "include":
            pairs.append(("outliers", self.outliers))
        if self.preset:
            pairs.append(("preset", self.preset))
        return pairs + attrs.query_pairs(self.attributes)

    def to_query(self) -> str:
        """The URL query string (no leading '?'), e.g. 'run=3&country=France&segment=2'."""
        return urlencode(self.query_pairs())

    def params(self) -> dict[str, Any]:
        """Named parameters for queries.filtered's static SQL (every key is used by every filtered query)."""
        return {
            "run_id": self.run_id,
            "countries": list(self.countries) or None,
            "country_codes": list(self.country_codes) if self.countries and self.country_codes else None,
            "segments": list(self.segments) or None,
            **{f"{n}_{e}": getattr(self, f"{n}_{e}") for n in RANGE_COLUMNS for e in ("min", "max")},
            "outliers_only": self.outliers == "only" or self.preset == "outliers",
            "outliers_exclude": self.outliers == "exclude",
            "at_risk": self.preset == "at-risk",
            "value_ready": self.value_ready,
            "at_risk_alive": self.alive_max if self.alive_max is not None else AT_RISK_ALIVE_PERCENT,
            "retention_action": RETENTION_ACTION,
            "at_risk_names": list(AT_RISK_NAMES),
            "rfm_groups": list(RFM_GROUP_ACTIONS),
            "rfm_actions": list(RFM_GROUP_ACTIONS.values()),
            **attrs.params(self.attributes),
        }

    def segment_name(self, segment_id: int) -> str:
        """The run's name of a segment id (or 'Segment <id>' if unknown)."""
        return dict(self.segment_names).get(segment_id, f"Segment {segment_id}")

    def describe(self) -> list[str]:
        """The filters in words, one line each (export headers, page summaries); ['All customers'] if none."""
        lines: list[str] = []
        if self.countries:
            lines.append("Country: " + ", ".join(self.countries))
        if self.segments:
            lines.append("Segment: " + ", ".join(self.segment_name(s) for s in self.segments))
        for name in RANGE_COLUMNS:
            lo, hi = getattr(self, f"{name}_min"), getattr(self, f"{name}_max")
            label, unit = RANGE_LABELS[name]
            unit = f" {unit}" if unit else ""
            if lo is not None and hi is not None:
                lines.append(f"{label}: {_fmt(lo)} to {_fmt(hi)}{unit}")
            elif lo is not None:
                lines.append(f"{label}: at least {_fmt(lo)}{unit}")
            elif hi is not None:
                lines.append(f"{label}: at most {_fmt(hi)}{unit}")
        lines += attrs.describe(self.attributes)
        if self.outliers != "include":
            lines.append("Outliers: " + ("excluded" if self.outliers == "exclude" else "only"))
        if self.preset == "at-risk" and self.value_ready:
            threshold = self.alive_max if self.alive_max is not None else AT_RISK_ALIVE_PERCENT
            lines.append(
                f"Preset: At risk (below {_fmt(threshold)}% chance still active, by value at risk; "
                "if nobody is, the At Risk / Can't Lose segments or RFM groups)"
            )
        elif self.preset == "at-risk":
            lines.append("Preset: At risk (segments or RFM groups At Risk, Can't Lose; ranked by revenue)")
        elif self.preset:
            lines.append(f"Preset: {PRESETS[self.preset]}")
        return lines or ["All customers"]

    def is_default(self) -> bool:
        """True when nothing narrows the run's customers."""
        return self.query_pairs() == [("run", str(self.run_id))]


def as_filters(run: int | Filters) -> Filters:
    """A run id as the filter set of all its customers; a Filters as it is (queries taking either)."""
    return run if isinstance(run, Filters) else Filters(run_id=int(run))


@dataclass(frozen=True)
class TableView:
    """Sort and page of the customer table, parsed from the same URL query."""

    sort: str | None = None
    descending: bool | None = None  # None: the sort key's natural default
    page: int = 1

    @classmethod
    def from_query(cls, query: Mapping[str, Any]) -> TableView:
        """Parse sort (a SORT_KEYS key), desc ('1'/'0'/'true'/'false') and page (>= 1) from a URL query."""
        query = query if isinstance(query, Mapping) else {}
        desc_raw = _scalar(query.get("desc"))
        desc = (
            {"1": True, "true": True, "0": False, "false": False}.get(desc_raw.lower()) if desc_raw else None
        )
        page = _int(query.get("page"))
        return cls(
            sort=_choice(query.get("sort"), SORT_KEYS),
            descending=desc,
            page=min(max(page or 1, 1), MAX_PAGE),
        )

    def query_pairs(self) -> list[tuple[str, str]]:
        """The non-default parts as URL (key, value) pairs."""
        pairs: list[tuple[str, str]] = []
        if self.sort:
            pairs.append(("sort", self.sort))
        if self.descending is not None:
            pairs.append(("desc", "1" if self.descending else "0"))
        if self.page != 1:
            pairs.append(("page", str(self.page)))
        return pairs


def url(path: str, filters: Filters, view: TableView | None = None) -> str:
    """path + '?' + the filters' (and table view's) query, e.g. for links to the Customers page."""
    pairs = filters.query_pairs() + (view.query_pairs() if view else [])
    return f"{path}?{urlencode(pairs)}"


def query_from_args(args: Any) -> dict[str, Any]:
    """A werkzeug MultiDict (request.args) as the {key: str | list[str]} shape Dash passes to layouts."""
    out: dict[str, Any] = {}
    for key in args:
        if key in QUERY_KEYS or attrs.is_key(key):
            values = args.getlist(key)
            out[key] = values[0] if len(values) == 1 else values
    return out


# ---------------------------------------------------------------------------------------------------------
# Parsing helpers: every function returns None (or empty) for anything it cannot prove valid.


def _items(value: Any, cap: int) -> list[Any]:
    """A value as a list of at most cap items (a single value becomes a one-item list)."""
    if value is None:
        return []
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    return items[: max(cap, 0)]


def _texts(value: Any, cap: int) -> list[str]:
    """The strings among at most cap items."""
    return [v for v in _items(value, cap) if isinstance(v, str) and len(v) <= _MAX_TEXT]


def _pick(values: Iterable[str], order: tuple[str, ...], valid: set[str]) -> tuple[str, ...]:
    """The valid values, de-duplicated, in the run's order."""
    chosen = {v for v in values if v in valid}
    return tuple(v for v in order if v in chosen)


def _int(value: Any) -> int | None:
    """An int from an int or a short digit string (optionally negative); None otherwise."""
    text = _scalar(value)
    if text is None or isinstance(value, float):
        return None
    body = text[1:] if text.startswith("-") else text
    if not body.isdigit() or len(body) > 9 or not body.isascii():
        return None
    return int(text)


def _choice(value: Any, options: Iterable[str]) -> str | None:
    """The value if it is exactly one of options."""
    text = _scalar(value)
    return text if text is not None and text in set(options) else None
