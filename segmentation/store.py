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
from segmentation.schema import (  # noqa: F401  (callers use store.SCHEMA, store.TABLES, ...)
    MIGRATE_1_TO_2,
    MIGRATE_2_TO_3,
    MIGRATE_3_TO_4,
    MIGRATE_4_TO_5,
    MIGRATE_5_TO_6,
    SCHEMA,
    SCHEMA_VERSION,
    TABLES,
)
from segmentation.served_file import run_lock  # noqa: F401  (callers use store.run_lock)


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
        if row is not None and row[0] in ("1", "2", "3", "4", "5"):
            con.execute(MIGRATE_5_TO_6)
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
