"""The audit side of an export: the counts it has handed on, its audit line's fields, and the wrapper
that appends the line (segmentation/audit.py) when the export's bytes end, complete or aborted."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from dashboard.export_context import ExportContext
from segmentation import audit

log = logging.getLogger(__name__)


class Tally:
    """What an export has handed on so far: rows and bytes (the audit line's counts)."""

    def __init__(self) -> None:
        self.rows = 0
        self.bytes = 0


def audit_entry(ctx: ExportContext, db_path: str | Path, user: str, fmt: str) -> dict[str, Any]:
    """The audit line's fixed part (the counts and outcome are added when the export ends)."""
    entry: dict[str, Any] = {
        "at": audit.utc_stamp(ctx.exported_at),
        "user": user,
        "db": Path(db_path).name,
        "run": ctx.run_id,
        "filters": urlencode(ctx.query),
        "format": fmt,
    }
    if ctx.top is not None:
        entry["top"] = ctx.top
    return entry


def audited(
    pieces: Iterator[bytes], tally: Tally, log_file: Path, entry: Mapping[str, Any]
) -> Iterator[bytes]:
    """Pass pieces on, counting bytes, and append the audit line when they end: `complete` (written just
    before the last piece, so a log that fails then still stops the file short of its end) or `aborted`
    (the client went away, or making the file failed). The rows are counted by whoever fills tally."""
    done = False

    def finish(outcome: str) -> None:
        audit.append(log_file, {**entry, "rows": tally.rows, "bytes": tally.bytes, "outcome": outcome})

    try:
        held: bytes | None = None
        for piece in pieces:
            if held is not None:
                tally.bytes += len(held)
                yield held
            held = piece
        if held is not None:
            tally.bytes += len(held)
        done = True
        finish("complete")
        if held is not None:
            yield held
    finally:
        if not done:
            try:
                finish("aborted")
            except audit.AuditError as exc:  # nothing left to stop: say it in the server's log
                log.error("%s", exc)
        close = getattr(pieces, "close", None)
        if close is not None:
            close()
