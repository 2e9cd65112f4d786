"""`segments run`: its flags, their value types, and the RunConfig they make. Kept apart from cli.py,
which holds the other subcommands and the entry point: the run has most of the flags.
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

from segmentation import currency
from segmentation.config import DEFAULT_DB, NON_PRODUCT_CODES, RunConfig
from segmentation.errors import InputError


def _key_value(text: str) -> tuple[str, str]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME=VALUE")
    key, value = text.split("=", 1)
    return key.strip(), value.strip()


def _cuts(text: str) -> tuple[str, tuple[float, ...]]:
    name, values = _key_value(text)
    try:
        return name, tuple(float(v) for v in values.split(","))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME=N,N,N,N") from exc


def _codes(text: str) -> tuple[str, ...]:
    """Comma-separated stock codes, trimmed and upper-cased as the rule compares them; "" is none."""
    return tuple(sorted({c.strip().upper() for c in text.split(",") if c.strip()}))


def _currency(text: str) -> str:
    try:
        return currency.parse_code(text)
    except InputError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--currency: ")) from exc


def _k_range(text: str) -> tuple[int, int]:
    try:
        low, high = text.replace("..", "-").split("-")
        return int(low), int(high)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: expected LOW..HIGH, e.g. 2..10") from exc


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a date as YYYY-MM-DD") from exc


def _delimiter(text: str) -> str:
    """One character, 'tab' or 'whitespace' (runs of spaces and tabs)."""
    if text.lower() in ("whitespace", "tab"):
        return "whitespace" if text.lower() == "whitespace" else "\t"
    if len(text) != 1 or text in '"\r\n':
        raise argparse.ArgumentTypeError(f"{text!r}: expected one character, 'tab' or 'whitespace'")
    return text


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a whole number, 0 or more")
    return value


def _input(text: str) -> Path | str:
    """An input file as a Path; a database or object-storage address as given (a Path folds its //)."""
    return text if "://" in text else Path(text)  # s3a://, hdfs://... too: --engine spark reads them


def add_db(p: argparse.ArgumentParser) -> None:
    """The --db flag every subcommand that reads or writes the DuckDB file takes."""
    p.add_argument("--db", type=Path, default=DEFAULT_DB, help=f"the DuckDB file (default {DEFAULT_DB})")


def add_run_parser(sub: argparse._SubParsersAction) -> None:
    """The `run` subcommand and its flags (the README documents each)."""
    run = sub.add_parser("run", help="segment sales lines (or a customer table) and store the run")
    run.add_argument(
        "inputs",
        nargs="+",
        type=_input,
        metavar="FILE",
        help="CSV, TSV, XLSX or Parquet files (several are read as one), a PostgreSQL address "
        "(postgresql://USER@HOST/DB with --table or --query) or s3://BUCKET/KEY (a * pattern reads many)",
    )
    add_db(run)
    run.add_argument(
        "--map",
        action="append",
        type=_key_value,
        default=[],
        metavar="NAME=COLUMN",
        help="use COLUMN of the file as NAME (invoice, stock_code, description, quantity, "
        "invoice_date, unit_price, customer_id, country, line_total); with --no-header COLUMN is a "
        "position from 1",
    )
    run.add_argument(
        "--customer-table",
        action="store_true",
        help="the input has one row per customer; name --id-column and --features",
    )
    run.add_argument("--id-column", help="customer-table mode: the id column")
    run.add_argument(
        "--features",
        help="comma-separated: the model's features (sales data: names from "
        "recency_days, frequency, monetary, quantity, avg_basket_value, "
        "tenure_days, distinct_products, return_rate; customer table: columns)",
    )
    run.add_argument(
        "--feature",
        action="append",
        default=[],
        metavar='"NAME = EXPRESSION"',
        help="a derived model feature (repeatable): customer tables from their columns, e.g. "
        '"value = MntWines + MntFruits" or "years = years_since(Dt_Customer, \'%%d-%%m-%%Y\')"; sales runs '
        'from the per-customer features and numeric --attributes, e.g. "aov = monetary / frequency"',
    )
    run.add_argument(
        "--attributes",
        type=_input,
        metavar="FILE_OR_ADDRESS",
        help="a table of what you know about customers (age, plan, region...), one row per customer: "
        "a CSV, XLSX or Parquet file, postgresql://...?table=NAME or s3://...; every column becomes a "
        "dashboard filter, a Compare row and an export column",
    )
    run.add_argument("--attributes-key", metavar="COLUMN", help="--attributes: its customer id column")
    run.add_argument(
        "--use",
        metavar="COLUMNS",
        help="comma-separated numeric --attributes columns that join the model's features, e.g. age,income",
    )
    run.add_argument("--country-column", help="customer-table mode: an optional country column")
    run.add_argument(
        "--tenure-column", help="customer-table mode: an optional tenure column (days, or dates: days since)"
    )
    run.add_argument(
        "--date-format", help="strptime format of the dates, e.g. %%d/%%m/%%Y %%H:%%M (default: detected)"
    )
    order = run.add_mutually_exclusive_group()
    order.add_argument(
        "--dayfirst",
        dest="dayfirst",
        action="store_true",
        default=None,
        help="read dates like 01/02/2011 as day first; needed when no date has a day over 12",
    )
    order.add_argument(
        "--monthfirst",
        dest="dayfirst",
        action="store_false",
        help="read dates like 01/02/2011 as month first; needed when no date has a day over 12",
    )
    run.add_argument(
        "--no-header",
        action="store_true",
        help="text files have no header row: columns are numbered from 1 (--map customer_id=1 ...)",
    )
    run.add_argument(
        "--delimiter",
        type=_delimiter,
        help="text files' column separator: one character, 'tab' or 'whitespace' (default: detected)",
    )
    run.add_argument(
        "--decimal",
        choices=(".", ","),
        help="decimal mark of the numbers in text files (default: detected, ',' only when unambiguous)",
    )
    run.add_argument(
        "--skip-rows",
        type=_non_negative,
        metavar="N",
        help="lines above the header (default: title rows above a header with the columns are skipped)",
    )
    run.add_argument(
        "--snapshot-date",
        type=_date,
        help="measure recency and tenure to this day (default: the day after the last sale)",
    )
    run.add_argument(
        "--outlier-factor",
        type=float,
        default=20.0,
        help="drop purchase lines with net quantity or unit price above this many times its 99th "
        "percentile (default 20; 0 turns it off)",
    )
    run.add_argument(
        "--non-product-codes",
        type=_codes,
        default=None,
        metavar="CODE,CODE,...",
        help="stock codes of lines that are not products (postage, fees, adjustments), removed and counted; "
        f'replaces the default {",".join(NON_PRODUCT_CODES)}; "" turns the rule off',
    )
    run.add_argument(
        "--currency",
        type=_currency,
        default=None,
        metavar="CODE",
        help="ISO 4217 code of the money in the input, e.g. GBP (default: known from the file layout, "
        "else unknown)",
    )
    run.add_argument(
        "--horizon-days",
        type=int,
        default=90,
        help="customer value: expected purchases are counted over this many days (default 90)",
    )
    run.add_argument(
        "--discount-rate",
        type=float,
        default=0.10,
        help="customer value: annual discount rate of the 12 months of predicted value (default 0.10)",
    )
    run.add_argument(
        "--holdout-days",
        type=int,
        default=None,
        help="customer value backtest: fit on everything before the last N days and compare the predicted "
        "purchases in those days with what happened",
    )
    run.add_argument(
        "--rfm-cuts",
        action="append",
        type=_cuts,
        default=[],
        metavar="NAME=C1,C2,C3,C4",
        help="custom score cut points for recency_days, frequency or monetary",
    )
    run.add_argument("--k", type=int, help="number of segments (default: chosen by the sweep)")
    run.add_argument(
        "--k-range",
        type=_k_range,
        default=(2, 10),
        metavar="LOW..HIGH",
        help="the k values the sweep tries (default 2..10)",
    )
    run.add_argument("--scaler", default="standard", help="standard, robust or minmax (default standard)")
    run.add_argument(
        "--log-features",
        default="skewed",
        help="log-scale before the scaler: skewed (skewness above 1, the default), all, or none",
    )
    run.add_argument("--algorithm", default="kmeans", help="kmeans or agglomerative (default kmeans)")
    run.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    run.add_argument("--n-init", type=int, default=3, help="k-means restarts per k (default 3)")
    run.add_argument(
        "--silhouette-sample",
        type=int,
        default=6000,
        help="customers in the seeded silhouette sample (default 6000)",
    )
    run.add_argument(
        "--min-samples",
        type=int,
        default=10,
        help="density-based outliers: neighbours a core customer needs (default 10)",
    )
    run.add_argument("--threads", type=int, help="DuckDB threads (default: all cores)")
    run.add_argument("--memory-limit", help="DuckDB memory limit, e.g. 4GB (it spills beyond it)")
    run.add_argument(
        "--engine",
        choices=("duckdb", "spark"),
        default="duckdb",
        help="where reading, cleaning and features run: duckdb (default) or spark (needs the spark extra)",
    )
    run.add_argument(
        "--spark-master",
        default="local[*]",
        metavar="URL",
        help="--engine spark: the Spark master, e.g. spark://host:7077 or yarn (default local[*])",
    )
    run.add_argument(
        "--spark-kmeans-above",
        type=_non_negative,
        default=10_000_000,
        metavar="N",
        help="--engine spark: past N customers the final k-means fit runs in Spark MLlib (default 10000000)",
    )
    run.add_argument("--table", help="PostgreSQL input: the table or view to read ([SCHEMA.]NAME)")
    run.add_argument("--query", help="PostgreSQL input: a SELECT to read, run in a read-only transaction")
    run.add_argument(
        "--s3-endpoint",
        metavar="URL",
        help="s3:// inputs: an S3-compatible store's endpoint, e.g. http://127.0.0.1:9000 "
        "(default: $AWS_ENDPOINT_URL, else AWS)",
    )
    run.add_argument(
        "--if-changed",
        action="store_true",
        help="skip (exit 0, one line) when the input's checksum and the settings equal the latest run's",
    )
    run.add_argument("--quiet", action="store_true", help="no progress lines")
    run.add_argument(
        "--timings",
        action="store_true",
        help="after the report, print each phase's seconds and peak memory (to stderr)",
    )


def _attribute_options(a: argparse.Namespace) -> dict[str, object]:
    """--attributes, --attributes-key and --use: all or none of the first two; --use needs them."""
    use = tuple(u.strip() for u in a.use.split(",") if u.strip()) if a.use else ()
    if (a.attributes is None) != (a.attributes_key is None):
        raise InputError(
            "segments run: --attributes and --attributes-key go together: the table and its customer id "
            "column."
        )
    if use and a.attributes is None:
        raise InputError(
            f"--use {a.use}: expected --attributes FILE --attributes-key COLUMN to take the columns from."
        )
    return {"attributes": a.attributes, "attributes_key": a.attributes_key, "attributes_use": use}


def config(a: argparse.Namespace) -> RunConfig:
    features = tuple(f.strip() for f in a.features.split(",") if f.strip()) if a.features else ()
    common = dict(
        inputs=tuple(a.inputs),
        db_path=a.db,
        column_map=dict(a.map),
        table=a.table,
        query=a.query,
        s3_endpoint=a.s3_endpoint,
        date_format=a.date_format,
        dayfirst=a.dayfirst,
        no_header=a.no_header,
        delimiter=a.delimiter,
        decimal=a.decimal,
        skip_rows=a.skip_rows,
        snapshot_date=a.snapshot_date,
        line_outlier_factor=a.outlier_factor,
        non_product_codes=NON_PRODUCT_CODES if a.non_product_codes is None else a.non_product_codes,
        currency=a.currency,
        horizon_days=a.horizon_days,
        discount_rate=a.discount_rate,
        holdout_days=a.holdout_days,
        rfm_cuts=dict(a.rfm_cuts),
        k=a.k,
        k_min=a.k_range[0],
        k_max=a.k_range[1],
        scaler=a.scaler,
        log_features=a.log_features,
        algorithm=a.algorithm,
        seed=a.seed,
        n_init=a.n_init,
        silhouette_sample=a.silhouette_sample,
        min_samples=a.min_samples,
        threads=a.threads,
        memory_limit=a.memory_limit,
        progress=not a.quiet,
        engine=a.engine,
        spark_master=a.spark_master,
        spark_kmeans_above=a.spark_kmeans_above,
        **_attribute_options(a),
    )
    if a.customer_table:
        if not a.id_column or not (features or a.feature):
            raise InputError(
                "segments run --customer-table: expected --id-column and --features (or --feature) naming "
                "the file's id column and its numeric feature columns."
            )
        return RunConfig(
            mode="customers",
            id_column=a.id_column,
            feature_columns=features,
            derived_features=tuple(a.feature),
            country_column=a.country_column,
            tenure_column=a.tenure_column,
            **common,
        )
    if features:
        common["model_features"] = features
    return RunConfig(derived_features=tuple(a.feature), **common)
