"""Storage faults (a full disk or quota, a read-only or forbidden directory, a full spill) as one sentence.

Both Python's OSError and DuckDB's IO/out-of-memory errors carry them; anything else is a genuine bug and is
left to raise with its traceback (describe returns None).
"""

from __future__ import annotations

import errno
import os
import re
import tempfile
from pathlib import Path

from segmentation.scratch import PREFIX

_WHAT = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission is denied",
    errno.EPERM: "permission is denied",
}
# DuckDB's messages carry the C library's text, not the number
_TEXT = {
    "No space left on device": errno.ENOSPC,
    "Disk quota exceeded": errno.EDQUOT,
    "Read-only file system": errno.EROFS,
    "Permission denied": errno.EACCES,
    "Operation not permitted": errno.EPERM,
}
_SPILL_FULL = "failed to offload data block"  # DuckDB: the temp directory (or its size limit) is full
_QUOTED_PATH = re.compile(r'(?:file|directory) "([^"]+)"')


def describe(exc: BaseException, db_path: Path | None) -> str | None:
    """One sentence for a storage fault while using db_path ('nothing was changed'), else None."""
    code, path = _classify(exc)
    if code is None:
        return None
    what = f"{_WHAT[code]} ({os.strerror(code)})"
    if _is_scratch(path) or (path is None and _SPILL_FULL in str(exc)):
        fix = (
            "free space there, set TMPDIR to a larger disk or raise --memory-limit"
            if code in (errno.ENOSPC, errno.EDQUOT)
            else "set TMPDIR to a writable directory"
        )
        return f"Cannot write temporary files in {tempfile.gettempdir()}: {what}; {fix}; nothing was changed."
    if db_path is not None and (path is None or _beside(path, Path(db_path))):
        target = Path(db_path)
        fix = {
            errno.ENOSPC: "free space or pass --db on another disk",
            errno.EDQUOT: "free space or pass --db on another disk",
            errno.EROFS: "pass --db on a writable disk",
        }.get(code, f"make {target.parent} writable for this user or pass --db elsewhere")
        return f"Cannot write {target}: {what}; {fix}; nothing was changed."
    verb = "use" if code in (errno.EACCES, errno.EPERM) else "write"
    return f"Cannot {verb} {path if path is not None else 'a file'}: {what}."


def _classify(exc: BaseException) -> tuple[int | None, Path | None]:
    """The errno and the path a storage fault names, (None, None) when it is not one."""
    if isinstance(exc, OSError) and exc.errno in _WHAT:
        name = exc.filename2 if exc.errno == errno.ENOSPC and exc.filename2 else exc.filename
        return exc.errno, Path(name) if name else None
    if type(exc).__module__.split(".")[0] not in ("duckdb", "_duckdb"):
        return None, None
    text = str(exc)
    quoted = _QUOTED_PATH.search(text)
    path = Path(quoted[1]) if quoted else None
    for message, code in _TEXT.items():
        if message in text:
            return code, path
    if _SPILL_FULL in text:
        return errno.ENOSPC, None
    return None, None


def _beside(path: Path, db_path: Path) -> bool:
    """True for the DB file or the files a run makes beside it (.lock, .tmp-<hex>, .wal)."""
    return path.parent == db_path.parent and path.name.startswith(db_path.name)


def _is_scratch(path: Path | None) -> bool:
    """True for a path inside a run's scratch directory (or the directory itself, while it is made)."""
    return path is not None and any(part.lstrip(".").startswith(PREFIX) for part in path.parts)
