"""Filters.from_query keeps only values valid for the run; to_query/params/describe follow from it."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from dashboard.filters import AT_RISK_NAMES, Allowed, Filters, TableView, query_from_args, url
from dashboard.queries import filtered

ALLOWED = Allowed(
    run_id=3,
    countries=("EIRE", "France", "Germany", "United Kingdom"),
    segments={0: "Champions", 1: "Loyal", 2: "At Risk", 3: "Can't Lose"},
    ranges={
        "tenure": (10.0, 1000.0),
        "recency": (1.0, 700.0),
        "frequency": (1.0, 50.0),
        "monetary": (-20.0, 5000.0),
    },
)
SQL = "'; DROP TABLE customers; --"
JUNK: list[Any] = [
    SQL,
    {"a": 1},
    ["a", "b"],
    [["France"]],
    None,
    True,
    float("nan"),
    "nan",
    "inf",
    "-inf",
    "1e999",
    "abc",
    "",
]


def parse(query: dict[str, Any]) -> Filters:
    return Filters.from_query(query, ALLOWED)


def test_flt001_valid_values_are_kept_in_the_runs_order() -> None:
    f = parse({"country": ["Germany", "France", "France"], "segment": ["3", "2"], "outliers": "exclude"})
    assert f.countries == ("France", "Germany")
    assert f.segments == (2, 3)
    assert f.outliers == "exclude"
    assert f.run_id == 3


def test_flt002_a_single_value_is_a_one_item_list() -> None:
    f = parse({"country": "France", "segment": "2", "preset": "at-risk"})
    assert (f.countries, f.segments, f.preset) == (("France",), (2,), "at-risk")


def test_flt002b_an_old_links_tenure_band_is_read_as_its_tenure_range() -> None:
    """Links made before bands came from the data (`tenure_band=1-2y`) still open the same customers."""
    f = parse({"tenure_band": "1-2y"})
    assert (f.tenure_min, f.tenure_max) == (365, 729)
    assert f.to_query() == "run=3&tenure_min=365&tenure_max=729"
    older = parse({"tenure_band": "2y+"})
    assert older.tenure_min == 730 and older.tenure_max is None
    assert parse({"tenure_band": "0-90d"}).to_query() == "run=3&tenure_max=89"  # 10 is the run's minimum
    explicit = parse({"tenure_band": "1-2y", "tenure_min": "500"})  # explicit bounds win over a band
    assert (explicit.tenure_min, explicit.tenure_max) == (500, None)
    for junk in ("0-90d' --", ["0-90d", "2y+"], {"x": 1}, "3y+"):
        assert parse({"tenure_band": junk}) == Filters(run_id=3)


def test_flt003_unknown_country_and_segment_are_ignored() -> None:
    f = parse({"country": ["Atlantis", "France"], "segment": ["9", "-1", "2"]})
    assert f.countries == ("France",)
    assert f.segments == (2,)


@pytest.mark.parametrize(
    "key", ["country", "segment", "outliers", "preset", "tenure_band", "tenure_min", "monetary_max"]
)
@pytest.mark.parametrize("value", JUNK, ids=lambda v: repr(v)[:20])
def test_flt004_junk_values_are_ignored(key: str, value: Any) -> None:
    f = parse({key: value})
    assert f == Filters(run_id=3)
    assert SQL not in f.to_query() and SQL not in repr(f.params())


def test_flt005_numbers_must_be_finite() -> None:
    for bad in (
        "nan",
        "NaN",
        "inf",
        "-Infinity",
        "1e400",
        float("inf"),
        float("nan"),
        "12abc",
        "1,5",
        "0x10",
    ):
        assert parse({"monetary_min": bad}).monetary_min is None, bad
    f = parse({"monetary_min": "12.5", "monetary_max": 300, "frequency_min": " 3 "})
    assert (f.monetary_min, f.monetary_max, f.frequency_min) == (12.5, 300.0, 3.0)


def test_flt006_inverted_range_is_swapped() -> None:
    f = parse({"tenure_min": "900", "tenure_max": "100"})
    assert (f.tenure_min, f.tenure_max) == (100.0, 900.0)


def test_flt007_bounds_that_exclude_nothing_are_dropped() -> None:
    f = parse({"tenure_min": "10", "tenure_max": "5000", "recency_min": "0", "monetary_max": "4999.99"})
    assert (f.tenure_min, f.tenure_max, f.recency_min, f.monetary_max) == (None, None, None, 4999.99)
    # a bound beyond the other end is kept: it selects nothing, which is what was asked for
    assert parse({"tenure_min": "2000"}).tenure_min == 2000.0


def test_flt008_a_column_the_run_lacks_takes_no_bounds() -> None:
    allowed = Allowed(run_id=1, ranges={"tenure": (None, None), "recency": (1.0, 9.0)})
    f = Filters.from_query({"tenure_min": "5", "tenure_band": "1-2y", "recency_max": "5"}, allowed)
    assert (f.tenure_min, f.tenure_max, f.recency_max) == (None, None, 5.0)


def test_flt009_long_lists_are_capped_at_the_number_of_allowed_values() -> None:
    f = parse({"country": ["x"] * 10_000 + ["France"], "segment": [str(i) for i in range(10_000)]})
    assert f.countries == ()  # France came after the cap
    assert f.segments == (0, 1, 2, 3)
    f = parse({"country": ["France"] + ["x"] * 10_000})
    assert f.countries == ("France",)


def test_flt010_overlong_strings_are_ignored() -> None:
    assert parse({"country": "France" + " " * 500}).countries == ()
    assert parse({"monetary_min": "1" + "0" * 40}).monetary_min is None


def test_flt011_bools_are_not_numbers() -> None:
    assert parse({"segment": True, "monetary_min": False}) == Filters(run_id=3)


def test_flt012_non_mapping_query_gives_default_filters() -> None:
    assert Filters.from_query(["country", "France"], ALLOWED) == Filters(run_id=3)  # type: ignore[arg-type]


def test_flt013_to_query_is_stable_and_round_trips() -> None:
    query = {
        "preset": "at-risk",
        "segment": ["3", "2"],
        "country": ["Germany", "France"],
        "monetary_min": "100.5",
        "tenure_max": "400",
        "outliers": "only",
        "run": "1",  # the run comes from Allowed, not the query
    }
    f = parse(query)
    assert f.to_query() == (
        "run=3&country=France&country=Germany&segment=2&segment=3&tenure_max=400&monetary_min=100.5"
        "&outliers=only&preset=at-risk"
    )
    back = {k: v[0] if len(v) == 1 else v for k, v in parse_qs(f.to_query()).items()}
    assert parse(back) == f
    assert parse({}).to_query() == "run=3"


def test_flt014_params_bind_only_validated_values() -> None:
    f = parse({"country": ["France", SQL], "segment": ["2"], "tenure_band": "2y+", "preset": "outliers"})
    p = f.params()
    assert p["countries"] == ["France"] and p["segments"] == [2]
    assert (p["tenure_min"], p["tenure_max"]) == (730, None)
    assert p["outliers_only"] is True and p["outliers_exclude"] is False and p["at_risk"] is False
    assert p["at_risk_names"] == list(AT_RISK_NAMES)
    empty = parse({}).params()
    assert empty["countries"] is None and empty["segments"] is None and empty["monetary_min"] is None


def test_flt015_describe_in_words() -> None:
    f = parse(
        {
            "country": ["France", "Germany"],
            "segment": "2",
            "recency_max": "30",
            "monetary_min": "100",
            "monetary_max": "250.5",
            "tenure_band": "1-2y",  # an old link's band reads as its range
            "outliers": "exclude",
            "preset": "at-risk",
        }
    )
    assert f.describe() == [
        "Country: France, Germany",
        "Segment: At Risk",
        "Tenure: 365 to 729 days",
        "Recency: at most 30 days",
        "Revenue: 100 to 250.5",
        "Outliers: excluded",
        "Preset: At risk (segments or RFM groups At Risk, Can't Lose; ranked by revenue)",
    ]
    assert parse({}).describe() == ["All customers"]


def test_flt016_table_view_parses_sort_desc_and_page() -> None:
    assert TableView.from_query({"sort": "monetary", "desc": "1", "page": "3"}) == TableView(
        "monetary", True, 3
    )
    assert TableView.from_query({"sort": SQL, "desc": {"x": 1}, "page": "-4"}) == TableView(None, None, 1)
    assert TableView.from_query({"sort": "monetary DESC", "page": "99999999999"}) == TableView(None, None, 1)
    assert TableView("tenure", False, 2).query_pairs() == [("sort", "tenure"), ("desc", "0"), ("page", "2")]


def test_flt017_url_joins_path_filters_and_view() -> None:
    f = parse({"segment": "2"})
    assert url("/customers", f, TableView(page=2)) == "/customers?run=3&segment=2&page=2"


def test_flt018_query_from_args_mirrors_dash_layout_kwargs() -> None:
    from werkzeug.datastructures import MultiDict

    args = MultiDict([("country", "France"), ("country", "EIRE"), ("run", "1"), ("evil", "x")])
    assert query_from_args(args) == {"country": ["France", "EIRE"], "run": "1"}


def test_flt019_allowed_from_the_fixture_db(db: Path) -> None:
    allowed = filtered.allowed(2)
    assert allowed.countries == (
        '=HYPERLINK("http://x")',
        "Belgium",
        "France",
        "Germany",
        "Italy",
        "Portugal",
    )
    assert allowed.segments == {0: "Big Spenders", 1: "Occasional", 2: "=Evil Name", 3: "Dormant"}
    f = Filters.from_query({"country": '=HYPERLINK("http://x")', "segment": "2"}, allowed)
    assert f.countries == ('=HYPERLINK("http://x")',) and f.describe()[1] == "Segment: =Evil Name"
