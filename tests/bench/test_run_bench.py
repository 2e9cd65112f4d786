"""bench/run_bench.py (issue 13's run benchmark) on a tiny file: its output has ours' phase table, both
processes' wall time and peak memory, the ratios and the agreement line, and a second invocation reuses the
generated input. No timing is asserted: speed is never a timed test. Plus unit tests of the phase-table
parser and the rule that skips the peer.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
PHASES = [
    "read",
    "clean",
    "features",
    "value fit",
    "sweep",
    "final fit",
    "outliers",
    "PCA",
    "naming",
    "store",
]


@pytest.fixture(scope="module")
def rb() -> ModuleType:
    """bench/run_bench.py imported as a module (bench/ is not a package)."""
    spec = importlib.util.spec_from_file_location("run_bench", ROOT / "bench" / "run_bench.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["run_bench"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_run_bench_small_size_output_and_cached_input(tmp_path: Path, run_bench: Callable) -> None:
    work = tmp_path / "work"
    result = run_bench("run_bench.py", "--sizes", "20k", "--work", str(work), timeout=600)
    out = result.stdout
    assert result.returncode == 0, out[-4000:] + result.stderr[-4000:]
    assert re.search(r"== 20k lines: [\d,]+ lines, 785 customers \(generated ", out), out
    assert re.search(r"^  ours: wall \d+\.\d+s, peak [\d,]+ MiB$", out, re.M), out
    assert re.search(r"^  peer: wall \d+\.\d+s, peak [\d,]+ MiB  customers=\d+ k=\d+ ", out, re.M), out
    assert re.search(r"^  ratios: time [\d.]+x (faster|slower) \(peer/ours\), memory [\d.]+x", out, re.M), out
    table = out.split("  phase         seconds  peak MiB\n", 1)[1].split("\n\n", 1)[0].splitlines()
    names = [line.rsplit(maxsplit=2)[0].strip() for line in table]
    assert set(PHASES) <= set(names) and names[-1] == "total", table
    assert re.search(r"^20k +[\d,]+ +785 +\d+\.\d +[\d,]+ +\d+\.\d +[\d,]+  ", out, re.M), out
    judged = re.search(r"^    ARI = (-?\d+\.\d+) \(target >= 0\.9\): (PASS|MISS)$", out, re.M)
    assert judged and -1 <= float(judged[1]) <= 1, out
    assert re.search(r"^  like for like \(ours re-run with --k \d+ --log-features all: ", out, re.M), out
    default = re.search(r"^    ARI = (-?\d+\.\d+) \(target >= 0\.9\): not judged$", out, re.M)
    assert default and -1 <= float(default[1]) <= 1, out
    assert re.search(r"customers in both: [\d,]+; only ours: [\d,]+; only the peer: [\d,]+", out), out

    again = run_bench(
        "run_bench.py", "--sizes", "20k", "--work", str(work), "--skip-peer", "--no-ari", timeout=300
    )
    assert again.returncode == 0, again.stdout[-4000:] + again.stderr[-4000:]
    assert f"(reusing cached {work / 'sales_785c_seed0.csv'})" in again.stdout, again.stdout
    assert "peer skipped (--skip-peer)" in again.stdout and "ARI" not in again.stdout
    assert len(list(work.glob("sales_*.csv"))) == 1


def test_parse_phases_splits_names_with_a_space_and_reads_the_total(rb: ModuleType) -> None:
    stderr = (
        "some warning\n"
        "phase           seconds   share  peak MiB\n"
        "read               4.51   12.9%       930\n"
        "clean              9.08   25.9%     2,105\n"
        "value fit          3.86   11.0%     1,683\n"
        "final fit          0.03    0.1%     1,806\n"
        "PCA                0.00    0.0%     1,806\n"
        "total             35.03             2,105\n"
    )
    assert rb.parse_phases(stderr) == [
        ("read", 4.51, 930.0),
        ("clean", 9.08, 2105.0),
        ("value fit", 3.86, 1683.0),
        ("final fit", 0.03, 1806.0),
        ("PCA", 0.0, 1806.0),
        ("total", 35.03, 2105.0),
    ]
    assert rb.parse_phases("no table here\n") == []


def test_peer_skip_rule_scales_the_last_measured_time_by_lines(rb: ModuleType) -> None:
    assert rb.peer_estimate(None, 1_000_000) is None
    assert rb.peer_estimate((1_000_000, 100.0), 5_000_000) == pytest.approx(500.0)
    assert rb.peer_skip_reason(None, 25_000_000, 1800, "25M") is None  # nothing measured yet: run it
    assert rb.peer_skip_reason((5_000_000, 360.0), 25_000_000, 1800, "25M") is None  # exactly 1800 s: run
    assert (
        rb.peer_skip_reason((5_000_000, 400.0), 25_000_000, 1800, "25M")
        == "peer skipped at 25M lines: estimated 2,000 s > 1,800 s limit"
    )


def test_peer_memory_rule_scales_the_last_measured_peak_by_lines(rb: ModuleType, tmp_path: Path) -> None:
    """At 25M lines the peer was killed by the kernel at 24 GB: a peak estimated past the available memory
    skips it with a reason, and MemAvailable is read from /proc/meminfo's format."""
    assert rb.peer_memory_skip_reason(None, 25_000_000, 20_000.0, "25M") is None
    assert rb.peer_memory_skip_reason((5_000_000, 4_000.0), 25_000_000, None, "25M") is None
    assert rb.peer_memory_skip_reason((5_000_000, 4_000.0), 25_000_000, 20_000.0, "25M") is None  # equal: run
    assert (
        rb.peer_memory_skip_reason((5_000_000, 4_789.0), 25_000_000, 23_000.0, "25M")
        == "peer skipped at 25M lines: estimated peak 23,945 MiB > 23,000 MiB available"
    )
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       24000000 kB\nMemAvailable:   2048000 kB\n")
    assert rb.available_mib(meminfo) == 2000.0
    assert rb.available_mib(tmp_path / "missing") is None


def test_sizes_and_ids(rb: ModuleType) -> None:
    assert [rb.parse_size(s) for s in ("20k", "100k", "1M", "25M", "2500", "1.5M")] == [
        20_000,
        100_000,
        1_000_000,
        25_000_000,
        2_500,
        1_500_000,
    ]
    assert [rb.normalise_id(v) for v in ("12346.0", " 12346 ", "12346", "A12.5")] == [
        "12346",
        "12346",
        "12346",
        "A12.5",
    ]


def test_a_killed_peer_is_reported_and_the_run_goes_on(
    rb: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The peer killed by the kernel (exit -9) returns None with one line instead of ending the benchmark;
    ours failing still ends it with the child's output."""
    kill = [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"]
    assert rb.measure(kill, tmp_path, "peer_x", may_fail=True) is None
    assert (
        "peer failed: exit -9 (killed: on Linux usually the out-of-memory killer)" in capsys.readouterr().out
    )
    with pytest.raises(SystemExit, match="failed \\(exit 3\\)"):
        rb.measure([sys.executable, "-c", "raise SystemExit(3)"], tmp_path, "ours_x")
