"""The DuckDB statements as Spark SQL (spark_engine/dialect.py): every statement the Spark engine runs
transpiles, and each documented transform does what it says. No Spark needed."""

from __future__ import annotations

from datetime import date

import pytest

from segmentation import sql
from segmentation.ingest import typing_sql
from segmentation.spark_engine import dialect
from segmentation.value import inputs

PARAMS = {
    "snapshot": date(2011, 12, 10),
    "codes": ["POST", "DOT"],
    "factor": 20.0,
    "qty_limit": 1200.0,
    "price_limit": None,
    "end": date(2011, 12, 9),
    "cutoff": None,
}
STATEMENTS = {
    "ROW_STAGES": sql.ROW_STAGES,
    **{f"DEDUPLICATE{i}": q for i, q in enumerate(sql.DEDUPLICATE)},
    "DUPLICATE_CUSTOMERS": sql.DUPLICATE_CUSTOMERS,
    **{f"STAGE_TOTALS_{k}": q for k, q in sql.STAGE_TOTALS.items()},
    "REMOVE_NON_PRODUCT": sql.REMOVE_NON_PRODUCT,
    "PRODUCTS_VIEW": sql.PRODUCTS_VIEW,
    "NON_PRODUCT_CUSTOMERS": sql.NON_PRODUCT_CUSTOMERS,
    "REMOVE_NON_POSITIVE": sql.REMOVE_NON_POSITIVE,
    "NON_POSITIVE_CUSTOMERS": sql.NON_POSITIVE_CUSTOMERS,
    "MATCH_RETURNS": sql.MATCH_RETURNS,
    "UNMATCHED_RETURNS": sql.UNMATCHED_RETURNS,
    "OUTLIER_LIMITS": sql.OUTLIER_LIMITS,
    "FIND_OUTLIERS": sql.FIND_OUTLIERS,
    "REMOVED_PURCHASE_RETURNS": sql.REMOVED_PURCHASE_RETURNS,
    "KEEP_LINES": sql.KEEP_LINES,
    "MATCH_OUTLIER_STAGES": sql.MATCH_OUTLIER_STAGES,
    "LAST_SALE": sql.LAST_SALE,
    "FEATURES": sql.FEATURES,
    "PURCHASE_DAYS": inputs.PURCHASE_DAYS,
    "RFM_T": inputs.RFM_T,
    "HOLDOUT_ACTUAL": inputs.HOLDOUT_ACTUAL,
}


@pytest.mark.parametrize("name", sorted(STATEMENTS))
def test_every_statement_transpiles_without_duckdb_only_syntax(name: str) -> None:
    statements = dialect.to_spark(STATEMENTS[name], PARAMS)
    assert statements
    for statement in statements:
        text = statement.sql.upper()
        for duckdb_only in ("$", "::", "ASOF", "INT128", "HUGEINT", "QUANTILE_CONT", "TEMP TABLE", "//"):
            assert duckdb_only not in text, (duckdb_only, statement.sql)


def test_temp_tables_and_views_become_named_queries() -> None:
    made = [(s.create, s.table) for s in dialect.to_spark(sql.MATCH_RETURNS)]
    assert made == [("bought", False), ("bought_cum", True), ("returned", True), ("alloc", True),
                    ("matched", False)]  # fmt: skip
    assert all(s.sql.startswith(("SELECT", "WITH")) for s in dialect.to_spark(sql.MATCH_RETURNS))
    assert dialect.to_spark("DROP TABLE lines")[0].drop == "lines"


def test_parameters_become_typed_literals() -> None:
    (statement,) = dialect.to_spark("SELECT $d::DATE, $n, $f, $s, $l, $x", {
        "d": date(2011, 12, 10), "n": 3, "f": 0.5, "s": "it's", "l": ["A", "B"], "x": None})  # fmt: skip
    assert statement.sql == (
        "SELECT CAST(CAST('2011-12-10' AS DATE) AS DATE), 3, CAST('0.5' AS DOUBLE), 'it\\'s', "
        "ARRAY('A', 'B'), NULL"
    )
    with pytest.raises(KeyError):
        dialect.to_spark("SELECT $missing")


def test_duckdb_only_types_and_functions() -> None:
    (statement,) = dialect.to_spark("SELECT CAST(x AS HUGEINT), quantile_cont(y, 0.99) FROM t")
    assert statement.sql == "SELECT CAST(x AS DECIMAL(38, 0)), PERCENTILE(y, 0.99) FROM t"
    number = dialect.expression(typing_sql._number_sql(3))
    assert "RAISE_ERROR('segmentation.ingest: not a number')" in number and "ISNAN" in number
    assert dialect.expression(typing_sql._hash_sql(1)) == "XXHASH64(NULLIF(TRIM(c1), ''))"
    assert "RLIKE '^(?:[0-9]+\\\\.0+)$'" in dialect.expression(typing_sql._customer_id_sql(2))
    assert dialect.expression("try_strptime(d, '%m/%d/%Y %H:%M')") == "TRY_TO_TIMESTAMP(d, 'M/d/yyyy H:m')"
    assert dialect.expression("try_strptime(d, '%Y%m%d')") == "TRY_TO_TIMESTAMP(d, 'yyyyMMdd')"


def test_session_settings_keep_money_exact_and_files_in_the_run(tmp_path) -> None:  # noqa: ANN001
    from segmentation.spark_engine import session

    settings = session.builder_settings("local[2]", tmp_path, "4GB")
    assert settings["spark.sql.decimalOperations.allowPrecisionLoss"] == "false"
    assert settings["spark.sql.timestampType"] == "TIMESTAMP_NTZ"
    assert settings["spark.local.dir"].startswith(str(tmp_path))
    assert f"-Djava.io.tmpdir={tmp_path}" in settings["spark.driver.extraJavaOptions"]
    assert settings["spark.driver.memory"] == "3814m"
    assert not any("packages" in key for key in settings)  # nothing downloaded at run time
    assert "spark.driver.memory" not in session.builder_settings("spark://h:7077", tmp_path, "4GB")
    assert [session.driver_memory(t) for t in ("14123MiB", "1.5GiB", "bad", None)] == [
        "14123m", "1536m", None, None]  # fmt: skip
