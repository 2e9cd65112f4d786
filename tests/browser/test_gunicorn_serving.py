"""The Procfile's gunicorn with 2 workers: every page renders (200); a re-run shows without restart.

These drive the server over HTTP the way the browser does (the Pages router is a Dash callback), so each
page's layout really runs inside a forked worker on its own read-only DuckDB connection.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import duckdb
import pytest

from segmentation import pipeline
from segmentation.config import RunConfig
from tests.browser.conftest import ROOT, Server, start_gunicorn, stop

PAGES = ("/", "/explore", "/compare", "/customers", "/model", "/simulator", "/history")
REQUESTS_PER_CHECK = 8  # new connection each: enough to reach both sync workers


def get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.status, response.read().decode("utf-8")


def render(server: Server, path: str, search: str = "") -> tuple[int, dict[str, Any]]:
    """POST the Pages router callback for path (what the browser does on navigation)."""
    body = {
        "output": ".._pages_content.children..._pages_store.data..",
        "outputs": [
            {"id": "_pages_content", "property": "children"},
            {"id": "_pages_store", "property": "data"},
        ],
        "inputs": [
            {"id": "_pages_location", "property": "pathname", "value": path},
            {"id": "_pages_location", "property": "search", "value": search},
        ],
        "changedPropIds": ["_pages_location.pathname"],
        "state": [],
    }
    request = urllib.request.Request(
        server.url + "/_dash-update-component",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.status, json.loads(response.read())


def workers(server: Server) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(server.process.pid)], capture_output=True, text=True)
    return [int(pid) for pid in out.stdout.split()]


def test_two_workers_serve_every_page(live_server: Server) -> None:
    assert len(workers(live_server)) == 2
    for path in PAGES:
        for _ in range(2):  # consecutive connections, so both workers get to render pages
            status, html = get(live_server.url + path)
            assert status == 200 and '<div id="react-entry-point">' in html, path
            status, payload = render(live_server, path)
            assert status == 200, path
            content = json.dumps(payload["response"]["_pages_content"]["children"])
            assert "Traceback" not in content and "Page not found" not in content, path
    status, payload = render(live_server, "/no-such-page")
    assert status == 200 and "Page not found" in json.dumps(payload)
    status, csv_text = get(live_server.url + "/export/customers.csv")
    lines = [line for line in csv_text.split("\r\n") if line]
    assert status == 200 and lines[0].startswith("customer_id,") and len(lines) == 1 + 1096


@pytest.fixture
def own_server(browser_db: Path, tmp_path: Path) -> Any:
    db = tmp_path / "segments.duckdb"
    shutil.copyfile(browser_db, db)
    server = start_gunicorn(db, workers=2)
    yield server
    stop(server)


def test_a_rerun_shows_on_the_next_page_load_without_restart(own_server: Server) -> None:
    pids = workers(own_server)
    with duckdb.connect(str(own_server.db), read_only=True) as con:
        (k1,) = con.execute("SELECT k FROM runs WHERE id = 1").fetchone()
    k2 = 2 if k1 != 2 else 3
    for _ in range(REQUESTS_PER_CHECK):  # every worker opens (and caches) the first file
        _, layout = get(own_server.url + "/_dash-layout")
        assert "Run 1" in layout and "Run 2" not in layout
        _, page = render(own_server, "/")
        assert f"of {k1} in the run" in json.dumps(page)

    sample = ROOT / "data" / "online_retail_sample.csv"
    pipeline.run(RunConfig(inputs=(sample,), db_path=own_server.db, k=k2, progress=False))

    for _ in range(REQUESTS_PER_CHECK):
        _, layout = get(own_server.url + "/_dash-layout")
        assert "Run 2" in layout
        _, page = render(own_server, "/")
        assert f"of {k2} in the run" in json.dumps(page)  # the latest run is the default
        _, page = render(own_server, "/", "?run=1")
        assert f"of {k1} in the run" in json.dumps(page)  # and the old one is still there to pick
    assert workers(own_server) == pids  # same processes: nothing restarted
