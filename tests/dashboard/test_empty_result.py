"""The Customers page's empty state: the filter it blames and the range it quotes, checked verbatim against
values read from the fixture DB without dashboard code."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from dashboard import empty_result, queries
from dashboard.filters import Filters
from dashboard.queries import filtered


def f_of(**query: object) -> Filters:
    return filtered.filters_from_query({"run": "1", **query})


def num(value: float) -> str:
    """How the sentence writes a number: whole ones with separators, others to at most 2 decimals."""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def test_emp001_active_filters_and_dropping_one() -> None:
    f = Filters(run_id=1, countries=("Germany",), segments=(1,), recency_max=3.0, outliers="only")
    assert empty_result.active(f) == ["recency", "outliers", "segment", "country"]
    assert empty_result.without(f, "recency") == dataclasses.replace(f, recency_max=None)
    assert empty_result.without(f, "country").countries == ()
    assert empty_result.without(f, "outliers").outliers == "include"
    assert empty_result.active(Filters(run_id=1)) == []


def test_emp002_a_range_alone(db: Path, read_customers: Callable[[Path, int], pd.DataFrame]) -> None:
    frame = read_customers(db, 1)
    f = f_of(recency_max="0.5")
    assert filtered.count(f) == 0
    lo, hi = frame["recency_days"].min(), frame["recency_days"].max()
    assert empty_result.message(f) == (
        "No customer has recency of at most 0.5 days; "
        f"recency in this run goes from {num(lo)} to {num(hi)} days."
    )


def test_emp003_a_range_within_a_country(
    db: Path, read_customers: Callable[[Path, int], pd.DataFrame]
) -> None:
    frame = read_customers(db, 1)
    germany = frame[frame["country"] == "Germany"]
    top = float(germany["monetary"].max())
    f = f_of(country="Germany", monetary_min=str(top + 1))
    assert filtered.count(f) == 0
    lo = float(germany["monetary"].min())
    assert empty_result.message(f) == (
        f"No customer in Germany has revenue of at least {num(top + 1)}; "
        f"revenue of customers in Germany goes from {num(lo)} to {num(top)}."
    )


def test_emp004_outliers_only(db: Path, read_customers: Callable[[Path, int], pd.DataFrame]) -> None:
    frame = read_customers(db, 1)
    loyal_de = frame[(frame["country"] == "Germany") & (frame["segment_name"] == "Loyal")]
    assert not loyal_de["is_outlier"].any() and len(loyal_de) > 0
    f = f_of(country="Germany", segment="1", outliers="only")
    assert empty_result.message(f) == (
        f"No customer in segment Loyal in Germany is an outlier; none of the {len(loyal_de)} customers in "
        "segment Loyal in Germany is an outlier."
    )


def test_emp005_a_country_a_segment_is_missing_from(
    tmp_path: Path, make_db: Callable[..., Path], read_customers: Callable[[Path, int], pd.DataFrame]
) -> None:
    db = make_db(tmp_path / "small.duckdb", runs=1, n=12, seed=3)
    frame = read_customers(db, 1)
    pairs = set(zip(frame["country"], frame["segment_id"], strict=True))
    country, segment = next(
        (c, s)
        for c in sorted(frame["country"].unique())
        for s in sorted(frame["segment_id"].unique())
        if (c, s) not in pairs
    )
    name = frame.loc[frame["segment_id"] == segment, "segment_name"].iloc[0]
    here = frame[frame["country"] == country]["segment_name"].value_counts()
    names = sorted(here.index, key=lambda n: (-here[n], n))
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
    kind = "segment" if len(names) == 1 else "segments"
    with queries.using(db):
        f = filtered.filters_from_query({"run": "1", "country": country, "segment": str(segment)})
        assert filtered.count(f) == 0
        assert empty_result.message(f) == (
            f"No customer in {country} is in segment {name}; customers in {country} are in {kind} {listed}."
        )


def test_emp006_no_single_filter_to_blame(
    db: Path, read_customers: Callable[[Path, int], pd.DataFrame]
) -> None:
    frame = read_customers(db, 1)
    f = f_of(recency_max="0.5", frequency_min="1000")
    r_lo, r_hi = frame["recency_days"].min(), frame["recency_days"].max()
    q_lo, q_hi = frame["frequency"].min(), frame["frequency"].max()
    assert empty_result.message(f) == (
        "No customer matches these filters together (Recency: at most 0.5 days; Frequency: at least 1000 "
        "orders), and dropping any one of them still leaves nobody; recency in this run goes from "
        f"{num(r_lo)} to {num(r_hi)} days; "
        f"frequency in this run goes from {num(q_lo)} to {num(q_hi)} orders."
    )


@pytest.mark.parametrize("query", [{"country": "Germany"}, {}])
def test_emp007_the_panel_names_the_cause(db: Path, query: dict[str, str]) -> None:
    f = f_of(recency_max="0.5", **query)
    panel = str(empty_result.empty_state(f).to_plotly_json())
    assert "No customers match these filters" in panel and "recency of at most 0.5 days" in panel
