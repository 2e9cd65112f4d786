"""Segment naming from centroid levels, and the classic RFM grid in Python and in DuckDB SQL."""

from __future__ import annotations

import itertools
import math

import duckdb
import pytest

from segmentation.naming import CANDIDATES, SegmentName, name_segments
from segmentation.rfm_groups import RFM_GROUPS, rfm_group, rfm_group_sql


def rfm(recency: float, frequency: float, monetary: float, **extra: float) -> dict[str, float]:
    """Levels for one segment; recency is the percentile of recency_days (low = bought recently)."""
    return {"recency_days": recency, "frequency": frequency, "monetary": monetary, **extra}


def name_of(levels: dict[str, float]) -> str:
    return name_segments({0: levels})[0].name


def assert_one_liners(names: dict[int, SegmentName]) -> None:
    for n in names.values():
        for text in (n.name, n.description, n.action):
            assert text.strip() and "\n" not in text and "\r" not in text and text == text.strip()


# profile -> expected name, one segment at a time (no competition for names)
PROFILES = [
    (rfm(0.1, 0.95, 0.95), "Champions"),
    (rfm(0.3, 0.9, 0.75), "Loyal"),
    (rfm(0.5, 0.3, 0.95, avg_basket_value=0.95), "Big Spenders"),
    (rfm(0.15, 0.55, 0.55), "Potential Loyalists"),
    (rfm(0.02, 0.1, 0.2, tenure_days=0.05), "New"),
    (rfm(0.2, 0.25, 0.25), "Promising"),
    (rfm(0.5, 0.5, 0.5), "Need Attention"),
    (rfm(0.7, 0.3, 0.35), "About to Sleep"),
    (rfm(0.8, 0.75, 0.75), "At Risk"),
    (rfm(0.95, 0.9, 0.9), "Can't Lose"),
    (rfm(0.95, 0.1, 0.1), "Dormant"),
    (rfm(0.5, 0.8, 0.4, avg_basket_value=0.05, distinct_products=0.9), "Bargain Seekers"),
    (rfm(0.5, 0.5, 0.5, return_rate=0.97), "Frequent Returners"),
]


@pytest.mark.parametrize(("levels", "expected"), PROFILES, ids=[e for _, e in PROFILES])
def test_profile_gets_expected_name(levels: dict[str, float], expected: str) -> None:
    assert name_of(levels) == expected


def test_profile_table_covers_every_candidate() -> None:
    assert {e for _, e in PROFILES} == {c.name for c in CANDIDATES}


def test_all_profiles_together_keep_their_names() -> None:
    names = name_segments({i: lv for i, (lv, _) in enumerate(PROFILES)})
    assert [names[i].name for i in range(len(PROFILES))] == [e for _, e in PROFILES]
    assert_one_liners(names)


def test_champions_description_and_action() -> None:
    got = name_segments({7: rfm(0.1, 0.95, 0.95)})[7]
    assert got == SegmentName(
        "Champions",
        "Bought recently, buy often and spend the most; order count in the top 5%, spend in the top 5%.",
        "Reward them: early access, loyalty perks; ask for reviews and referrals.",
    )


def test_long_gone_high_value_is_cant_lose_or_at_risk() -> None:
    assert name_of(rfm(0.9, 0.85, 0.9)) in {"Can't Lose", "At Risk"}
    assert name_of(rfm(0.75, 0.7, 0.65)) in {"Can't Lose", "At Risk"}


def test_long_gone_low_everything_is_dormant() -> None:
    assert name_of(rfm(0.9, 0.05, 0.1, avg_basket_value=0.3, tenure_days=0.6)) == "Dormant"


def test_new_needs_short_tenure_when_tenure_is_known() -> None:
    assert name_of(rfm(0.05, 0.1, 0.25, tenure_days=0.1)) == "New"
    assert name_of(rfm(0.05, 0.1, 0.25, tenure_days=0.9)) != "New"


def test_near_identical_profiles_get_unique_names_best_fit_first() -> None:
    names = name_segments({0: rfm(0.12, 0.93, 0.94), 1: rfm(0.1, 0.95, 0.95)})
    assert names[1].name == "Champions"  # the closer fit wins, whatever the ids
    assert names[0].name != "Champions"


def test_equal_fit_goes_to_the_larger_segment_then_the_lower_id() -> None:
    same = {3: rfm(0.1, 0.95, 0.95), 5: rfm(0.1, 0.95, 0.95)}
    assert name_segments(same)[3].name == "Champions"
    assert name_segments(same, sizes={3: 10, 5: 500})[5].name == "Champions"


def test_more_segments_than_candidates_still_unique() -> None:
    levels = {i: rfm(0.1, 0.95, 0.95, avg_basket_value=0.6) for i in range(len(CANDIDATES) + 8)}
    names = name_segments(levels)
    assert len({n.name for n in names.values()}) == len(levels)
    assert names[0].name == "Champions"
    assert_one_liners(names)


def test_segment_fitting_nothing_gets_descriptive_name() -> None:
    got = name_segments({0: rfm(0.5, 0.9, 0.1)})[0]
    assert got == SegmentName(
        "High Frequency · Low Spend",
        "Order count in the top 10%, spend in the bottom 10%.",
        "Reward their frequent visits with loyalty perks.",
    )


def test_deterministic_and_order_independent() -> None:
    levels = {i: lv for i, (lv, _) in enumerate(PROFILES)}
    levels[20] = rfm(0.11, 0.94, 0.96)
    levels[21] = rfm(0.5, 0.9, 0.1)
    first = name_segments(levels)
    assert name_segments(levels) == first
    shuffled = {k: dict(reversed(list(levels[k].items()))) for k in reversed(list(levels))}
    sizes = dict.fromkeys(levels, 1)
    assert name_segments(shuffled, sizes=dict(reversed(list(sizes.items())))) == first
    assert list(name_segments(shuffled)) == sorted(levels)


def test_generic_mode_names_from_two_most_distinctive_features() -> None:
    got = name_segments({0: {"income": 0.85, "spend": 0.2, "visits": 0.55}})[0]
    assert got == SegmentName(
        "High Income · Low Spend",
        "Income in the top 15%, spend in the bottom 20%.",
        "Target with offers matched to their high income.",
    )


def test_generic_mode_title_cases_columns_and_reads_low_direction() -> None:
    got = name_segments({0: {"annual_income": 0.35, "web_visits": 0.05}})[0]
    assert got.name == "Low Web Visits · Low Annual Income"
    assert got.description == "Web visits in the bottom 5%, annual income in the bottom 35%."
    assert got.action == "Tailor offers to their low web visits and test what moves them."


def test_generic_mode_is_used_without_full_rfm_and_names_are_unique() -> None:
    levels = {
        0: {"frequency": 0.9, "monetary": 0.9},  # no recency: generic names, nicer labels for known features
        1: {"frequency": 0.91, "monetary": 0.88},
        2: {"frequency": 0.92, "monetary": 0.9},
    }
    names = name_segments(levels)
    assert [names[i].name for i in range(3)] == [
        "High Frequency · High Spend",
        "High Frequency · High Spend 2",
        "High Frequency · High Spend 3",
    ]
    assert not {n.name for n in names.values()} & {c.name for c in CANDIDATES}
    assert_one_liners(names)


def test_generic_mode_many_similar_segments_unique() -> None:
    levels = {i: {"income": 0.8 + i / 1000, "spend": 0.2, "age": 0.3} for i in range(6)}
    names = name_segments(levels)
    assert names[0].name == "High Income · Low Spend"
    assert names[1].name == "High Income · Low Age"
    assert len({n.name for n in names.values()}) == 6
    assert_one_liners(names)


def test_multiline_column_names_still_give_one_line_texts() -> None:
    names = name_segments({0: {"spend\nlast_year": 0.9, "CLV": 0.1}})
    assert names[0].name == "Low CLV · High Spend Last Year"  # equal distinctiveness: by column name
    assert_one_liners(names)


def test_nan_levels_are_ignored_and_out_of_range_rejected() -> None:
    assert name_of(rfm(0.1, 0.95, 0.95, return_rate=math.nan)) == "Champions"
    with pytest.raises(ValueError, match="segment 4: level of 'frequency' must be within 0..1, got 1.5"):
        name_segments({4: rfm(0.1, 1.5, 0.9)})


def test_empty_input_and_empty_segment() -> None:
    assert name_segments({}) == {}
    assert name_segments({2: {}})[2].name == "Segment"


# ---- classic RFM groups ------------------------------------------------------------------------------

ALL_SCORES = list(itertools.product(range(1, 6), repeat=3))


def test_every_score_combination_maps_to_a_group_and_every_group_is_used() -> None:
    groups = [rfm_group(r, f, m) for r, f, m in ALL_SCORES]
    assert len(groups) == 125 and set(groups) <= set(RFM_GROUPS)
    assert set(groups) == set(RFM_GROUPS) and len(RFM_GROUPS) == 11


@pytest.mark.parametrize(
    ("r", "f", "m", "group"),
    [
        (5, 5, 5, "Champions"),
        (5, 4, 3, "Champions"),
        (4, 5, 4, "Loyal"),
        (3, 4, 5, "Loyal"),
        (5, 2, 3, "Potential Loyalist"),
        (4, 3, 2, "Potential Loyalist"),
        (5, 1, 1, "New"),
        (5, 2, 1, "Potential Loyalist"),
        (4, 1, 1, "Promising"),
        (3, 3, 3, "Need Attention"),
        (3, 2, 3, "Need Attention"),
        (3, 1, 2, "About to Sleep"),
        (2, 4, 3, "At Risk"),
        (1, 3, 3, "At Risk"),
        (2, 5, 5, "Can't Lose"),
        (1, 5, 4, "Can't Lose"),
        (2, 1, 1, "Hibernating"),
        (1, 2, 2, "Hibernating"),
        (1, 1, 2, "Hibernating"),
        (1, 1, 1, "Lost"),
    ],
)
def test_rfm_grid_cells(r: int, f: int, m: int, group: str) -> None:
    assert rfm_group(r, f, m) == group


@pytest.mark.parametrize("bad", [(0, 3, 3), (3, 6, 3), (3, 3, -1)])
def test_rfm_group_rejects_scores_outside_1_to_5(bad: tuple[int, int, int]) -> None:
    with pytest.raises(ValueError, match="score must be an integer 1..5"):
        rfm_group(*bad)


def test_rfm_group_sql_matches_python_on_all_125_combinations() -> None:
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE scores AS SELECT r.range::TINYINT AS r_score, f.range::TINYINT AS f_score,"
        " m.range::TINYINT AS m_score FROM range(1, 6) r, range(1, 6) f, range(1, 6) m"
    )
    query = "SELECT r_score, f_score, m_score, " + rfm_group_sql() + " AS g FROM scores ORDER BY ALL"  # noqa: S608 static text
    rows = con.execute(query).fetchall()
    assert len(rows) == 125
    assert {(r, f, m): g for r, f, m, g in rows} == {(r, f, m): rfm_group(r, f, m) for r, f, m in ALL_SCORES}


def test_rfm_group_sql_gives_null_outside_range() -> None:
    query = "SELECT " + rfm_group_sql() + " FROM (VALUES (0, 3, 3), (5, 5, 6)) t(r_score, f_score, m_score)"  # noqa: S608
    assert duckdb.connect().execute(query).fetchall() == [(None,), (None,)]


@pytest.mark.parametrize("cut", [0.4, 0.5 - 0.1, 0.6, 0.5 + 0.1])
def test_a_median_on_the_cut_reads_mid_not_low_or_high(cut: float) -> None:
    got = name_segments({0: {"annual_income": cut, "spending_score": 0.05}})[0]
    assert got.name == "Low Spending Score · Mid Annual Income"
    assert got.description == "Spending score in the bottom 5%, annual income around the median."
