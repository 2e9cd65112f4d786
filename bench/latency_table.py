"""The benchmark's figures as one table: per row its samples (ms, bytes), the targets and PASS/FAIL.

A row's times are summarised as median, p95 (nearest rank) and max; its size is the largest response; an
export row also carries the worker's RSS growth. Each row says which targets apply to it (`Check`) and
passes only if all of them hold; rows without a target show "-". MB are 10^6 bytes throughout.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

MB = 1_000_000


def percentile(values: Iterable[float], q: float) -> float:
    """The q-th percentile (nearest rank) of values (0.0 when there are none)."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))]


@dataclass(frozen=True)
class Check:
    """A target: its label in the table and the test a row must pass."""

    label: str
    test: Callable[[Row], bool]


@dataclass
class Row:
    """One line of the table: samples of one scenario, its targets, and errors seen while measuring it."""

    name: str
    ms: list[float] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    rss_mb: float | None = None
    checks: list[Check] = field(default_factory=list)
    errors: int = 0

    def add(self, ms: float, size: int) -> None:
        """One more sample: wall milliseconds and response bytes."""
        self.ms.append(ms)
        self.sizes.append(size)

    @property
    def median(self) -> float:
        return statistics.median(self.ms) if self.ms else 0.0

    @property
    def p95(self) -> float:
        return percentile(self.ms, 95)

    @property
    def max_ms(self) -> float:
        return max(self.ms, default=0.0)

    @property
    def max_bytes(self) -> int:
        return max(self.sizes, default=0)

    def verdict(self) -> str:
        """PASS, FAIL (with the missed targets and errors), or '-' when no target applies."""
        missed = [c.label for c in self.checks if not c.test(self)]
        if self.errors:
            missed.append(f"{self.errors} errors")
        if missed:
            return "FAIL: " + ", ".join(missed)
        return "PASS" if self.checks else "-"


def p95_at_most(ms: float) -> Check:
    """Target: the row's p95 time is at most ms."""
    return Check(f"p95 <= {ms:g} ms", lambda r: r.p95 <= ms)


def max_at_most(ms: float) -> Check:
    """Target: every sample of the row took less than ms."""
    return Check(f"max < {ms / 1000:g} s", lambda r: r.max_ms < ms)


def bytes_at_most(limit: int) -> Check:
    """Target: no response of the row is larger than limit bytes."""
    return Check(f"<= {limit / MB:g} MB", lambda r: r.max_bytes <= limit)


def rss_below(mb: float) -> Check:
    """Target: the worker's RSS grew by less than mb MB (10^6 bytes) during the row's requests."""
    return Check(f"RSS +< {mb:g} MB", lambda r: r.rss_mb is not None and r.rss_mb < mb)


COLUMNS = (
    ("scenario", 78, "<"),
    ("n", 4, ">"),
    ("median ms", 10, ">"),
    ("p95 ms", 9, ">"),
    ("max ms", 9, ">"),
    ("max bytes", 12, ">"),
    ("RSS +MB", 8, ">"),
    ("target", 24, "<"),
    ("result", 0, "<"),
)


def _line(cells: Iterable[str]) -> str:
    """One table line, each cell padded to its column."""
    cols = zip(cells, COLUMNS, strict=True)
    return " ".join(f"{c:{align}{width}}" for c, (_, width, align) in cols).rstrip()


def render(rows: Iterable[Row]) -> str:
    """The table as text: a header, then one line per row (section headings are rows without samples)."""
    lines = [_line(name for name, _, _ in COLUMNS)]
    for r in rows:
        if not r.ms and not r.checks and not r.errors:
            lines.append(r.name)
            continue
        rss = f"{r.rss_mb:.0f}" if r.rss_mb is not None else "-"
        target = "; ".join(c.label for c in r.checks) or "-"
        lines.append(
            _line(
                [
                    r.name[:78],
                    str(len(r.ms)),
                    f"{r.median:.0f}",
                    f"{r.p95:.0f}",
                    f"{r.max_ms:.0f}",
                    f"{r.max_bytes:,}",
                    rss,
                    target,
                    r.verdict(),
                ]
            )
        )
    return "\n".join(lines)
