"""Customer attributes beside sales (`--attributes FILE --attributes-key COL --use ...`), end to end, checked
against a pandas join of the same files; bad attribute input is one sentence and changes nothing."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from segmentation.cli import main


@pytest.fixture
def attributes_csv(small_csv: Path, tmp_path: Path) -> Path:
    """Attributes for the small sample's customers: ids as the sales file writes them ('12348.0'), all but
    the last five customers, one key that is no customer, empty ages, a text column and a column named like
    a stored one (Country: left out)."""
    ids = sorted(pd.read_csv(small_csv, dtype=str)["CustomerID"].dropna().unique())
    rng = np.random.default_rng(7)
    kept = ids[:-5]
    frame = pd.DataFrame(
        {
            "Customer": [*kept, "99999.0"],
            "Age": rng.integers(18, 80, len(kept) + 1).astype(object),
            "Income": rng.integers(15, 150, len(kept) + 1) * 1000,
            "Plan": rng.choice(["basic", "plus", "pro"], len(kept) + 1),
            "Country": "X",
        }
    )
    frame.loc[[3, 10, 20], "Age"] = ""
    path = tmp_path / "attributes.csv"
    frame.to_csv(path, index=False)
    return path


def run_args(small_csv: Path, db: Path, attributes: Path, *extra: str) -> list[str]:
    return ["run", str(small_csv), "--db", str(db), "--attributes", str(attributes), "--attributes-key",
            "Customer", "--k", "3", "--quiet", *extra]  # fmt: skip


def test_attributes_are_stored_as_a_pandas_join_gives_them(
    small_csv: Path, attributes_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "a.duckdb"
    assert main(run_args(small_csv, db, attributes_csv, "--use", "Age,Income")) == 0
    out = capsys.readouterr().out
    attrs = pd.read_csv(attributes_csv, dtype=str)
    attrs["key"] = attrs["Customer"].str.replace(r"\.0+$", "", regex=True)
    with duckdb.connect(str(db), read_only=True) as con:
        customers = con.sql(
            "SELECT customer_id, attr_numbers[1] AS age, attr_numbers[2] AS income, attr_texts[1] AS plan, "
            "features FROM customers WHERE run_id = 1"
        ).df()
        columns = con.sql(
            "SELECT name, kind, slot, in_model, customers_with FROM attribute_columns"
        ).fetchall()
        source = con.sql("SELECT * FROM attribute_sources").df().iloc[0]
        features = con.sql("SELECT features FROM runs").fetchall()[0][0]
        shares = con.sql(
            "SELECT value, share FROM segment_categories WHERE segment_id = -1 AND attribute = 'Plan'"
        ).fetchall()
        profile = con.sql(
            "SELECT segment_id, mean FROM segment_profiles WHERE feature = 'Age' ORDER BY segment_id"
        ).fetchall()
        segments = con.sql("SELECT customer_id, segment_id FROM customers").df()
    merged = customers.merge(attrs, left_on="customer_id", right_on="key", how="left", indicator=True)
    matched = merged["_merge"] == "both"
    missing = int((~matched).sum())
    unmatched = int((~attrs["key"].isin(customers["customer_id"])).sum())
    assert int(matched.sum()) == source["customers_matched"] and source["customers_missing"] == missing
    assert missing >= 3 and source["rows_unmatched"] == unmatched >= 1  # the last ids, and 99999
    np.testing.assert_array_equal(merged.loc[matched, "age"], pd.to_numeric(merged.loc[matched, "Age"]))
    np.testing.assert_array_equal(merged.loc[matched, "income"], pd.to_numeric(merged.loc[matched, "Income"]))
    assert (merged.loc[matched, "plan"] == merged.loc[matched, "Plan"]).all()
    assert merged.loc[~matched, ["age", "income", "plan"]].isna().all().all()
    assert columns == [
        ("Age", "number", 1, True, int(merged.loc[matched, "Age"].notna().sum())),
        ("Income", "number", 2, True, int(matched.sum())),
        ("Plan", "category", 1, False, int(matched.sum())),
    ]
    # --use: the model's features end with them; a missing age is the median of the run's customers' ages
    assert features[-2:] == ["Age", "Income"]
    ages = pd.to_numeric(merged["Age"], errors="coerce")
    median = float(np.median(ages.dropna()))
    model_age = customers["features"].map(lambda f: f[-2])
    assert np.allclose(model_age[ages.isna()], median) and np.allclose(model_age[ages.notna()], ages.dropna())
    # shares count every customer (no row: the value NULL); profiles are the segment means of the values
    expected = (merged["Plan"].value_counts(dropna=False) / len(merged)).to_dict()
    assert {(None if v is None else v): round(s, 12) for v, s in shares} == {
        (None if pd.isna(k) else k): round(v, 12) for k, v in expected.items()
    }
    means = merged.assign(
        seg=segments.set_index("customer_id").loc[merged["customer_id"], "segment_id"].values
    )
    by_segment = means.groupby("seg")["age"].mean()
    assert dict(profile)[-1] == pytest.approx(merged["age"].mean())
    for seg, mean in by_segment.items():
        assert dict(profile)[seg] == pytest.approx(mean)
    assert f"customers matched, {missing} without attributes, {unmatched} attribute rows match no" in out
    assert "'Country' left out" in out
    assert f"--use Age: {int(ages.isna().sum())} customers have no value" in out  # empty cells, no row


@pytest.mark.parametrize(
    ("edit", "extra", "message"),
    [
        (lambda f: f.rename(columns={"Customer": "Id"}), (), "column 'Customer' not found"),
        (
            lambda f: pd.concat([f, f.iloc[[4]]]),
            (),
            "key column 'Customer' has",
        ),
        (lambda f: f, ("--use", "Plan"), "--use Plan: column 'Plan' of"),
        (lambda f: f, ("--use", "Height"), "--use Height: "),
    ],
    ids=["missing-key", "duplicate-keys", "use-text", "use-unknown"],
)
def test_bad_attributes_are_one_sentence_and_change_nothing(
    small_csv: Path,
    attributes_csv: Path,
    db_copy: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    edit: object,
    extra: tuple[str, ...],
    message: str,
) -> None:
    bad = tmp_path / "bad.csv"
    edit(pd.read_csv(attributes_csv, dtype=str)).to_csv(bad, index=False)  # type: ignore[operator]
    before = db_copy.read_bytes()
    assert main(run_args(small_csv, db_copy, bad, *extra)) == 2
    err = capsys.readouterr().err
    assert err.startswith("Error: ") and message in err and err.count("\n") == 1, err
    assert db_copy.read_bytes() == before


def test_attribute_flags_go_together(
    small_csv: Path, db_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = db_copy.read_bytes()
    assert main(["run", str(small_csv), "--db", str(db_copy), "--attributes", "x.csv", "--quiet"]) == 2
    assert "--attributes and --attributes-key go together" in capsys.readouterr().err
    assert main(["run", str(small_csv), "--db", str(db_copy), "--use", "Age", "--quiet"]) == 2
    assert "--use Age: expected --attributes" in capsys.readouterr().err
    assert db_copy.read_bytes() == before


def test_a_duplicate_key_message_names_the_key_and_counts_the_others(
    small_csv: Path, attributes_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frame = pd.read_csv(attributes_csv, dtype=str)
    bad = tmp_path / "dup.csv"
    pd.concat([frame, frame.iloc[[4, 4, 7]]]).to_csv(bad, index=False)
    assert main(run_args(small_csv, tmp_path / "x.duckdb", bad)) == 2
    err = capsys.readouterr().err
    key = frame.iloc[4]["Customer"].removesuffix(".0")
    assert f"has '{key}' on 3 rows (1 more keys repeat too); expected one row per customer." in err
    assert not (tmp_path / "x.duckdb").exists()


def test_attributes_from_postgres_and_xlsx_equal_the_csv(
    small_csv: Path, attributes_csv: Path, pg_url: str, tmp_path: Path
) -> None:
    """The same attributes read from a PostgreSQL table and from an XLSX sheet store the same values."""
    import adbc_driver_postgresql.dbapi as pg

    frame = pd.read_csv(attributes_csv, dtype=str)
    table = pa.Table.from_pandas(
        frame[["Customer", "Age", "Income", "Plan"]].replace("", None), preserve_index=False
    )
    with pg.connect(pg_url) as con, con.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS customer_facts")
        cur.adbc_ingest("customer_facts", table, mode="create")
        con.commit()
    xlsx = tmp_path / "attributes.xlsx"
    frame.to_excel(xlsx, index=False)

    def stored(db: Path) -> list[tuple]:
        with duckdb.connect(str(db), read_only=True) as con:
            return con.sql(
                "SELECT customer_id, attr_numbers, attr_texts FROM customers ORDER BY customer_id"
            ).fetchall()

    dbs = [tmp_path / f"{name}.duckdb" for name in ("csv", "pg", "xlsx")]
    sources = [str(attributes_csv), f"{pg_url}?table=customer_facts", str(xlsx)]
    try:
        _run_all(small_csv, dbs, sources)
    finally:  # the server is shared: other tests list its tables
        with pg.connect(pg_url) as con, con.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS customer_facts")
            con.commit()
    assert stored(dbs[0]) == stored(dbs[1]) == stored(dbs[2])


def _run_all(small_csv: Path, dbs: list[Path], sources: list[str]) -> None:
    for db, source in zip(dbs, sources, strict=True):
        args = ["run", str(small_csv), "--db", str(db), "--attributes", source,
                "--attributes-key", "Customer", "--k", "3", "--quiet"]  # fmt: skip
        assert main(args) == 0


def test_a_customer_table_takes_attributes_and_use_too(tmp_path: Path) -> None:
    """--use on a customer table: the model's features end with the attribute, and every feature (the
    table's, a derived one, the attribute) has its profile rows."""
    rng = np.random.default_rng(1)
    table, attrs, db = tmp_path / "t.csv", tmp_path / "a.csv", tmp_path / "t.duckdb"
    pd.DataFrame(
        {"ID": range(200), "Spend": rng.integers(10, 1000, 200), "Visits": rng.integers(1, 30, 200)}
    ).to_csv(table, index=False)
    pd.DataFrame(
        {"cid": range(195), "age": rng.integers(18, 80, 195), "tier": rng.choice(["a", "b"], 195)}
    ).to_csv(attrs, index=False)
    args = ["run", str(table), "--customer-table", "--id-column", "ID", "--features", "Spend,Visits",
            "--feature", "ratio = Spend / Visits", "--attributes", str(attrs), "--attributes-key", "cid",
            "--use", "age", "--k", "3", "--db", str(db), "--quiet"]  # fmt: skip
    assert main(args) == 0
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.sql("SELECT features FROM runs").fetchall()[0][0] == ["Spend", "Visits", "ratio", "age"]
        profiled = dict(con.sql("SELECT feature, count(*) FROM segment_profiles GROUP BY ALL").fetchall())
        ages = con.sql("SELECT features[4], attr_numbers[1] FROM customers").fetchall()
    assert profiled == {"Spend": 4, "Visits": 4, "ratio": 4, "age": 4}  # 3 segments and everyone
    known = [a for _, a in ages if a is not None]
    assert len(known) == 195 and all(f == a for f, a in ages if a is not None)
    assert {f for f, a in ages if a is None} == {float(np.median(known))}
