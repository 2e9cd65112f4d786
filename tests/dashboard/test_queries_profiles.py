"""queries.profiles on real pipeline runs, against independent pandas/numpy computations of the customers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from dashboard import queries
from dashboard.queries import profiles
from segmentation import pipeline
from segmentation.config import RunConfig

TRANSACTION_FEATURES = [
    "recency_days",
    "frequency",
    "monetary",
    "quantity",
    "avg_basket_value",
    "tenure_days",
    "distinct_products",
    "return_rate",
]
TABLE_FEATURES = ["Income", "Spend", "Visits"]


def make_customer_table_run(directory: Path) -> Path:
    """A real customer-table run (features only in the stored features array), 300 customers, k = 3."""
    rng = np.random.default_rng(7)
    n = 300
    income = np.concatenate([rng.normal(30000, 3000, 150), rng.normal(90000, 8000, 150)])
    spend = np.concatenate([rng.normal(200, 30, 150), rng.normal(1500, 200, 150)])
    visits = rng.poisson(5, n)
    path = directory / "campaign.csv"
    with open(path, "w") as fh:
        fh.write("ID,Income,Spend,Visits,Region\n")
        for i in range(n):
            region = ("North", "South", "East")[i % 3] if i % 10 else ("West" if i % 20 else "North")
            fh.write(f"C{i},{income[i]:.0f},{spend[i]:.2f},{visits[i]},{region}\n")
    db = directory / "table.duckdb"
    pipeline.run(
        RunConfig(
            inputs=(path,),
            db_path=db,
            mode="customers",
            id_column="ID",
            feature_columns=tuple(TABLE_FEATURES),
            country_column="Region",
            progress=False,
            k=3,
        )
    )
    return db


@pytest.fixture(scope="module")
def table_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_customer_table_run(tmp_path_factory.mktemp("table_run"))


@pytest.fixture
def small(small_run: tuple[Path, pipeline.RunSummary]) -> Iterator[Path]:
    """Queries in the test read the small real run (sales lines); connections are closed afterwards."""
    with queries.using(small_run[0]):
        yield small_run[0]
    queries.close_thread_connections()


@pytest.fixture
def table(table_db: Path) -> Iterator[Path]:
    with queries.using(table_db):
        yield table_db
    queries.close_thread_connections()


def stored(db: Path, run_id: int = 1) -> pd.DataFrame:
    """The run's customers as stored, read without dashboard code."""
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute("SELECT * FROM customers WHERE run_id = ? ORDER BY customer_id", [run_id]).df()


def long_values(db: Path, run_id: int = 1) -> pd.DataFrame:
    """segment_id, feature, v per customer and feature, the way the dashboard should read them."""
    df = stored(db, run_id)
    with duckdb.connect(str(db), read_only=True) as con:
        mode, names = con.execute("SELECT mode, features FROM runs WHERE id = ?", [run_id]).fetchone()
    if mode == "customers":
        wide = pd.DataFrame(df["features"].tolist(), columns=names)
    else:
        wide = df[TRANSACTION_FEATURES].astype(float)
    wide["segment_id"] = df["segment_id"].to_numpy()
    return wide.melt(id_vars="segment_id", var_name="feature", value_name="v")


def test_prof001_features_in_order(small: Path, table: Path) -> None:
    with queries.using(small):
        assert profiles.features(1) == TRANSACTION_FEATURES  # model features first, then the other two
    assert profiles.features(1) == TABLE_FEATURES
    assert profiles.features(99) == []


def test_prof002_means_and_medians_equal_pandas(small: Path) -> None:
    df = stored(small)
    segs = sorted(df["segment_id"].unique())
    got = profiles.profiles(1, segs[:2], population=True)
    assert set(got["segment_id"]) == {*segs[:2], -1}
    assert len(got) == 3 * len(TRANSACTION_FEATURES)
    for row in got.itertuples():
        values = (
            df[row.feature]
            if row.segment_id == -1
            else df.loc[df["segment_id"] == row.segment_id, row.feature]
        )
        values = values.astype(float)
        assert row.mean == pytest.approx(values.mean()), (row.segment_id, row.feature)
        assert row.median == pytest.approx(values.median()), (row.segment_id, row.feature)
        assert row.p25 == pytest.approx(values.quantile(0.25))
        assert row.max == pytest.approx(values.max())
    without = profiles.profiles(1, [segs[0]], population=False)
    assert set(without["segment_id"]) == {segs[0]}


def test_prof002b_money_means_are_the_exact_mean_rounded_once(small: Path) -> None:
    """Compare's means of money come from exact DECIMAL sums (one rounding to a float), not from averaging
    doubles: under a filter, each segment's and everyone's mean revenue equals the exact mean of the stored
    values, computed here with Python's Decimal."""
    from decimal import Decimal

    from dashboard.filters import Filters
    from dashboard.queries import feature_stats

    df = stored(small)
    df = df[df["tenure_days"] >= 30]
    with queries.using(small):
        ids = sorted(int(s) for s in df["segment_id"].unique())
        got = feature_stats.feature_stats(Filters(run_id=1, tenure_min=30), ids, True)
    money = got[got["feature"] == "monetary"].set_index("segment_id")["mean"]
    for group, part in [*df.groupby("segment_id"), (feature_stats.POPULATION, df)]:
        values = [Decimal(str(v)) for v in part["monetary"].dropna()]
        assert money[int(group)] == float(sum(values) / Decimal(len(values))), group


def test_prof003_unknown_segments_return_nothing(small: Path) -> None:
    assert profiles.profiles(1, [999], population=False).empty
    assert set(profiles.profiles(1, [999])["segment_id"]) == {-1}
    assert profiles.top_countries(1, [999]).empty
    stats = profiles.box_stats(1, [999], population=False)
    assert stats.empty


@pytest.mark.parametrize("which", ["small", "table"])
def test_prof004_box_quantiles_equal_numpy(which: str, request: pytest.FixtureRequest) -> None:
    db = request.getfixturevalue(which)
    long = long_values(db)
    segs = sorted(long["segment_id"].unique())
    got = profiles.box_stats(1, segs, population=True)
    features = TRANSACTION_FEATURES if which == "small" else TABLE_FEATURES
    assert len(got) == (len(segs) + 1) * len(features)
    for row in got.itertuples():
        part = long if row.segment_id == -1 else long[long["segment_id"] == row.segment_id]
        v = part.loc[part["feature"] == row.feature, "v"].dropna().to_numpy(dtype=float)
        assert row.n == len(v)
        assert row.mean == pytest.approx(v.mean())
        expected = np.quantile(v, [0.05, 0.25, 0.5, 0.75, 0.95])  # linear, as quantile_cont
        assert [row.p05, row.p25, row.median, row.p75, row.p95] == pytest.approx(expected), row
    only = profiles.box_stats(1, segs[:1], population=False)
    assert set(only["segment_id"]) == {segs[0]}


def test_prof005_top_countries_equal_pandas(small: Path) -> None:
    df = stored(small)
    segs = sorted(df["segment_id"].unique())
    got = profiles.top_countries(1, segs, n=3)
    for sid in segs:
        part = df[df["segment_id"] == sid]
        counts = part.groupby("country", dropna=False).size().reset_index(name="n")
        counts = counts.sort_values(["n", "country"], ascending=[False, True], na_position="last").head(3)
        mine = got[got["segment_id"] == sid]
        assert mine["country"].tolist() == counts["country"].tolist()
        assert mine["customers"].tolist() == counts["n"].tolist()
        assert mine["rank"].tolist() == list(range(1, len(counts) + 1))
        assert mine["share"].to_numpy() == pytest.approx(counts["n"].to_numpy() / len(part))
    assert profiles.top_countries(1, segs, n=10**6)["rank"].max() <= profiles.TOP_COUNTRIES_MAX
    assert profiles.top_countries(1, segs, n=-5)["rank"].max() == 1


def test_prof006_rfm_crosstab_equals_pandas(small: Path) -> None:
    df = stored(small)
    got = profiles.rfm_crosstab(1)
    expected = pd.crosstab(df["segment_id"], df["rfm_group"])
    assert int(got["customers"].sum()) == len(df)
    for row in got.itertuples():
        assert row.customers == expected.loc[row.segment_id, row.rfm_group]
        assert row.share == pytest.approx(row.customers / (df["segment_id"] == row.segment_id).sum())
    with duckdb.connect(str(small), read_only=True) as con:
        names = dict(con.execute("SELECT segment_id, name FROM segments").fetchall())
    assert {(r.segment_id, r.segment_name) for r in got.itertuples()} <= set(names.items())
    columns = profiles.rfm_columns(got)
    assert set(columns) == set(df["rfm_group"].dropna())
    assert columns == [g for g in profiles.RFM_ORDER if g in set(columns)]


def test_prof006b_the_heatmap_shows_the_crosstab_of_the_stored_customers(small: Path, table: Path) -> None:
    """The Compare heatmap's cells, built from NumPy grids: counts and shares (in %) of each segment x RFM
    group equal pandas' crosstab of the stored customers; a run without RFM groups has one column."""
    import plotly.graph_objects as go

    from dashboard import figures

    for path in (small, table):
        with queries.using(path):
            got = profiles.rfm_crosstab(1)
            heat = go.Figure(figures.rfm_heatmap(got, profiles.rfm_columns(got))).data[0]
            columns = profiles.rfm_columns(got)
        df = stored(path)
        groups = df["rfm_group"].astype(object).where(df["rfm_group"].notna(), "(none)")
        expected = pd.crosstab(df["segment_id"], groups).reindex(
            columns=["(none)" if c is None else c for c in columns], fill_value=0
        )
        assert np.array_equal(np.asarray(heat.customdata), expected.to_numpy())
        shares = expected.to_numpy() / expected.to_numpy().sum(axis=1, keepdims=True) * 100
        assert np.allclose(np.asarray(heat.z, dtype=float), np.round(shares, 1))
        assert list(heat.x) == ["(no group)" if c is None else c for c in columns]


def test_prof007_crosstab_of_a_run_without_rfm_groups(table: Path) -> None:
    got = profiles.rfm_crosstab(1)
    assert got["rfm_group"].isna().all() and int(got["customers"].sum()) == 300
    assert profiles.rfm_columns(got) == [None]


def test_prof008_normalise_is_the_robust_z_score(small: Path) -> None:
    df = stored(small)
    prof = profiles.profiles(1, [0, 1])
    scores = profiles.normalise(prof)
    assert set(scores["segment_id"]) == {0, 1} and len(scores) == 2 * len(TRANSACTION_FEATURES)
    for row in scores.itertuples():
        everyone = df[row.feature].astype(float)
        seg = df.loc[df["segment_id"] == row.segment_id, row.feature].astype(float)
        iqr = everyone.quantile(0.75) - everyone.quantile(0.25)
        spread = iqr if iqr > 0 else (everyone.max() - everyone.min()) or 1.0
        assert row.score == pytest.approx((seg.median() - everyone.median()) / spread), row


def test_prof009_segments_carry_description_and_action(small: Path) -> None:
    got = profiles.segments(1)
    with duckdb.connect(str(small), read_only=True) as con:
        expected = con.execute(
            "SELECT segment_id, name, description, action, size FROM segments WHERE run_id = 1 ORDER BY 1"
        ).fetchall()
    assert [tuple(r) for r in got[["segment_id", "name", "description", "action", "size"]].to_numpy()] == [
        tuple(e) for e in expected
    ]


def test_prof011_large_groups_take_percentiles_from_an_evenly_spaced_sample(
    small: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past QUANTILE_SAMPLE customers a group's percentiles come from every k-th stored row (k = size over
    the limit, rounded up); counts, means, min and max stay exact. Checked with numpy on the stored rows."""
    from dashboard.queries import feature_stats, result_cache

    monkeypatch.setattr(feature_stats, "QUANTILE_SAMPLE", 40)
    result_cache.clear()
    with duckdb.connect(str(small), read_only=True) as con:
        df = con.execute("SELECT rowid AS row_id, * FROM customers WHERE run_id = 1").df()
    segs = sorted(df["segment_id"].unique())
    got = profiles.box_stats(1, segs, population=True)
    assert len(got) == (len(segs) + 1) * len(TRANSACTION_FEATURES)
    for row in got.itertuples():
        part = df if row.segment_id == -1 else df[df["segment_id"] == row.segment_id]
        every = max(1, -(-len(part) // 40))
        sample = part[part["row_id"] % every == 0]
        v = part[row.feature].astype(float).dropna().to_numpy()
        s = sample[row.feature].astype(float).dropna().to_numpy()
        assert row.n == len(v) and row.mean == pytest.approx(v.mean()), row
        assert row.q_n == len(s) and (row.q_n < row.n) == (every > 1), row
        expected = np.quantile(s, [0.05, 0.25, 0.5, 0.75, 0.95])
        assert [row.p05, row.p25, row.median, row.p75, row.p95] == pytest.approx(expected), row
    assert (got["q_n"] < got["n"]).any()
    full = profiles.feature_stats(1, segs, True)
    assert full["min"].tolist() == pytest.approx(
        [
            (df if r.segment_id == -1 else df[df["segment_id"] == r.segment_id])[r.feature]
            .astype(float)
            .min()
            for r in full.itertuples()
        ]
    )
    result_cache.clear()
