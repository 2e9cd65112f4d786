"""Query results kept per (file identity, query): filtered.allowed() always (every filter callback validates
its values against it), the aggregates behind page loads and filter callbacks when SEGMENTATION_RESULT_CACHE
is on (gunicorn.conf.py). A repeat costs no query; a re-run or rename that swaps a new file in is read
afresh."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from dashboard import queries
from dashboard.queries import aggregates, allowed_values, filtered, profiles, result_cache
from tests.dashboard.conftest import build_db


def count_queries(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every SQL text the query layer executes from now on."""
    seen: list[str] = []
    real = queries._execute

    def spy(sql: str, params: Any) -> Any:
        seen.append(sql)
        return real(sql, params)

    monkeypatch.setattr(queries, "_execute", spy)
    return seen


def test_a_repeat_costs_no_query(fresh_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = filtered.allowed(1)
    seen = count_queries(monkeypatch)
    again = filtered.allowed(1)
    assert again == first and seen == []
    filtered.allowed(2)  # another run is another key
    assert len(seen) >= 3


def test_a_swapped_file_is_read_afresh(fresh_db: Path, tmp_path: Path) -> None:
    old = filtered.allowed(1)
    replacement = build_db(tmp_path / "next.duckdb", runs=2, n=50, seed=7)
    os.replace(replacement, fresh_db)  # what a re-run does
    new = filtered.allowed(1)
    assert new != old
    direct = allowed_values.read(1)
    assert new == direct and new.countries == direct.countries and new.ranges == direct.ranges


@pytest.fixture
def cache_on(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The aggregate cache as gunicorn.conf.py turns it on, empty at the start."""
    monkeypatch.setenv(result_cache.ENV, "1")
    result_cache.clear()
    yield
    result_cache.clear()


def test_aggregates_are_computed_once_per_file(
    fresh_db: Path, tmp_path: Path, cache_on: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = filtered.filters_from_query({"run": "1"})
    agg = aggregates
    first = (agg.kpis(f), agg.segment_summary(f), agg.country_summary(f), filtered.count(f))
    seen = count_queries(monkeypatch)
    again = (agg.kpis(f), agg.segment_summary(f), agg.country_summary(f), filtered.count(f))
    assert seen == []
    assert again[0] == first[0] and again[3] == first[3]
    pd.testing.assert_frame_equal(again[1], first[1])
    pd.testing.assert_frame_equal(again[2], first[2])
    aggregates.country_summary(f, "revenue")  # another metric comes from the same scan
    assert seen == []
    france = filtered.filters_from_query({"run": "1", "country": "France"})
    seen.clear()
    aggregates.kpis(france)  # another filter set is another query
    assert len(seen) == 1
    os.replace(build_db(tmp_path / "next.duckdb", runs=2, n=50, seed=7), fresh_db)  # a re-run swaps
    assert filtered.count(filtered.filters_from_query({"run": "1"})) == 50


def test_a_hit_is_a_copy(fresh_db: Path, cache_on: None) -> None:
    f = filtered.filters_from_query({"run": "1"})
    table = aggregates.segment_summary(f)
    table["customers"] = -1  # a caller scribbling on its frame
    assert (aggregates.segment_summary(f)["customers"] >= 0).all()


def test_compare_queries_are_kept_too(
    fresh_db: Path, cache_on: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = filtered.filters_from_query({"run": "1", "country": ["Germany", "France"], "tenure_min": "30"})
    ids = sorted(f.segment_names and dict(f.segment_names))
    first = profiles.box_stats(f, ids), profiles.profiles(f, ids), profiles.top_countries(f, ids)
    first += (profiles.rfm_crosstab(f),)
    seen = count_queries(monkeypatch)
    again = profiles.box_stats(f, ids), profiles.profiles(f, ids), profiles.top_countries(f, ids)
    again += (profiles.rfm_crosstab(f),)
    assert seen == []
    for a, b in zip(again, first, strict=True):
        pd.testing.assert_frame_equal(a, b)


def test_off_unless_turned_on(fresh_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(result_cache.ENV, raising=False)
    f = filtered.filters_from_query({"run": "1"})
    aggregates.kpis(f)
    seen = count_queries(monkeypatch)
    aggregates.kpis(f)
    assert len(seen) == 1  # tests that fake slow or failing queries see every query run
