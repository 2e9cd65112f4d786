"""The load test's CI mode: `bench/load_test.py --small` (gunicorn + locust on loopback) passes and reports.

It runs as a subprocess (locust monkey-patches the standard library with gevent, never import it here).
"""

from __future__ import annotations

from collections.abc import Callable


def test_load_small_passes_and_prints_the_summary(run_bench: Callable) -> None:
    result = run_bench("load_test.py", "--small", timeout=300)
    out = result.stdout
    assert result.returncode == 0, out[-4000:] + result.stderr[-2000:]
    assert "LOAD TEST SUMMARY (milliseconds)" in out
    assert "filter callbacks (all)" in out and "VERDICT: PASS" in out and "RESULT: PASS" in out
    header = next(line for line in out.splitlines() if line.startswith("request "))
    assert header.split() == ["request", "count", "fails", "median", "p95", "p99", "max"]
    # a page load is every callback the browser sends by itself, not just the page's HTML
    for name in (
        "load cb: _pages_content.children (/customers)",
        "load cb: run-select.options",
        "load cb: customers-grid.getRowsResponse (/customers)",
    ):
        assert name in out, name
