"""queries.simulator on real pipeline runs: predictions equal the stored assignments, hostile values are
clamped, slider positions map to the run's ranges, and the background sample is small and repeatable."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from dashboard import queries
from dashboard.queries import NoData
from dashboard.queries import simulator as sim
from segmentation import pipeline
from segmentation.config import RunConfig

HOSTILE = [
    float("nan"),
    float("inf"),
    float("-inf"),
    "abc",
    {"a": 1},
    [1, 2],
    True,
    None,
    1e308,
    -1e308,
    10**400,
    "1; DROP TABLE customers; --",
    "9" * 500,
]


@pytest.fixture
def small(small_run: tuple[Path, pipeline.RunSummary]) -> Iterator[Path]:
    """Queries in the test read the small real run; connections are closed afterwards."""
    with queries.using(small_run[0]):
        yield small_run[0]
    queries.close_thread_connections()


def stored_customers(db: Path, run_id: int = 1) -> pd.DataFrame:
    """The run's customers as stored, read without dashboard code."""
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(
            "SELECT customer_id, features, segment_id, next_segment_id, dist_own, dist_next, pc1, pc2, pc3 "
            "FROM customers WHERE run_id = ? ORDER BY customer_id",
            [run_id],
        ).df()


def model_row(db: Path, run_id: int = 1) -> dict:
    with duckdb.connect(str(db), read_only=True) as con:
        cur = con.execute("SELECT * FROM models WHERE run_id = ?", [run_id])
        names = [d[0] for d in cur.description]
        return dict(zip(names, cur.fetchone(), strict=True))


def test_sim001_model_matches_the_stored_row(small: Path) -> None:
    model = sim.load_model(1)
    row = model_row(small)
    assert [f.name for f in model.features] == row["features"]
    assert model.mode == "transactions"
    for i, f in enumerate(model.features):
        assert f.low == row["feature_min"][i] and f.high == row["feature_max"][i]
        assert f.log == row["log_transform"][i]
        assert f.integer == (f.name in sim.INTEGER_FEATURES)
        assert f.default == pytest.approx(
            round(row["feature_median"][i]) if f.integer else row["feature_median"][i]
        )
    with duckdb.connect(str(small), read_only=True) as con:
        segments = con.execute("SELECT segment_id, name, action FROM segments ORDER BY segment_id").fetchall()
    assert [(s.id, s.name, s.action) for s in model.segments] == segments
    assert sorted(model.medians) == [s[0] for s in segments]


def test_sim002_prediction_equals_the_stored_segment(small: Path) -> None:
    model = sim.load_model(1)
    df = stored_customers(small)
    # every segment, several customers each, including each segment's most borderline member
    picks = pd.concat(
        [part.head(5) for _, part in df.groupby("segment_id")]
        + [
            part.loc[[(part["dist_own"] / part["dist_next"]).idxmax()]]
            for _, part in df.groupby("segment_id")
        ]
    )
    assert len(picks) >= 10 and picks["segment_id"].nunique() == len(model.segments)
    for row in picks.itertuples():
        p = sim.predict(model, list(row.features))
        assert p.segment.id == row.segment_id, row.customer_id
        assert p.values == pytest.approx(tuple(row.features))
        assert p.score.next_segment_id == row.next_segment_id
        assert p.score.distance == pytest.approx(row.dist_own, rel=1e-9, abs=1e-9)
        assert p.score.next_distance == pytest.approx(row.dist_next, rel=1e-9, abs=1e-9)
        assert p.score.pcs[:2] == pytest.approx((row.pc1, row.pc2), abs=1e-9)
        assert p.ratio == pytest.approx(row.dist_own / row.dist_next)
        assert p.borderline == (row.dist_own / row.dist_next >= sim.BORDERLINE_RATIO)
    # all customers at once: the same assignment everywhere
    predicted = [sim.predict(model, list(f)).segment.id for f in df["features"]]
    assert predicted == df["segment_id"].tolist()


def test_sim003_hostile_values_are_clamped_or_replaced_by_the_median(small: Path) -> None:
    model = sim.load_model(1)
    recency = model.features[0]
    assert recency.name == "recency_days"
    expected = {
        "1e308": recency.high,
        "-1e308": recency.low,
    }
    for value in HOSTILE:
        clamped = recency.clamp(value)
        assert math.isfinite(clamped) and recency.low <= clamped <= recency.high
        if value in (1e308,):
            assert clamped == expected["1e308"]
        elif value in (-1e308,):
            assert clamped == expected["-1e308"]
        else:
            assert clamped == recency.default, value
    assert recency.clamp("12.4") == 12.0  # a numeric string is a number; recency is whole days
    assert recency.clamp(-5) == recency.low
    # a whole hostile list: wrong length, wrong types; the prediction still works
    p = sim.predict(model, HOSTILE)
    assert len(p.values) == len(model.features)
    assert all(f.low <= v <= f.high for f, v in zip(model.features, p.values, strict=True))
    assert sim.predict(model, "not a list").values == model.defaults()
    assert sim.predict(model, {"recency_days": 3}).values == model.defaults()
    assert sim.predict(model, [1]).values == (1.0, *model.defaults()[1:])


def test_sim004_slider_positions_cover_the_range(small: Path) -> None:
    model = sim.load_model(1)
    for f in model.features:
        assert f.value_at(0) == pytest.approx(f.clamp(f.slider_low))
        assert f.value_at(sim.POSITIONS) == pytest.approx(f.clamp(f.high))
        assert f.value_at(-50) == f.value_at(0) and f.value_at(10**9) == f.value_at(sim.POSITIONS)
        for hostile in (float("nan"), "x", {"v": 1}, None, [3], True):
            assert f.value_at(hostile) == f.default
        # the default survives the round trip to a position within one step
        pos = f.position_of(f.default)
        assert 0 <= pos <= sim.POSITIONS
        step = max(abs(f.value_at(min(pos + 1, sim.POSITIONS)) - f.value_at(max(pos - 1, 0))), 1.0)
        assert abs(f.value_at(pos) - f.default) <= step
        values = [f.value_at(p) for p in range(0, sim.POSITIONS + 1, 50)]
        assert values == sorted(values)  # monotone
        if f.integer:
            assert all(float(v).is_integer() for v in values)
    monetary = next(f for f in model.features if f.name == "monetary")
    assert monetary.log
    half = monetary.value_at(sim.POSITIONS // 2)  # log scale: the middle is the geometric middle
    middle = (math.log1p(monetary.slider_low) + math.log1p(monetary.high)) / 2
    span = math.log1p(monetary.high) - math.log1p(monetary.slider_low)
    step = (1 + half) * span / sim.POSITIONS  # values are rounded to at most 1/40 of a slider step
    assert half == pytest.approx(math.expm1(middle), abs=step / 40)
    # net returns: a log slider starts at 0 (the model counts every negative value as 0), the range does not
    net = sim.FeatureRange("monetary", -4000.0, 99999.0, 650.0, log=True)
    assert net.slider_low == 0.0 and net.value_at(0) == 0.0 and net.clamp(-300) == -300.0
    assert net.position_of(-300) == 0 and net.value_at(sim.POSITIONS // 2) == pytest.approx(
        math.expm1(math.log1p(99999) / 2), rel=1e-3
    )
    tenure = next(f for f in model.features if f.name == "tenure_days")
    assert not tenure.log
    assert tenure.value_at(sim.POSITIONS // 2) == round((tenure.low + tenure.high) / 2)


def test_sim005_values_at_positions_by_feature_index(small: Path) -> None:
    model = sim.load_model(1)
    values = model.values_at({0: sim.POSITIONS, 2: "junk"})
    assert values[0] == model.features[0].high
    assert values[1:] == model.defaults()[1:]


def test_sim006_segment_medians_equal_pandas_medians(small: Path) -> None:
    model = sim.load_model(1)
    df = stored_customers(small)
    matrix = pd.DataFrame(df["features"].tolist(), columns=[f.name for f in model.features])
    matrix["segment_id"] = df["segment_id"]
    for segment_id, part in matrix.groupby("segment_id"):
        for i, f in enumerate(model.features):
            tolerance = 0.5 if f.integer else 1e-9
            assert abs(model.medians[segment_id][i] - part[f.name].median()) <= tolerance


def test_sim007_pca_sample_is_small_repeatable_and_real(small: Path) -> None:
    first = sim.pca_sample(1)
    assert list(first.columns) == ["pc1", "pc2", "segment_id", "is_outlier"]
    pd.testing.assert_frame_equal(first, sim.pca_sample(1))
    stored = stored_customers(small)
    assert len(first) == min(len(stored), sim.SAMPLE_MAX)
    assert len(sim.pca_sample(1, n=10)) == 10
    assert len(sim.pca_sample(1, n=10**9)) <= sim.SAMPLE_MAX
    assert sim.pca_sample(1, n=-5).empty
    keys = set(zip(stored["pc1"].round(9), stored["pc2"].round(9), stored["segment_id"], strict=True))
    assert set(zip(first["pc1"].round(9), first["pc2"].round(9), first["segment_id"], strict=True)) <= keys
    assert sim.pca_sample(99).empty


def test_sim008_sample_is_capped_on_a_bigger_run(tmp_path: Path) -> None:
    db = tmp_path / "big.duckdb"
    with duckdb.connect(str(db)) as con:
        from segmentation import store

        store.create_schema(con)
        con.execute(
            "INSERT INTO customers (run_id, customer_id, segment_id, pc1, pc2) "
            "SELECT 1, 'C' || i, i % 3, random(), random() FROM range(7000) t(i)"
        )
    with queries.using(db):
        sample = sim.pca_sample(1)
        assert len(sample) == sim.SAMPLE_MAX
        assert set(sample["segment_id"]) == {0, 1, 2}
    queries.close_thread_connections()


def test_sim009_a_run_without_a_model_is_no_data(db: Path) -> None:
    with pytest.raises(NoData):
        sim.load_model(1)
    with pytest.raises(NoData):
        sim.load_model(42)


def test_sim010_customer_table_run_uses_its_own_features(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    n = 300
    path = tmp_path / "campaign.csv"
    income = np.concatenate([rng.normal(30000, 3000, n // 2), rng.normal(90000, 8000, n // 2)])
    spend = np.concatenate([rng.normal(200, 30, n // 2), rng.normal(1500, 200, n // 2)])
    with open(path, "w") as fh:
        fh.write("ID,Income,Spend\n")
        for i in range(n):
            fh.write(f"C{i},{income[i]:.0f},{spend[i]:.2f}\n")
    db = tmp_path / "c.duckdb"
    pipeline.run(
        RunConfig(
            inputs=(path,),
            db_path=db,
            mode="customers",
            id_column="ID",
            feature_columns=("Income", "Spend"),
            progress=False,
            k=3,
        )
    )
    with queries.using(db):
        model = sim.load_model(1)
        assert model.mode == "customers"
        assert [f.name for f in model.features] == ["Income", "Spend"]
        assert [f.label for f in model.features] == ["Income", "Spend"]
        assert not any(f.integer for f in model.features)
        df = stored_customers(db)
        assert [sim.predict(model, list(f)).segment.id for f in df["features"]] == df["segment_id"].tolist()
        assert len(model.medians) == 3
        # two features: PC1/PC2 only, still placed
        assert len(sim.predict(model, model.defaults()).score.pcs) == 2
        assert len(sim.pca_sample(1)) == n
    queries.close_thread_connections()
