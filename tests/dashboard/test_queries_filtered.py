"""queries.filtered against an independent pandas filter of the same data, plus the connection seam."""

from __future__ import annotations

import itertools
import math
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pytest

from dashboard import queries
from dashboard.filters import SORT_KEYS, TENURE_BANDS, Filters
from dashboard.queries import NoData, QueryTimeout, aggregates, filtered
from segmentation import store

COUNTRIES = [None, ["France"], ["France", "Germany"]]
SEGMENTS = [None, ["2"], ["0", "3"]]
RANGES: list[dict[str, str]] = [
    {},
    {"tenure_min": "100", "tenure_max": "900"},
    {"recency_max": "60"},
    {"monetary_min": "100", "frequency_min": "3"},
    {"tenure_band": "90-365d"},
    {"tenure_min": "800", "tenure_max": "200"},  # inverted: swapped
]
OUTLIERS = ["include", "exclude", "only"]
PRESETS = [None, "at-risk", "outliers"]
AT_RISK = {"at risk", "can't lose"}


def reference(df: pd.DataFrame, query: dict[str, Any]) -> pd.DataFrame:
    """The filters' meaning, written out in pandas (NULL compares false, as in SQL)."""
    keep = pd.Series(True, index=df.index)
    if query.get("country"):
        keep &= df["country"].isin(query["country"])
    if query.get("segment"):
        keep &= df["segment_id"].isin([int(s) for s in query["segment"]])
    columns = {
        "tenure": "tenure_days",
        "recency": "recency_days",
        "frequency": "frequency",
        "monetary": "monetary",
    }
    for name, column in columns.items():
        lo, hi = query.get(f"{name}_min"), query.get(f"{name}_max")
        lo, hi = (float(lo) if lo else None), (float(hi) if hi else None)
        if lo is not None and hi is not None and lo > hi:
            lo, hi = hi, lo
        if lo is not None:
            keep &= df[column] >= lo
        if hi is not None:
            keep &= df[column] <= hi
    if query.get("tenure_band"):
        lo, hi = TENURE_BANDS[query["tenure_band"]]
        keep &= df["tenure_days"] >= lo
        if hi is not None:
            keep &= df["tenure_days"] <= hi  # an old link's band: whole days, both ends included
    outlier = df["is_outlier"].fillna(False).astype(bool)
    if query.get("outliers") == "exclude":
        keep &= ~outlier
    if query.get("outliers") == "only" or query.get("preset") == "outliers":
        keep &= outlier
    if query.get("preset") == "at-risk":
        names = df["segment_name"].str.lower()
        if names.isin(AT_RISK).any():
            keep &= names.isin(AT_RISK)
        else:
            keep &= df["rfm_group"].str.lower().isin(AT_RISK).fillna(False).astype(bool)
    return df[keep.fillna(False).astype(bool)]


@pytest.fixture(scope="module")
def frames(fixture_db: Path, read_customers: Callable[[Path, int], pd.DataFrame]) -> dict[int, pd.DataFrame]:
    return {run: read_customers(fixture_db, run) for run in (1, 2)}


def _query(
    run: int, countries: Any, segments: Any, ranges: dict[str, str], outliers: str, preset: Any
) -> dict:
    query: dict[str, Any] = {"run": str(run), **ranges, "outliers": outliers}
    if countries:
        query["country"] = countries
    if segments:
        query["segment"] = segments
    if preset:
        query["preset"] = preset
    return query


@pytest.mark.parametrize("ranges", RANGES, ids=lambda r: "&".join(f"{k}={v}" for k, v in r.items()) or "none")
@pytest.mark.parametrize("segments", SEGMENTS, ids=str)
@pytest.mark.parametrize("countries", COUNTRIES, ids=str)
@pytest.mark.parametrize("run", [1, 2])
def test_qry001_aggregates_match_pandas(
    db: Path, frames: dict[int, pd.DataFrame], run: int, countries: Any, segments: Any, ranges: dict[str, str]
) -> None:
    """Every combination (x outliers x preset): KPIs equal pandas'; per-segment and per-country sums too."""
    df = frames[run]
    allowed = filtered.allowed(run)
    for outliers, preset in itertools.product(OUTLIERS, PRESETS):
        query = _query(run, countries, segments, ranges, outliers, preset)
        expected = reference(df, query)
        f = Filters.from_query(query, allowed)
        label = repr(query)

        k = aggregates.kpis(f)
        assert k.customers == len(expected), label
        assert filtered.count(f) == len(expected), label
        assert math.isclose(k.revenue, expected["monetary"].sum(), abs_tol=1e-6), label
        assert k.segments == expected["segment_id"].nunique(), label
        assert k.outliers == int(expected["is_outlier"].sum()), label
        assert k.run_customers == len(df)
        if preset is not None:  # the per-group sums are checked on the 3 x 1 plain combinations
            continue

        seg = aggregates.segment_summary(f).set_index("segment_id")
        assert list(seg.index) == [0, 1, 2, 3], label
        by_seg = expected.groupby("segment_id")["monetary"].agg(["size", "sum"])
        for sid in seg.index:
            n = int(by_seg["size"].get(sid, 0))
            assert seg.loc[sid, "customers"] == n, label
            assert math.isclose(seg.loc[sid, "revenue"], float(by_seg["sum"].get(sid, 0.0)), abs_tol=1e-6), (
                label
            )
        if len(expected):
            assert math.isclose(seg["share"].sum(), 1.0), label

        countries_df = aggregates.country_summary(f, "revenue")
        by_country = expected.groupby("country", dropna=False)["monetary"].agg(["size", "sum"])
        assert len(countries_df) == len(by_country), label
        assert countries_df["customers"].sum() == len(expected), label
        for row in countries_df.itertuples():
            key = row.country if isinstance(row.country, str) else np.nan
            match = by_country.loc[[key]] if isinstance(key, str) else by_country[by_country.index.isna()]
            assert int(match["size"].iloc[0]) == row.customers, label
            assert math.isclose(row.revenue, float(match["sum"].iloc[0]), abs_tol=1e-6), label
            assert row.value == row.revenue
        assert list(countries_df["value"]) == sorted(countries_df["value"], reverse=True), label


@pytest.mark.parametrize("late_rows", [filtered.LATE_ROWS, 0])  # rows in one query; built late
def test_qry002_customer_pages_cover_the_filtered_set_in_order(
    db: Path, frames: dict[int, pd.DataFrame], monkeypatch: pytest.MonkeyPatch, late_rows: int
) -> None:
    monkeypatch.setattr(filtered, "LATE_ROWS", late_rows)
    query = {"run": "1", "country": ["France", "Germany", "EIRE"]}
    expected = reference(frames[1], query).sort_values(["monetary", "customer_id"], ascending=[False, True])
    f = filtered.filters_from_query(query)
    seen: list[str] = []
    page = 1
    while True:
        df, total = filtered.customers_page(f, "monetary", True, page, 25)
        assert total == len(expected)
        seen += list(df["customer_id"])
        if page * 25 >= total:
            break
        page += 1
    assert seen == list(expected["customer_id"])
    assert list(df.columns) == list(filtered.TABLE_COLUMNS)


@pytest.mark.parametrize(
    "query",
    [
        {"run": "1"},
        {"run": "1", "preset": "at-risk"},
        {"run": "1", "outliers": "only"},
        {"run": "2", "preset": "at-risk", "country": ["France", "Germany"]},
    ],
)
def test_qry002b_late_built_blocks_equal_whole_row_blocks(
    db: Path, monkeypatch: pytest.MonkeyPatch, query: dict[str, Any]
) -> None:
    """Past LATE_ROWS customers a block is sorted on its keys and its rows built after: for every sort key,
    both directions and several offsets the block is the one the single query gives (order, columns, list
    reasons and actions)."""
    f = filtered.filters_from_query(query)
    total = filtered.count(f)
    assert total > 0
    for key in (None, *SORT_KEYS):
        for descending in (None,) if key is None else (True, False):
            for offset, limit in ((0, 100), (max(total - 3, 0), 50)):
                monkeypatch.setattr(filtered, "LATE_ROWS", 10**9)
                whole = filtered.customers_block(f, key, descending, offset, limit)[0]
                monkeypatch.setattr(filtered, "LATE_ROWS", 0)
                late = filtered.customers_block(f, key, descending, offset, limit)[0]
                assert not whole.empty
                pd.testing.assert_frame_equal(late, whole)


def test_qry003_page_size_is_capped_and_page_clamped(db: Path) -> None:
    f = filtered.filters_from_query({"run": "1"})
    df, total = filtered.customers_page(f, page=1, page_size=10_000)
    assert len(df) == filtered.PAGE_SIZE_MAX and total == 200
    last, _ = filtered.customers_page(f, page=10_000, page_size=100)
    assert len(last) == 100 and list(last["customer_id"]) != list(df["customer_id"])  # clamped to page 2
    first, _ = filtered.customers_page(f, page=-5, page_size=0)
    assert len(first) == 1


def test_qry004_unknown_sort_key_falls_back_and_at_risk_sorts_by_revenue(db: Path) -> None:
    f = filtered.filters_from_query({"run": "1", "preset": "at-risk"})
    df, _ = filtered.customers_page(f, sort_key='monetary"; DROP TABLE x; --', page_size=100)
    assert list(df["monetary"]) == sorted(df["monetary"], reverse=True)
    plain = filtered.filters_from_query({"run": "1"})
    df, _ = filtered.customers_page(plain, sort_key="nope", page_size=100)
    assert list(df["customer_id"]) == sorted(df["customer_id"])


def test_qry005_at_risk_falls_back_to_rfm_group_when_no_segment_has_the_name(
    db: Path, frames: dict[int, pd.DataFrame]
) -> None:
    f = filtered.filters_from_query({"run": "2", "preset": "at-risk"})
    df = filtered.export_frame(f)
    assert set(df["rfm_group"]) == {"At Risk", "Can't Lose"}
    named = filtered.export_frame(filtered.filters_from_query({"run": "1", "preset": "at-risk"}))
    assert set(named["segment_name"]) == {"At Risk", "Can't Lose"}
    assert len(named) == len(frames[1][frames[1]["segment_id"].isin([2, 3])])


def test_qry006_export_frame_equals_the_filtered_set(db: Path, frames: dict[int, pd.DataFrame]) -> None:
    """export_frame is the tests' reference for the streamed exports (test_export_stream.py)."""
    query = {"run": "2", "segment": ["1", "2"], "outliers": "exclude", "tenure_min": "200"}
    expected = set(reference(frames[2], query)["customer_id"])
    frame = filtered.export_frame(filtered.filters_from_query(query))
    assert set(frame["customer_id"]) == expected and len(frame) == len(expected)
    assert list(frame.columns) == list(filtered.EXPORT_COLUMNS)


def test_qry007_sample_is_capped_and_repeatable(db: Path) -> None:
    f = filtered.filters_from_query({"run": "1"})
    a = filtered.sample_customers(f, n=50)
    assert len(a) == 50 and a.equals(filtered.sample_customers(f, n=50))
    assert len(filtered.sample_customers(f, n=10**9)) == 200  # capped at SAMPLE_MAX, fixture has 200


def test_qry008_country_metric_outside_the_whitelist_counts_customers(db: Path) -> None:
    f = filtered.filters_from_query({"run": "1"})
    df = aggregates.country_summary(f, 'revenue" FROM x; --')
    assert list(df["value"]) == list(df["customers"])


def test_qry009_allowed_matches_the_data(db: Path, frames: dict[int, pd.DataFrame]) -> None:
    df = frames[2]
    allowed = filtered.allowed(2)
    assert allowed.countries == tuple(sorted(df["country"].dropna().unique()))
    assert allowed.ranges["tenure"] == (df["tenure_days"].min(), df["tenure_days"].max())
    assert allowed.ranges["monetary"] == (df["monetary"].min(), df["monetary"].max())


def test_qry010_runs_and_run_resolution(db: Path) -> None:
    assert list(queries.runs()["id"]) == [2, 1]
    assert queries.latest_run_id() == 2
    assert queries.resolve_run("1") == 1
    for junk in (None, "99", "abc", "'; DROP TABLE runs; --", {"a": 1}, ["1", "2"], True, 2**40):
        assert queries.resolve_run(junk) == 2, junk
    info = queries.run_info(1)
    assert (info.id, info.mode, info.sources, str(info.snapshot_date)) == (
        1,
        "transactions",
        ("sales_1.csv",),
        "2011-12-10",
    )
    steps = queries.cleaning_steps(1)
    assert list(steps["rule"]) == ["missing_customer_id", "duplicates", "cancellations", "non_positive"]


def test_qry011_a_swapped_file_is_seen_by_the_next_query(
    tmp_path: Path, make_db: Callable[..., Path]
) -> None:
    """RELIABILITY §1's instance-cache trap: same process, same thread, file replaced by os.replace."""
    live = make_db(tmp_path / "segments.duckdb", runs=1)
    with queries.using(live):
        old = queries.connection()
        assert queries.latest_run_id() == 1
        assert aggregates.kpis(filtered.filters_from_query({})).run_customers == 200
        staged = make_db(tmp_path / "segments.duckdb.tmp-new", runs=2, n=150)
        os.replace(staged, live)
        assert queries.latest_run_id() == 2
        assert aggregates.kpis(filtered.filters_from_query({})).run_customers == 150
        assert queries.connection() is not old
        with pytest.raises(duckdb.ConnectionException):
            old.execute("SELECT 1")  # the stale connection was closed
        assert queries.connection() is queries.connection()  # unchanged file: cached
    queries.close_thread_connections()


def test_qry012_swap_with_the_staged_copy_of_the_store(tmp_path: Path, make_db: Callable[..., Path]) -> None:
    """The writer's own swap (store.staged_copy) adding a run shows without reopening anything by hand."""
    live = make_db(tmp_path / "segments.duckdb", runs=1)
    with queries.using(live):
        assert queries.latest_run_id() == 1
        with duckdb.connect() as con, store.run_lock(live), store.staged_copy(con, live):
            con.execute("INSERT INTO out.runs (id, status) VALUES (7, 'ok')")
        assert queries.latest_run_id() == 7
    queries.close_thread_connections()


def test_qry013_missing_empty_and_unreadable_files_raise_no_data(tmp_path: Path) -> None:
    with queries.using(tmp_path / "absent.duckdb"), pytest.raises(NoData) as exc:
        queries.resolve_run(None)
    assert exc.value.reason == "missing"
    empty = tmp_path / "empty.duckdb"
    with duckdb.connect(str(empty)) as con:
        store.create_schema(con)
    with queries.using(empty), pytest.raises(NoData) as exc:
        filtered.filters_from_query({})
    assert exc.value.reason == "empty"
    bare = tmp_path / "bare.duckdb"
    duckdb.connect(str(bare)).close()  # a DuckDB file without the tables
    with queries.using(bare), pytest.raises(NoData) as exc:
        queries.runs()
    assert exc.value.reason == "empty"
    junk = tmp_path / "junk.duckdb"
    junk.write_text("not a database")
    with queries.using(junk), pytest.raises(NoData) as exc:
        queries.runs()
    assert exc.value.reason == "unreadable"
    queries.close_thread_connections()


def test_qry014_a_file_that_disappears_becomes_no_data(tmp_path: Path, make_db: Callable[..., Path]) -> None:
    live = make_db(tmp_path / "segments.duckdb", runs=1)
    with queries.using(live):
        assert queries.latest_run_id() == 1
        live.unlink()
        with pytest.raises(NoData):
            queries.latest_run_id()
    queries.close_thread_connections()


def test_qry015_the_connection_is_read_only_and_locked_down(db: Path) -> None:
    con = queries.connection()
    assert con.execute("SELECT current_setting('threads')").fetchone() == (2,)
    for sql in (
        "SELECT * FROM read_csv('/etc/passwd')",
        "COPY (SELECT 1) TO '/tmp/x.csv'",
        "ATTACH '/tmp/other.duckdb' AS other",
        "INSERT INTO seg.runs (id) VALUES (99)",
        "SET enable_external_access = true",
    ):
        with pytest.raises(duckdb.Error):
            con.execute(sql)
    assert queries.latest_run_id() == 2  # still usable


def test_qry016_threads_setting_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_db: Callable[..., Path]
) -> None:
    monkeypatch.setenv("SEGMENTATION_DB_THREADS", "1")
    path = make_db(tmp_path / "s.duckdb", runs=1, n=10)
    with queries.using(path):
        assert queries.connection().execute("SELECT current_setting('threads')").fetchone() == (1,)
    queries.close_thread_connections()


def test_qry017_long_queries_are_interrupted(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(queries, "QUERY_TIMEOUT_S", 0.3)
    with pytest.raises(QueryTimeout):
        queries.fetch_df("SELECT count(*) FROM range(100000000000) a")
    assert queries.latest_run_id() == 2  # the connection stays usable


def test_qry018_each_thread_has_its_own_connection(db: Path) -> None:
    mine = queries.connection()
    theirs: list[Any] = []

    def work() -> None:
        with queries.using(db):
            theirs.append(queries.connection())
            theirs.append(queries.latest_run_id())
            queries.close_thread_connections()

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert theirs[0] is not mine and theirs[1] == 2


def test_qry019_no_db_outside_the_app_is_a_clear_error() -> None:
    with pytest.raises(RuntimeError, match="No segmentation DB"):
        queries.current_db()


def test_qry020_filters_built_by_hand_are_safe_too(db: Path) -> None:
    """Even a Filters not from from_query only ever reaches SQL as bound values."""
    f = Filters(run_id=1, countries=("'; DROP TABLE customers; --",), segments=(999,))
    assert filtered.count(f) == 0
    assert queries.latest_run_id() == 2
