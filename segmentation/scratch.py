"""A run's machine resources: its private scratch directory in $TMPDIR and its default memory limit.

Every run works in one directory named `segments-run-<pid>-<16 hex>` holding `owner.lock`, flock'd by the
run for its whole life (the kernel drops the lock when the process dies, even by kill -9). DuckDB's spill
files and ingest's transcoded or linked inputs live inside it. Each new run first removes the scratch
directories of dead runs: exact-name matches whose lock it can take without waiting. A live run's
directory (lock held) and anything not matching the name are never touched.
"""

from __future__ import annotations

import contextlib
import contextvars
import fcntl
import os
import re
import secrets
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

PREFIX = "segments-run-"
LOCK_NAME = "owner.lock"
_NAME = re.compile(re.escape(PREFIX) + r"[0-9]{1,10}-[0-9a-f]{16}")
MEMORY_SHARE = 0.6  # of the machine's (or the cgroup's, if lower) memory: the most a run's engine may take
# DuckDB's default memory for a run: this share of the machine's memory, at least RUN_MEMORY_FLOOR, never
# above MEMORY_SHARE of the machine or cgroup. Measured at 25M lines (1M customers) on a 24 GiB machine:
# DuckDB at 60% peaked at 6.1 GB in 123 s; at 1.7 GiB the run spilled and peaked at 2.5 GB (bench/README.md).
RUN_MEMORY_SHARE = 1 / 14
RUN_MEMORY_FLOOR = 2**30
_CGROUP_FILES = (
    Path("/sys/fs/cgroup/memory.max"),  # cgroup v2
    Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"),  # cgroup v1
)

_CURRENT: contextvars.ContextVar[Path | None] = contextvars.ContextVar("segments_scratch", default=None)


def current() -> Path | None:
    """The scratch directory of the run in progress in this context (None outside a run)."""
    return _CURRENT.get()


@contextlib.contextmanager
def run_scratch(root: Path | None = None) -> Iterator[Path]:
    """Remove dead runs' scratch directories in `root` ($TMPDIR), then make and lock this run's own.

    The directory is locked before it gets its matching name (made under a hidden name, then renamed), so a
    sweeping run never sees a live run's directory unlocked. It is deleted when the block ends.
    """
    base = Path(root) if root is not None else Path(tempfile.gettempdir())
    remove_dead(base)
    token = secrets.token_hex(8)
    hidden = base / f".{PREFIX}{os.getpid()}-{token}"
    path = base / f"{PREFIX}{os.getpid()}-{token}"
    hidden.mkdir(mode=0o700)
    fd = -1
    try:
        fd = os.open(hidden / LOCK_NAME, os.O_CREAT | os.O_RDWR | os.O_NOFOLLOW, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)  # ours until this block ends or the process dies
        os.rename(hidden, path)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        shutil.rmtree(hidden, ignore_errors=True)
        raise
    context = _CURRENT.set(path)
    try:
        yield path
    finally:
        _CURRENT.reset(context)
        shutil.rmtree(path, ignore_errors=True)
        os.close(fd)


def remove_dead(base: Path) -> list[Path]:
    """Delete the scratch directories in `base` whose owner is gone (their lock is free); returns them."""
    try:
        names = os.listdir(base)
    except FileNotFoundError:
        return []
    removed = []
    for name in names:
        if _NAME.fullmatch(name) and _remove_if_dead(base / name):
            removed.append(base / name)
    return removed


def _remove_if_dead(path: Path) -> bool:
    """Take the directory's lock without waiting; if that works its run is dead: delete it."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
        return False  # a symlink, a file, or another user's: not ours to delete
    try:
        fd = os.open(path / LOCK_NAME, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        # Made and locked before being renamed to this name, so no lock file means a removal cut short.
        shutil.rmtree(path, ignore_errors=True)
        return True
    except OSError:
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # a live run holds it
        shutil.rmtree(path, ignore_errors=True)
        return True
    finally:
        os.close(fd)


def default_memory_limit(
    meminfo: Path = Path("/proc/meminfo"), cgroup_files: tuple[Path, ...] = _CGROUP_FILES
) -> str | None:
    """MEMORY_SHARE of physical memory, or of the cgroup's limit when lower, as DuckDB text ('14123MiB').

    DuckDB's own default is 80% of physical memory, which ignores a container's cgroup limit (the kernel
    then kills the run instead of DuckDB spilling) and leaves little for the model's NumPy arrays.
    None when neither can be read.
    """
    cap = _cap_mib(meminfo, cgroup_files)
    return None if cap is None else f"{cap}MiB"


def _cap_mib(meminfo: Path, cgroup_files: tuple[Path, ...]) -> int | None:
    """MEMORY_SHARE of the machine's memory or of the cgroup's limit, whichever is lower, in MiB."""
    limits = [v for v in (meminfo_bytes("MemTotal", meminfo), *map(cgroup_limit, cgroup_files)) if v]
    return int(min(limits) * MEMORY_SHARE) // 2**20 if limits else None


def run_memory_limit(
    meminfo: Path = Path("/proc/meminfo"), cgroup_files: tuple[Path, ...] = _CGROUP_FILES
) -> str | None:
    """A run's DuckDB memory limit when --memory-limit is not given ('1755MiB' on 24 GiB): small enough
    that a laptop keeps working while a million customers are segmented (DuckDB spills past it), large
    enough that inputs of a few million lines never spill. None when no memory size can be read."""
    total = meminfo_bytes("MemTotal", meminfo)
    cap = _cap_mib(meminfo, cgroup_files)
    if cap is None:
        return None
    wanted = cap if total is None else max(RUN_MEMORY_FLOOR, int(total * RUN_MEMORY_SHARE)) // 2**20
    return f"{min(wanted, cap)}MiB"


def meminfo_bytes(field: str, path: Path = Path("/proc/meminfo")) -> int | None:
    """One field of a /proc/meminfo-style file ('MemTotal', 'MemAvailable') in bytes; None if unreadable."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in path.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024  # the file says kB, meaning KiB
    return None


def cgroup_limit(path: Path = _CGROUP_FILES[0]) -> int | None:
    """A cgroup memory limit in bytes; None for 'max', an unset v1 limit (near 2**63) or no file."""
    with contextlib.suppress(OSError, ValueError):
        text = path.read_text().strip()
        if text != "max" and 0 < int(text) < 2**60:
            return int(text)
    return None
