"""The independent pandas check (bench/check_features_pandas.py, written from docs/cleaning.md alone) agrees
with a stored run of the bundled sample on every cleaning rule and every customer's features."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb

from segmentation import pipeline
from segmentation.config import RunConfig

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "online_retail_sample.csv"


def sample_run(tmp_path: Path) -> Path:
    db = tmp_path / "sample.duckdb"
    pipeline.run(RunConfig(inputs=(SAMPLE,), db_path=db, progress=False))
    return db


def check(db: Path) -> subprocess.CompletedProcess[str]:
    """Run the bench script as a user would, on the bundled sample against `db`."""
    script = ROOT / "bench" / "check_features_pandas.py"
    return subprocess.run(
        [sys.executable, str(script), "--input", str(SAMPLE), "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_independent_pandas_check_matches_every_rule_and_customer(tmp_path: Path) -> None:
    done = check(sample_run(tmp_path))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert done.stdout.rstrip().endswith("ALL MATCH")
    assert "holds" in done.stdout  # input money = removed + kept, exactly


def test_independent_check_notices_a_wrong_stored_value(tmp_path: Path) -> None:
    """The check can fail: one customer's revenue off by a cent is reported, with exit code 1."""
    db = sample_run(tmp_path)
    with duckdb.connect(str(db)) as con:
        (customer,) = con.execute("SELECT min(customer_id) FROM customers").fetchone()
        con.execute("UPDATE customers SET monetary = monetary + 0.01 WHERE customer_id = ?", [customer])
    done = check(db)
    assert done.returncode == 1 and customer in done.stdout
