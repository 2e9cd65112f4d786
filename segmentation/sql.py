"""All set-work SQL of a run (cleaning, per-customer features, profiles), in one place and written once.

Statements read the tables named in their comments and take only bound parameters ($name); none is
built from user text. They are also the Spark engine's statements: segmentation/spark_engine/dialect.py
transpiles them with sqlglot (DuckDB to Spark SQL), so they are written in a form both engines run (no
ASOF join, ordered aggregate or subquery inside a FILTER; tests/segmentation/test_spark_dialect.py checks
every one) and there is no second copy to drift.
"""

# --- Cleaning of sales lines: lines -> sales (purchase lines kept) + kept_alloc (returned units kept) ----
# The rules are documented in docs/cleaning.md. Money is exact: quantities and prices become DECIMAL(38,4),
# a line's money is |quantity| x unit price (negative for a return), and every sum is a DECIMAL sum.

_UNITS = "TRY_CAST(abs(quantity) AS DECIMAL(18,4))"  # 8 bytes a value; sums are DECIMAL(38,8)
# The unit price given, else the line total over the quantity (docs/cleaning.md, "Line totals").
_PRICE = "TRY_CAST(coalesce(unit_price, line_total / NULLIF(quantity, 0)) AS DECIMAL(18,4))"
_IS_RETURN = "(upper(invoice) LIKE 'C%' OR quantity < 0)"
# A line's signed money: a purchase's line total when the file gives one, else |quantity| x unit price,
# negative for a return; a missing quantity or price counts as 0. A return is always valued by its units
# (returned units are matched to purchases one by one), so the money removed and kept adds up exactly.
LINE_MONEY = (
    f"(CASE WHEN line_total IS NOT NULL AND NOT coalesce({_IS_RETURN}, false) "
    "THEN TRY_CAST(line_total AS DECIMAL(18,4)) "
    f"ELSE (CASE WHEN coalesce({_IS_RETURN}, false) THEN -1 ELSE 1 END) "
    f"* coalesce({_UNITS}, 0) * coalesce({_PRICE}, 0) END)"
)

# Lines, customers and money of the input and after each of the first three row-level rules, and the
# customers each of rules 2 and 3 touched.
ROW_STAGES = """
WITH l AS (
    SELECT customer_id, @LINE_MONEY AS money, invoice_ts IS NOT NULL AS date_ok,
           ($snapshot::DATE IS NULL OR invoice_ts < $snapshot::DATE) AS snap_ok
    FROM lines
), c AS (  -- one row per customer id (one for the missing id): distinct counts without DISTINCT
    SELECT customer_id, count(*) AS n, coalesce(sum(money), 0) AS money,
           count(*) FILTER (WHERE date_ok) AS n2, coalesce(sum(money) FILTER (WHERE date_ok), 0) AS money2,
           count(*) FILTER (WHERE date_ok AND snap_ok) AS n3,
           coalesce(sum(money) FILTER (WHERE date_ok AND snap_ok), 0) AS money3,
           bool_or(NOT date_ok) AS bad_date, bool_or(date_ok AND NOT snap_ok) AS late
    FROM l GROUP BY customer_id
)
SELECT coalesce(sum(n), 0), count(customer_id), coalesce(sum(money), 0),
       coalesce(sum(n) FILTER (WHERE customer_id IS NOT NULL), 0), count(customer_id),
       coalesce(sum(money) FILTER (WHERE customer_id IS NOT NULL), 0),
       coalesce(sum(n2) FILTER (WHERE customer_id IS NOT NULL), 0),
       count(customer_id) FILTER (WHERE n2 > 0),
       coalesce(sum(money2) FILTER (WHERE customer_id IS NOT NULL), 0),
       coalesce(sum(n3) FILTER (WHERE customer_id IS NOT NULL), 0),
       count(customer_id) FILTER (WHERE n3 > 0),
       coalesce(sum(money3) FILTER (WHERE customer_id IS NOT NULL), 0),
       count(customer_id) FILTER (WHERE bad_date),
       count(customer_id) FILTER (WHERE n2 > 0 AND late)
FROM c
""".replace("@LINE_MONEY", LINE_MONEY)

# Customers with at least one exact duplicate line (rule 4 touched them; it never loses one).
DUPLICATE_CUSTOMERS = "SELECT count(DISTINCT customer_id) FILTER (WHERE copies > 1) FROM dedup"

# Lines that pass the row-level rules, exact duplicates collapsed to the first copy (copies: how many there
# were), typed for exact money. line_id is the first copy's row number in `lines`, i.e. the file order
# (rowid follows the order lines were read in), so ties in time are broken the same way every run and the
# way the file lists them.
# From here on customer_id and stock_key are whole numbers: keys into customer_keys and stock_keys, given
# in the texts' sort order (so ordering by the key orders by the text). Every later grouping, window and
# join compares 4-byte integers instead of strings; the texts come back only in what leaves DuckDB.
# Exact duplicates are found in two steps instead of one GROUP BY over every column of every line (a hash
# table of all lines that spilled past the memory limit): the hashes seen more than once, then only the lines
# with such a hash grouped on every column. At 25M lines with 1.7 GiB: 7.3 s instead of 11.7 s, same rows.
_LINE_COLUMNS = (
    "invoice, stock_code, description, quantity, invoice_ts, unit_price, customer_id, country, line_total"
)
_ROW_RULES = """customer_id IS NOT NULL AND invoice_ts IS NOT NULL
      AND ($snapshot::DATE IS NULL OR invoice_ts < $snapshot::DATE)"""
_DEDUPLICATE = (
    """
CREATE OR REPLACE TEMP TABLE customer_keys AS
SELECT customer_id, (row_number() OVER (ORDER BY customer_id))::INTEGER AS customer_key
FROM (SELECT DISTINCT customer_id FROM lines WHERE @ROW_RULES)
""",
    """
CREATE OR REPLACE TEMP TABLE stock_keys AS
SELECT stock_key, (row_number() OVER (ORDER BY stock_key))::INTEGER AS stock_ref
FROM (SELECT DISTINCT coalesce(upper(trim(stock_code)), '') AS stock_key FROM lines WHERE @ROW_RULES)
""",
    """
CREATE OR REPLACE TEMP TABLE shared_hashes AS
SELECT @LINE_HASH AS h FROM lines WHERE @ROW_RULES GROUP BY ALL HAVING count(*) > 1
""",
    """
CREATE OR REPLACE TEMP TABLE dedup AS
WITH d AS (
    -- a line whose hash no other line has is unique: it is its own first copy
    SELECT @LINE_COLUMNS, rowid AS first_row, 1 AS copies
    FROM lines WHERE @ROW_RULES AND @LINE_HASH NOT IN (SELECT h FROM shared_hashes)
    UNION ALL
    -- lines sharing a hash (copies, and the rare different lines whose hashes collide) are grouped on
    -- every column, so only true copies merge
    SELECT @LINE_COLUMNS, min(rowid) AS first_row, count(*) AS copies
    FROM lines WHERE @ROW_RULES AND @LINE_HASH IN (SELECT h FROM shared_hashes)
    GROUP BY ALL
)
SELECT first_row AS line_id,
       k.customer_key AS customer_id, invoice, s.stock_ref AS stock_key, invoice_ts,
       country, coalesce(@IS_RETURN, false) AS is_return, @UNITS AS units, @PRICE AS price,
       @LINE_MONEY AS money, copies
FROM d
JOIN customer_keys k USING (customer_id)
JOIN stock_keys s ON s.stock_key = coalesce(upper(trim(d.stock_code)), '')
""",
)
# Statements run in order, each with the $snapshot parameter.
DEDUPLICATE = tuple(
    q.replace("@LINE_HASH", "hash(@LINE_COLUMNS)")
    .replace("@LINE_COLUMNS", _LINE_COLUMNS)
    .replace("@LINE_MONEY", LINE_MONEY)
    .replace("@ROW_RULES", _ROW_RULES)
    .replace("@IS_RETURN", _IS_RETURN)
    .replace("@UNITS", _UNITS)
    .replace("@PRICE", _PRICE)
    for q in _DEDUPLICATE
)

# Lines, customers and money of a cleaning stage table (every stage has customer_id and money).
STAGE_TOTALS = {
    name: "SELECT count(*), count(DISTINCT customer_id), coalesce(sum(money), 0) FROM @T".replace("@T", name)
    for name in ("dedup", "products", "priced", "kept_lines")
}

# Rule 5: non-product lines (postage, fees, adjustments), by stock key. A view cannot take parameters, so
# the codes go into a small table first.
REMOVE_NON_PRODUCT = """
CREATE OR REPLACE TEMP TABLE non_product_refs AS
SELECT stock_ref FROM stock_keys WHERE stock_key IN (SELECT unnest($codes::VARCHAR[]))
"""
PRODUCTS_VIEW = """
CREATE OR REPLACE TEMP VIEW products AS
SELECT * FROM dedup WHERE stock_key NOT IN (SELECT stock_ref FROM non_product_refs)
"""
NON_PRODUCT_CUSTOMERS = """
SELECT count(DISTINCT customer_id) FROM dedup WHERE stock_key IN (SELECT stock_ref FROM non_product_refs)
"""

# Rule 6: purchases need a positive quantity and price; returns a positive price and quantity.
_PRICED = "units IS NOT NULL AND units > 0 AND price IS NOT NULL AND price > 0"
REMOVE_NON_POSITIVE = """
CREATE OR REPLACE TEMP VIEW priced AS SELECT * FROM products WHERE @PRICED
""".replace("@PRICED", _PRICED)
NON_POSITIVE_CUSTOMERS = """
SELECT count(DISTINCT customer_id) FROM products WHERE NOT coalesce(@PRICED, false)
""".replace("@PRICED", _PRICED)

# Rule 7: returns matched first in, first out to earlier purchase lines of the same customer and stock key.
# Per group, purchases laid end to end in (time, line) order occupy units [cum_start, cum_end); the first
# k returns match M_k = R_k + min(0, min_{j<=k} (P(t_j) - R_j)) units (P(t): units bought at or before t,
# R: units returned so far), so return k takes the purchased units [M_(k-1), M_k).
MATCH_RETURNS = """
CREATE OR REPLACE TEMP VIEW bought AS
SELECT line_id, customer_id, stock_key, invoice, invoice_ts, units, price, money
FROM priced WHERE NOT is_return;

-- only purchases of a (customer, stock key) with a return can be matched: the running sums skip the rest
CREATE OR REPLACE TEMP TABLE bought_cum AS
SELECT line_id, customer_id, stock_key, invoice_ts,
       (sum(units) OVER w) - units AS cum_start, sum(units) OVER w AS cum_end
FROM bought
SEMI JOIN (SELECT DISTINCT customer_id, stock_key FROM priced WHERE is_return) k
  USING (customer_id, stock_key)
WINDOW w AS (PARTITION BY customer_id, stock_key ORDER BY invoice_ts, line_id
             ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW);

CREATE OR REPLACE TEMP TABLE returned AS
WITH r AS (
    -- purchases and returns of a group in one (time, purchases first, line) order: at a return, the running
    -- purchase units are P(t) (every purchase at or before its time) and the running return units R
    SELECT line_id, customer_id, stock_key, invoice_ts, units, price, is_return,
           sum(CASE WHEN is_return THEN 0 ELSE units END) OVER w AS bought_so_far,
           sum(CASE WHEN is_return THEN units ELSE 0 END) OVER w AS returned_so_far
    FROM priced
    SEMI JOIN (SELECT DISTINCT customer_id, stock_key FROM priced WHERE is_return) k
      USING (customer_id, stock_key)
    WINDOW w AS (PARTITION BY customer_id, stock_key ORDER BY invoice_ts, is_return, line_id
                 ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
), m AS (
    SELECT *, returned_so_far + least(0, min(bought_so_far - returned_so_far) OVER (
                  PARTITION BY customer_id, stock_key ORDER BY invoice_ts, line_id
                  ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)) AS m_end
    FROM r WHERE is_return
)
SELECT line_id, customer_id, stock_key, invoice_ts, units, price,
       coalesce(lag(m_end) OVER (PARTITION BY customer_id, stock_key ORDER BY invoice_ts, line_id), 0)
           AS m_start,
       m_end
FROM m;

CREATE OR REPLACE TEMP TABLE alloc AS
SELECT b.line_id AS purchase_id, r.line_id AS return_id, r.customer_id,
       least(b.cum_end, r.m_end) - greatest(b.cum_start, r.m_start) AS units, r.price
FROM returned r
JOIN bought_cum b
  ON b.customer_id = r.customer_id AND b.stock_key = r.stock_key
 AND b.cum_start < r.m_end AND b.cum_end > r.m_start;

CREATE OR REPLACE TEMP VIEW matched AS
SELECT * FROM priced
WHERE NOT is_return OR line_id IN (SELECT return_id FROM alloc);
"""
# Money and customers of the unmatched part of every return (whole lines and the rest of partial ones).
UNMATCHED_RETURNS = """
SELECT coalesce(sum(-(r.units - coalesce(a.units, 0)) * r.price), 0),
       count(DISTINCT r.customer_id) FILTER (WHERE r.units > coalesce(a.units, 0))
FROM returned r
LEFT JOIN (SELECT return_id, sum(units) AS units FROM alloc GROUP BY ALL) a ON a.return_id = r.line_id
"""

# Rule 8: the stated outlier limits, over the purchase lines left after rule 6.
OUTLIER_LIMITS = """
SELECT $factor * quantile_cont(units::DOUBLE, 0.99), $factor * quantile_cont(price::DOUBLE, 0.99)
FROM bought
"""
# Purchase lines whose net units (less their matched returned units) or price exceed the limits.
FIND_OUTLIERS = """
CREATE OR REPLACE TEMP TABLE outliers AS
SELECT b.line_id, b.customer_id, b.money
FROM bought b
LEFT JOIN (SELECT purchase_id, sum(units) AS units FROM alloc GROUP BY ALL) a ON a.purchase_id = b.line_id
WHERE $qty_limit::DOUBLE IS NOT NULL
  AND b.units > coalesce(a.units, 0)  -- a purchase cancelled in full is an order worth nothing, kept
  AND ((b.units - coalesce(a.units, 0))::DOUBLE > $qty_limit OR b.price::DOUBLE > $price_limit)
"""
# Rule 9: returned units matched to removed purchase lines, by money; kept_alloc is what stays.
REMOVED_PURCHASE_RETURNS = """
CREATE OR REPLACE TEMP TABLE kept_alloc AS
SELECT * FROM alloc WHERE purchase_id NOT IN (SELECT line_id FROM outliers);

SELECT coalesce(sum(-units * price), 0), count(DISTINCT customer_id)
FROM alloc WHERE purchase_id IN (SELECT line_id FROM outliers);
"""
# The lines kept in the end: purchase lines that are not outliers, returns with units matched to them.
KEEP_LINES = """
CREATE OR REPLACE TEMP VIEW sales AS
SELECT * FROM priced WHERE NOT is_return AND line_id NOT IN (SELECT line_id FROM outliers);

CREATE OR REPLACE TEMP VIEW kept_lines AS
SELECT line_id, customer_id, money FROM sales
UNION ALL
SELECT r.line_id, r.customer_id, -a.units * r.price AS money
FROM returned r JOIN (SELECT return_id, sum(units) AS units FROM kept_alloc GROUP BY ALL) a
  ON a.return_id = r.line_id;
"""
# Lines and customers after rule 7 (returns kept whole or in part) and after rule 8 (outliers out; their
# returns are still there until rule 9), and the customers rule 8 touched.
MATCH_OUTLIER_STAGES = """
SELECT count(*), count(DISTINCT m.customer_id),
       count(*) FILTER (WHERE o.line_id IS NULL),
       count(DISTINCT m.customer_id) FILTER (WHERE o.line_id IS NULL),
       (SELECT count(DISTINCT customer_id) FROM outliers),
       (SELECT coalesce(sum(money), 0) FROM outliers),
       (SELECT count(*) FROM outliers)
FROM matched m LEFT JOIN outliers o ON o.line_id = m.line_id  -- a subquery may not sit in a FILTER in Spark
"""

LAST_SALE = "SELECT max(invoice_ts), min(invoice_ts) FROM sales"
COUNT_SALES = "SELECT count(*) FROM sales"

# --- Per-customer features as of the snapshot date: sales + kept_alloc -> features ----------------

# Half away from zero to whole cents of n / d, exactly: n is a DECIMAL with at most 8 places, d > 0.
ROUND_DIV_CENTS = (
    "(sign({n}) * ((abs(CAST({n} * 100000000 AS HUGEINT)) * 2 + {d} * 1000000)"
    " // ({d} * 2000000)))::DECIMAL(38,0) * 0.01"
)

FEATURES = """
CREATE OR REPLACE TEMP TABLE features AS
WITH bought AS (
    SELECT customer_id,
           count(DISTINCT invoice) AS frequency,
           sum(money) AS gross,  -- units x price, or the line total the file gives
           sum(units) AS units,
           min(invoice_ts) AS first_purchase,
           max(invoice_ts) AS last_purchase
    FROM sales
    GROUP BY customer_id
), returned AS (
    SELECT customer_id, sum(units * price) AS value, sum(units) AS units
    FROM kept_alloc
    GROUP BY customer_id
), net_by_product AS (
    SELECT s.customer_id, s.stock_key, sum(s.units) - coalesce(max(r.units), 0) AS units
    FROM sales s
    LEFT JOIN (SELECT a.customer_id, b.stock_key, sum(a.units) AS units
               FROM kept_alloc a JOIN sales b ON b.line_id = a.purchase_id GROUP BY ALL) r
      ON r.customer_id = s.customer_id AND r.stock_key = s.stock_key
    GROUP BY ALL
), products AS (
    SELECT customer_id, count(*) FILTER (WHERE units > 0) AS distinct_products
    FROM net_by_product GROUP BY customer_id
), by_country AS (
    SELECT customer_id, coalesce(country, 'Unknown') AS country, count(*) AS n
    FROM sales
    GROUP BY ALL
), main_country AS (
    -- the country of most kept purchase lines; ties go to the first name alphabetically
    SELECT customer_id, country
    FROM (SELECT customer_id, country,
                 row_number() OVER (PARTITION BY customer_id ORDER BY n DESC, country) AS place
          FROM by_country)
    WHERE place = 1
), net AS (
    SELECT b.*, b.gross - coalesce(r.value, 0) AS net_money, coalesce(r.value, 0) AS returned_money,
           b.units - coalesce(r.units, 0) AS net_units
    FROM bought b LEFT JOIN returned r USING (customer_id)
)
SELECT k.customer_id,
       c.country,
       n.first_purchase,
       n.last_purchase,
       date_diff('day', n.last_purchase::DATE, $snapshot::DATE)::INTEGER AS recency_days,
       n.frequency::INTEGER AS frequency,
       round(n.net_money, 2)::DECIMAL(18,2) AS monetary,
       n.net_units::DOUBLE AS quantity,
       (@AVG)::DECIMAL(18,2) AS avg_basket_value,
       date_diff('day', n.first_purchase::DATE, $snapshot::DATE)::INTEGER AS tenure_days,
       p.distinct_products::INTEGER AS distinct_products,
       round(least(n.returned_money / n.gross, 1.0), 4)::DOUBLE AS return_rate
FROM net n
JOIN main_country c USING (customer_id)
JOIN products p USING (customer_id)
JOIN customer_keys k ON k.customer_key = n.customer_id
ORDER BY n.customer_id
""".replace("@AVG", ROUND_DIV_CENTS.format(n="n.net_money", d="n.frequency"))

# --- Customer-table mode: customer_rows -> features ------------------------------------------------

_FEATURES_OK = "list_count(features) = len(features) AND isfinite(list_sum(features))"
CUSTOMER_ROW_RULES = """
SELECT count(*) AS rows_in,
       count(DISTINCT customer_id) AS customers,
       count(*) FILTER (WHERE customer_id IS NULL) AS missing_customer_id,
       count(*) FILTER (WHERE customer_id IS NOT NULL AND NOT coalesce(@FEATURES_OK, false)),
       count(DISTINCT customer_id) FILTER (WHERE coalesce(@FEATURES_OK, false)),
       count(DISTINCT customer_id) FILTER (WHERE NOT coalesce(@FEATURES_OK, false))
FROM customer_rows
""".replace("@FEATURES_OK", _FEATURES_OK)

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
