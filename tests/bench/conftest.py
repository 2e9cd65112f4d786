"""Fixtures for the benchmark tests: run a script of bench/ as a subprocess, the way a person runs it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def run_bench() -> Callable[..., subprocess.CompletedProcess]:
    """run_bench("load_test.py", "--small", timeout=300): the finished process, output captured as text."""

    def run(script: str, *args: str, timeout: float) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, str(ROOT / "bench" / script), *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    return run
