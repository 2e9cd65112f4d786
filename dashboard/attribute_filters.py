"""Filters on a run's customer attributes (`segments run --attributes`), built from the stored schema.

Each attribute column of the run (table attribute_columns) is a filter: a number is a range, a category a set
of values. In the URL: `attr_min:NAME=30&attr_max:NAME=50`, `attr:NAME=pro&attr:NAME=plus`. Names and
values from the browser are kept only when they are the run's own; the SQL text holds only the stored list
slot (an integer) and a generated parameter name, never the attribute's name or a value.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import dash_bootstrap_components as dbc
from dash import dcc, html

from dashboard import url_values
from dashboard.slider_range import widened

CONTROL_TYPE = "attr-filter"  # pattern-matching id type: {"type": CONTROL_TYPE, "prefix": ..., "name": ...}
IN, MIN, MAX = "attr:", "attr_min:", "attr_max:"  # URL key prefixes

_MAX_VALUES = 1000


@dataclass(frozen=True)
class AttributeInfo:
    """One attribute column of a run: name, 'number' or 'category', its list slot, range or values."""

    name: str
    kind: str
    slot: int
    lo: float | None = None
    hi: float | None = None
    categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class AttributeFilter:
    """One attribute's filter: a number range (lo/hi, None: open) or a set of category values."""

    name: str
    kind: str
    slot: int
    lo: float | None = None
    hi: float | None = None
    values: tuple[str, ...] = ()


def is_key(key: str) -> bool:
    """A URL key of an attribute filter."""
    return isinstance(key, str) and key.startswith((IN, MIN, MAX)) and len(key) <= url_values.MAX_TEXT


def info_from_rows(rows: list[tuple[Any, ...]]) -> tuple[AttributeInfo, ...]:
    """attribute_columns rows (name, kind, slot, min, max, categories) as AttributeInfo, in file order."""
    return tuple(
        AttributeInfo(
            str(name),
            str(kind),
            int(slot),
            None if lo is None else float(lo),
            None if hi is None else float(hi),
            tuple(str(c) for c in (categories or ())),
        )
        for name, kind, slot, lo, hi, categories in rows
        if kind in ("number", "category")
    )


def parse(query: Mapping[str, Any], attributes: tuple[AttributeInfo, ...]) -> tuple[AttributeFilter, ...]:
    """The attribute filters of an untrusted URL query, kept only where valid for the run's attributes."""
    out: list[AttributeFilter] = []
    for a in attributes:
        if a.kind == "number":
            lo, hi = url_values.number(query.get(MIN + a.name)), url_values.number(query.get(MAX + a.name))
            if lo is not None and hi is not None and lo > hi:
                lo, hi = hi, lo
            if a.lo is None or a.hi is None:
                continue
            lo = None if lo is not None and lo <= a.lo else lo
            hi = None if hi is not None and hi >= a.hi else hi
            if lo is not None or hi is not None:
                out.append(AttributeFilter(a.name, a.kind, a.slot, lo=lo, hi=hi))
        else:
            raw = query.get(IN + a.name)
            items = raw if isinstance(raw, (list, tuple)) else [] if raw is None else [raw]
            chosen = {v for v in items[:_MAX_VALUES] if isinstance(v, str) and len(v) <= url_values.MAX_TEXT}
            values = tuple(v for v in a.categories if v in chosen)
            if values:
                out.append(AttributeFilter(a.name, a.kind, a.slot, values=values))
    return tuple(out)


def query_pairs(filters: tuple[AttributeFilter, ...]) -> list[tuple[str, str]]:
    """The filters as URL (key, value) pairs, in the run's attribute order."""
    pairs: list[tuple[str, str]] = []
    for f in filters:
        if f.kind == "number":
            pairs += [(MIN + f.name, _fmt(f.lo))] if f.lo is not None else []
            pairs += [(MAX + f.name, _fmt(f.hi))] if f.hi is not None else []
        else:
            pairs += [(IN + f.name, v) for v in f.values]
    return pairs


def params(filters: tuple[AttributeFilter, ...]) -> dict[str, Any]:
    """Bound parameters of the conditions: attr_<i>_min, attr_<i>_max, attr_<i>_in (i: the filter's index)."""
    out: dict[str, Any] = {}
    for i, f in enumerate(filters):
        if f.kind == "number":
            out[f"attr_{i}_min"], out[f"attr_{i}_max"] = f.lo, f.hi
        else:
            out[f"attr_{i}_in"] = list(f.values)
    return out


def conditions(filters: tuple[AttributeFilter, ...]) -> list[str]:
    """Conditions on `c` (seg.customers) for the filters set; only integers are placed in the text."""
    out: list[str] = []
    for i, f in enumerate(filters):
        slot = int(f.slot)
        if f.kind == "number":
            if f.lo is not None:
                out.append(f"c.attr_numbers[{slot}] >= $attr_{i}_min")
            if f.hi is not None:
                out.append(f"c.attr_numbers[{slot}] <= $attr_{i}_max")
        else:
            out.append(f"list_contains($attr_{i}_in, c.attr_texts[{slot}])")
    return out


def describe(filters: tuple[AttributeFilter, ...]) -> list[str]:
    """The filters in words, one line each."""
    lines = []
    for f in filters:
        if f.kind == "category":
            lines.append(f"{f.name}: " + ", ".join(f.values))
        elif f.lo is not None and f.hi is not None:
            lines.append(f"{f.name}: {_fmt(f.lo)} to {_fmt(f.hi)}")
        elif f.lo is not None:
            lines.append(f"{f.name}: at least {_fmt(f.lo)}")
        else:
            lines.append(f"{f.name}: at most {_fmt(f.hi)}")
    return lines


# --- The controls: one per attribute, their values positional in the run's attribute order ---------------


def controls_query(values: Any, attributes: tuple[AttributeInfo, ...]) -> dict[str, Any]:
    """The controls' untrusted values (a list, one per attribute in order) as URL-style query keys."""
    values = values if isinstance(values, list) else []
    query: dict[str, Any] = {}
    for a, value in zip(attributes, values[: len(attributes)], strict=False):
        if a.kind == "number":
            if isinstance(value, (list, tuple)) and len(value) == 2:
                query[MIN + a.name], query[MAX + a.name] = value[0], value[1]
        elif isinstance(value, (list, tuple)):
            query[IN + a.name] = list(value[:_MAX_VALUES])
    return query


def control_values(filters: tuple[AttributeFilter, ...], attributes: tuple[AttributeInfo, ...]) -> list[Any]:
    """The controls' values that show `filters` (a slider's full range where a filter has no bound)."""
    by_name = {f.name: f for f in filters}
    out: list[Any] = []
    for a in attributes:
        f = by_name.get(a.name)
        if a.kind == "number":
            bounds = _bounds(a)
            lo = f.lo if f and f.lo is not None else bounds[0] if bounds else None
            hi = f.hi if f and f.hi is not None else bounds[1] if bounds else None
            out.append(None if bounds is None else [_num(lo), _num(hi)])
        else:
            out.append(list(f.values) if f else [])
    return out


def controls(
    prefix: str, attributes: tuple[AttributeInfo, ...], values: list[Any], source: str = ""
) -> list[Any]:
    """The bar's attribute section (nothing when the run has no attributes); `source` says where they came
    from and how many customers have them (customers without a row pass no attribute filter)."""
    if not attributes:
        return []
    items: list[Any] = [html.Div("Customer attributes", className="small fw-semibold text-muted mb-1")]
    if source:
        items.append(html.Div(source, className="small text-muted mb-2 attribute-source"))
    for a, value in zip(attributes, values, strict=True):
        control_id = {"type": CONTROL_TYPE, "prefix": prefix, "name": a.name}
        label = html.Label(a.name, className="form-label small mb-1")
        if a.kind == "number":
            bounds = _bounds(a) or (0.0, 1.0)
            control = dcc.RangeSlider(
                id=control_id,
                min=_num(bounds[0]),
                max=_num(bounds[1]),
                step=_step(bounds),
                value=value,
                marks=None,
                allowCross=False,
                updatemode="mouseup",
                className="filter-slider",
                disabled=_bounds(a) is None,
            )
        else:
            control = dcc.Dropdown(
                id=control_id,
                options=[{"label": c, "value": c} for c in a.categories],
                value=value,
                multi=True,
                placeholder=f"All ({len(a.categories):,} values)",
            )
        items.append(html.Div([label, control], className="mb-3"))
    return [html.Hr(className="my-2"), dbc.Container(items, fluid=True, className="px-0 attribute-filters")]


def _bounds(a: AttributeInfo) -> tuple[float, float] | None:
    """A number attribute's slider range: the run's range, widened to whole steps."""
    if a.lo is None or a.hi is None:
        return None
    return widened(a.lo, a.hi, _step((a.lo, a.hi)))


def _step(bounds: tuple[float, float]) -> float:
    """1 for wide ranges, a power of ten below for narrow ones (a 0..1 score moves in 0.01)."""
    span = bounds[1] - bounds[0]
    if span >= 100 or span <= 0:
        return 1.0
    return 10.0 ** (math.floor(math.log10(span)) - 2)


def _num(value: float | None) -> float | int | None:
    """Whole numbers as ints (tidy labels)."""
    if value is None:
        return None
    return int(value) if float(value).is_integer() else float(value)


def _fmt(value: float | None) -> str:
    """A number for URLs and labels ('' for none)."""
    return "" if value is None else url_values.fmt(value)
