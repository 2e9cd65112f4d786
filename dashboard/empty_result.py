"""Why a filter set keeps nobody (Customers' empty state, Explore's notice): which filter, and its data range.

When a filter set keeps no customer, each active filter is dropped in turn (the others kept); the first one,
in FILTER_ORDER, whose removal brings customers back is the one named, with what the data holds for it
among the customers the other filters keep: "No customer in Germany has recency of at most 3 days; recency
of customers in Germany goes from 5 to 373 days." When no single filter is to blame, every filter is listed.
"""

from __future__ import annotations

import dataclasses

from dash import html

from dashboard.filters import PRESETS, RANGE_COLUMNS, Filters
from dashboard.queries import customer, filtered

# The order in which filters are blamed: bounds and flags first, the scope-like country and segment last.
FILTER_ORDER: tuple[str, ...] = (*RANGE_COLUMNS, "outliers", "preset", "segment", "country")
# Range name -> (words in a sentence, unit after a number).
_RANGE_WORDS: dict[str, tuple[str, str]] = {
    "tenure": ("tenure", " days"),
    "recency": ("recency", " days"),
    "frequency": ("frequency", " orders"),
    "monetary": ("revenue", ""),
    "value": ("predicted 12-month value", ""),
    "alive": ("chance still active", "%"),
}
_SHOWN_VALUES = 5  # countries or segments named before "and N more"


def active(f: Filters) -> list[str]:
    """The filters f sets, in FILTER_ORDER (a range counts once, whichever of its ends is set)."""
    on = {
        "outliers": f.outliers != "include",
        "preset": f.preset is not None,
        "segment": bool(f.segments),
        "country": bool(f.countries),
    }
    for name in RANGE_COLUMNS:
        on[name] = getattr(f, f"{name}_min") is not None or getattr(f, f"{name}_max") is not None
    return [key for key in FILTER_ORDER if on[key]]


def without(f: Filters, key: str) -> Filters:
    """f with one filter (a FILTER_ORDER key) cleared."""
    if key in RANGE_COLUMNS:
        return dataclasses.replace(f, **{f"{key}_min": None, f"{key}_max": None})
    cleared: dict[str, object] = {
        "outliers": {"outliers": "include"},
        "preset": {"preset": None},
        "segment": {"segments": ()},
        "country": {"countries": ()},
    }[key]
    return dataclasses.replace(f, **cleared)  # type: ignore[arg-type]


def _number(value: float) -> str:
    """12 -> '12', 1234.5 -> '1,234.5', 0.123 -> '0.12'."""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def _either(values: list[str]) -> str:
    return values[0] if len(values) == 1 else ", ".join(values[:-1]) + " or " + values[-1]


def _bounds(f: Filters, name: str) -> str:
    """A range filter's bounds in words: 'of at most 3 days', 'from 1 to 3 days'."""
    lo, hi = getattr(f, f"{name}_min"), getattr(f, f"{name}_max")
    unit = _RANGE_WORDS[name][1]
    if lo is not None and hi is not None:
        return f"from {_number(lo)} to {_number(hi)}{unit}"
    if lo is not None:
        return f"of at least {_number(lo)}{unit}"
    return f"of at most {_number(hi)}{unit}"


def _scope(f: Filters, key: str) -> str:
    """One filter as words after 'customer': 'in Germany', 'with tenure of at least 100 days'."""
    if key in RANGE_COLUMNS:
        return f"with {_RANGE_WORDS[key][0]} {_bounds(f, key)}"
    if key == "country":
        return "in " + _either(list(f.countries))
    if key == "segment":
        return "in segment " + _either([f.segment_name(s) for s in f.segments])
    if key == "outliers":
        return "flagged as an outlier" if f.outliers == "only" else "not flagged as an outlier"
    return "on the at-risk list" if f.preset == "at-risk" else "flagged as an outlier"


def _requirement(f: Filters, key: str) -> str:
    """What a filter asks of a customer, as the end of 'No customer … ': 'has recency of at most 3 days'."""
    if key in RANGE_COLUMNS:
        return f"has {_RANGE_WORDS[key][0]} {_bounds(f, key)}"
    if key == "outliers":
        return "is an outlier" if f.outliers == "only" else "is not an outlier"
    if key == "preset":
        return (
            "is on the at-risk list" if f.preset == "at-risk" else f"is in the {PRESETS[str(f.preset)]} list"
        )
    return "is " + _scope(f, key)


def _listed(values: list[str], noun: str) -> str:
    if len(values) <= _SHOWN_VALUES:
        return _either(values) if len(values) > 1 else values[0]
    return ", ".join(values[:_SHOWN_VALUES]) + f" and {len(values) - _SHOWN_VALUES} more {noun}"


def _what_there_is(f: Filters, rest: Filters, key: str, scope: str) -> str:
    """What the customers the other filters keep (rest) hold for f's blamed filter: its range or values."""
    among = f"of customers {scope}" if scope else "in this run"
    if key in RANGE_COLUMNS:
        words, unit = _RANGE_WORDS[key]
        lo, hi = customer.range_under(rest, key)
        if lo is None or hi is None:
            return f"no customer {scope or 'in this run'} has a {words} value".replace("  ", " ")
        return f"{words} {among} goes from {_number(lo)} to {_number(hi)}{unit}"
    if key in ("country", "segment"):
        values = customer.values_under(rest, key)
        noun = "countries" if key == "country" else "segments"
        if not values:
            return f"no customer {scope or 'in this run'} has a {key}".replace("  ", " ")
        who = f"customers {scope}" if scope else "customers in this run"
        kind = "" if key == "country" else ("segment " if len(values) == 1 else "segments ")
        return f"{who} are in {kind}{_listed(values, noun)}"
    kept = filtered.count(rest)
    who = f"customer{'' if kept == 1 else 's'}" + (f" {scope}" if scope else "")
    if key == "outliers" and f.outliers == "exclude":
        return f"all {kept:,} {who} are outliers"
    if key == "preset" and f.preset == "at-risk":
        return f"none of the {kept:,} {who} is on the at-risk list"
    return f"none of the {kept:,} {who} is an outlier"


def message(f: Filters) -> str:
    """The sentence for a filter set that keeps nobody: the filter to blame and its range in the data."""
    keys = active(f)
    for key in keys:
        rest = without(f, key)
        if filtered.count(rest) > 0:
            scope = " ".join(_scope(f, k) for k in keys if k != key)
            head = " ".join(p for p in ("No customer", scope, _requirement(f, key)) if p)
            return f"{head}; {_what_there_is(f, rest, key, scope)}."
    if not keys:
        return "This run has no customers."
    bare = f
    for key in keys:
        bare = without(bare, key)
    ranges = [_what_there_is(f, bare, name, "") for name in keys if name in RANGE_COLUMNS]
    return (
        "No customer matches these filters together ("
        + "; ".join(f.describe())
        + "), and dropping any one of them still leaves nobody"
        + "".join(f"; {r}" for r in ranges)
        + "."
    )


def empty_state(f: Filters) -> html.Div:
    """The panel shown over the grid when the filters keep nobody."""
    return html.Div(
        [
            html.H2("No customers match these filters", className="h5"),
            html.P(message(f), id="customers-empty-message", className="mb-1"),
            html.P("Widen that filter, or clear the filters.", className="small text-muted mb-0"),
        ],
        className="customers-empty-body",
    )
