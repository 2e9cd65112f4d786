"""The models' inputs from the cleaned purchases of a run, in days: purchase occasions are the distinct days
with a kept purchase, worth the day's net money (its purchase lines less the returns matched to them)."""

from __future__ import annotations

from datetime import date

import duckdb
import numpy as np
import pandas as pd

# Reads `sales` and `kept_alloc` (segmentation.sql); one row per customer and purchase day. customer_id is
# the cleaning's integer key; customer_keys turns it back into the text id.
PURCHASE_DAYS = """
CREATE OR REPLACE TEMP TABLE purchase_days AS
WITH returned AS (
    SELECT purchase_id, sum(units * price) AS money FROM kept_alloc GROUP BY purchase_id
)
SELECT s.customer_id, s.invoice_ts::DATE AS day, sum(s.units * s.price - coalesce(r.money, 0)) AS value
FROM sales s LEFT JOIN returned r ON r.purchase_id = s.line_id
GROUP BY ALL
"""

# Per customer with a purchase day before $cutoff (NULL: every day): x = repeat purchase days, t_x = days
# from the first to the last purchase day, T = days from the first purchase day to $end (the last day
# observed), m = mean net value of the repeat purchase days (NULL without one).
RFM_T = """
WITH d AS (
    SELECT * FROM purchase_days WHERE $cutoff::DATE IS NULL OR day < $cutoff::DATE
), c AS (
    SELECT customer_id, min(day) AS first_day, max(day) AS last_day, count(*) AS n,
           sum(value) AS total, arg_min(value, day) AS first_value
    FROM d GROUP BY customer_id
)
SELECT k.customer_id, (n - 1)::DOUBLE AS x, date_diff('day', first_day, last_day)::DOUBLE AS t_x,
       date_diff('day', first_day, $end::DATE)::DOUBLE AS T,
       CASE WHEN n > 1 THEN ((total - first_value) / (n - 1))::DOUBLE END AS m
FROM c JOIN customer_keys k ON k.customer_key = c.customer_id
ORDER BY c.customer_id
"""

# Purchase days on or after $cutoff per customer (the holdout's actual purchases).
HOLDOUT_ACTUAL = """
SELECT k.customer_id, count(*)::DOUBLE AS actual
FROM purchase_days d JOIN customer_keys k ON k.customer_key = d.customer_id
WHERE d.day >= $cutoff::DATE GROUP BY k.customer_id
"""


def prepare(con: duckdb.DuckDBPyConnection) -> None:
    """Build `purchase_days` from the cleaned purchases (call after cleaning)."""
    con.execute(PURCHASE_DAYS)


def rfm_t(con: duckdb.DuckDBPyConnection, end: date, cutoff: date | None = None) -> pd.DataFrame:
    """customer_id, x, t_x, T, m (NaN without repeat purchases) for customers who bought before cutoff."""
    frame = con.execute(RFM_T, {"end": end, "cutoff": cutoff}).df()
    frame["customer_id"] = frame["customer_id"].astype(str)
    frame["m"] = frame["m"].astype(float)
    return frame


def holdout_actual(con: duckdb.DuckDBPyConnection, cutoff: date) -> pd.Series:
    """Purchase days on or after cutoff, by customer id."""
    frame = con.execute(HOLDOUT_ACTUAL, {"cutoff": cutoff}).df()
    return pd.Series(frame["actual"].to_numpy(dtype=np.float64), index=frame["customer_id"].astype(str))
