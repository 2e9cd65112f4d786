"""All set-work SQL of a run (cleaning, per-customer features, profiles), in one place and written once.

Statements read the tables named in their comments and take only bound parameters ($name); none is
built from user text. Keeping them here, apart from the Python that runs them, is what lets the same
cleaning and feature logic be ported to another engine (Spark SQL) in one file.
"""

# --- Cleaning of sales lines: lines -> sales (purchases kept) + returns (cancellations/returns) -------

# Counts of the row-level rules, applied in order on `lines` (one row per input line).
COUNT_ROW_RULES = """
SELECT count(*) AS rows_in,
       count(*) FILTER (WHERE customer_id IS NULL) AS missing_customer_id,
       count(*) FILTER (WHERE customer_id IS NOT NULL AND invoice_ts IS NULL) AS unparseable_date,
       count(*) FILTER (WHERE customer_id IS NOT NULL AND invoice_ts IS NOT NULL
                          AND $snapshot::DATE IS NOT NULL AND invoice_ts >= $snapshot::DATE) AS after_snapshot
FROM lines
"""

# Lines that pass the row-level rules, exact duplicates collapsed to one.
DEDUPLICATE = """
CREATE OR REPLACE TEMP TABLE dedup AS
SELECT DISTINCT invoice, stock_code, description, quantity, invoice_ts, unit_price, customer_id, country
FROM lines
WHERE customer_id IS NOT NULL AND invoice_ts IS NOT NULL
  AND ($snapshot::DATE IS NULL OR invoice_ts < $snapshot::DATE)
"""

# A cancellation (invoice starting with C) or any negative quantity is a return, not a purchase.
SPLIT_RETURNS = """
CREATE OR REPLACE TEMP TABLE returns AS
SELECT customer_id, invoice, invoice_ts, abs(quantity) AS quantity,
       greatest(coalesce(unit_price, 0), 0) AS unit_price
FROM dedup
WHERE upper(invoice) LIKE 'C%' OR quantity < 0
"""

# Purchases with a positive quantity and price; the line-outlier limits are computed from these.
POSITIVE_PURCHASES = """
CREATE OR REPLACE TEMP TABLE purchases AS
SELECT * FROM dedup
WHERE NOT (upper(invoice) LIKE 'C%' OR quantity < 0)
  AND quantity > 0 AND unit_price > 0
"""

COUNT_TABLE = {
    "dedup": "SELECT count(*) FROM dedup",
    "returns": "SELECT count(*) FROM returns",
    "purchases": "SELECT count(*) FROM purchases",
    "sales": "SELECT count(*) FROM sales",
}

# The stated outlier rule: a line whose quantity or unit price is above factor x its 99th percentile.
OUTLIER_LIMITS = """
SELECT $factor * quantile_cont(quantity, 0.99), $factor * quantile_cont(unit_price, 0.99) FROM purchases
"""

REMOVE_OUTLIERS = """
CREATE OR REPLACE TEMP TABLE sales AS
SELECT * FROM purchases
WHERE $qty_limit::DOUBLE IS NULL OR (quantity <= $qty_limit AND unit_price <= $price_limit)
"""

LAST_SALE = "SELECT max(invoice_ts), min(invoice_ts) FROM sales"

# --- Per-customer features as of the snapshot date: sales + returns -> features -------------------

FEATURES = """
CREATE OR REPLACE TEMP TABLE features AS
WITH bought AS (
    SELECT customer_id,
           count(DISTINCT invoice) AS frequency,
           sum(quantity * unit_price) AS gross,
           sum(quantity) AS quantity,
           count(DISTINCT stock_code) AS distinct_products,
           min(invoice_ts) AS first_purchase,
           max(invoice_ts) AS last_purchase
    FROM sales
    GROUP BY customer_id
), by_country AS (
    SELECT customer_id, coalesce(country, 'Unknown') AS country, count(*) AS n
    FROM sales
    GROUP BY ALL
), main_country AS (
    -- the most frequent country; ties go to the first name alphabetically, so runs repeat exactly
    SELECT customer_id, first(country ORDER BY n DESC, country) AS country
    FROM by_country
    GROUP BY customer_id
), returned AS (
    SELECT customer_id, sum(quantity * unit_price) AS value
    FROM returns
    GROUP BY customer_id
)
SELECT b.customer_id,
       c.country,
       b.first_purchase,
       b.last_purchase,
       date_diff('day', b.last_purchase::DATE, $snapshot::DATE)::INTEGER AS recency_days,
       b.frequency::INTEGER AS frequency,
       round(b.gross - coalesce(r.value, 0), 2) AS monetary,  -- money in cents, not float noise
       b.quantity::DOUBLE AS quantity,
       round(b.gross / b.frequency, 2) AS avg_basket_value,
       date_diff('day', b.first_purchase::DATE, $snapshot::DATE)::INTEGER AS tenure_days,
       b.distinct_products::INTEGER AS distinct_products,
       round(least(coalesce(r.value, 0) / b.gross, 1.0), 4) AS return_rate
FROM bought b
JOIN main_country c USING (customer_id)
LEFT JOIN returned r USING (customer_id)
ORDER BY b.customer_id
"""

# --- Customer-table mode: customer_rows -> features ------------------------------------------------

CUSTOMER_ROW_RULES = """
SELECT count(*) AS rows_in,
       count(*) FILTER (WHERE customer_id IS NULL) AS missing_customer_id,
       count(*) FILTER (WHERE customer_id IS NOT NULL
                          AND (list_count(features) < len(features) OR NOT isfinite(list_sum(features)))
                       ) AS missing_feature
FROM customer_rows
"""

CUSTOMER_DEDUP = """
CREATE OR REPLACE TEMP TABLE customer_dedup AS
SELECT DISTINCT customer_id, country, tenure_days, features
FROM customer_rows
WHERE customer_id IS NOT NULL
  AND list_count(features) = len(features)
  AND isfinite(list_sum(features))  -- NaN or infinity anywhere makes the sum non-finite
"""

CUSTOMER_CONFLICTS = """
SELECT customer_id, count(*) AS n FROM customer_dedup GROUP BY customer_id HAVING count(*) > 1
ORDER BY customer_id LIMIT 1
"""

CUSTOMER_FEATURES = """
CREATE OR REPLACE TEMP TABLE features AS
SELECT customer_id, coalesce(country, 'Unknown') AS country, tenure_days::INTEGER AS tenure_days, features
FROM customer_dedup
ORDER BY customer_id
"""

# --- Profiles of the stored run: out.customers -> out.segment_profiles ------------------------------

# Transactions mode: every stored feature column, long form; segment -1 is the whole population.
PROFILE_TRANSACTIONS = """
INSERT INTO out.segment_profiles
WITH long AS (
    UNPIVOT (SELECT segment_id, recency_days::DOUBLE AS recency_days, frequency::DOUBLE AS frequency,
                    monetary, quantity, avg_basket_value, tenure_days::DOUBLE AS tenure_days,
                    distinct_products::DOUBLE AS distinct_products, return_rate
             FROM out.customers WHERE run_id = $run)
    ON recency_days, frequency, monetary, quantity, avg_basket_value, tenure_days, distinct_products,
       return_rate
    INTO NAME feature VALUE v
)
SELECT $run, coalesce(segment_id, -1), feature, avg(v), median(v), quantile_cont(v, 0.25),
       quantile_cont(v, 0.75), min(v), max(v)
FROM long
GROUP BY GROUPING SETS ((segment_id, feature), (feature))
"""

# Customer-table mode: the user's features, from the features list and the run's feature names.
PROFILE_CUSTOMERS = """
INSERT INTO out.segment_profiles
WITH long AS (
    SELECT segment_id, unnest($names::VARCHAR[]) AS feature, unnest(features) AS v
    FROM out.customers WHERE run_id = $run
)
SELECT $run, coalesce(segment_id, -1), feature, avg(v), median(v), quantile_cont(v, 0.25),
       quantile_cont(v, 0.75), min(v), max(v)
FROM long
GROUP BY GROUPING SETS ((segment_id, feature), (feature))
"""

SEGMENT_TOTALS = """
SELECT segment_id, count(*) AS size, coalesce(sum(monetary), 0) AS revenue,
       count(*) FILTER (WHERE is_outlier) AS outliers
FROM out.customers WHERE run_id = $run
GROUP BY segment_id ORDER BY segment_id
"""
