"""Where a run's time and memory go: wall seconds and peak resident memory of each named phase.

A background thread samples the process's resident set (/proc/self/statm) every few milliseconds while a
phase runs, so each phase gets its own peak, not the process's peak so far. Where /proc is missing the
peak falls back to getrusage's lifetime maximum.
"""

from __future__ import annotations

import os
import resource
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_STATM = "/proc/self/statm"


@dataclass(frozen=True)
class Phase:
    """One phase of a run: its name, wall seconds and the peak resident memory while it ran (bytes)."""

    name: str
    seconds: float
    peak_bytes: int


def current_rss() -> int:
    """Resident memory of this process now, in bytes (the lifetime peak where /proc is missing)."""
    try:
        with open(_STATM, "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except OSError:
        return lifetime_peak()


def lifetime_peak() -> int:
    """Peak resident memory of this process so far, in bytes (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


class PhaseClock:
    """Records phases in order; `with clock.phase("read"): ...` times one and samples its memory."""

    def __init__(self, interval: float = 0.005) -> None:
        self.phases: list[Phase] = []
        self._interval = interval
        self._peak = 0
        self._lock = threading.Lock()

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Time the block as phase `name`; its peak is the largest resident set sampled while it ran."""
        stop = threading.Event()
        with self._lock:
            self._peak = current_rss()
        sampler = threading.Thread(target=self._sample, args=(stop,), daemon=True)
        sampler.start()
        started = time.perf_counter()
        try:
            yield
        finally:
            seconds = time.perf_counter() - started
            stop.set()
            sampler.join()
            with self._lock:
                peak = max(self._peak, current_rss())
            self.phases.append(Phase(name, seconds, peak))

    def _sample(self, stop: threading.Event) -> None:
        while not stop.wait(self._interval):
            rss = current_rss()
            with self._lock:
                self._peak = max(self._peak, rss)

    def seconds(self) -> dict[str, float]:
        """Phase name -> seconds (a phase recorded twice adds up)."""
        out: dict[str, float] = {}
        for p in self.phases:
            out[p.name] = out.get(p.name, 0.0) + p.seconds
        return out


def format_phases(phases: list[Phase] | tuple[Phase, ...], total_seconds: float) -> str:
    """The phase table `segments run --timings` prints: seconds, share of the run, and peak MiB."""
    lines = [f"{'phase':<14}{'seconds':>9}{'share':>8}{'peak MiB':>10}"]
    for p in phases:
        share = p.seconds / total_seconds if total_seconds else 0.0
        lines.append(f"{p.name:<14}{p.seconds:>9.2f}{share:>8.1%}{p.peak_bytes / 2**20:>10,.0f}")
    peak = max((p.peak_bytes for p in phases), default=0)
    lines.append(f"{'total':<14}{total_seconds:>9.2f}{'':>8}{peak / 2**20:>10,.0f}")
    return "\n".join(lines)
