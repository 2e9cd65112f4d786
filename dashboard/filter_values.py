"""The filter bar's values, both ways: the controls' untrusted browser values -> a validated Filters, and a
Filters -> the values that show it (layout, clear, cross-filter clicks, the at-risk threshold).

Browser values are only ever reshaped into a URL-style query and passed through `Filters.from_query`, the
single validation path (unknown values are dropped). dashboard.filter_bar re-exports every public name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

import dash
from dash.exceptions import MissingCallbackContextException

from dashboard import attribute_filters, queries
from dashboard.filters import AT_RISK_ALIVE_PERCENT, RANGE_COLUMNS, Allowed, Filters
from dashboard.queries import filtered
from dashboard.slider_range import widened

NO_PRESET = "none"  # the preset radio's "no preset" value
_MAX_ITEMS = 1000  # longest list looked at before Filters.from_query caps it to the run's own values


# ---------------------------------------------------------------------------------------------------------
# Browser values -> Filters (untrusted in, validated out)


def _pair(value: Any) -> tuple[Any, Any]:
    """A range slider's [lo, hi], or (None, None) for anything that is not a two-item list."""
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return value[0], value[1]
    return None, None


def _listed(value: Any) -> list[Any]:
    """A multi-dropdown value as a list of at most _MAX_ITEMS scalars (one scalar is a one-item list)."""
    if value is None:
        return []
    items = value[:_MAX_ITEMS] if isinstance(value, (list, tuple)) else [value]
    return [v for v in items if isinstance(v, (str, int, float)) and not isinstance(v, bool)]


def controls_to_query(controls: Mapping[str, Any], run: Any) -> dict[str, Any]:
    """Reshape the controls' raw values into the URL-style query Filters.from_query validates."""
    controls = controls if isinstance(controls, Mapping) else {}
    query: dict[str, Any] = {
        "run": run,
        "country": _listed(controls.get("country")),
        "segment": _listed(controls.get("segment")),
    }
    for name in RANGE_COLUMNS:
        query[f"{name}_min"], query[f"{name}_max"] = _pair(controls.get(name))
    query["outliers"] = controls.get("outliers")
    preset = controls.get("preset")
    if preset != NO_PRESET:
        query["preset"] = preset
    return query


def filters_from_controls(controls: Mapping[str, Any], run: Any) -> tuple[Filters, Allowed]:
    """Validate the controls' values against the run (an untrusted id: the latest run if unknown)."""
    run_id = queries.resolve_run(run)
    allowed = filtered.allowed(run_id)
    query = controls_to_query(controls, run_id)
    if isinstance(controls, Mapping):
        query.update(attribute_filters.controls_query(controls.get("attributes"), allowed.attributes))
    return Filters.from_query(query, allowed), allowed


def filters_from_search(search: Any) -> tuple[Filters, Allowed]:
    """filters_from_url for a stored query string (e.g. 'run=2&country=Germany'; untrusted)."""
    if not isinstance(search, str) or len(search) > 20_000:
        search = ""
    return filters_from_url({k: v[0] if len(v) == 1 else v for k, v in parse_qs(search).items()})


def filters_from_url(query: Mapping[str, Any]) -> tuple[Filters, Allowed]:
    """A page layout's URL query validated against its run (or the latest), with the run's allowed values."""
    query = query if isinstance(query, Mapping) else {}
    allowed = filtered.allowed(queries.resolve_run(query.get("run")))
    return Filters.from_query(query, allowed), allowed


# ---------------------------------------------------------------------------------------------------------
# Filters -> control values (layout, clear, cross-filter)


# A range slider's step where whole numbers are too coarse (the chance of being active is in percent, and
# on data with little churn every customer is above 99%).
STEPS: dict[str, float] = {"alive": 0.1}


def slider_bounds(allowed: Allowed, name: str) -> tuple[float, float] | None:
    """A range slider's (min, max): the run's range widened to its step; None if the run lacks it."""
    lo, hi = allowed.ranges.get(name, (None, None))
    if lo is None or hi is None:
        return None
    # a chance: never past 0..100
    return widened(lo, hi, STEPS.get(name, 1.0), (0.0, 100.0) if name == "alive" else None)


def control_values(f: Filters, allowed: Allowed) -> dict[str, Any]:
    """The controls' values that show the filter set f (full slider range where f has no bound)."""
    values: dict[str, Any] = {"country": list(f.countries), "segment": list(f.segments)}
    for name in RANGE_COLUMNS:
        bounds = slider_bounds(allowed, name)
        lo, hi = getattr(f, f"{name}_min"), getattr(f, f"{name}_max")
        if bounds is None:
            values[name] = None
        else:
            values[name] = [
                _num(lo if lo is not None else bounds[0]),
                _num(hi if hi is not None else bounds[1]),
            ]
    if f.preset == "at-risk" and f.value_ready and f.alive_max is None and values.get("alive"):
        values["alive"][1] = _num(min(AT_RISK_ALIVE_PERCENT, values["alive"][1]))  # the list's threshold
    values["outliers"] = f.outliers
    values["preset"] = f.preset or NO_PRESET
    values["attributes"] = attribute_filters.control_values(f.attributes, allowed.attributes)
    return values


def threshold_for_preset(preset: Any, alive: Any, run: Any) -> Any:
    """The "Chance still active" slider's value when the at-risk preset is picked: its upper end moves to
    the list's default threshold, so the slider shows what the list uses; otherwise no change (None)."""
    if preset != "at-risk" or not isinstance(alive, list) or len(alive) != 2:
        return None
    _, allowed = filters_from_controls({}, run)
    bounds = slider_bounds(allowed, "alive")
    if not allowed.value_ready or bounds is None:
        return None
    low = alive[0] if isinstance(alive[0], (int, float)) and not isinstance(alive[0], bool) else bounds[0]
    high = min(AT_RISK_ALIVE_PERCENT, bounds[1])
    return [_num(min(float(low), high)), _num(high)]


def _num(value: float) -> float | int:
    """Whole numbers as ints (tidy slider labels), others as floats."""
    return int(value) if float(value).is_integer() else float(value)


def cleared(f: Filters, allowed: Allowed) -> dict[str, Any]:
    """The controls' values with every filter removed (same run)."""
    return fit_attributes(
        control_values(Filters(run_id=f.run_id, segment_names=f.segment_names), allowed), allowed
    )


def fit_attributes(values: dict[str, Any], allowed: Allowed) -> dict[str, Any]:
    """In a callback whose outputs hold the attribute controls, their values in the order and number the
    browser listed them (by name; a control the run does not know keeps its value). A page rendered for
    another run, or a forged request, lists other controls than the run has."""
    try:
        spec = dash.ctx.outputs_grouping
    except MissingCallbackContextException:
        return values
    listed = spec.get("attributes") if isinstance(spec, Mapping) else None
    if not isinstance(listed, list):
        return values
    by_name = {a.name: v for a, v in zip(allowed.attributes, values.get("attributes", []), strict=False)}
    fitted = []
    for item in listed:
        name = item.get("id", {}).get("name") if isinstance(item, Mapping) else None
        name = name if isinstance(name, str) else None
        fitted.append(by_name[name] if name in by_name else dash.no_update)
    return {**values, "attributes": fitted}


def with_added(f: Filters, allowed: Allowed, country: Any = None, segment: Any = None) -> dict[str, Any]:
    """The controls' values after adding one clicked country and/or segment (validated; unknown: ignored)."""
    query = _query_of(f)
    if isinstance(country, str):
        query["country"] = [*query.get("country", []), country]
    seg = _segment_id(segment)
    if seg is not None:
        query["segment"] = [*query.get("segment", []), str(seg)]
    return fit_attributes(control_values(Filters.from_query(query, allowed), allowed), allowed)


def _query_of(f: Filters) -> dict[str, Any]:
    """f's URL query as {key: str | list[str]} (countries and segments always lists)."""
    query: dict[str, Any] = {"country": [], "segment": []}
    for key, value in f.query_pairs():
        if key in ("country", "segment"):
            query[key].append(value)
        elif key.startswith(attribute_filters.IN):
            query.setdefault(key, []).append(value)
        else:
            query[key] = value
    return query


def _segment_id(value: Any) -> int | None:
    """A clicked segment id: an int, or a float holding one (plotly customdata); None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**31:
        return int(value)
    return None
