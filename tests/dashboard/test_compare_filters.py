"""Compare under the shared filters: profiles, sizes and countries of the filtered customers, checked
against plain pandas over the stored customers; without filters, the live SQL profiles equal the stored
ones the run computed in NumPy (two independent computations of the same numbers)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from dashboard import queries
from dashboard.filters import Filters
from dashboard.queries import aggregates, filtered, profiles
from segmentation import pipeline
from segmentation.config import TRANSACTION_FEATURES


def _customers(db: Path) -> pd.DataFrame:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute("SELECT * FROM customers WHERE run_id = 1").df()


def test_live_profiles_without_filters_equal_the_stored_ones(
    small_run: tuple[Path, pipeline.RunSummary],
) -> None:
    with queries.using(small_run[0]):
        ids = [int(s) for s in profiles.segments(1)["segment_id"]]
        stored = profiles.profiles(1, ids).set_index(["segment_id", "feature"]).sort_index()
        live = profiles._live_profiles(Filters(run_id=1), ids, True).set_index(["segment_id", "feature"])
    live = live.sort_index()
    assert list(live.index) == list(stored.index)
    for column in ("mean", "median", "p25", "p75", "min", "max"):
        np.testing.assert_allclose(live[column], stored[column], rtol=1e-9, atol=1e-9, err_msg=column)


def test_filtered_profiles_sizes_and_countries_match_pandas(
    small_run: tuple[Path, pipeline.RunSummary],
) -> None:
    df = _customers(small_run[0])
    country = df["country"].value_counts().index[1]  # the second-largest country: a real narrowing
    kept = df[(df["country"] == country) & (df["tenure_days"] >= 100)]
    assert 0 < len(kept) < len(df)
    with queries.using(small_run[0]):
        allowed = filtered.allowed(1)
        f = Filters.from_query({"country": [country], "tenure_min": "100"}, allowed)
        ids = sorted(int(s) for s in kept["segment_id"].unique())
        prof = profiles.profiles(f, ids).set_index(["segment_id", "feature"])
        summary = aggregates.segment_summary(f).set_index("segment_id")
        tops = profiles.top_countries(f, ids)
    for sid in ids:
        part = kept[kept["segment_id"] == sid]
        assert summary.loc[sid, "customers"] == len(part)
        assert set(tops[tops["segment_id"] == sid]["country"]) == {country}
        for feature in TRANSACTION_FEATURES:
            values = part[feature].astype(float).dropna()
            row = prof.loc[(sid, feature)]
            assert row["mean"] == np.float64(values.mean()) or abs(row["mean"] - values.mean()) < 1e-9
            assert abs(row["median"] - values.quantile(0.5)) < 1e-9
            assert abs(row["p25"] - values.quantile(0.25)) < 1e-9 and row["max"] == values.max()
    population = prof.loc[(profiles.POPULATION, "monetary")]
    assert abs(population["median"] - kept["monetary"].astype(float).median()) < 1e-9  # Everyone = filtered


def test_segments_without_filtered_customers_get_no_scores(
    small_run: tuple[Path, pipeline.RunSummary],
) -> None:
    """The filters keep customers, but none of the compared segment's (here: only segment 0's customers, and
    segment 1 compared): its profile rows are empty and so are its radar scores. normalise used to raise (an
    empty string column minus a float one), a 500 on Compare for e.g. one small country or outliers only."""
    with queries.using(small_run[0]):
        f = Filters.from_query({"segment": ["0"]}, filtered.allowed(1))
        assert filtered.count(f) > 0
        prof = profiles.profiles(f, [1])
        scores = profiles.normalise(prof)
    assert set(prof["segment_id"]) == {profiles.POPULATION} and scores.empty
    assert list(scores.columns) == ["segment_id", "feature", "median", "population_median", "score"]


def test_profiles_and_boxes_equal_the_two_queries_they_replace(
    small_run: tuple[Path, pipeline.RunSummary],
) -> None:
    """Compare draws its table and box plots from one query (profiles_and_boxes); it must give what
    profiles() and box_stats() give on their own, filtered or not, with and without the population box."""
    with queries.using(small_run[0]):
        allowed = filtered.allowed(1)
        ids = [int(s) for s in profiles.segments(1)["segment_id"]][:3]
        for query in ({}, {"tenure_min": "100"}, {"outliers": "exclude", "segment": ["0", "1"]}):
            f = Filters.from_query(query, allowed)
            for population in (True, False):
                prof, boxes = profiles.profiles_and_boxes(f, ids, population)
                pd.testing.assert_frame_equal(
                    prof, profiles.profiles(f, ids, population=True), check_dtype=False
                )
                pd.testing.assert_frame_equal(
                    boxes, profiles.box_stats(f, ids, population), check_dtype=False
                )
                assert (profiles.POPULATION in set(boxes["segment_id"])) == population
