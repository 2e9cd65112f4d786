"""The DuckDB file, the contract between segmentation and dashboard: its tables and the atomic swap.

A run never writes the served file in place. It copies the current file (all earlier runs) to a uniquely
named temp file beside it, adds the new run there, checkpoints, closes, fsyncs and renames it over the
served path. Readers holding the old file keep reading it; a failed or killed run leaves it untouched.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import duckdb

from segmentation import served_file
from segmentation.errors import InputError
from segmentation.served_file import run_lock  # noqa: F401  (callers use store.run_lock)

SCHEMA_VERSION = 5  # 2: exact money (DECIMAL), cleaning customers/money, run warnings; 3: customer value;
# 4: the PCA's explained variance; 5: the run's currency. (segment_names is a new table that SCHEMA creates
# in any file, so it needs no migration and no new version; readers of older files find it absent or empty.)

# One statement per table. Every table but meta is keyed by run_id; customers and segments join on
# (run_id, segment_id). Names live only in segments, so a rename touches one row.
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key VARCHAR PRIMARY KEY,
    value VARCHAR
);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    created_at TIMESTAMP,
    mode VARCHAR,                -- 'transactions' or 'customers'
    sources VARCHAR[],           -- input file names as given
    source_sha256 VARCHAR,       -- sha256 of the input files' sha256s, in the order given
    snapshot_date DATE,          -- recency and tenure are counted to this day
    rows_in BIGINT,              -- lines (or customer rows) read
    rows_clean BIGINT,           -- lines left after cleaning
    customers BIGINT,
    params JSON,                 -- every parameter of the run (RunConfig)
    seed INTEGER,
    features VARCHAR[],          -- the model's features, in order (customers.features follows it)
    log_features VARCHAR[],      -- features log-transformed before scaling
    scaler VARCHAR,
    algorithm VARCHAR,
    k INTEGER,
    k_reason VARCHAR,            -- how k was chosen, one sentence
    silhouette DOUBLE,
    davies_bouldin DOUBLE,
    calinski_harabasz DOUBLE,
    inertia DOUBLE,
    stability_ari DOUBLE,        -- mean adjusted Rand index of refits on seeded subsamples
    outliers BIGINT,             -- customers marked as density-based noise
    rfm_cuts JSON,               -- {"recency_days": [c1..c4], "frequency": [...], "monetary": [...]}
    date_format VARCHAR,         -- the strptime format the dates were read with
    revenue DECIMAL(18,2),       -- sum of customers.monetary
    status VARCHAR,              -- 'ok'
    duration_s DOUBLE,
    money_in DECIMAL(38,8),      -- signed money of every input line (returns negative), exact
    warnings VARCHAR[],          -- sentences the run's report warned about (low stability, ...)
    currency VARCHAR             -- ISO 4217 code of the money (NULL: unknown)
);
CREATE TABLE IF NOT EXISTS cleaning_steps (
    run_id INTEGER,
    step INTEGER,                -- order applied
    rule VARCHAR,                -- machine name, e.g. 'missing_customer_id'
    description VARCHAR,         -- the rule in words
    removed BIGINT,              -- lines
    rows_left BIGINT,
    customers BIGINT,            -- distinct customers whose lines or money the rule removed
    customers_lost BIGINT,       -- customers with lines before the rule and none after it
    money DECIMAL(38,8),         -- signed money removed (returns negative); NULL for customer tables
    PRIMARY KEY (run_id, step)
);
CREATE TABLE IF NOT EXISTS customers (
    run_id INTEGER,
    customer_id VARCHAR,
    country VARCHAR,             -- most frequent country of the customer's lines
    first_purchase TIMESTAMP,
    last_purchase TIMESTAMP,
    recency_days INTEGER,
    frequency INTEGER,           -- distinct invoices
    monetary DECIMAL(18,2),      -- net revenue: purchases minus their matched returns (docs/cleaning.md)
    quantity DOUBLE,
    avg_basket_value DECIMAL(18,2),  -- net revenue per order
    tenure_days INTEGER,
    distinct_products INTEGER,
    return_rate DOUBLE,          -- returned value / purchased value, capped at 1
    r_score TINYINT,
    f_score TINYINT,
    m_score TINYINT,
    rfm_group VARCHAR,           -- classic rule-based RFM group
    segment_id INTEGER,
    is_outlier BOOLEAN,          -- density-based noise
    pc1 DOUBLE,
    pc2 DOUBLE,
    pc3 DOUBLE,                  -- PCA is nested: (pc1, pc2) is the 2-D projection, (pc1, pc2, pc3) the 3-D
    dist_own DOUBLE,             -- distance to own centroid, in scaled feature space
    dist_next DOUBLE,            -- distance to the next-nearest centroid
    next_segment_id INTEGER,
    features DOUBLE[],           -- the model's input values, in runs.features order (unscaled)
    p_alive DOUBLE,              -- BG/NBD probability the customer is still active (NULL: no value model)
    expected_purchases DOUBLE,   -- expected purchase days over value_models.horizon_days
    predicted_value DECIMAL(18,2),  -- discounted value of the next 12 months (BG/NBD x Gamma-Gamma)
    value_at_risk DECIMAL(18,2),    -- predicted_value x (1 - p_alive)
    PRIMARY KEY (run_id, customer_id)
);
CREATE TABLE IF NOT EXISTS segments (
    run_id INTEGER,
    segment_id INTEGER,
    name VARCHAR,
    description VARCHAR,
    action VARCHAR,
    size BIGINT,
    share DOUBLE,
    revenue DECIMAL(18,2),
    revenue_share DOUBLE,
    outliers BIGINT,
    PRIMARY KEY (run_id, segment_id)
);
CREATE TABLE IF NOT EXISTS segment_profiles (
    run_id INTEGER,
    segment_id INTEGER,          -- -1: the whole population
    feature VARCHAR,
    mean DOUBLE,
    median DOUBLE,
    p25 DOUBLE,
    p75 DOUBLE,
    min DOUBLE,
    max DOUBLE,
    PRIMARY KEY (run_id, segment_id, feature)
);
CREATE TABLE IF NOT EXISTS model_scores (
    run_id INTEGER,
    algorithm VARCHAR,           -- 'kmeans', 'agglomerative', 'dbscan'
    k INTEGER,                   -- clusters (for dbscan: clusters found)
    inertia DOUBLE,
    silhouette DOUBLE,
    davies_bouldin DOUBLE,
    calinski_harabasz DOUBLE,
    noise_share DOUBLE,          -- dbscan only
    n_scored BIGINT,             -- customers the scores were computed on
    fit_seconds DOUBLE,
    chosen BOOLEAN,
    PRIMARY KEY (run_id, algorithm, k)
);
CREATE TABLE IF NOT EXISTS value_models (
    run_id INTEGER PRIMARY KEY,
    status VARCHAR,              -- 'ok', 'partial' (no spend model: no value), 'failed', 'not_applicable'
    reason VARCHAR,              -- why not 'ok', one sentence
    time_unit VARCHAR,           -- 'days': x, t_x and T are counted in it
    horizon_days INTEGER,
    discount_rate DOUBLE,        -- annual, applied monthly to the 12 months of predicted value
    r DOUBLE, alpha DOUBLE, a DOUBLE, b DOUBLE,  -- BG/NBD
    bgnbd_log_likelihood DOUBLE,
    p DOUBLE, q DOUBLE, gamma DOUBLE,            -- Gamma-Gamma
    gamma_gamma_log_likelihood DOUBLE,
    spend_customers BIGINT,      -- repeat buyers the spend model was fitted on
    spend_frequency_corr DOUBLE, -- Gamma-Gamma assumes it is near 0
    backtest_holdout_days INTEGER,
    backtest_cutoff DATE,        -- first day of the holdout
    backtest_customers BIGINT,
    backtest_predicted DOUBLE,   -- total predicted purchase days in the holdout
    backtest_actual DOUBLE,
    backtest_mae DOUBLE,         -- mean absolute error per customer
    backtest_error VARCHAR,
    seconds DOUBLE
);
CREATE TABLE IF NOT EXISTS value_backtest (
    run_id INTEGER,
    calibration_purchases INTEGER,  -- repeat purchase days before the holdout; 7 means 7 or more
    customers BIGINT,
    predicted DOUBLE,
    actual DOUBLE,
    PRIMARY KEY (run_id, calibration_purchases)
);
CREATE TABLE IF NOT EXISTS models (
    run_id INTEGER PRIMARY KEY,
    features VARCHAR[],
    log_transform BOOLEAN[],     -- log1p(max(x, 0)) before scaling, per feature
    center DOUBLE[],             -- scaled = (x' - center) / scale
    scale DOUBLE[],
    centroids DOUBLE[][],        -- per segment_id, in scaled space
    pca_mean DOUBLE[],
    pca_components DOUBLE[][],   -- 3 rows; pc = (scaled - pca_mean) @ components.T
    feature_min DOUBLE[],        -- slider ranges for the simulator
    feature_max DOUBLE[],
    feature_median DOUBLE[],
    pca_explained DOUBLE[]       -- share of the scaled features' variance per component (NULL before v4)
);
CREATE TABLE IF NOT EXISTS segment_names (  -- where each name came from (no rows for runs stored before it)
    run_id INTEGER,
    segment_id INTEGER,
    source VARCHAR,              -- 'generated', 'carried' (from the previous run's match), 'renamed'
    by_user BOOLEAN,             -- set with `segments rename`, in this run or in the run it was carried from
    from_run INTEGER,            -- carried: the run and segment it came from
    from_segment INTEGER,
    distance DOUBLE,             -- carried: centroid distance in this run's scaled units
    note VARCHAR,                -- why, one sentence (the run report prints it)
    PRIMARY KEY (run_id, segment_id)
);
"""

# A version-1 file (money as DOUBLE) gains the new columns, and its money becomes exact cents.
MIGRATE_1_TO_2 = """
ALTER TABLE runs ALTER revenue TYPE DECIMAL(18,2) USING round(revenue, 2);
ALTER TABLE runs ADD COLUMN money_in DECIMAL(38,8);
ALTER TABLE runs ADD COLUMN warnings VARCHAR[];
ALTER TABLE cleaning_steps ADD COLUMN customers BIGINT;
ALTER TABLE cleaning_steps ADD COLUMN customers_lost BIGINT;
ALTER TABLE cleaning_steps ADD COLUMN money DECIMAL(38,8);
ALTER TABLE customers ALTER monetary TYPE DECIMAL(18,2) USING round(monetary, 2);
ALTER TABLE customers ALTER avg_basket_value TYPE DECIMAL(18,2) USING round(avg_basket_value, 2);
ALTER TABLE segments ALTER revenue TYPE DECIMAL(18,2) USING round(revenue, 2);
"""

# A version-2 file gains the customers' value columns (the value tables are created by SCHEMA).
MIGRATE_2_TO_3 = """
ALTER TABLE customers ADD COLUMN p_alive DOUBLE;
ALTER TABLE customers ADD COLUMN expected_purchases DOUBLE;
ALTER TABLE customers ADD COLUMN predicted_value DECIMAL(18,2);
ALTER TABLE customers ADD COLUMN value_at_risk DECIMAL(18,2);
"""

# A version-3 file gains the PCA's explained variance (its runs keep NULL: the dashboard then shows loadings
# only). IF NOT EXISTS: a file that only claims an older version may already have the column.
MIGRATE_3_TO_4 = """
ALTER TABLE models ADD COLUMN IF NOT EXISTS pca_explained DOUBLE[];
"""

# A version-4 file's runs gain a currency (NULL: unknown; old runs did not record one).
MIGRATE_4_TO_5 = """
ALTER TABLE runs ADD COLUMN IF NOT EXISTS currency VARCHAR;
"""

TABLES = (
    "runs",
    "cleaning_steps",
    "customers",
    "segments",
    "segment_profiles",
    "model_scores",
    "models",
    "value_models",
    "value_backtest",
    "segment_names",
)


def create_schema(con: duckdb.DuckDBPyConnection, catalog: str | None = None) -> None:
    """Create every table (idempotent) in `catalog` (default: the current one); record the schema version."""
    previous = con.execute("SELECT current_database()").fetchone()
    assert previous is not None
    if catalog:
        con.execute("USE " + _quote(catalog))
    try:
        con.execute(SCHEMA)
        row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is not None and row[0] == "1":
            con.execute(MIGRATE_1_TO_2)
        if row is not None and row[0] in ("1", "2"):
            con.execute(MIGRATE_2_TO_3)
        if row is not None and row[0] in ("1", "2", "3"):
            con.execute(MIGRATE_3_TO_4)
        if row is not None and row[0] in ("1", "2", "3", "4"):
            con.execute(MIGRATE_4_TO_5)
        con.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])
    finally:
        con.execute("USE " + _quote(previous[0]))


def _quote(identifier: str) -> str:
    """Quote a catalog name that this module chose itself (never user text)."""
    return '"' + identifier.replace('"', '""') + '"'


@contextlib.contextmanager
def staged_copy(con: duckdb.DuckDBPyConnection, db_path: Path) -> Iterator[None]:
    """Attach a fresh copy of db_path to `con` as catalog `out`; on success swap it in atomically.

    The copy gets a unique name (a killed run's WAL is never replayed into a later run). Any exception
    detaches and deletes the copy and leaves db_path byte-for-byte unchanged. Callers hold run_lock.
    """
    tmp = db_path.with_name(f"{db_path.name}.tmp-{uuid.uuid4().hex}")
    tmp_wal = tmp.with_name(tmp.name + ".wal")
    served_wal = db_path.with_name(db_path.name + ".wal")
    attached = False
    try:
        wal_state = served_file.settle_wal(db_path)
        if db_path.exists():
            shutil.copyfile(db_path, tmp)
        if wal_state == "own":  # ATTACH replays it into the copy, so its writes survive the swap
            shutil.copyfile(served_wal, tmp_wal)
        try:
            con.execute("ATTACH ? AS out", [str(tmp)])
        except duckdb.IOException as exc:
            if "not a valid DuckDB database file" not in str(exc):
                raise
            raise InputError(
                f"{db_path}: not a DuckDB database file; expected one made by `segments run`, or a new path."
            ) from exc
        attached = True
        create_schema(con, "out")
        con.execute("BEGIN TRANSACTION")
        try:
            yield
            con.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(duckdb.Error):
                con.execute("ROLLBACK")
            raise
        con.execute("CHECKPOINT out")
        con.execute("DETACH out")
        attached = False
        if tmp_wal.exists():  # a clean detach leaves none; a WAL beside a swapped-in file breaks readers
            raise RuntimeError(f"{tmp}: a write-ahead log was left after closing; not swapping it in.")
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        if served_wal.exists() and wal_state != "own":
            raise InputError(
                f"{served_wal} appeared during the run: another program opened {db_path} for writing in "
                "place; "
                "close it and run again; nothing was changed."
            )
        os.replace(tmp, db_path)
        if wal_state == "own":
            served_file.warn(
                f"{served_wal.name} held writes made to {db_path.name} in place by another program; they "
                "are kept in the new file and the .wal was removed."
            )
            served_wal.unlink()
        served_file.fsync_dir(db_path.parent)
    finally:
        if attached:
            with contextlib.suppress(duckdb.Error):
                con.execute("DETACH out")
        for path in (tmp, tmp_wal):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


def next_run_id(con: duckdb.DuckDBPyConnection) -> int:
    """The id the next run gets: one more than the largest stored."""
    row = con.execute("SELECT coalesce(max(id), 0) + 1 FROM out.runs").fetchone()
    assert row is not None
    return int(row[0])


def open_read_only(db_path: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection for commands that only read (runs, export); never the served write path."""
    con = duckdb.connect()
    con.execute("ATTACH ? AS seg (READ_ONLY)", [str(db_path)])
    con.execute("USE seg")
    return con


def rename_segment(db_path: Path, run_id: int, segment: str, name: str) -> tuple[str, str]:
    """Rename one segment of a run (copy, update, swap); returns (old name, new name).

    `segment` is the segment id or its current name. Names stay unique within a run.
    """
    name = " ".join(name.split())
    if not db_path.exists():
        raise InputError(f"{db_path}: file not found; expected a database made by `segments run`.")
    if not name or len(name) > 60:
        raise InputError(f"segment name {name!r}: expected 1 to 60 characters.")
    con = duckdb.connect()
    try:
        with run_lock(db_path), staged_copy(con, db_path):
            rows = con.execute(
                "SELECT segment_id, name FROM out.segments WHERE run_id = ? ORDER BY segment_id", [run_id]
            ).fetchall()
            if not rows:
                raise InputError(f"{db_path}: run {run_id} not found; `segments runs` lists the runs.")
            match = [r for r in rows if str(r[0]) == segment.strip() or r[1] == segment.strip()]
            if not match:
                raise InputError(
                    f"{db_path}: run {run_id} has no segment {segment!r}; expected an id or a name from: "
                    + ", ".join(f"{r[0]} {r[1]}" for r in rows)
                    + "."
                )
            segment_id, old = match[0]
            if any(r[1] == name and r[0] != segment_id for r in rows):
                raise InputError(
                    f"{db_path}: run {run_id} already has a segment named {name!r}; "
                    "expected a name not used in the run."
                )
            con.execute(
                "UPDATE out.segments SET name = ? WHERE run_id = ? AND segment_id = ?",
                [name, run_id, segment_id],
            )
            con.execute(  # later runs keep a user's name for the matching segment (carry_over.py)
                "INSERT OR REPLACE INTO out.segment_names "
                "VALUES (?, ?, 'renamed', true, NULL, NULL, NULL, ?)",
                [run_id, segment_id, f"renamed from {old!r} with segments rename"],
            )
    finally:
        con.close()
    return old, name


def list_runs(db_path: Path) -> list[tuple]:
    """Every stored run, newest first: id, time, mode, sources, customers, k, silhouette, stability."""
    if not db_path.exists():
        raise InputError(f"{db_path}: file not found; expected a database made by `segments run`.")
    try:
        con = open_read_only(db_path)
    except duckdb.Error as exc:
        if served_file.is_stray_wal_error(db_path, exc):
            raise InputError(served_file.stray_wal_sentence(db_path)) from exc
        raise
    try:
        return con.execute(
            "SELECT id, created_at, mode, array_to_string(sources, ', '), customers, k, silhouette, "
            "stability_ari, outliers FROM runs ORDER BY id DESC"
        ).fetchall()
    finally:
        con.close()
