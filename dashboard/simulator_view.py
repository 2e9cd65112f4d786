"""The Simulator's words and address: the sentence about the simulated customer, the result panel, and the
URL state (start profile and slider values) read from and written to the query string.

The URL keeps the shared filters, `start=<segment id>` when the sliders started from a segment's median
customer, and one key per feature whose value differs from that start profile (the feature's own name,
e.g. `recency_days=30&monetary=1200`; `feature.<name>` where the name is already a filter key). Values
read back are untrusted: unknown keys are ignored, a value must parse as one finite number and is clamped
to the feature's range in the run's own model (FeatureRange.clamp); anything else keeps the start value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import dash_bootstrap_components as dbc
from dash import html

from dashboard import figures
from dashboard.filters import QUERY_KEYS, Filters
from dashboard.queries import simulator as sim
from segmentation import currency as money

START_KEY = "start"
RESERVED_KEYS = frozenset((*QUERY_KEYS, START_KEY))
_MAX_PULLS = 3  # features named on each side of the "pulled toward" line
_MIN_PULL_SHARE = 0.05  # features with less than this share of the total pull go unnamed
SHORT_NAMES: dict[str, str] = {
    "recency_days": "recency",
    "frequency": "orders",
    "monetary": "revenue",
    "quantity": "units",
    "avg_basket_value": "basket value",
    "tenure_days": "tenure",
    "distinct_products": "product range",
    "return_rate": "return rate",
}


def fmt_value(feature: sim.FeatureRange, value: float) -> str:
    """A slider value for people: whole numbers with separators, small ones with a few digits."""
    if feature.integer or abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:,.1f}"
    return f"{value:.3g}"


def _plural(count: str, one: str, many: str) -> str:
    """'1 order', '4 orders' (count already formatted)."""
    return f"{count} {one if count == '1' else many}"


def _percent(share: float) -> str:
    """A return share as a percentage: 0.034 -> '3.4%', 0.25 -> '25%'."""
    return f"{share:.1%}" if 0 < abs(share) < 0.1 else f"{share:.0%}"


def phrase(feature: sim.FeatureRange, value: float, currency: str | None = None) -> str:
    """One feature of the simulated customer as a noun phrase ('4 orders', '£1,200 in net revenue')."""
    text = fmt_value(feature, value)
    if feature.name in ("monetary", "avg_basket_value"):
        before, after = money.affixes(currency)
        text = f"{before}{text}{after}"
    match feature.name:
        case "recency_days":
            return "a last purchase " + ("today" if text == "0" else _plural(text, "day", "days") + " ago")
        case "frequency":
            return _plural(text, "order", "orders")
        case "monetary":
            return f"{text} in net revenue"
        case "quantity":
            return _plural(text, "unit", "units")
        case "avg_basket_value":
            return f"an average basket of {text}"
        case "tenure_days":
            return "a first purchase " + _plural(text, "day", "days") + " ago"
        case "distinct_products":
            return _plural(text, "distinct product", "distinct products")
        case "return_rate":
            return f"{_percent(value)} of spend returned"
    return f"{feature.label} {text}"


def _join(parts: Sequence[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def customer_sentence(model: sim.SimModel, prediction: sim.Prediction) -> str:
    """What the simulated customer is and where they land: 'A customer with a last purchase 30 days ago,
    4 orders, ... would join Champions: nearer its centre than the centre of Loyal, by 1.08 ...'"""
    parts = [phrase(f, v, model.currency) for f, v in zip(model.features, prediction.values, strict=True)]
    who = "A customer with " + _join(parts) if parts else "This customer"
    joins = f"{who} would join {prediction.segment.name}"
    score = prediction.score
    if prediction.next_segment is None or score.next_distance is None:
        return joins + ", the run's only segment."
    margin = score.next_distance - score.distance
    return (
        f"{joins}: nearer its centre than the centre of {prediction.next_segment.name}, "
        f"by {margin:.2f} in the model's scaled units."
    )


def _named(feature: sim.FeatureRange, value: float) -> str:
    """'orders (4)', 'recency (30 days)', 'return rate (3.4%)': a feature and the customer's value."""
    short = SHORT_NAMES.get(feature.name, feature.label)
    if feature.name == "return_rate":
        return f"{short} ({_percent(value)})"
    unit = " days" if feature.name in ("recency_days", "tenure_days") else ""
    return f"{short} ({fmt_value(feature, value)}{unit})"


def pull_sentence(model: sim.SimModel, prediction: sim.Prediction) -> str | None:
    """Which features pull the customer toward their segment and which toward the runner-up (from the
    stored centres: Prediction.pulls), strongest first; None with a single segment."""
    if prediction.next_segment is None or not prediction.pulls:
        return None
    total = sum(abs(p) for p in prediction.pulls) or 1.0
    ranked = sorted(range(len(prediction.pulls)), key=lambda i: -abs(prediction.pulls[i]))
    sides: dict[bool, list[str]] = {True: [], False: []}
    for i in ranked:
        pull = prediction.pulls[i]
        if abs(pull) / total >= _MIN_PULL_SHARE and len(sides[pull > 0]) < _MAX_PULLS:
            sides[pull > 0].append(_named(model.features[i], prediction.values[i]))
    own, other = prediction.segment.name, prediction.next_segment.name
    toward = f"Pulled toward {own} by {_join(sides[True])}" if sides[True] else f"Close to {own} overall"
    away = (
        f"; toward {other} by {_join(sides[False])}."
        if sides[False]
        else f"; no feature pulls toward {other}."
    )
    return toward + away


def result_panel(model: sim.SimModel, prediction: sim.Prediction) -> list[Any]:
    """The predicted segment (large, in its name's colour), the sentence about the simulated customer and
    what pulls them where, the segment's recommended action and how clearly the customer belongs."""
    segment = prediction.segment
    score = prediction.score
    among = [s.name for s in model.segments]
    if prediction.next_segment is None or score.next_distance is None:
        verdict = dbc.Badge("Only segment", color="secondary", className="me-2")
        detail = f"Distance to its centre {score.distance:.2f}."
    else:
        verdict = (
            dbc.Badge("Borderline", color="warning", text_color="dark", className="me-2")
            if prediction.borderline
            else dbc.Badge("Clear member", color="success", className="me-2")
        )
        detail = (
            f"Distance to its centre {score.distance:.2f}; to the next-nearest segment, "
            f"{prediction.next_segment.name}, {score.next_distance:.2f} "
            f"(ratio {prediction.ratio:.2f}; borderline from {sim.BORDERLINE_RATIO:.2f})."
        )
    pulls = pull_sentence(model, prediction)
    about = f"About {segment.name}: {segment.description}" if segment.description else ""
    return [
        html.Div("Predicted segment", className="kpi-label"),
        html.Div(
            segment.name,
            id="simulator-segment",
            className="display-6 fw-semibold mb-2",
            style={"color": figures.segment_color(segment.name, among)},
        ),
        html.P(customer_sentence(model, prediction), className="mb-2", id="simulator-customer"),
        html.P(pulls or "", className="mb-2", id="simulator-pulls"),
        html.P(
            [html.Strong("Recommended action: "), segment.action], className="mb-2", id="simulator-action"
        ),
        html.P(about, className="small text-muted mb-3", id="simulator-description"),
        html.Div([verdict, html.Span(detail, className="small")], id="simulator-verdict"),
    ]


# ---------------------------------------------------------------------------------------------------------
# URL state


def query_key(name: str) -> str:
    """The URL key of a feature: its name, or `feature.<name>` where the name is a filter or page key."""
    return f"feature.{name}" if name in RESERVED_KEYS or name.startswith("feature.") else name


def _one(value: Any) -> Any:
    """A query value as one scalar: a list of one is unwrapped; several values or a container: None."""
    if isinstance(value, list):
        value = value[0] if len(value) == 1 else None
    return value if isinstance(value, (str, int, float)) and not isinstance(value, bool) else None


def start_from_query(model: sim.SimModel, value: Any) -> int | None:
    """The start profile's segment id from an untrusted value (a segment with a median profile), else None
    (the population medians)."""
    value = _one(value)
    if isinstance(value, str) and 0 < len(value) <= 9 and value.isascii() and value.lstrip("-").isdigit():
        value = int(value)
    return value if isinstance(value, int) and value in model.medians else None


def values_from_query(model: sim.SimModel, query: Mapping[str, Any], start: int | None) -> tuple[float, ...]:
    """The slider values in an untrusted URL query: the start profile, each feature given in the URL
    replaced by its value clamped to the feature's range (unusable values keep the start value)."""
    query = query if isinstance(query, Mapping) else {}
    base = model.profile(start)
    values = []
    for feature, default in zip(model.features, base, strict=True):
        raw = _one(query.get(query_key(feature.name)))
        values.append(feature.clamp(raw) if raw is not None and sim.finite(raw) is not None else default)
    return tuple(values)


def _fmt(value: float) -> str:
    """A value for the URL, exactly as it is (shortest round-trip form; whole numbers without '.0')."""
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(float(value))


def query_pairs(
    model: sim.SimModel, f: Filters, start: int | None, values: Sequence[float]
) -> list[tuple[str, str]]:
    """The page's canonical URL query: run and shared filters, the start (if a segment), then every
    feature whose value differs from the start profile."""
    pairs = f.query_pairs()
    if start is not None and start in model.medians:
        pairs.append((START_KEY, str(start)))
    base = model.profile(start)
    for feature, value, default in zip(model.features, values, base, strict=True):
        if value != default:
            pairs.append((query_key(feature.name), _fmt(value)))
    return pairs
