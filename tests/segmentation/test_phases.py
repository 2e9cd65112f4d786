"""Phase timings: each phase's own wall time and peak memory, and `segments run --timings`."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from segmentation.cli import main
from segmentation.phases import PhaseClock, current_rss, format_phases

RUN_PHASES = [
    "read", "clean", "features", "value fit", "scale", "sweep", "compare", "final fit", "outliers",
    "PCA", "stability", "naming", "store",
]  # fmt: skip


def test_a_phase_records_its_own_peak_not_the_process_peak() -> None:
    clock = PhaseClock(interval=0.001)
    with clock.phase("big"):
        block = np.ones(200 * 2**20 // 8)  # 200 MiB, touched
        time.sleep(0.05)
        del block
    with clock.phase("small"):
        time.sleep(0.02)
    big, small = clock.phases
    assert (big.name, small.name) == ("big", "small")
    assert big.peak_bytes - small.peak_bytes > 150 * 2**20
    assert small.peak_bytes <= current_rss() + 20 * 2**20
    assert big.seconds >= 0.05 and small.seconds >= 0.02


def test_a_failing_phase_is_still_recorded_and_reraises() -> None:
    clock = PhaseClock()
    with pytest.raises(ZeroDivisionError), clock.phase("boom"):
        1 / 0  # noqa: B018
    assert [p.name for p in clock.phases] == ["boom"]


def test_run_timings_prints_every_phase(
    small_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "s.duckdb"
    assert main(["run", str(small_csv), "--db", str(db), "--quiet", "--timings"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[0].split() == ["phase", "seconds", "share", "peak", "MiB"]
    rows = [line.rsplit(maxsplit=3) for line in err[1:]]
    assert [r[0] for r in rows] == [*RUN_PHASES, "total"]
    seconds = [float(r[1]) for r in rows]
    assert sum(seconds[:-1]) <= seconds[-1] + 0.01
    assert all(float(r[-1].replace(",", "")) > 50 for r in rows)  # MiB: a Python with numpy loaded


def test_format_phases_shares_add_up() -> None:
    clock = PhaseClock()
    with clock.phase("a"):
        time.sleep(0.01)
    text = format_phases(clock.phases, 0.02)
    assert text.splitlines()[1].split()[0] == "a"
    assert text.splitlines()[-1].split()[0] == "total"
