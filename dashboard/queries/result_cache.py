"""Per-process memo of small query results, keyed on the served file's identity (path, inode, mtime, size).

A stored run never changes inside one file: a re-run or a rename swaps a new file in (new identity), so a
result keyed on the identity is never stale, and nothing is kept across files. Used for the filter values
every callback validates against (always) and for the aggregates page loads and common filter sets repeat
(when SEGMENTATION_RESULT_CACHE=1, which gunicorn.conf.py sets: tests that fake slow or failing queries
see every query run). Results over MAX_ROWS rows are not kept; a DataFrame hit is returned as a copy.
"""

from __future__ import annotations

import json
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import pandas as pd

from dashboard import queries

ENV = "SEGMENTATION_RESULT_CACHE"
MAX_ROWS = 2000
MAX_ENTRIES = 512
T = TypeVar("T")

_entries: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
_lock = threading.Lock()


def enabled() -> bool:
    """True when the aggregate cache is on (SEGMENTATION_RESULT_CACHE=1)."""
    return os.environ.get(ENV, "").strip().lower() in ("1", "true", "yes", "on")


def file_identity() -> tuple[Any, ...] | None:
    """The served file's path, inode, mtime and size (None if it cannot be read: no caching then)."""
    path = queries.current_db()
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (str(path), st.st_ino, st.st_mtime_ns, st.st_size)


def memo(kind: str, params: Mapping[str, Any], compute: Callable[[], T], always: bool = False) -> T:
    """compute() once per (file identity, kind, params); every time when the cache is off (unless always).

    The result is kept only if the file did not change while it was computed.
    """
    if not (always or enabled()):
        return compute()
    before = file_identity()
    if before is None:
        return compute()
    key = (*before, kind, json.dumps(params, sort_keys=True, default=str))
    with _lock:
        if key in _entries:
            _entries.move_to_end(key)
            hit = _entries[key]
            return hit.copy() if isinstance(hit, pd.DataFrame) else hit
    value = compute()
    small = not isinstance(value, pd.DataFrame) or len(value) <= MAX_ROWS
    if small and file_identity() == before:
        with _lock:
            _entries[key] = value.copy() if isinstance(value, pd.DataFrame) else value
            while len(_entries) > MAX_ENTRIES:
                _entries.popitem(last=False)
    return value


def clear() -> None:
    """Forget every kept result (tests)."""
    with _lock:
        _entries.clear()
