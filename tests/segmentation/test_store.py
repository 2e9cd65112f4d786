"""The DuckDB file: atomic swap, untouched on failure or kill, readable while replaced, rename."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from segmentation import pipeline, store
from segmentation.config import RunConfig
from segmentation.errors import InputError

ROOT = Path(__file__).resolve().parents[2]


def test_failed_write_leaves_the_file_byte_for_byte_unchanged(db_copy: Path) -> None:
    before = db_copy.read_bytes()
    con = duckdb.connect()
    with pytest.raises(RuntimeError, match="boom"), store.run_lock(db_copy), store.staged_copy(con, db_copy):
        con.execute("INSERT INTO out.runs (id, status) VALUES (99, 'ok')")
        raise RuntimeError("boom")
    assert db_copy.read_bytes() == before
    assert sorted(p.name for p in db_copy.parent.iterdir()) == ["segments.duckdb", "segments.duckdb.lock"]


def test_a_reader_keeps_its_file_while_a_run_swaps_in_a_new_one(db_copy: Path, small_csv: Path) -> None:
    reader = store.open_read_only(db_copy)
    pipeline.run(RunConfig(inputs=(small_csv,), db_path=db_copy, progress=False, k=3))
    assert reader.execute("SELECT count(*) FROM runs").fetchone() == (1,)  # still the old file
    reader.close()
    fresh = store.open_read_only(db_copy)
    assert fresh.execute("SELECT id, k FROM runs ORDER BY id").fetchall()[-1] == (2, 3)
    assert not Path(str(db_copy) + ".wal").exists()


def test_a_run_killed_before_the_swap_leaves_the_old_file_intact(db_copy: Path, small_csv: Path) -> None:
    before = db_copy.read_bytes()
    code = (
        "import sys; from segmentation.cli import main; "
        f"sys.exit(main(['run', {str(small_csv)!r}, '--db', {str(db_copy)!r}, '--quiet']))"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)
    deadline = time.monotonic() + 120
    while not list(db_copy.parent.glob("segments.duckdb.tmp-*")):
        assert proc.poll() is None, "the run ended before its temp file was seen"
        assert time.monotonic() < deadline
        time.sleep(0.001)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert db_copy.read_bytes() == before
    assert list(db_copy.parent.glob("segments.duckdb.tmp-*"))  # the dead run's leftover
    summary = pipeline.run(RunConfig(inputs=(small_csv,), db_path=db_copy, progress=False))
    assert summary.run_id == 2
    assert not list(db_copy.parent.glob("segments.duckdb.tmp-*"))  # removed under the run lock


def test_rename_by_id_or_name_and_names_stay_unique(db_copy: Path) -> None:
    con = store.open_read_only(db_copy)
    names = [r[0] for r in con.execute("SELECT name FROM segments ORDER BY segment_id").fetchall()]
    con.close()
    assert store.rename_segment(db_copy, 1, "0", "VIP") == (names[0], "VIP")
    assert store.rename_segment(db_copy, 1, "VIP", "Top customers") == ("VIP", "Top customers")
    before = db_copy.read_bytes()
    with pytest.raises(InputError) as err:
        store.rename_segment(db_copy, 1, "1", "Top customers")
    assert str(err.value) == (
        f"{db_copy}: run 1 already has a segment named 'Top customers'; expected a name not used in the run."
    )
    with pytest.raises(InputError) as err:
        store.rename_segment(db_copy, 7, "1", "X")
    assert str(err.value) == f"{db_copy}: run 7 not found; `segments runs` lists the runs."
    assert db_copy.read_bytes() == before


V1_DOWNGRADE = """
DROP TABLE value_models;
DROP TABLE value_backtest;
ALTER TABLE customers DROP COLUMN p_alive;
ALTER TABLE customers DROP COLUMN expected_purchases;
ALTER TABLE customers DROP COLUMN predicted_value;
ALTER TABLE customers DROP COLUMN value_at_risk;
ALTER TABLE runs DROP COLUMN money_in;
ALTER TABLE runs DROP COLUMN warnings;
ALTER TABLE runs ALTER revenue TYPE DOUBLE;
ALTER TABLE cleaning_steps DROP COLUMN customers;
ALTER TABLE cleaning_steps DROP COLUMN customers_lost;
ALTER TABLE cleaning_steps DROP COLUMN money;
ALTER TABLE customers ALTER monetary TYPE DOUBLE;
ALTER TABLE customers ALTER avg_basket_value TYPE DOUBLE;
ALTER TABLE segments ALTER revenue TYPE DOUBLE;
ALTER TABLE models DROP COLUMN pca_explained;
ALTER TABLE runs DROP COLUMN currency;
ALTER TABLE customers DROP COLUMN attr_numbers;
ALTER TABLE customers DROP COLUMN attr_texts;
ALTER TABLE customers DROP COLUMN country_code;
UPDATE meta SET value = '1' WHERE key = 'schema_version';
"""


def test_a_version_1_file_is_migrated_by_the_next_run(db_copy: Path, small_csv: Path) -> None:
    """A file written before exact money (DOUBLE money, no cleaning money) takes a new run and keeps run 1."""
    with duckdb.connect(str(db_copy)) as con:
        con.execute(V1_DOWNGRADE)
        before = con.execute("SELECT customer_id, monetary FROM customers ORDER BY 1").fetchall()
    pipeline.run(RunConfig(inputs=(small_csv,), db_path=db_copy, progress=False))
    con = store.open_read_only(db_copy)
    assert con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("6",)
    # run 1 predates currencies (unknown); run 2 knows the Online Retail layout's pounds
    assert con.execute("SELECT id, currency FROM runs ORDER BY id").fetchall() == [(1, None), (2, "GBP")]
    types = dict(
        con.execute(
            "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = 'customers'"
        ).fetchall()
    )
    assert types["monetary"] == "DECIMAL(18,2)"
    run1 = con.execute("SELECT customer_id, monetary FROM customers WHERE run_id = 1 ORDER BY 1").fetchall()
    assert [(c, float(m)) for c, m in run1] == before
    assert (
        con.execute("SELECT count(*) FROM cleaning_steps WHERE run_id = 1 AND money IS NULL").fetchone()[0]
        > 0
    )
    assert con.execute(
        "SELECT count(*) FROM cleaning_steps WHERE run_id = 2 AND money IS NULL"
    ).fetchone() == (0,)
