"""The files beside the served DuckDB file: the run lock, killed runs' temp copies and a stray `<db>.wal`.

No writer of this product leaves a `<db>.wal` (writers hold the run lock and never write the served file in
place), so one found there was left by another program that opened the served file read-write in place.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb

from segmentation.errors import InputError


@contextlib.contextmanager
def run_lock(db_path: Path) -> Iterator[None]:
    """Serialize writers of one DB file across processes (an flock on a sibling .lock file)."""
    db_path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = db_path.with_name(db_path.name + ".lock")
    with open(lock_path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            _remove_leftovers(db_path)
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _remove_leftovers(db_path: Path) -> None:
    """Delete temp files of killed runs; safe only while holding the run lock.

    Names are matched exactly (`<db>.tmp-<32 hex>` and its `.wal`), never by glob: a DB named `seg[1].duckdb`
    must neither delete another DB's temp file nor miss its own.
    """
    pattern = re.compile(re.escape(db_path.name) + r"\.tmp-[0-9a-f]{32}(\.wal)?")
    for name in os.listdir(db_path.parent):
        if pattern.fullmatch(name):
            with contextlib.suppress(FileNotFoundError):
                (db_path.parent / name).unlink()


def fsync_dir(directory: Path) -> None:
    """Make the rename durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def warn(message: str) -> None:
    print(f"WARNING: {message}", file=sys.stderr, flush=True)


def stray_wal_sentence(db_path: Path) -> str:
    """What readers say when `<db>.wal` does not belong to the file: why nothing can be read, and the fix."""
    wal = db_path.with_name(db_path.name + ".wal")
    return (
        f"{wal.name} beside {db_path} does not belong to it (left by a crash or another program), so the "
        f"file cannot be read; run `segments run FILE --db {db_path}` (it removes the stray .wal) "
        f"or remove {wal}."
    )


def is_stray_wal_error(db_path: Path, exc: BaseException) -> bool:
    """True when opening db_path failed on its `<db>.wal` (DuckDB: 'WAL ... does not match')."""
    return "WAL" in str(exc) and db_path.with_name(db_path.name + ".wal").exists()


def check_readable(db_path: Path) -> None:
    """Raise InputError (stray_wal_sentence) when db_path cannot be opened because of its `<db>.wal`."""
    db_path = Path(db_path)
    if not (db_path.exists() and db_path.with_name(db_path.name + ".wal").exists()):
        return
    con = duckdb.connect()
    try:
        con.execute("ATTACH ? AS probe (READ_ONLY)", [str(db_path)])
    except duckdb.Error as exc:
        if is_stray_wal_error(db_path, exc):
            raise InputError(stray_wal_sentence(db_path)) from exc
    finally:
        con.close()


def settle_wal(db_path: Path) -> str:
    """Classify `<db>.wal` under the run lock: 'none', 'own' (replays onto db_path) or 'stray' (does not).

    No writer of this product leaves one (writers hold the run lock and never write the served file in
    place), so a WAL here was left by a program that opened the served file read-write in place. If it
    replays onto the file, it holds that program's committed writes, which readers already see: keep them
    (the copy gets the WAL too, then the swap makes it obsolete). If it does not, it belongs to an earlier
    file and no file can use it, while it stops every reader: remove it, with a warning line. A program
    still holding the file read-write is refused in one sentence: copying a file under write is unsafe.
    """
    wal = db_path.with_name(db_path.name + ".wal")
    if not db_path.exists():
        if wal.exists():
            warn(f"removed {wal}: a write-ahead log with no database file beside it.")
            wal.unlink()
        return "none"
    con = duckdb.connect()
    try:
        con.execute("ATTACH ? AS probe (READ_ONLY)", [str(db_path)])
    except duckdb.Error as exc:
        if "Conflicting lock" in str(exc):
            holder = re.search(r"held in (.*?) \(PID (\d+)\)", str(exc))
            who = f"process {holder[2]} ({holder[1]})" if holder else "another process"
            raise InputError(
                f"{db_path} is open for writing by {who}; close that program (the dashboard only reads) "
                "and run again; nothing was changed."
            ) from exc
        if not wal.exists():
            return "none"  # the file itself is unreadable: the copy's ATTACH reports it
        if "WAL" not in str(exc):
            raise InputError(
                f"{db_path} cannot be opened with {wal.name} beside it ({str(exc).splitlines()[0]}); if "
                f"{db_path.name} alone is intact, move {wal.name} aside and run again; nothing was changed."
            ) from exc
        warn(
            f"removed {wal}: it did not belong to {db_path.name} ({str(exc).splitlines()[0]}) and stopped "
            "every reader from opening it."
        )
        wal.unlink()
        return "stray"
    finally:
        con.close()
    return "own" if wal.exists() else "none"
