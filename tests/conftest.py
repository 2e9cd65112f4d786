"""Shared pytest fixtures for the whole suite."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from segmentation import pipeline
from segmentation.config import RunConfig


@pytest.fixture(autouse=True)
def reset_dash_globals() -> Iterator[None]:
    """Empty Dash's module-level callback and page registries so each test's create_app starts clean.

    `@dash.callback` and `dash.register_page` fill globals that the first app to serve a request drains
    (dash/_callback.py, dash/_pages.py in dash 4.4.1); without this, a second app in one session gets no
    page callbacks, or the first gets them twice.
    """
    if "dash" in sys.modules:
        from dash import _callback, _pages

        _callback.GLOBAL_CALLBACK_LIST.clear()
        _callback.GLOBAL_CALLBACK_MAP.clear()
        _callback.GLOBAL_INLINE_SCRIPTS.clear()
        _pages.PAGE_REGISTRY.clear()
    yield


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A skipped test fails the session: every test here must run, browser tests included (CI runs all)."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter is not None else []
    if skipped and exitstatus == 0:
        reporter.ensure_newline()
        reporter.write_line(f"FAILED: {len(skipped)} test(s) skipped; every test must run.", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# --- Real runs of the pipeline on small real data (cut from the bundled sample) ---------------------

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "online_retail_sample.csv"


@pytest.fixture(scope="session")
def small_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 280 customers of the real sample (every 4th id), with all their lines and some guest lines."""
    out = tmp_path_factory.mktemp("small") / "retail_small.csv"
    with duckdb.connect() as con:
        con.sql(
            """SELECT * FROM read_csv(?, all_varchar = true)
               WHERE CustomerID IS NULL AND hash(InvoiceNo) % 20 = 0
                  OR (CustomerID::DOUBLE)::BIGINT % 16 = 0""",
            params=[str(SAMPLE)],
        ).write_csv(str(out), header=True)
    return out


@pytest.fixture(scope="session")
def small_run(small_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pipeline.RunSummary]:
    """One real run of the small input (seed 0), stored in its own DB; copy it before writing."""
    db = tmp_path_factory.mktemp("small_db") / "segments.duckdb"
    summary = pipeline.run(RunConfig(inputs=(small_csv,), db_path=db, progress=False))
    return db, summary


@pytest.fixture
def db_copy(small_run: tuple[Path, pipeline.RunSummary], tmp_path: Path) -> Path:
    """A per-test copy of the small run's DB, for tests that write."""
    target = tmp_path / "segments.duckdb"
    shutil.copyfile(small_run[0], target)
    return target
