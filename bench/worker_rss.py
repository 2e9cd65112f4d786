"""Downloads from a real gunicorn worker, timed, with the worker's resident memory watched meanwhile.

`served(db, env)` starts `gunicorn wsgi:server --config gunicorn.conf.py` with one worker on a free loopback
port (bench/load_test.py's start_gunicorn) and yields its URL and the worker's pid. `download(url, pid)`
reads a response to its last byte in 64 kB chunks while a thread samples the worker's VmRSS every 20 ms;
the growth is the highest RSS seen (or the worker's VmHWM, if that rose during the download) minus the
RSS before the request (Linux /proc only).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from load_test import start_gunicorn

CHUNK = 64 * 1024
SAMPLE_S = 0.02


def status_kb(pid: int, field: str) -> int:
    """A kB figure (VmRSS, VmHWM) from /proc/pid/status."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise LookupError(f"{field} not in /proc/{pid}/status")


def children(pid: int) -> list[int]:
    """Pids of pid's child processes (from /proc/*/stat)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            out.append(int(entry))
    return out


@contextmanager
def served(db: Path, env: dict[str, str]) -> Iterator[tuple[str, int]]:
    """gunicorn with one worker serving db: its URL and the worker's pid; stopped on exit."""
    work = Path(tempfile.mkdtemp(prefix="bench-gunicorn-"))
    proc, url = start_gunicorn(db, {**env, "WEB_CONCURRENCY": "1"}, work / "gunicorn.log")
    try:
        workers = children(proc.pid)
        if len(workers) != 1:
            raise RuntimeError(f"expected one gunicorn worker, found {workers}")
        yield url, workers[0]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(work, ignore_errors=True)


@dataclass(frozen=True)
class Download:
    """One download: HTTP status, ms to the first and the last byte, bytes, lines, worker RSS growth (MB)."""

    status: int
    first_ms: float
    last_ms: float
    size: int
    lines: int
    rss_growth_mb: float


def download(url: str, pid: int) -> Download:
    """GET url to its last byte while sampling the worker's RSS."""
    rss_before, hwm_before = status_kb(pid, "VmRSS"), status_kb(pid, "VmHWM")
    peak = [rss_before]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(SAMPLE_S):
            peak[0] = max(peak[0], status_kb(pid, "VmRSS"))

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    size = lines = 0
    first = None
    t = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=600) as response:
            status = response.status
            while chunk := response.read(CHUNK):
                if first is None:
                    first = time.perf_counter() - t
                size += len(chunk)
                lines += chunk.count(b"\n")
        last = time.perf_counter() - t
    finally:
        done.set()
        watcher.join()
    hwm_after = status_kb(pid, "VmHWM")
    top = max(peak[0], status_kb(pid, "VmRSS"), hwm_after if hwm_after > hwm_before else 0)
    return Download(status, (first or last) * 1000, last * 1000, size, lines, (top - rss_before) * 1024 / 1e6)
