"""Exports under real gunicorn (issue 11, items 2, 3 and 9): they stream chunked with no row count anywhere
before the rows, a transfer cut by a dying worker is detectable by the client (no final chunk; an XLSX
without its zip directory), a client that hangs up is audited as aborted, and sync workers still serve
exports that finish within their timeout."""

from __future__ import annotations

import http.client
import io
import json
import os
import signal
import subprocess
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import openpyxl
import pytest

from segmentation import users
from tests.browser.conftest import Server, start_gunicorn, stop
from tests.browser.test_gunicorn_login import PASSWORDS, login, request
from tests.dashboard.conftest import build_db

CUSTOMERS = 100_003  # ~25 MB of CSV: far more than the socket buffers hold


@pytest.fixture(scope="module")
def big_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_db(tmp_path_factory.mktemp("big") / "big.duckdb", runs=1, n=CUSTOMERS)


@pytest.fixture
def server(big_db: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    monkeypatch.delenv("SEGMENTATION_AUDIT_LOG", raising=False)
    monkeypatch.delenv("GUNICORN_WORKER_CLASS", raising=False)
    audit_log(big_db).unlink(missing_ok=True)
    running = start_gunicorn(big_db, workers=1)
    yield running
    stop(running)


def audit_log(db: Path) -> Path:
    return db.with_name(db.name + ".audit.jsonl")


def worker(server: Server) -> int:
    out = subprocess.run(["pgrep", "-P", str(server.process.pid)], capture_output=True, text=True)
    (pid,) = [int(p) for p in out.stdout.split()]
    return pid


def open_export(server: Server, ext: str) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
    url = urlsplit(server.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
    conn.request("GET", f"/export/customers.{ext}?run=1")
    return conn, conn.getresponse()


def assert_no_count_claimed(response: http.client.HTTPResponse) -> None:
    headers = dict(response.getheaders())
    assert "Content-Length" not in headers and headers["Transfer-Encoding"] == "chunked"
    assert not any(str(CUSTOMERS) in value or f"{CUSTOMERS:,}" in value for value in headers.values())


def test_gexp001_csv_streams_chunked_with_an_exact_content_type(server: Server) -> None:
    conn, response = open_export(server, "csv")
    assert response.status == 200
    assert response.getheader("Content-Type") == "text/csv; charset=utf-8"
    assert_no_count_claimed(response)
    body = response.read()  # the final chunk arrives: a complete transfer
    conn.close()
    assert body.count(b"\r\n") == CUSTOMERS + 1
    entries = [json.loads(line) for line in audit_log(server.db).read_text().splitlines()]
    assert [(e["outcome"], e["rows"], e["bytes"]) for e in entries] == [("complete", CUSTOMERS, len(body))]


@pytest.mark.parametrize("ext", ["csv", "xlsx"])
def test_gexp002_a_worker_dying_mid_export_leaves_a_detectably_cut_file(server: Server, ext: str) -> None:
    conn, response = open_export(server, ext)
    assert response.status == 200
    assert_no_count_claimed(response)
    start = response.read(65536)
    time.sleep(0.5)  # the worker fills the socket buffers and waits for the client
    os.kill(worker(server), signal.SIGKILL)
    with pytest.raises(http.client.IncompleteRead) as cut:  # no terminating chunk: the client knows
        response.read()
    conn.close()
    partial = start + cut.value.partial
    assert 0 < len(partial) < 20_000_000
    if ext == "xlsx":
        with pytest.raises(zipfile.BadZipFile):  # no central directory: no reader takes it for a workbook
            zipfile.ZipFile(io.BytesIO(partial))
        with pytest.raises(zipfile.BadZipFile):
            openpyxl.load_workbook(io.BytesIO(partial))
    else:
        assert partial.count(b"\r\n") < CUSTOMERS + 1


def test_gexp003_a_client_that_hangs_up_is_audited_as_aborted(server: Server) -> None:
    conn, response = open_export(server, "csv")
    response.read(65536)
    # Hang up. The server says "Connection: close" (no keep-alive), so http.client has handed the socket over
    # to the response: closing the response's file closes the connection.
    response.close()
    if conn.sock is not None:  # a kept-alive connection (GUNICORN_KEEPALIVE) still holds it here
        conn.sock.close()
    conn.close()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not audit_log(server.db).read_text():
        time.sleep(0.2)  # the worker notices when its next write fails
    (entry,) = [json.loads(line) for line in audit_log(server.db).read_text().splitlines()]
    assert entry["outcome"] == "aborted" and entry["user"] == "anonymous"
    assert 0 < entry["rows"] < CUSTOMERS and entry["bytes"] >= 65536


def test_gexp004_sync_workers_still_serve_exports_that_fit_their_timeout(
    browser_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GUNICORN_WORKER_CLASS", "sync")
    monkeypatch.setenv("SEGMENTATION_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
    running = start_gunicorn(browser_db, workers=1)
    try:
        conn, csv_response = open_export(running, "csv")
        assert csv_response.getheader("Content-Type") == "text/csv; charset=utf-8"
        csv_body = csv_response.read()
        conn.close()
        conn, xlsx_response = open_export(running, "xlsx")
        xlsx_body = xlsx_response.read()
        conn.close()
    finally:
        stop(running)
    assert csv_body.count(b"\r\n") == 1 + 1096
    assert openpyxl.load_workbook(io.BytesIO(xlsx_body))["Customers"].max_row == 1 + 1096
    entries = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert [(e["format"], e["rows"], e["outcome"]) for e in entries] == [
        ("csv", 1096, "complete"),
        ("xlsx", 1096, "complete"),
    ]


def test_gexp005_a_signed_in_export_is_audited_under_the_users_name(
    browser_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "users.json"
    users.add(path, "eve", "exporter", PASSWORDS["eve"])
    monkeypatch.setenv("SEGMENTATION_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
    running = start_gunicorn(browser_db, workers=1, users=path, secret="gunicorn-exports-" + "z" * 40)
    try:
        cookie = login(running, "eve")
        status, headers, body = request(
            running, "GET", "/export/customers.csv?run=1&country=Germany", headers={"Cookie": cookie}
        )
    finally:
        stop(running)
    assert status == 200 and headers["content-type"] == "text/csv; charset=utf-8"
    (entry,) = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert (entry["user"], entry["filters"], entry["outcome"]) == ("eve", "run=1&country=Germany", "complete")
    assert entry["rows"] == body.count(b"\r\n") - 1 > 0 and entry["bytes"] == len(body)
