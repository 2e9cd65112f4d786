"""`segments run --if-changed`: skip a scheduled re-run when neither the input nor the settings changed.

The input's checksum is the one every run stores (runs.source_sha256: sha256 of the input files' sha256
hex digests, in the order given). For local files it is computed here from the files' bytes alone, one
read of each file (ingest hashes the same bytes while reading; a test keeps the two equal for every file
kind). Inputs that are not local files (a database or object-storage address) are read by ingest into a
throwaway connection, which stops before cleaning. The settings are the run's stored params
(RunConfig.to_params) without the ones that only set resources. Nothing is written: the DB file is opened
read-only, or not at all when it does not exist.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import duckdb

from segmentation import ingest, scratch, store
from segmentation.config import RunConfig

# change how fast a run is (or where it runs), never what it stores
RESOURCE_PARAMS = ("threads", "memory_limit", "spark_master")


def input_checksum(cfg: RunConfig) -> str:
    """The checksum the run would store in runs.source_sha256."""
    if all(Path(p).is_file() for p in cfg.inputs):
        digests = [ingest.file_sha256(Path(p)) for p in cfg.inputs]
        return hashlib.sha256("".join(digests).encode("ascii")).hexdigest()
    if getattr(cfg, "engine", "duckdb") == "spark":  # URIs Spark reads: the sha256 of their listings
        from segmentation import spark_engine

        return spark_engine.input_checksum(cfg)
    with scratch.run_scratch() as work:  # read, then stop before cleaning
        con = duckdb.connect(
            config={
                "temp_directory": str(work / "spill"),
                "autoinstall_known_extensions": False,
                "autoload_known_extensions": False,
            }
        )
        try:
            load = ingest.load_customer_table if cfg.mode == "customers" else ingest.load_sales
            return load(con, cfg).sha256
        finally:
            con.close()


def settings(params: dict[str, Any]) -> dict[str, Any]:
    """The params that decide a run's result, as JSON values."""
    return {k: v for k, v in json.loads(json.dumps(params)).items() if k not in RESOURCE_PARAMS}


def latest_run(db_path: Path) -> tuple[int, str | None, dict[str, Any]] | None:
    """The newest stored run's id, input checksum and params; None when there is no readable run."""
    if not db_path.exists() or db_path.with_name(db_path.name + ".wal").exists():
        return None  # a stray .wal is settled by the run itself, under its lock
    try:  # a file the run cannot use either: the run itself says why, in one sentence
        con = store.open_read_only(db_path)
    except duckdb.Error:
        return None
    try:
        row = con.execute("SELECT id, source_sha256, params FROM runs ORDER BY id DESC LIMIT 1").fetchone()
    except duckdb.CatalogException:
        return None
    finally:
        con.close()
    if row is None:
        return None
    return int(row[0]), row[1], json.loads(row[2]) if row[2] else {}


def skip_line(cfg: RunConfig) -> str | None:
    """One line saying why the run is skipped, or None when it must run (another input or settings)."""
    latest = latest_run(cfg.db_path)
    if latest is None:
        return None
    run_id, stored_sha, params = latest
    if settings(params) != settings(cfg.to_params()):
        return None
    sha = input_checksum(cfg)
    if sha != stored_sha:
        return None
    return f"segments: skipped: inputs unchanged since run {run_id} (sha256 {sha[:8]}…)"
