"""queries.history: the runs list, run choice from untrusted values, and migration counts that equal an
independent pandas merge of the two runs' customers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from dashboard import queries
from dashboard.queries import NoData, history
from segmentation import pipeline


@pytest.fixture
def two(two_run_db: Path) -> Iterator[Path]:
    with queries.using(two_run_db):
        yield two_run_db
    queries.close_thread_connections()


def reference(db: Path, run_a: int, run_b: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(flows, left, new) from a pandas outer merge of the two runs' customers, with segment names."""
    with duckdb.connect(str(db), read_only=True) as con:
        customers = con.execute("SELECT run_id, customer_id, segment_id FROM customers").df()
        names = con.execute("SELECT run_id, segment_id, name FROM segments").df()
    a = customers[customers["run_id"] == run_a][["customer_id", "segment_id"]]
    b = customers[customers["run_id"] == run_b][["customer_id", "segment_id"]]
    a, b = a.rename(columns={"segment_id": "segment_a"}), b.rename(columns={"segment_id": "segment_b"})
    merged = a.merge(b, on="customer_id", how="outer", indicator=True)
    name_a = names[names["run_id"] == run_a].set_index("segment_id")["name"].to_dict()
    name_b = names[names["run_id"] == run_b].set_index("segment_id")["name"].to_dict()
    both = merged[merged["_merge"] == "both"]
    flows = both.groupby(["segment_a", "segment_b"]).size().rename("customers").reset_index().astype("int64")
    flows.insert(1, "name_a", flows["segment_a"].map(name_a))
    flows.insert(3, "name_b", flows["segment_b"].map(name_b))
    left = (
        merged[merged["_merge"] == "left_only"].groupby("segment_a").size().rename("customers").reset_index()
    )
    left = left.astype("int64")
    left.insert(1, "name_a", left["segment_a"].map(name_a))
    new = (
        merged[merged["_merge"] == "right_only"].groupby("segment_b").size().rename("customers").reset_index()
    )
    new = new.astype("int64")
    new.insert(1, "name_b", new["segment_b"].map(name_b))
    return flows, left, new


def same(actual: pd.DataFrame, expected: pd.DataFrame) -> None:
    """Equal rows regardless of order and dtype details."""
    keys = list(expected.columns)
    a = actual[keys].sort_values(keys[:1] + keys[2:3]).reset_index(drop=True).astype(object)
    e = expected[keys].sort_values(keys[:1] + keys[2:3]).reset_index(drop=True).astype(object)
    assert a.values.tolist() == e.values.tolist()


def test_his001_runs_table_newest_first_with_parameters_and_scores(two: Path, small_run) -> None:
    runs = history.runs_table()
    assert runs["id"].tolist() == [2, 1]
    assert runs["k"].tolist() == [3, small_run[1].k]
    for column in ("created_at", "mode", "sources", "k", "algorithm", "scaler", "seed", "silhouette"):
        assert column in runs.columns
    assert runs["stability_ari"].notna().all() and runs["customers"].tolist() == [small_run[1].customers] * 2
    assert history.run_ids() == [2, 1]


def test_his002_migration_equals_a_pandas_merge(two: Path) -> None:
    for run_a, run_b in ((1, 2), (2, 1), (1, 1)):
        m = history.migration(run_a, run_b)
        flows, left, new = reference(two, run_a, run_b)
        same(m.flows, flows)
        assert m.left.empty and m.new.empty  # the same input: everyone is in both runs
        with duckdb.connect(str(two), read_only=True) as con:
            total = con.execute("SELECT count(*) FROM customers WHERE run_id = 1").fetchone()[0]
        assert m.both == total and m.only_a == 0 and m.only_b == 0
    same_run = history.migration(1, 1)
    assert (same_run.flows["segment_a"] == same_run.flows["segment_b"]).all()


def test_his003_customers_in_one_run_only(make_db: Callable[..., Path], tmp_path: Path) -> None:
    db = make_db(tmp_path / "fx.duckdb")  # run 1 and run 2 share only six customer ids
    with queries.using(db):
        m = history.migration(1, 2)
        flows, left, new = reference(db, 1, 2)
        same(m.flows, flows)
        same(m.left, left)
        same(m.new, new)
        assert m.both == 6 and m.only_a == 194 and m.only_b == 194
        assert set(m.flows["name_b"]) <= {"Big Spenders", "Occasional", "=Evil Name", "Dormant"}
    queries.close_thread_connections()


def test_his004_choose_runs_checks_untrusted_values(two: Path) -> None:
    assert history.choose_runs(None, None) == (1, 2)  # A: the second-latest, B: the latest
    assert history.choose_runs("2", 1) == (2, 1)
    assert history.choose_runs(" 1 ", "2") == (1, 2)
    for bad in ("1; DROP TABLE runs", {"a": 1}, [1], True, 3, -1, "99", 1.0, "", "1" * 50, float("nan")):
        assert history.choose_runs(bad, bad) == (1, 2), bad
    assert history.choose_runs(2, 2) == (2, 2)
    assert history.choose_runs(1, 2, ids=[1]) is None
    assert history.choose_runs(None, None, ids=[]) is None


def test_his005_one_run_has_nothing_to_compare(small_run: tuple[Path, pipeline.RunSummary]) -> None:
    with queries.using(small_run[0]):
        assert history.run_ids() == [1]
        assert history.choose_runs(1, 1) is None
    queries.close_thread_connections()


def test_his006_missing_file_is_no_data(tmp_path: Path) -> None:
    with queries.using(tmp_path / "nothing.duckdb"), pytest.raises(NoData):
        history.runs_table()
    queries.close_thread_connections()
