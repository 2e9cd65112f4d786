"""Fixtures for the segmentation tests: small real inputs cut from the bundled sample, and real runs."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from segmentation import pipeline
from segmentation.config import RunConfig

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "online_retail_sample.csv"


@pytest.fixture(scope="session")
def small_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 280 customers of the real sample (every 4th id), with all their lines and some guest lines."""
    out = tmp_path_factory.mktemp("small") / "retail_small.csv"
    with duckdb.connect() as con:
        con.execute(
            """COPY (SELECT * FROM read_csv(?, all_varchar = true)
                     WHERE CustomerID IS NULL AND hash(InvoiceNo) % 20 = 0
                        OR (CustomerID::DOUBLE)::BIGINT % 16 = 0)
               TO '""" + str(out).replace("'", "''") + "' (HEADER)",
            [str(SAMPLE)],
        )
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
