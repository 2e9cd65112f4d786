"""queries.model on real pipeline runs: the sweep and comparison as stored, a capped sample that holds every
outlier, histograms equal to a numpy binning of the stored values, and unknown features refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from dashboard import queries
from dashboard.queries import NoData, filtered
from dashboard.queries import model as mq
from segmentation import pipeline
from tests.dashboard.test_queries_profiles import make_customer_table_run, stored


@pytest.fixture(scope="module")
def table_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_customer_table_run(tmp_path_factory.mktemp("table_run_model"))


@pytest.fixture
def small(small_run: tuple[Path, pipeline.RunSummary]) -> Iterator[Path]:
    with queries.using(small_run[0]):
        yield small_run[0]
    queries.close_thread_connections()


def rows(db: Path, sql: str, params: list) -> pd.DataFrame:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, params).df()


def test_mod001_summary_is_the_runs_row(small: Path, small_run: tuple[Path, pipeline.RunSummary]) -> None:
    s = mq.summary(1)
    run = small_run[1]
    assert (s.k, s.k_reason, s.algorithm) == (run.k, run.k_reason, "kmeans")
    assert s.stability_ari == pytest.approx(run.stability_ari)
    assert s.silhouette == pytest.approx(run.silhouette)
    assert s.customers == run.customers
    assert s.features[:3] == ("recency_days", "frequency", "monetary")
    with pytest.raises(NoData):
        mq.summary(42)


def test_mod002_sweep_and_comparison_as_stored(small: Path) -> None:
    scores = rows(small, "SELECT * FROM model_scores WHERE run_id = 1", [])
    sweep = mq.k_sweep(1)
    kmeans = scores[scores["algorithm"] == "kmeans"].sort_values("k")
    assert sweep["k"].tolist() == kmeans["k"].tolist() == list(range(2, 11))
    for column in mq.SCORE_COLUMNS:
        assert sweep[column].to_numpy() == pytest.approx(kmeans[column].to_numpy())
    chosen_k = mq.summary(1).k
    assert sweep.loc[sweep["chosen"], "k"].tolist() == [chosen_k]

    comparison = mq.algorithm_comparison(1)
    assert comparison["algorithm"].tolist() == ["kmeans", "agglomerative", "dbscan"]
    assert comparison["chosen"].tolist() == [True, False, False]
    assert comparison["k"].tolist()[:2] == [chosen_k, chosen_k]
    agglo = scores[(scores["algorithm"] == "agglomerative") & (scores["k"] == chosen_k)].iloc[0]
    assert comparison.iloc[1]["silhouette"] == pytest.approx(agglo["silhouette"])
    dbscan = scores[scores["algorithm"] == "dbscan"].iloc[0]
    assert comparison.iloc[2]["noise_share"] == pytest.approx(dbscan["noise_share"])
    assert mq.k_sweep(42).empty and mq.algorithm_comparison(42).empty


def test_mod003_pca_sample_is_capped_repeatable_and_keeps_every_outlier(small: Path) -> None:
    df = stored(small)
    outliers = set(df.loc[df["is_outlier"], "customer_id"])
    assert outliers  # the small run has at least one
    full = mq.pca_sample(1)
    assert len(full) == len(df) <= filtered.SAMPLE_MAX
    assert set(full["customer_id"]) == set(df["customer_id"])
    few = mq.pca_sample(1, n=len(outliers) + 10)
    assert len(few) == len(outliers) + 10
    assert outliers <= set(few["customer_id"])
    assert few.equals(mq.pca_sample(1, n=len(outliers) + 10))
    by_id = df.set_index("customer_id")
    for r in few.itertuples():
        assert (r.pc1, r.pc2, r.pc3) == pytest.approx(tuple(by_id.loc[r.customer_id, ["pc1", "pc2", "pc3"]]))
        assert r.segment_id == by_id.loc[r.customer_id, "segment_id"]
        assert r.is_outlier == by_id.loc[r.customer_id, "is_outlier"]
    assert len(mq.pca_sample(1, n=10**9)) <= filtered.SAMPLE_MAX
    assert mq.pca_sample(1, n=-3).empty


def reference_counts(values: np.ndarray, segments: np.ndarray, lo: float, hi: float, bins: int) -> dict:
    """(bin, segment) -> customers, binning as documented: equal width on [lo, hi], tails in the end bins."""
    index = np.clip(np.floor((values - lo) / (hi - lo) * bins), 0, bins - 1).astype(int)
    out: dict = {}
    for b, s in zip(index, segments, strict=True):
        out[(int(b), int(s))] = out.get((int(b), int(s)), 0) + 1
    return out


@pytest.mark.parametrize("feature", ["recency_days", "monetary", "return_rate", "distinct_products"])
def test_mod004_histogram_equals_numpy(small: Path, feature: str) -> None:
    df = stored(small)
    v = df[feature].astype(float).to_numpy()
    hist = mq.histogram(1, feature, bins=20)
    assert hist is not None and hist.bins == 20 and hist.missing == 0
    lo, hi = np.quantile(v, [0.01, 0.99])
    if hi > lo:
        assert (hist.lo, hist.hi) == pytest.approx((lo, hi))
        assert hist.below == int((v < lo).sum()) and hist.above == int((v > hi).sum())
    got = {(int(r.bin), int(r.segment_id)): int(r.customers) for r in hist.counts.itertuples()}
    assert got == reference_counts(v, df["segment_id"].to_numpy(), hist.lo, hist.hi, 20)
    assert sum(got.values()) == len(df)
    assert len(hist.edges()) == 21 and hist.edges()[0] == pytest.approx(hist.lo)


def test_mod004b_histogram_range_of_many_customers_from_an_evenly_spaced_sample(
    small: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past QUANTILE_SAMPLE customers the clipped range's percentiles come from every k-th stored row;
    the tails and every bin's count stay exact (numpy over all the customers)."""
    from dashboard.queries import feature_stats

    monkeypatch.setattr(feature_stats, "QUANTILE_SAMPLE", 40)
    with duckdb.connect(str(small), read_only=True) as con:
        df = con.execute("SELECT rowid AS row_id, * FROM customers WHERE run_id = 1").df()
    v = df["monetary"].astype(float).to_numpy()
    every = -(-len(v) // 40)
    lo, hi = np.quantile(v[df["row_id"].to_numpy() % every == 0], [0.01, 0.99])
    hist = mq.histogram(1, "monetary", bins=20)
    assert hist is not None and every > 1
    assert (hist.lo, hist.hi) == pytest.approx((lo, hi))
    assert hist.below == int((v < lo).sum()) and hist.above == int((v > hi).sum())
    got = {(int(r.bin), int(r.segment_id)): int(r.customers) for r in hist.counts.itertuples()}
    assert got == reference_counts(v, df["segment_id"].to_numpy(), hist.lo, hist.hi, 20)


def test_mod005_histogram_without_clipping_spans_min_to_max(small: Path) -> None:
    df = stored(small)
    hist = mq.histogram(1, "monetary", bins=10, clip=False)
    assert hist is not None and not hist.clipped and hist.below == hist.above == 0
    assert (hist.lo, hist.hi) == pytest.approx((df["monetary"].min(), df["monetary"].max()))
    assert int(hist.counts["customers"].sum()) == len(df)


@pytest.mark.parametrize(
    "feature",
    [
        "nope",
        "'; DROP TABLE customers; --",
        "recency_days' OR '1'='1",
        "features",
        "",
        None,
        3,
        {"a": 1},
        ["monetary"],
    ],
)
def test_mod006_unknown_features_are_refused(small: Path, feature: object) -> None:
    assert mq.histogram(1, feature) is None  # type: ignore[arg-type]


def test_mod007_bins_are_capped(small: Path) -> None:
    assert mq.histogram(1, "frequency", bins=10**6).bins == mq.BINS_MAX  # type: ignore[union-attr]
    assert mq.histogram(1, "frequency", bins=-4).bins == 1  # type: ignore[union-attr]


def test_mod008_histogram_of_a_customer_table_run(table_db: Path) -> None:
    with queries.using(table_db):
        df = stored(table_db)
        spend = np.array([f[1] for f in df["features"]], dtype=float)
        hist = mq.histogram(1, "Spend", bins=15)
        assert hist is not None
        got = {(int(r.bin), int(r.segment_id)): int(r.customers) for r in hist.counts.itertuples()}
        assert got == reference_counts(spend, df["segment_id"].to_numpy(), hist.lo, hist.hi, 15)
        assert mq.histogram(1, "monetary") is None  # not a feature of this run
        assert len(mq.k_sweep(1)) == 1 and mq.k_sweep(1)["chosen"].all()  # k fixed: no sweep
    queries.close_thread_connections()


def test_mod009_cleaning_steps_in_order(small: Path) -> None:
    got = mq.cleaning_steps(1)
    expected = rows(
        small, "SELECT step, rule, removed FROM cleaning_steps WHERE run_id = 1 ORDER BY step", []
    )
    assert got["rule"].tolist() == expected["rule"].tolist()
    assert got["removed"].tolist() == expected["removed"].tolist()
