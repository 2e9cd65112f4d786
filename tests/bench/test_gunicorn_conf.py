"""gunicorn.conf.py: loopback by default, GUNICORN_BIND/BIND to listen elsewhere, the gthread worker model,
and DuckDB threads/memory shared out so workers x threads do not oversubscribe the cores."""

from __future__ import annotations

import os
import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def conf(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict:
    for name in (
        "PORT",
        "GUNICORN_BIND",
        "BIND",
        "WEB_CONCURRENCY",
        "GUNICORN_THREADS",
        "GUNICORN_WORKER_CLASS",
        "GUNICORN_MAX_REQUESTS",
        "GUNICORN_KEEPALIVE",
        "SEGMENTATION_DB_THREADS",
        "SEGMENTATION_DB_MEMORY",
        "SEGMENTATION_RESULT_CACHE",
    ):
        monkeypatch.setenv(name, "")  # recorded, so the config's setdefault() is undone after the test
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(ROOT / "gunicorn.conf.py"))


def test_binds_loopback_unless_told_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    assert conf(monkeypatch)["bind"] == "127.0.0.1:8050"
    assert conf(monkeypatch, PORT="9001")["bind"] == "127.0.0.1:9001"
    assert conf(monkeypatch, PORT="9001", GUNICORN_BIND="0.0.0.0")["bind"] == "0.0.0.0:9001"
    assert conf(monkeypatch, BIND="10.0.0.5:8000")["bind"] == "10.0.0.5:8000"
    assert conf(monkeypatch, GUNICORN_BIND="unix:/run/seg.sock")["bind"] == "unix:/run/seg.sock"


def test_gthread_workers_and_duckdb_shares(monkeypatch: pytest.MonkeyPatch) -> None:
    c = conf(monkeypatch, WEB_CONCURRENCY="2", GUNICORN_THREADS="4")
    assert c["worker_class"] == "gthread" and c["workers"] == 2 and c["threads"] == 4
    assert c["preload_app"] is False and c["timeout"] == 60
    assert c["max_requests"] == 0  # recycling a gthread worker resets queued keep-alive requests (#3038)
    cores = os.cpu_count() or 1
    assert int(os.environ["SEGMENTATION_DB_THREADS"]) == max(1, cores // 8)
    assert os.environ["SEGMENTATION_DB_MEMORY"].endswith("MB")
    assert os.environ["SEGMENTATION_RESULT_CACHE"] == "1"
    c = conf(monkeypatch, GUNICORN_WORKER_CLASS="sync", SEGMENTATION_DB_THREADS="3")
    assert c["worker_class"] == "sync" and c["threads"] == 1 and c["workers"] == cores
    assert c["max_requests"] == 1000
    assert os.environ["SEGMENTATION_DB_THREADS"] == "3"  # an explicit setting wins


def test_procfile_runs_the_config() -> None:
    assert (ROOT / "Procfile").read_text() == "web: gunicorn wsgi:server --config gunicorn.conf.py\n"


def test_the_config_leaves_no_setting_behind() -> None:
    """The tests above undo what the config put in os.environ (the result cache stays off in tests)."""
    assert os.environ.get("SEGMENTATION_RESULT_CACHE") is None


def test_no_keep_alive_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    """keepalive 0: gthread answers "Connection: close", so no client reuses a connection the worker may be
    closing (gunicorn's keep-alive reset race); GUNICORN_KEEPALIVE turns it back on."""
    assert conf(monkeypatch)["keepalive"] == 0
    assert conf(monkeypatch, GUNICORN_KEEPALIVE="5")["keepalive"] == 5
