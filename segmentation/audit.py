"""The export audit: one JSON line per export (dashboard or `segments export`) in an append-only log kept
outside the served DB, and `segments audit`, which prints it.

Each line says who (the login's user name, `anonymous` without login, `cli:<OS user>` from the command
line), when (UTC), which DB file (its name) and run, the filters (the page's query), the format, the rows
and bytes actually written and the outcome: `complete`, or `aborted` when the client went away or the
export failed part way. The log is `SEGMENTATION_AUDIT_LOG`, else `<db name>.audit.jsonl` beside the DB.
Lines are appended with O_APPEND under an exclusive flock and fsynced, in a file of mode 0600, so
concurrent workers never interleave and a line once written survives a crash. A log that cannot be written
stops the export (an export that cannot be audited must not happen): AuditError says why in one sentence.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import getpass
import json
import os
from collections.abc import Mapping
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from segmentation.config import DEFAULT_DB
from segmentation.errors import InputError

ENV = "SEGMENTATION_AUDIT_LOG"
SUFFIX = ".audit.jsonl"
FIELDS = ("at", "user", "db", "run", "filters", "format", "rows", "bytes", "outcome")
_MODE = 0o600


class AuditError(InputError):
    """The audit log cannot be written or read; str() is the one sentence to show."""


def log_path(db_path: str | Path) -> Path:
    """Where db_path's exports are logged: $SEGMENTATION_AUDIT_LOG, else `<db name>.audit.jsonl` beside it."""
    env = os.environ.get(ENV, "").strip()
    if env:
        return Path(env)
    db = Path(db_path)
    return db.with_name(db.name + SUFFIX)


def cli_user() -> str:
    """`cli:<OS user name>` for exports made from the command line (`cli:uid-N` when the name is unknown)."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = f"uid-{os.getuid()}"
    return f"cli:{name}"


def utc_stamp(when: datetime | None = None) -> str:
    """A UTC time as ISO 8601 to the second with a Z, e.g. 2026-12-01T08:15:00Z (now when None)."""
    when = datetime.now(timezone.utc) if when is None else when
    when = when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when.astimezone(timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _open(path: Path) -> int:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, _MODE)
    except OSError as exc:
        raise AuditError(
            f"{path}: the export audit log cannot be opened for appending ({exc.strerror or exc}); "
            f"no export is made without its audit line (set {ENV} to a writable file)."
        ) from None
    return fd


def check(path: str | Path) -> None:
    """Fail now, in one sentence, if the log cannot be appended to (called before an export starts)."""
    os.close(_open(Path(path)))


def append(path: str | Path, entry: Mapping[str, Any]) -> None:
    """Append entry as one JSON line: O_APPEND, exclusive flock, fsync; the file is created with mode 0600."""
    path = Path(path)
    line = (json.dumps(dict(entry), ensure_ascii=False, separators=(",", ":"), default=str) + "\n").encode()
    fd = _open(path)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        view = memoryview(line)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except OSError as exc:
        raise AuditError(
            f"{path}: the export audit log cannot be written ({exc.strerror or exc}); "
            "the export is stopped because it could not be audited."
        ) from None
    finally:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def read(path: str | Path, since: date | None = None, user: str | None = None) -> list[dict[str, Any]]:
    """The log's entries, oldest first: from the day `since` (UTC) on, of `user` only when given; a missing
    log is empty; a line that is not a JSON object is an AuditError naming its line number."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as exc:
        raise AuditError(f"{path}: the export audit log cannot be read ({exc}).") from None
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            entry = None
        if not isinstance(entry, dict):
            raise AuditError(f"{path} line {number}: expected one JSON object per line (an audit entry).")
        if since is not None and str(entry.get("at", ""))[:10] < since.isoformat():
            continue
        if user is not None and entry.get("user") != user:
            continue
        out.append(entry)
    return out


def table(entries: list[dict[str, Any]]) -> str:
    """The entries as an aligned text table, one row each, columns FIELDS."""
    rows = [[_cell(e.get(name)) for name in FIELDS] for e in entries]
    widths = [max([len(name)] + [len(r[i]) for r in rows]) for i, name in enumerate(FIELDS)]
    lines = ["  ".join(name.ljust(w) for name, w in zip(FIELDS, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    text = str(value)
    return "".join(ch if ch.isprintable() else " " for ch in text) or '""'


# ---------------------------------------------------------------------------------------------------------
# `segments audit`


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a date as YYYY-MM-DD") from None


def add_parser(sub: Any) -> None:
    """Add `segments audit` to the CLI's subcommands."""
    p = sub.add_parser("audit", help="print the export audit log (who exported what, when)")
    p.add_argument("--db", type=Path, default=DEFAULT_DB, help=f"DuckDB file (default {DEFAULT_DB})")
    p.add_argument("--log", type=Path, help=f"audit log (default ${ENV}, else DB{SUFFIX} beside the DB)")
    p.add_argument("--since", type=_day, help="only exports on or after this UTC day, YYYY-MM-DD")
    p.add_argument("--user", help="only exports by this user (e.g. anonymous, cli:alice)")
    p.add_argument("--json", action="store_true", help="one JSON object per line instead of a table")


def cmd_audit(a: argparse.Namespace) -> int:
    """Print the audit log's entries (filtered by --since and --user) as a table or JSON lines."""
    path = a.log if a.log is not None else log_path(a.db)
    entries = read(path, since=a.since, user=a.user)
    if a.json:
        for entry in entries:
            print(json.dumps(entry, ensure_ascii=False))
        return 0
    if not entries:
        print(f"{path}: no exports recorded{' that match' if a.since or a.user else ''}.")
        return 0
    print(table(entries))
    return 0
