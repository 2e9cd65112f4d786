"""The dashboard's one connection seam to the DuckDB file, plus run-level queries every page shares.

This package is the only place in dashboard/ that imports duckdb. Each thread keeps one fresh in-memory
DuckDB connection that ATTACHes the served file read-only, with external access off and the configuration
locked. The cache is keyed on the file's identity (inode, mtime, size): after a re-run swaps a new file in
(os.replace), the next query closes the old connection and attaches the new file, so the re-run shows on the
next page load without a restart (RELIABILITY.md §1, the instance-cache trap). A missing or empty file
raises NoData, which pages render as the "no run yet" state.
"""

from __future__ import annotations

import atexit
import contextlib
import contextvars
import itertools
import os
import re
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pandas as pd

from segmentation.served_file import is_stray_wal_error

if TYPE_CHECKING:
    import pyarrow as pa

QUERY_TIMEOUT_S = 20.0  # a query running longer is interrupted (embedded DuckDB has no statement timeout)
_MAX_CACHED_PATHS = 4  # per thread; tests and the CLI may touch several files


class NoData(Exception):
    """The DB file is missing, unreadable or holds no run yet: pages show the empty state."""

    def __init__(self, reason: str, path: Path) -> None:
        super().__init__(f"{path.name}: {reason}")
        self.reason = reason  # 'missing' | 'unreadable' | 'empty' | 'stray_wal' (a <db>.wal not its own)
        self.path = path


class QueryTimeout(Exception):
    """A query ran longer than QUERY_TIMEOUT_S and was interrupted."""


# ---------------------------------------------------------------------------------------------------------
# Which file: the Flask app's config inside a request, or an explicit `using(path)` block (CLI, tests).

_DB_OVERRIDE: contextvars.ContextVar[Path | None] = contextvars.ContextVar("segmentation_db", default=None)


@contextlib.contextmanager
def using(db_path: str | Path) -> Iterator[Path]:
    """Run the enclosed queries against db_path (the CLI's export and tests; the app uses its config)."""
    token = _DB_OVERRIDE.set(Path(db_path))
    try:
        yield Path(db_path)
    finally:
        _DB_OVERRIDE.reset(token)


def current_db() -> Path:
    """The DB file queries read: a `using()` block's path, else the Flask app's SEGMENTATION_DB."""
    override = _DB_OVERRIDE.get()
    if override is not None:
        return override
    from flask import current_app, has_app_context

    if has_app_context() and current_app.config.get("SEGMENTATION_DB"):
        return Path(current_app.config["SEGMENTATION_DB"])
    raise RuntimeError("No segmentation DB: call inside the app or within dashboard.queries.using(path).")


# ---------------------------------------------------------------------------------------------------------
# The per-thread, swap-aware connection cache.

_local = threading.local()


def _settings() -> tuple[int, str]:
    """Per-worker DuckDB threads and memory limit (N gunicorn workers must not each take every core)."""
    try:
        threads = max(1, int(os.environ.get("SEGMENTATION_DB_THREADS", "2")))
    except ValueError:
        threads = 2
    memory = os.environ.get("SEGMENTATION_DB_MEMORY", "2GB")
    return threads, memory


def export_threads() -> int:
    """DuckDB threads of one export's own connection: SEGMENTATION_EXPORT_THREADS, else every core. Exports
    are rare and long (1M customers as CSV: 4.0 s on one thread, 2.4 s on two), so one may use the cores
    the page queries share out (SEGMENTATION_DB_THREADS)."""
    try:
        return max(1, int(os.environ.get("SEGMENTATION_EXPORT_THREADS", "") or (os.cpu_count() or 1)))
    except ValueError:
        return os.cpu_count() or 1


def _open(path: Path, threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """A fresh in-memory connection with path attached read-only as `seg`, then locked down (`threads`:
    DuckDB threads instead of the per-connection share)."""
    shared, memory = _settings()
    threads = threads or shared
    con = duckdb.connect()
    try:
        con.execute("SET threads = ?", [threads])
        con.execute("SET memory_limit = ?", [memory])
        con.execute("SET autoinstall_known_extensions = false")
        con.execute("SET autoload_known_extensions = false")
        con.execute("ATTACH ? AS seg (READ_ONLY)", [str(path)])
        # Order matters and is tested: ATTACH first, then no file system access, then no more SET.
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    except BaseException:
        con.close()
        raise
    return con


def _identity(path: Path) -> tuple[str, int, int, int]:
    """What changes when the file is swapped or rewritten: raises FileNotFoundError if it is gone."""
    st = os.stat(path)
    return (str(path), st.st_ino, st.st_mtime_ns, st.st_size)


def _drop(key: str) -> None:
    """Close and forget this thread's connection to one path."""
    cache: dict[str, tuple[tuple[str, int, int, int], duckdb.DuckDBPyConnection]] = (
        _local.__dict__.setdefault("cons", {})
    )
    entry = cache.pop(key, None)
    if entry is not None:
        with contextlib.suppress(duckdb.Error):
            entry[1].close()


def connection(db_path: str | Path | None = None) -> duckdb.DuckDBPyConnection:
    """This thread's connection to the DB file, reopened when the file was replaced; NoData if missing."""
    path = Path(db_path) if db_path is not None else current_db()
    key = str(path.resolve())
    cache: dict[str, tuple[tuple[str, int, int, int], duckdb.DuckDBPyConnection]] = (
        _local.__dict__.setdefault("cons", {})
    )
    try:
        ident = _identity(path)
    except (FileNotFoundError, NotADirectoryError):
        _drop(key)
        raise NoData("missing", path) from None
    entry = cache.get(key)
    if entry is not None and entry[0] == ident:
        return entry[1]
    _drop(key)
    while len(cache) >= _MAX_CACHED_PATHS:
        _drop(next(iter(cache)))
    try:
        con = _open(path)
    except duckdb.Error as exc:
        raise NoData("stray_wal" if is_stray_wal_error(path, exc) else "unreadable", path) from None
    cache[key] = (ident, con)
    return con


def export_connection() -> duckdb.DuckDBPyConnection:
    """A connection of one export's own (the caller closes it): the current file attached read-only and
    locked down like connection()'s, with export_threads() DuckDB threads; NoData as connection()."""
    path = current_db()
    connection(path)  # the file's checks: missing, unreadable, a stray WAL
    try:
        return _open(path, threads=export_threads())
    except duckdb.Error as exc:
        raise NoData("stray_wal" if is_stray_wal_error(path, exc) else "unreadable", path) from None


def close_thread_connections() -> None:
    """Close every connection this thread holds (tests; a worker shutting down)."""
    for key in list(_local.__dict__.get("cons", {})):
        _drop(key)


atexit.register(close_thread_connections)  # the main thread's connection, before DuckDB's module teardown


# One watchdog thread per process interrupts queries that outlive their deadline. (A threading.Timer per
# query costs ~2.5 ms to start on 2 cores; this costs a dict entry.) Started on first use, never at import,
# and restarted in a forked child.
_watch = threading.Condition()
_watched: dict[int, tuple[float, duckdb.DuckDBPyConnection]] = {}
_tokens = itertools.count()
_watch_state: dict[str, Any] = {"pid": None}


def _watchdog() -> None:
    """Interrupt every watched connection whose deadline has passed; sleep until the next one."""
    with _watch:
        while True:
            now = time.monotonic()
            for token in [t for t, (deadline, _) in _watched.items() if deadline <= now]:
                _, late = _watched.pop(token)
                with contextlib.suppress(duckdb.Error):
                    late.interrupt()
                del late  # hold no reference to a connection while sleeping
            upcoming = min((d for d, _ in _watched.values()), default=None)
            _watch.wait(None if upcoming is None else max(upcoming - now, 0.001))


@contextlib.contextmanager
def _deadline(con: duckdb.DuckDBPyConnection, seconds: float) -> Iterator[None]:
    """Interrupt the connection's running query after `seconds` (then raise QueryTimeout)."""
    token = next(_tokens)
    with _watch:
        if _watch_state["pid"] != os.getpid():
            threading.Thread(target=_watchdog, name="duckdb-watchdog", daemon=True).start()
            _watch_state["pid"] = os.getpid()
        _watched[token] = (time.monotonic() + seconds, con)
        _watch.notify()
    try:
        yield
    except duckdb.InterruptException:
        raise QueryTimeout(f"The query ran longer than {seconds:g} s and was stopped.") from None
    finally:
        with _watch:
            _watched.pop(token, None)


_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


def bound(sql: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The named parameters the SQL text uses (DuckDB refuses unused ones): the filter CTE leaves out the
    conditions of unset filters (filtered.cte), so a query binds only part of Filters.params()."""
    names = set(_PARAM.findall(sql))
    return {k: v for k, v in params.items() if k in names}


def _execute(sql: str, params: Mapping[str, Any] | list[Any] | None, arrow: bool = False) -> Any:
    """Execute on this thread's connection (the seam every query goes through); a file with no dashboard
    tables counts as empty. arrow=True returns the result as an Arrow table (a relation's, no row copy)."""
    con = connection()
    if isinstance(params, Mapping):
        params = bound(sql, params)
    try:
        if arrow:
            return con.sql(sql, params=params).to_arrow_table()
        return con.execute(sql, params if params is not None else [])
    except duckdb.CatalogException:
        raise NoData("empty", current_db()) from None


def sql(*parts: str) -> str:
    """Join constant SQL fragments (module constants of the query layer, never user text) into one query."""
    return "\n".join(parts)


def fetch_df(sql: str, params: Mapping[str, Any] | list[Any] | None = None) -> pd.DataFrame:
    """Run one bound query and return its result as a DataFrame (interrupted after QUERY_TIMEOUT_S)."""
    con = connection()
    with _deadline(con, QUERY_TIMEOUT_S):
        return _execute(sql, params).df()


def fetch_all(sql: str, params: Mapping[str, Any] | list[Any] | None = None) -> list[tuple[Any, ...]]:
    """Run one bound query and return its rows as tuples."""
    con = connection()
    with _deadline(con, QUERY_TIMEOUT_S):
        return _execute(sql, params).fetchall()


def fetch_arrow(sql: str, params: Mapping[str, Any] | None = None) -> pa.Table:
    """Run one bound query and return its result as an Arrow table: columns go to NumPy without a pandas
    frame."""
    con = connection()
    with _deadline(con, QUERY_TIMEOUT_S):
        return _execute(sql, params or {}, arrow=True)


def fetch_one(sql: str, params: Mapping[str, Any] | list[Any] | None = None) -> tuple[Any, ...] | None:
    """Run one bound query and return its first row (None if it has none). Every row is fetched: a result
    left unfinished blocks the connection's next relation query (fetch_arrow)."""
    con = connection()
    with _deadline(con, QUERY_TIMEOUT_S):
        rows = _execute(sql, params).fetchall()
    return rows[0] if rows else None


# ---------------------------------------------------------------------------------------------------------
# Runs: shared by every page (run selector, badges, history).


@dataclass(frozen=True)
class RunInfo:
    """One run's headline facts, for badges, KPI cards and export headers."""

    id: int
    created_at: datetime | None
    mode: str | None
    sources: tuple[str, ...]
    snapshot_date: date | None
    rows_in: int | None
    rows_clean: int | None
    customers: int | None
    features: tuple[str, ...]
    algorithm: str | None
    k: int | None
    k_reason: str | None
    silhouette: float | None
    outliers: int | None
    revenue: float | None
    currency: str | None = None  # ISO 4217 code of the run's money; None: unknown (or a file from before v5)


_RUNS_SQL = """
SELECT id, created_at, mode, sources, snapshot_date, customers, k, algorithm, revenue, outliers
FROM seg.runs WHERE coalesce(status, 'ok') = 'ok' ORDER BY id DESC
"""


def runs() -> pd.DataFrame:
    """Every finished run, newest first (id, created_at, mode, sources, snapshot_date, customers, k, ...)."""
    return fetch_df(_RUNS_SQL)


def latest_run_id() -> int | None:
    """The newest finished run's id, or None when the file holds no run."""
    row = fetch_one("SELECT max(id) FROM seg.runs WHERE coalesce(status, 'ok') = 'ok'")
    return None if row is None or row[0] is None else int(row[0])


def resolve_run(value: Any = None) -> int:
    """A valid run id from an untrusted URL/callback value; the latest run otherwise; NoData if none."""
    requested = _as_int(value)
    if requested is not None:
        row = fetch_one("SELECT id FROM seg.runs WHERE id = ? AND coalesce(status, 'ok') = 'ok'", [requested])
        if row is not None:
            return int(row[0])
    latest = latest_run_id()
    if latest is None:
        raise NoData("empty", current_db())
    return latest


def _as_int(value: Any) -> int | None:
    """An int from a short digit string or an int (not a bool); None for anything else."""
    if isinstance(value, (list, tuple)) and len(value) == 1:
        value = value[0]
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if -(2**31) <= value < 2**31 else None
    if isinstance(value, str) and 0 < len(value.strip()) <= 10 and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def run_info(run_id: int) -> RunInfo:
    """The headline facts of one run (NoData if it does not exist)."""
    row = fetch_one(
        """SELECT id, created_at, mode, sources, snapshot_date, rows_in, rows_clean, customers, features,
                  algorithm, k, k_reason, silhouette, outliers, revenue
           FROM seg.runs WHERE id = ?""",
        [int(run_id)],
    )
    if row is None:
        raise NoData("empty", current_db())
    return RunInfo(
        id=int(row[0]),
        created_at=row[1],
        mode=row[2],
        sources=tuple(row[3] or ()),
        snapshot_date=row[4],
        rows_in=row[5],
        rows_clean=row[6],
        customers=row[7],
        features=tuple(row[8] or ()),
        algorithm=row[9],
        k=row[10],
        k_reason=row[11],
        silhouette=row[12],
        outliers=row[13],
        revenue=row[14],
        currency=run_currency(int(row[0])),
    )


def run_currency(run_id: int) -> str | None:
    """The run's currency code; None when unknown or the file predates schema v5 (no such column)."""
    try:
        row = fetch_one("SELECT currency FROM seg.runs WHERE id = ?", [run_id])
    except duckdb.BinderException:
        return None
    return str(row[0]) if row and row[0] else None


CLEANING_COLUMNS = (
    "step",
    "rule",
    "description",
    "removed",
    "rows_left",
    "customers",
    "customers_lost",
    "money",
)


def cleaning_steps(run_id: int) -> pd.DataFrame:
    """The cleaning report of one run in the order applied: step, rule, description, lines removed and
    left, customers touched and lost, money removed (the last three empty in files from before schema 2)."""
    df = fetch_df("SELECT * FROM seg.cleaning_steps WHERE run_id = ? ORDER BY step", [int(run_id)])
    return df.reindex(columns=list(CLEANING_COLUMNS))


def run_extras(run_id: int) -> tuple[tuple[str, ...], float | None]:
    """The run's warnings and its input's money (none in files from before schema 2)."""
    df = fetch_df("SELECT * FROM seg.runs WHERE id = ?", [int(run_id)])
    if df.empty:
        return (), None
    warnings = df["warnings"].iloc[0] if "warnings" in df.columns else None
    money = df["money_in"].iloc[0] if "money_in" in df.columns else None
    return tuple(warnings) if warnings is not None else (), None if pd.isna(money) else float(money)
