"""The Spark engine against the DuckDB engine on the bundled sample: same cleaning, features, value columns
and segments; same one-sentence errors with nothing stored changed; the install hint without pyspark; the
MLlib final fit past --spark-kmeans-above.

One SparkSession (local[2]) serves the whole module: a JVM start costs about 10 s on two cores.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from segmentation import cli, pipeline
from segmentation.config import RunConfig
from segmentation.errors import InputError
from segmentation.spark_engine import INSTALL_HINT, session
from tests.conftest import SAMPLE

COUNTS = ("recency_days", "frequency", "tenure_days", "distinct_products", "r_score", "f_score", "m_score")
MONEY = ("monetary", "avg_basket_value")
VALUE = ("p_alive", "expected_purchases", "predicted_value", "value_at_risk")


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """The module's SparkSession, local[2], with the engine's own settings (quiet, dirs in a temp dir)."""
    session.pyspark_module()
    from pyspark.sql import SparkSession

    builder = SparkSession.builder
    for key, value in session.builder_settings("local[2]", tmp_path_factory.mktemp("spark")).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("FATAL")
    yield spark
    spark.stop()


def _config(db: Path, engine: str, **extra: object) -> RunConfig:
    return RunConfig(inputs=(SAMPLE,), db_path=db, engine=engine, progress=False, **extra)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def runs(
    spark: object, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[pipeline.RunSummary, Path]]:
    """One run of the bundled sample by each engine, same seed, each in its own DB."""
    folder = tmp_path_factory.mktemp("engines")
    out = {}
    for engine in ("duckdb", "spark"):
        db = folder / f"{engine}.duckdb"
        out[engine] = (pipeline.run(_config(db, engine)), db)
    return out


def _customers(db: Path) -> pd.DataFrame:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute("SELECT * FROM customers ORDER BY customer_id").df().set_index("customer_id")


def test_same_cleaning_counts_and_money(runs: dict) -> None:
    duck, spark = runs["duckdb"][0], runs["spark"][0]
    assert spark.rows_in == duck.rows_in == 105_896
    assert spark.steps == duck.steps  # every CleaningStep: lines, customers touched and lost, exact money
    assert spark.money_in == duck.money_in
    assert spark.snapshot == duck.snapshot and spark.date_format == duck.date_format


def test_same_features_for_every_customer(runs: dict) -> None:
    duck, spark = _customers(runs["duckdb"][1]), _customers(runs["spark"][1])
    assert list(spark.index) == list(duck.index) and len(duck) == runs["duckdb"][0].customers
    for column in COUNTS:
        assert (spark[column].to_numpy() == duck[column].to_numpy()).all(), column
    for column in MONEY:
        np.testing.assert_allclose(spark[column].astype(float), duck[column].astype(float), rtol=0, atol=1e-6)
    for column in ("quantity", "return_rate"):
        np.testing.assert_allclose(spark[column], duck[column], rtol=0, atol=1e-9)
    for column in ("country", "first_purchase", "last_purchase"):
        assert (spark[column] == duck[column]).all(), column


def test_same_value_columns(runs: dict) -> None:
    """The BG/NBD inputs (x, t_x, T) are whole days computed from the same exact sums; the mean spend m is a
    DECIMAL sum divided in each engine and read as a double, so it can differ in the last bits, which the
    maximum-likelihood fit carries into the predictions: 1e-6 relative covers that and nothing larger."""
    duck, spark = _customers(runs["duckdb"][1]), _customers(runs["spark"][1])
    assert runs["spark"][0].value.status == runs["duckdb"][0].value.status == "ok"
    for column in VALUE:
        assert spark[column].notna().all(), column
        np.testing.assert_allclose(spark[column], duck[column], rtol=1e-6, atol=1e-9, err_msg=column)


def test_same_segments_with_the_same_seed(runs: dict) -> None:
    duck, spark = _customers(runs["duckdb"][1]), _customers(runs["spark"][1])
    assert runs["spark"][0].k == runs["duckdb"][0].k
    ari = adjusted_rand_score(duck["segment_id"], spark["segment_id"])
    assert ari >= 0.95, ari
    with duckdb.connect(str(runs["spark"][1]), read_only=True) as con:
        names = con.execute("SELECT count(*) FROM segments").fetchone()
    assert names is not None and names[0] == runs["spark"][0].k


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _header() -> str:
    return "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"


BAD_INPUTS = {
    "missing_column": (
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,Country\n"
        "536365,85123A,HEART,6,12/1/2010 8:26,2.55,United Kingdom\n"
    ),
    "bad_number": _header()
    + "536365,85123A,HEART,6,12/1/2010 8:26,2.55,17850,United Kingdom\n"
    + "536366,71053,LANTERN,six,12/1/2010 8:28,3.39,17850,United Kingdom\n",
    "no_dates": _header() + "536365,85123A,HEART,6,,2.55,17850,United Kingdom\n",
    "unknown_dates": _header() + "536365,85123A,HEART,6,yesterday,2.55,17850,United Kingdom\n",
    "header_only": _header(),
}


@pytest.fixture(scope="module")
def stored_db(runs: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DB holding one run, for the failed runs to leave unchanged."""
    db = tmp_path_factory.mktemp("stored") / "segments.duckdb"
    shutil.copy(runs["duckdb"][1], db)
    return db


def _error(cfg: RunConfig) -> str:
    with pytest.raises(InputError) as caught:
        pipeline.run(cfg)
    return str(caught.value)


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_same_sentence_nothing_stored(case: str, stored_db: Path, tmp_path: Path) -> None:
    path = tmp_path / f"{case}.csv"
    path.write_text(BAD_INPUTS[case])
    before = _sha(stored_db)
    errors = {e: _error(RunConfig(inputs=(path,), db_path=stored_db, engine=e, progress=False)) for e in
              ("duckdb", "spark")}  # fmt: skip
    assert errors["spark"] == errors["duckdb"]
    assert errors["spark"].startswith(str(path)) and "\n" not in errors["spark"]
    assert _sha(stored_db) == before


def test_missing_and_unreadable_files(stored_db: Path, tmp_path: Path) -> None:
    before = _sha(stored_db)
    missing = tmp_path / "nowhere.csv"
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 this is not a parquet file")
    for path, start in (
        (missing, f"{missing}: file not found."),
        (broken, f"{broken}: not a readable Parquet"),
    ):
        for engine in ("duckdb", "spark"):
            message = _error(RunConfig(inputs=(path,), db_path=stored_db, engine=engine, progress=False))
            assert message.startswith(start), (engine, message)
    assert _sha(stored_db) == before


def test_cli_exit_2_and_one_sentence(stored_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "missing_column.csv"
    path.write_text(BAD_INPUTS["missing_column"])
    before = _sha(stored_db)
    code = cli.main(
        [
            "run",
            str(path),
            "--engine",
            "spark",
            "--spark-master",
            "local[2]",
            "--db",
            str(stored_db),
            "--quiet",
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "required column 'customer_id' not found" in err[0]
    assert _sha(stored_db) == before


def test_without_pyspark_one_sentence_how_to_install(
    stored_db: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    for name in [m for m in sys.modules if m == "pyspark" or m.startswith("pyspark.")]:
        monkeypatch.setitem(sys.modules, name, None)  # `import pyspark...` raises ImportError
    before = _sha(stored_db)
    code = cli.main(["run", str(SAMPLE), "--engine", "spark", "--db", str(stored_db), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err == f"Error: {INSTALL_HINT}"
    assert "pip install" in INSTALL_HINT and "[spark]" in INSTALL_HINT
    assert _sha(stored_db) == before


def test_mllib_final_fit_past_the_size_flag(
    runs: dict, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """--spark-kmeans-above 500 on the sample's 1,096 customers: the final fit at the chosen k runs in MLlib
    (k-means|| start, the same seed); its segments agree with scikit-learn's from the same sweep."""
    db = tmp_path / "mllib.duckdb"
    summary = pipeline.run(_config(db, "spark", spark_kmeans_above=500, k=runs["spark"][0].k))
    local, mllib = _customers(runs["spark"][1]), _customers(db)
    assert summary.customers == len(local) > 500
    ari = adjusted_rand_score(local["segment_id"], mllib["segment_id"])
    print(f"adjusted Rand index, MLlib final fit vs scikit-learn's: {ari:.3f}")
    assert ari >= 0.8, ari
    assert (mllib["segment_id"].value_counts().index.sort_values() == np.arange(summary.k)).all()


def test_mllib_only_past_the_flag() -> None:
    cfg = RunConfig(inputs=(SAMPLE,), engine="spark", spark_kmeans_above=1000)
    fake = type("Con", (), {"spark": object()})()
    assert pipeline._final_kmeans(cfg, fake, 1000) is None
    assert pipeline._final_kmeans(cfg, None, 5000) is None  # the DuckDB engine never uses MLlib
    assert callable(pipeline._final_kmeans(cfg, fake, 1001))


@pytest.fixture(scope="module")
def sample_parquet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled sample as typed Parquet (dates as timestamps, ids and prices as numbers)."""
    out = tmp_path_factory.mktemp("parquet") / "sample.parquet"
    with duckdb.connect() as con:
        con.sql("SELECT * FROM read_csv(?)", params=[str(SAMPLE)]).write_parquet(str(out))
    return out


def test_parquet_input_same_run_in_both_engines(spark: object, sample_parquet: Path, tmp_path: Path) -> None:
    summaries, frames = {}, {}
    for engine in ("duckdb", "spark"):
        db = tmp_path / f"{engine}.duckdb"
        summaries[engine] = pipeline.run(RunConfig(inputs=(sample_parquet,), db_path=db, engine=engine,
                                                   progress=False))  # fmt: skip
        frames[engine] = _customers(db)
    assert summaries["spark"].steps == summaries["duckdb"].steps
    assert summaries["spark"].money_in == summaries["duckdb"].money_in
    duck, spark_frame = frames["duckdb"], frames["spark"]
    assert list(spark_frame.index) == list(duck.index)
    for column in COUNTS:
        assert (spark_frame[column].to_numpy() == duck[column].to_numpy()).all(), column
    np.testing.assert_allclose(
        spark_frame["monetary"].astype(float), duck["monetary"].astype(float), atol=1e-6
    )
    assert adjusted_rand_score(duck["segment_id"], spark_frame["segment_id"]) >= 0.95


def test_if_changed_checksum_of_a_parquet_folder(spark: object, sample_parquet: Path, tmp_path: Path) -> None:
    """A folder (or URI) Spark reads is checksummed by its listing: stable, and changed by a new file."""
    from segmentation import rerun

    folder = tmp_path / "sales"
    folder.mkdir()
    shutil.copy(sample_parquet, folder / "part-0.parquet")
    cfg = RunConfig(inputs=(folder,), engine="spark", progress=False)
    first = rerun.input_checksum(cfg)
    assert first == rerun.input_checksum(cfg) and len(first) == 64
    shutil.copy(sample_parquet, folder / "part-1.parquet")
    assert rerun.input_checksum(cfg) != first
    file_cfg = RunConfig(inputs=(sample_parquet,), engine="spark", progress=False)
    assert rerun.input_checksum(file_cfg) == rerun.input_checksum(RunConfig(inputs=(sample_parquet,)))
