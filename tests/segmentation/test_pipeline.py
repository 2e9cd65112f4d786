"""A whole run against the DuckDB contract: tables agree, runs repeat, layouts and modes work."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import duckdb
import numpy as np
import pytest

from segmentation import pipeline, report, store
from segmentation.config import TRANSACTION_FEATURES, RunConfig
from segmentation.rfm_groups import RFM_GROUPS


@pytest.fixture
def con(small_run: tuple[Path, pipeline.RunSummary]) -> duckdb.DuckDBPyConnection:
    c = store.open_read_only(small_run[0])
    yield c
    c.close()


def one(con: duckdb.DuckDBPyConnection, query: str, params: list | None = None) -> object:
    row = con.execute(query, params or []).fetchone()
    assert row is not None
    return row[0]


def test_cleaning_counts_add_up_to_the_input(con: duckdb.DuckDBPyConnection) -> None:
    rows_in, rows_clean = con.execute("SELECT rows_in, rows_clean FROM runs WHERE id = 1").fetchone()
    removed = one(con, "SELECT sum(removed) FROM cleaning_steps WHERE run_id = 1")
    assert removed + rows_clean == rows_in
    assert (
        one(con, "SELECT rows_left FROM cleaning_steps WHERE run_id = 1 ORDER BY step DESC LIMIT 1")
        == rows_clean
    )


def test_tables_agree_with_each_other(con: duckdb.DuckDBPyConnection) -> None:
    run = con.execute(
        "SELECT customers, k, features, status, seed, source_sha256, params FROM runs"
    ).fetchone()
    customers, k, features, status, seed, sha, params = run
    assert status == "ok" and seed == 0 and len(sha) == 64
    assert json.loads(params)["seed"] == 0
    assert one(con, "SELECT count(*) FROM customers WHERE run_id = 1") == customers
    assert one(con, "SELECT count(DISTINCT segment_id) FROM customers") == k
    assert one(con, "SELECT sum(size) FROM segments") == customers
    assert one(con, "SELECT count(DISTINCT name) FROM segments") == k
    assert one(con, "SELECT round(sum(share), 9) FROM segments") == 1.0
    assert one(con, "SELECT count(*) FROM customers WHERE customer_id LIKE '%.%'") == 0
    assert one(con, "SELECT count(*) FROM customers WHERE len(features) <> ?", [len(features)]) == 0
    assert one(con, "SELECT count(*) FROM customers WHERE dist_own > dist_next") == 0
    groups = {r[0] for r in con.execute("SELECT DISTINCT rfm_group FROM customers").fetchall()}
    assert groups <= set(RFM_GROUPS) and len(groups) > 3
    for score in ("r_score", "f_score", "m_score"):
        assert one(con, f"SELECT count(DISTINCT {score}) FROM customers") == 5  # noqa: S608
    profiled = con.execute("SELECT DISTINCT feature FROM segment_profiles").fetchall()
    assert {r[0] for r in profiled} == set(TRANSACTION_FEATURES)
    assert one(con, "SELECT count(DISTINCT segment_id) FROM segment_profiles") == k + 1  # + population
    kmeans = con.execute("SELECT k FROM model_scores WHERE algorithm = 'kmeans' ORDER BY k").fetchall()
    assert [r[0] for r in kmeans] == list(range(2, 11))
    assert one(con, "SELECT count(*) FROM model_scores WHERE chosen") == 1
    assert {r[0] for r in con.execute("SELECT algorithm FROM model_scores").fetchall()} == {
        "kmeans",
        "agglomerative",
        "dbscan",
    }


def test_stored_model_scores_every_customer_into_its_segment(con: duckdb.DuckDBPyConnection) -> None:
    logt, center, scale, centroids, pca_mean, comps = con.execute(
        "SELECT log_transform, center, scale, centroids, pca_mean, pca_components FROM models"
    ).fetchone()
    rows = con.execute(
        "SELECT features, segment_id, pc1, pc2, pc3 FROM customers ORDER BY customer_id"
    ).fetchall()
    x = np.array([r[0] for r in rows])
    x[:, np.array(logt)] = np.log1p(np.clip(x[:, np.array(logt)], 0, None))
    z = (x - np.array(center)) / np.array(scale)
    nearest = ((z[:, None, :] - np.array(centroids)[None]) ** 2).sum(axis=2).argmin(axis=1)
    assert nearest.tolist() == [r[1] for r in rows]
    assert np.allclose((z - np.array(pca_mean)) @ np.array(comps).T, np.array([r[2:] for r in rows]))


def test_same_input_and_seed_give_the_same_assignments(
    small_csv: Path, tmp_path: Path, small_run: tuple[Path, pipeline.RunSummary]
) -> None:
    db = tmp_path / "again.duckdb"
    pipeline.run(RunConfig(inputs=(small_csv,), db_path=db, progress=False))
    query = "SELECT customer_id, segment_id, is_outlier FROM customers ORDER BY customer_id"
    first, second = store.open_read_only(small_run[0]), store.open_read_only(db)
    assert first.execute(query).fetchall() == second.execute(query).fetchall()
    names = "SELECT segment_id, name FROM segments ORDER BY 1"
    assert first.execute(names).fetchall() == second.execute(names).fetchall()


def test_online_retail_ii_spelling_in_two_overlapping_files(
    small_csv: Path, tmp_path: Path, small_run: tuple[Path, pipeline.RunSummary]
) -> None:
    """The II layout's two yearly files overlap for some days; the overlap is removed as duplicates."""
    src = duckdb.connect()
    src.execute("CREATE TABLE t AS SELECT * FROM read_csv(?, all_varchar = true)", [str(small_csv)])
    rename = (
        "SELECT InvoiceNo AS Invoice, StockCode, Description, Quantity, InvoiceDate, UnitPrice AS Price, "
        '"CustomerID" AS "Customer ID", Country FROM t'
    )
    first, second = tmp_path / "year1.csv", tmp_path / "year2.csv"
    src.execute(f"COPY ({rename} WHERE InvoiceDate < '2011-06-10') TO '{first}' (HEADER)")  # noqa: S608
    src.execute(f"COPY ({rename} WHERE InvoiceDate >= '2011-06-01') TO '{second}' (HEADER)")  # noqa: S608
    overlap = src.execute(
        "SELECT count(*) FROM t WHERE InvoiceDate >= '2011-06-01' AND InvoiceDate < '2011-06-10'"
    ).fetchone()[0]
    db = tmp_path / "ii.duckdb"
    summary = pipeline.run(RunConfig(inputs=(first, second), db_path=db, progress=False))
    single = small_run[1]
    assert summary.rows_in == single.rows_in + overlap
    dup = {s.rule: s.removed for s in summary.steps}["exact_duplicate"]
    assert dup == {s.rule: s.removed for s in single.steps}["exact_duplicate"] + overlap
    assert summary.customers == single.customers
    query = "SELECT customer_id, segment_id FROM customers ORDER BY 1"
    assert (
        store.open_read_only(db).execute(query).fetchall()
        == store.open_read_only(small_run[0]).execute(query).fetchall()
    )


def test_customer_table_mode(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    n = 400
    income = np.concatenate([rng.normal(30000, 3000, n // 2), rng.normal(90000, 8000, n // 2)])
    spend = np.concatenate([rng.normal(200, 30, n // 2), rng.normal(1500, 200, n // 2)])
    visits = rng.poisson(5, n)
    path = tmp_path / "campaign.csv"
    with open(path, "w") as fh:
        fh.write("ID,Income,Spend,Visits,Region,Days\n")
        for i in range(n):
            fh.write(f"C{i},{income[i]:.0f},{spend[i]:.2f},{visits[i]},{'North' if i % 3 else 'South'},{i}\n")
        fh.write(",1,1,1,North,1\n")  # no id: counted and removed
    db = tmp_path / "c.duckdb"
    summary = pipeline.run(
        RunConfig(
            inputs=(path,),
            db_path=db,
            mode="customers",
            id_column="ID",
            feature_columns=("Income", "Spend", "Visits"),
            country_column="Region",
            tenure_column="Days",
            progress=False,
            k=2,
        )
    )
    assert summary.customers == n
    assert [(s.rule, s.removed) for s in summary.steps][0] == ("missing_customer_id", 1)
    con = store.open_read_only(db)
    assert con.execute("SELECT features, mode FROM runs").fetchone() == (
        ["Income", "Spend", "Visits"],
        "customers",
    )
    sizes = con.execute("SELECT size FROM segments ORDER BY segment_id").fetchall()
    assert sizes == [(200,), (200,)]
    names = [r[0] for r in con.execute("SELECT name FROM segments").fetchall()]
    assert len(set(names)) == 2 and any("Income" in name for name in names)
    assert one(con, "SELECT count(DISTINCT country) FROM customers") == 2
    assert one(con, "SELECT max(tenure_days) FROM customers") == n - 1
    assert one(con, "SELECT count(*) FROM customers WHERE r_score IS NOT NULL OR rfm_group IS NOT NULL") == 0
    assert {r[0] for r in con.execute("SELECT DISTINCT feature FROM segment_profiles").fetchall()} == {
        "Income",
        "Spend",
        "Visits",
    }


def test_customer_table_middle_group_on_the_median_is_mid_and_report_shows_the_users_features(
    tmp_path: Path,
) -> None:
    """A middle income group whose median is the population's median value (tied) is not called High."""
    rng = np.random.default_rng(3)
    groups = [(140, 20000.0, 100.0), (100, 50000.0, 300.0), (60, 90000.0, 200.0)]  # size, income, spend
    path = tmp_path / "people.csv"
    with open(path, "w") as fh:
        fh.write("ID,Income,Spend\n")
        i = 0
        for size, income, spend in groups:
            for _ in range(size):
                value = income if income == 50000.0 else income + rng.normal(0, 1500)
                fh.write(f"P{i},{value:.0f},{spend + rng.normal(0, 5):.2f}\n")
                i += 1
    summary = pipeline.run(
        RunConfig(
            inputs=(path,),
            db_path=tmp_path / "p.duckdb",
            mode="customers",
            id_column="ID",
            feature_columns=("Income", "Spend"),
            progress=False,
            k=3,
        )
    )
    seg = summary.segments.set_index("size")
    assert "Mid Income" in seg.loc[100, "name"] and "High Income" not in seg.loc[100, "name"]
    assert "High Income" in seg.loc[60, "name"] and "Low Income" in seg.loc[140, "name"]
    text = report.format_run(summary)
    table = text[text.index("Segments") :]
    header = table.splitlines()[1]
    assert header.split() == ["id", "name", "customers", "share", "Income", "Spend", "action"]
    middle = next(line for line in table.splitlines() if seg.loc[100, "name"] in line)
    assert "50,000" in middle and "300" in middle


def test_one_file_twice_gives_byte_identical_tables_and_exports(tmp_path: Path) -> None:
    """Money is summed exactly: two runs of a multi-row-group file (parallel aggregation) store the same
    bytes in every table (times aside) and export the same ordered lists."""
    from dashboard import export
    from segmentation import synthetic

    sales = tmp_path / "sales.parquet"
    synthetic.generate(sales, 12000, seed=5)
    dumps, lists = [], []
    for i in range(2):
        db = tmp_path / f"run{i}.duckdb"
        pipeline.run(RunConfig(inputs=(sales,), db_path=db, progress=False, threads=2, k=4))
        con = store.open_read_only(db)
        tables = {}
        for table in store.TABLES:
            frame = con.execute(f"SELECT * FROM {table} ORDER BY ALL").df()  # noqa: S608 (our table names)
            tables[table] = frame.drop(
                columns=["created_at", "duration_s", "fit_seconds", "seconds"], errors="ignore"
            ).to_csv()
        con.close()
        dumps.append(tables)
        out = tmp_path / f"list{i}.csv"
        export.write_export(db, {"run": "1"}, out)
        lists.append([line for line in out.read_text().splitlines() if not line.startswith("# ")])
    for table in store.TABLES:
        assert dumps[0][table] == dumps[1][table], table
    assert len(lists[0]) > 10000 and lists[0] == lists[1]


def test_negative_net_revenue_is_flagged_and_counted_never_silent(tmp_path: Path) -> None:
    """A return priced above the purchase it reverses is the only way to negative net revenue: warned."""
    path = tmp_path / "sales.csv"
    rows = ["InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"]
    for c in range(40):
        for d in range(1 + c % 4):
            rows.append(
                f"{c}{d},S{d},thing,{1 + c % 5},2011-0{1 + d}-1{c % 9} 10:00:00,{2 + c % 7}.50,{100 + c},UK"
            )
    rows.append("9001,X,thing,1,2011-05-01 10:00:00,1.00,999,UK")
    rows.append("C9002,X,thing,-1,2011-05-02 10:00:00,30.00,999,UK")  # credited 30 for a 1.00 purchase
    path.write_text("\n".join(rows) + "\n")
    summary = pipeline.run(RunConfig(inputs=(path,), db_path=tmp_path / "n.duckdb", progress=False, k=2))
    assert "1 customer has negative net revenue (returns priced above the purchases they reverse): 999." in (
        summary.warnings
    )
    con = store.open_read_only(tmp_path / "n.duckdb")
    assert one(con, "SELECT monetary FROM customers WHERE customer_id = '999'") == Decimal("-29.00")
    assert one(con, "SELECT list_count(warnings) FROM runs") == 1
