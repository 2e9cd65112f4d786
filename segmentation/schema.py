"""The DuckDB file's tables (the contract between segmentation and dashboard) and the migrations that bring
an older file up to the current version (store.create_schema applies them)."""

SCHEMA_VERSION = 6  # 2: exact money (DECIMAL), cleaning customers/money, run warnings; 3: customer value;
# 4: the PCA's explained variance; 5: the run's currency; 6: customer attributes (attr_numbers, attr_texts;
# the attribute tables) and customers.country_code. (segment_names and the attribute tables are new tables
# that SCHEMA creates in any file, so they need no migration; readers of older files find them absent or
# empty.)

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
    attr_numbers DOUBLE[],       -- numeric attributes (--attributes), in attribute_columns' slot order
    attr_texts VARCHAR[],        -- category attributes, likewise; NULL: no attributes row for the customer
    country_code SMALLINT,       -- the country's 1-based rank among the run's countries in text order (the
                                 -- dashboard groups and filters on it; NULL in runs stored before v6)
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
CREATE TABLE IF NOT EXISTS attribute_columns (  -- the columns of a run's --attributes table (none: no rows)
    run_id INTEGER,
    position INTEGER,            -- order in the attributes file
    name VARCHAR,                -- the column's name in the file
    kind VARCHAR,                -- 'number' (in customers.attr_numbers) or 'category' (in attr_texts)
    slot INTEGER,                -- 1-based index into attr_numbers or attr_texts
    in_model BOOLEAN,            -- named by --use: a model feature (missing values: the median)
    customers_with BIGINT,       -- customers of the run with a value in this column
    distinct_values BIGINT,
    min_value DOUBLE,            -- numbers: the range among the run's customers (the filter's slider)
    max_value DOUBLE,
    categories VARCHAR[],        -- categories: the values, commonest first (at most 1,000: the filter's list)
    PRIMARY KEY (run_id, position)
);
CREATE TABLE IF NOT EXISTS attribute_sources (  -- how a run's attributes matched its customers
    run_id INTEGER PRIMARY KEY,
    source VARCHAR,              -- the file or address (no password)
    key_column VARCHAR,
    rows_in BIGINT,              -- attribute rows read
    rows_without_key BIGINT,     -- rows with an empty key (not used)
    customers_matched BIGINT,    -- customers of the run with an attributes row
    customers_missing BIGINT,    -- customers of the run without one
    rows_unmatched BIGINT        -- attribute rows whose key is no customer of the run
);
CREATE TABLE IF NOT EXISTS segment_categories (  -- per segment, each category attribute's commonest values
    run_id INTEGER,
    segment_id INTEGER,          -- -1: the whole population
    attribute VARCHAR,
    value VARCHAR,               -- NULL: no value
    customers BIGINT,
    share DOUBLE,                -- of the segment's customers
    rank INTEGER,                -- 1: the commonest in the segment
    PRIMARY KEY (run_id, segment_id, attribute, rank)
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
    "attribute_columns",
    "attribute_sources",
    "segment_categories",
)

# A version-5 file's customers gain the attribute lists (the attribute tables are created by SCHEMA).
MIGRATE_5_TO_6 = """
ALTER TABLE customers ADD COLUMN IF NOT EXISTS attr_numbers DOUBLE[];
ALTER TABLE customers ADD COLUMN IF NOT EXISTS attr_texts VARCHAR[];
ALTER TABLE customers ADD COLUMN IF NOT EXISTS country_code SMALLINT;
"""
