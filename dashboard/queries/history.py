"""The History page's data: every run with its parameters and scores, and how customers moved between two.

A migration is one aggregate over a full outer join of the two runs' customers on customer_id, grouped by
(segment in A, segment in B): at most (k_A + 1) x (k_B + 1) rows, whatever the number of customers.
Run ids from the browser are checked against the stored runs (`choose_runs`) before they reach a query.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from dashboard import queries

_RUNS_SQL = """
SELECT id, created_at, mode, sources, snapshot_date, customers, features, scaler, algorithm, k, k_reason,
       seed, silhouette, davies_bouldin, calinski_harabasz, stability_ari, outliers, revenue, duration_s,
       rows_in, rows_clean
FROM seg.runs WHERE coalesce(status, 'ok') = 'ok' ORDER BY id DESC
"""

_MIGRATION_SQL = """
WITH a AS (SELECT customer_id, segment_id FROM seg.customers WHERE run_id = $run_a),
b AS (SELECT customer_id, segment_id FROM seg.customers WHERE run_id = $run_b),
moves AS (
    SELECT a.customer_id IS NOT NULL AS in_a, b.customer_id IS NOT NULL AS in_b,
           a.segment_id AS segment_a, b.segment_id AS segment_b, count(*) AS customers
    FROM a FULL OUTER JOIN b ON a.customer_id = b.customer_id
    GROUP BY ALL
)
SELECT m.in_a, m.in_b, m.segment_a, sa.name AS name_a, m.segment_b, sb.name AS name_b, m.customers
FROM moves AS m
LEFT JOIN seg.segments AS sa ON sa.run_id = $run_a AND sa.segment_id = m.segment_a
LEFT JOIN seg.segments AS sb ON sb.run_id = $run_b AND sb.segment_id = m.segment_b
ORDER BY m.segment_a NULLS LAST, m.segment_b NULLS LAST
"""


def runs_table() -> pd.DataFrame:
    """Every finished run, newest first, with its parameters and quality scores."""
    return queries.fetch_df(_RUNS_SQL)


def run_ids() -> list[int]:
    """The finished runs' ids, newest first (NoData when the file is missing or has no tables)."""
    return [
        int(r[0])
        for r in queries.fetch_all(
            "SELECT id FROM seg.runs WHERE coalesce(status, 'ok') = 'ok' ORDER BY id DESC"
        )
    ]


def choose_runs(run_a: Any, run_b: Any, ids: list[int] | None = None) -> tuple[int, int] | None:
    """Two valid run ids from untrusted values: A defaults to the second-latest run, B to the latest.

    None when fewer than two runs exist (there is nothing to compare).
    """
    ids = run_ids() if ids is None else ids
    if len(ids) < 2:
        return None
    a, b = _run_id(run_a, ids), _run_id(run_b, ids)
    return (ids[1] if a is None else a), (ids[0] if b is None else b)


def _run_id(value: Any, ids: list[int]) -> int | None:
    """value as one of ids (an int or a short digit string), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and 0 < len(value.strip()) <= 10 and value.strip().isdigit():
        value = int(value.strip())
    return value if isinstance(value, int) and value in ids else None


@dataclass(frozen=True)
class Migration:
    """Customers of run A and run B by segment: moved (in both), left (A only), new (B only)."""

    run_a: int
    run_b: int
    flows: pd.DataFrame  # segment_a, name_a, segment_b, name_b, customers: in both runs
    left: pd.DataFrame  # segment_a, name_a, customers: in A only
    new: pd.DataFrame  # segment_b, name_b, customers: in B only

    @property
    def both(self) -> int:
        """Customers present in both runs."""
        return int(self.flows["customers"].sum())

    @property
    def only_a(self) -> int:
        """Customers of A missing from B (left)."""
        return int(self.left["customers"].sum())

    @property
    def only_b(self) -> int:
        """Customers of B missing from A (new)."""
        return int(self.new["customers"].sum())


def _named(df: pd.DataFrame, id_column: str, name_column: str) -> pd.DataFrame:
    """Segment ids as ints and a name for every id (a placeholder where the run stored none)."""
    df = df.copy()
    df[id_column] = df[id_column].fillna(-1).astype("int64")
    missing = df[name_column].isna()
    df[name_column] = df[name_column].astype(object)
    df.loc[missing, name_column] = [f"Segment {s}" for s in df.loc[missing, id_column]]
    df["customers"] = df["customers"].astype("int64")
    return df.reset_index(drop=True)


def migration(run_a: int, run_b: int) -> Migration:
    """How the customers of run A are spread over run B's segments, plus those in only one run."""
    df = queries.fetch_df(_MIGRATION_SQL, {"run_a": int(run_a), "run_b": int(run_b)})
    both = df[df["in_a"] & df["in_b"]]
    left = df[df["in_a"] & ~df["in_b"]]
    new = df[~df["in_a"] & df["in_b"]]
    flows = _named(
        _named(both[["segment_a", "name_a", "segment_b", "name_b", "customers"]], "segment_a", "name_a"),
        "segment_b",
        "name_b",
    )
    return Migration(
        int(run_a),
        int(run_b),
        flows,
        _named(left[["segment_a", "name_a", "customers"]], "segment_a", "name_a"),
        _named(new[["segment_b", "name_b", "customers"]], "segment_b", "name_b"),
    )
