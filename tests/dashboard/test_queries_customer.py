"""queries.customer: Explore's histograms equal a pandas binning of the same filtered rows, and "why this
segment" agrees with the stored model, profiles and distances (and refuses ids it cannot find)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pytest

from dashboard import queries
from dashboard.filters import Filters
from dashboard.queries import customer, distributions, filtered

COLUMNS = {
    "tenure": "tenure_days",
    "recency": "recency_days",
    "frequency": "frequency",
    "monetary": "monetary",
}


def pandas_bins(
    frame: pd.DataFrame, bins: int, money_range: tuple[float, float] | None = None
) -> pd.DataFrame:
    """The histogram rules, done independently: 1st..99th percentile range (revenue's given, when it is
    computed from a sample), tails in the end bins."""
    out = []
    for feature, column in COLUMNS.items():
        part = frame[frame[column].notna()]
        if part.empty:
            continue
        v = part[column].astype(float)
        whole = feature != "monetary"
        lo, hi = np.quantile(v, 0.01), np.quantile(v, 0.99)
        if not whole and money_range is not None:
            lo, hi = money_range
        if whole:
            lo, hi = np.floor(lo), np.ceil(hi)
            width = max(np.ceil((hi - lo + 1) / bins), 1.0)
        else:
            width = (hi - lo) / bins
        last = min(np.floor((hi - lo) / width), bins - 1)
        b = np.clip(np.floor((v - lo) / width), 0, last).astype(int)
        counts = part.assign(bin=b.to_numpy()).groupby(["segment_id", "bin"]).size()
        for (segment_id, bin_), n in counts.items():
            out.append((feature, int(segment_id), int(bin_), int(n)))
    return pd.DataFrame(out, columns=["feature", "segment_id", "bin", "customers"])


@pytest.mark.parametrize(
    ("run_id", "query"),
    [
        (1, {}),
        (1, {"country": ["France", "Germany"], "outliers": "exclude"}),
        (1, {"segment": ["2", "3"], "tenure_min": "100", "monetary_max": "2000"}),
        (2, {}),  # NULL features in a customer-table run are left out, not binned
        (2, {"country": ["Italy"], "preset": "at-risk"}),
    ],
)
def test_cus001_histograms_match_pandas(
    db: Path, read_customers: Callable[[Path, int], pd.DataFrame], run_id: int, query: dict[str, Any]
) -> None:
    f = Filters.from_query(query, filtered.allowed(run_id))
    got = distributions.histograms(f, bins=20)
    ids = set(filtered.export_frame(f)["customer_id"])
    frame = read_customers(db, run_id)
    frame = frame[frame["customer_id"].isin(ids)]
    expected = pandas_bins(frame, 20)
    merged = got[["feature", "segment_id", "bin", "customers"]].merge(
        expected, on=["feature", "segment_id", "bin"], how="outer", suffixes=("", "_pd")
    )
    assert len(merged) == len(got) == len(expected)
    assert (merged["customers"] == merged["customers_pd"]).all()
    for feature, column in COLUMNS.items():
        assert got[got["feature"] == feature]["customers"].sum() == frame[column].notna().sum()
    assert got["bin"].between(0, 19).all()


def test_cus001b_revenue_range_of_many_customers_from_an_evenly_spaced_sample(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past QUANTILE_SAMPLE customers revenue's binned 1st..99th percentile range comes from every k-th of the
    filtered customers with a revenue, in stored order; every bin's count stays exact (pandas over all the
    filtered customers with that range)."""
    from dashboard.queries import feature_stats, result_cache

    monkeypatch.setattr(feature_stats, "QUANTILE_SAMPLE", 20)
    result_cache.clear()
    f = Filters.from_query({"outliers": "exclude", "tenure_min": "30"}, filtered.allowed(1))
    ids = set(filtered.export_frame(f)["customer_id"])
    with duckdb.connect(str(db), read_only=True) as con:
        stored = con.execute("SELECT * FROM customers WHERE run_id = 1 ORDER BY rowid").df()
    frame = stored[stored["customer_id"].isin(ids)]
    money = frame["monetary"].dropna().astype(float)
    every = -(-len(money) // 20)
    sample = money.iloc[::every]
    assert every > 1 and 0 < len(sample) < len(money) and len(frame) < len(stored)
    lo, hi = np.quantile(sample, 0.01), np.quantile(sample, 0.99)
    got = distributions.histograms(f, bins=20)
    revenue = got[got["feature"] == "monetary"]
    assert revenue["lo"].iloc[0] == pytest.approx(lo) and revenue["width"].iloc[0] == pytest.approx(
        (hi - lo) / 20
    )
    assert revenue["vmin"].iloc[0] == pytest.approx(money.min())
    assert revenue["vmax"].iloc[0] == pytest.approx(money.max())
    expected = pandas_bins(frame, 20, money_range=(lo, hi))
    merged = got[["feature", "segment_id", "bin", "customers"]].merge(
        expected, on=["feature", "segment_id", "bin"], how="outer", suffixes=("", "_pd")
    )
    assert len(merged) == len(got) == len(expected)
    assert (merged["customers"] == merged["customers_pd"]).all()
    result_cache.clear()


@pytest.mark.parametrize("query", [{}, {"segment": ["0", "2"]}, {"country": ["Italy"], "preset": "at-risk"}])
def test_cus001c_histograms_count_the_same_by_value_grid_or_by_row(
    db: Path, monkeypatch: pytest.MonkeyPatch, query: dict[str, Any]
) -> None:
    """Whole-number columns are counted per (segment, value) when that grid is small and per row otherwise
    (a huge range of values); segment ids with gaps are coded either way. Both give the same bins."""
    from dashboard.queries import result_cache

    result_cache.clear()
    f = Filters.from_query(query, filtered.allowed(1))
    by_grid = distributions.histograms(f, bins=20)
    monkeypatch.setattr(distributions, "_DENSE_SPAN", 1)
    result_cache.clear()
    by_row = distributions.histograms(f, bins=20)
    assert not by_grid.empty
    pd.testing.assert_frame_equal(by_grid, by_row)
    result_cache.clear()


def test_cus001d_a_first_row_query_leaves_the_connection_free_for_the_histograms(db: Path) -> None:
    """fetch_one reads every row: an unfinished result made the next Arrow fetch (the histograms) fail."""
    from dashboard import queries
    from dashboard.queries import result_cache

    result_cache.clear()
    assert queries.fetch_one("SELECT customer_id FROM seg.customers ORDER BY customer_id") is not None
    assert not distributions.histograms(Filters(run_id=1, segment_names=())).empty


def test_cus002_histograms_of_an_empty_selection_and_equal_values(db: Path) -> None:
    allowed = filtered.allowed(1)
    nobody = Filters.from_query({"country": "France", "tenure_min": "5000"}, allowed)
    assert distributions.histograms(nobody).empty
    f = Filters(run_id=1, frequency_min=7, frequency_max=7, segment_names=())
    one = distributions.histograms(f)
    freq = one[one["feature"] == "frequency"]
    assert freq["bin"].unique().tolist() == [0] and freq["width"].iloc[0] == 1


def test_cus003_why_agrees_with_the_stored_model(small_run: tuple[Path, Any]) -> None:
    db = small_run[0]
    with duckdb.connect(str(db), read_only=True) as con:
        run_id = con.execute("SELECT max(id) FROM runs").fetchone()[0]  # type: ignore[index]
        picks = con.execute(
            "SELECT customer_id, segment_id, next_segment_id, dist_own, dist_next FROM customers "
            "WHERE run_id = ? ORDER BY hash(customer_id) LIMIT 25",
            [run_id],
        ).fetchall()
        names = dict(
            con.execute("SELECT segment_id, name FROM segments WHERE run_id = ?", [run_id]).fetchall()
        )
        features = con.execute("SELECT features FROM runs WHERE id = ?", [run_id]).fetchone()[0]  # type: ignore[index]
        profiles = con.execute(
            "SELECT segment_id, feature, median FROM segment_profiles WHERE run_id = ?", [run_id]
        ).fetchall()
    median = {(s, f): m for s, f, m in profiles}
    with queries.using(db):
        for cid, seg, nxt, own, other in picks:
            w = customer.why(run_id, cid)
            assert w is not None and w.customer_id == cid
            assert (w.segment_id, w.next_segment_id, w.segment_name) == (seg, nxt, names[seg])
            table = w.features
            assert list(table["feature"]) == list(features)
            z = table["z"].to_numpy()
            assert np.linalg.norm(z - table["z_centroid"].to_numpy()) == pytest.approx(own, rel=1e-6)
            assert np.linalg.norm(z - table["z_next"].to_numpy()) == pytest.approx(other, rel=1e-6)
            for row in table.itertuples():
                assert row.segment_median == pytest.approx(median[(seg, row.feature)])
                assert row.population_median == pytest.approx(median[(-1, row.feature)])
            kind = "borderline" if other < 1.25 * own else "a clear member"
            assert w.verdict() == f"{own:.1f} from its centroid, {other:.1f} from {names[nxt]}: {kind}."
    queries.close_thread_connections()


def test_cus004_centroid_in_feature_units_is_scored_into_its_own_segment(small_run: tuple[Path, Any]) -> None:
    """Unscaling the centroid and scoring it again lands on the same segment at distance ~0."""
    from segmentation import scoring

    db = small_run[0]
    with queries.using(db):
        run_id = queries.latest_run_id()
        assert run_id is not None
        cid = queries.fetch_one("SELECT min(customer_id) FROM seg.customers WHERE run_id = ?", [run_id])[0]  # type: ignore[index]
        w = customer.why(run_id, cid)
        params = customer._model(run_id)
    queries.close_thread_connections()
    assert w is not None and params is not None
    result = scoring.score(params, w.features["centroid"].to_numpy())
    assert result.segment_id == w.segment_id and result.distance == pytest.approx(0, abs=1e-6)


@pytest.mark.parametrize(
    "junk",
    [
        "nobody",
        "",
        "x" * 201,
        "' OR '1'='1",
        "C10001'; DROP TABLE customers; --",
        {"id": "C10010"},
        ["C10010"],
        None,
        True,
        1.5,
    ],
)
def test_cus005_why_refuses_ids_it_cannot_find(db: Path, junk: Any) -> None:
    assert customer.why(1, junk) is None


def test_cus006_why_without_model_or_profiles(
    db: Path, read_customers: Callable[[Path, int], pd.DataFrame]
) -> None:
    frame = read_customers(db, 1).set_index("customer_id")
    w = customer.why(1, "C10010")
    assert w is not None
    row = frame.loc["C10010"]
    assert (w.country, w.segment_id, w.rfm_group) == (row["country"], row["segment_id"], row["rfm_group"])
    assert list(w.features["feature"]) == ["recency_days", "frequency", "monetary"]
    assert list(w.features["value"]) == pytest.approx(list(row["features"]))
    assert w.features[["centroid", "z", "segment_median", "population_median"]].isna().all().all()
    assert customer.why(2, "C10010") is None  # an id of another run
    assert customer.why(1, "=1+1") is not None  # formula-looking ids are just ids
    assert customer.why(1, 10010) is None  # ints are looked up as text


def test_cus007_verdict_sentences() -> None:
    def why(own: float | None, nxt: float | None, name: str | None = "Loyal") -> customer.Why:
        return customer.Why(
            1, "c", None, 0, "Champions", None, None, 1, name, own, nxt, False, None, pd.DataFrame()
        )

    assert why(3.1, 4.0).verdict() == "3.1 from its centroid, 4.0 from Loyal: a clear member."
    assert why(3.1, 3.3).verdict() == "3.1 from its centroid, 3.3 from Loyal: borderline."
    assert why(3.1, 4.0).borderline() is False and why(3.1, 3.3).borderline() is True
    assert why(2.0, None, None).verdict() == "2.0 from its centroid."
    assert why(None, None).verdict() == "The run stored no distances for this customer."
