"""One name and one unit per measure, on every page and in every export.

Filters, table headers, chart axes and the export's About sheet all take their words from here, so
"Recency (days)" is never "Recency (d)" on another page. Rates are shown as percentages everywhere (stored
as fractions, or as 0-1 chances); money carries the run's currency (segmentation.currency).
"""

from __future__ import annotations

from typing import NamedTuple


class Measure(NamedTuple):
    """A measure's name and unit: 'days', 'orders', 'money' (the run's currency), '%' or '' (a count)."""

    name: str
    unit: str
    percent_of_one: bool = False  # stored as a fraction (0.05) but shown as a percentage (5%)


MEASURES: dict[str, Measure] = {
    "recency_days": Measure("Recency", "days"),
    "frequency": Measure("Frequency", "orders"),
    "monetary": Measure("Revenue", "money"),
    "quantity": Measure("Units", ""),
    "avg_basket_value": Measure("Basket value", "money"),
    "tenure_days": Measure("Tenure", "days"),
    "distinct_products": Measure("Distinct products", ""),
    "return_rate": Measure("Return rate", "%", percent_of_one=True),
    "p_alive": Measure("Chance still active", "%", percent_of_one=True),
    "expected_purchases": Measure("Expected purchase days", ""),
    "predicted_value": Measure("Predicted value, 12 months", "money"),
    "value_at_risk": Measure("Value at risk", "money"),
}


def label(column: str, currency: str | None = None) -> str:
    """'Recency (days)', 'Revenue (GBP)', 'Return rate (%)', 'Units'; unknown columns as they are."""
    measure = MEASURES.get(column)
    if measure is None:
        return column
    unit = (currency or "") if measure.unit == "money" else measure.unit
    return f"{measure.name} ({unit})" if unit else measure.name


def is_rate(column: str) -> bool:
    """True for a measure stored as a fraction of one and shown as a percentage."""
    measure = MEASURES.get(column)
    return bool(measure and measure.percent_of_one)


def axis_format(column: str) -> dict[str, str]:
    """Plotly axis settings that show a rate's fractions as percentages (5%); {} for other measures."""
    return {"tickformat": ".0%"} if is_rate(column) else {}


def name(column: str) -> str:
    """The measure's name without its unit ('Recency')."""
    measure = MEASURES.get(column)
    return measure.name if measure else column
