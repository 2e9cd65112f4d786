"""HTTP hardening in dashboard/http_headers.py, in process: security headers on every kind of response,
Dash's first-request setup serialized across threads (gthread workers), chunked bodies over the limit."""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path
from typing import Any

import dash
import pytest

from dashboard import create_app, http_headers, queries


@pytest.fixture
def open_app(fixture_db: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.delenv("SEGMENTATION_USERS", raising=False)
    app = create_app(fixture_db)
    yield app
    queries.close_thread_connections()


def test_headers_on_pages_json_assets_and_errors(open_app: dash.Dash) -> None:
    client = open_app.server.test_client()
    for path in ("/", "/_dash-layout", "/assets/style.css", "/export/customers.csv", "/_favicon.ico"):
        response = client.get(path)
        csp = response.headers["Content-Security-Policy"]
        assert csp.startswith("default-src 'self'; script-src 'self' 'sha256-"), path
        for part in ("frame-ancestors 'none'", "img-src 'self' data: blob:", "object-src 'none'"):
            assert part in csp, (path, part)
        assert "'unsafe-eval'" not in csp and "script-src 'self' 'unsafe-inline'" not in csp
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
        assert (response.headers.get("Cache-Control") == "no-store") is not path.startswith("/assets/"), path


def test_csp_hashes_cover_the_inline_scripts_of_the_page(open_app: dash.Dash) -> None:
    import base64
    import hashlib
    import re

    response = open_app.server.test_client().get("/")
    html = response.get_data(as_text=True)
    html = re.sub(r"<!--.*?-->", "", html, flags=re.S)  # the IE-only script is inside a comment
    inline = re.findall(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>(.*?)</script>", html, re.S)
    assert inline
    csp = response.headers["Content-Security-Policy"]
    for script in inline:
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp


def test_dash_setup_runs_before_any_thread_serves(fixture_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two first requests at once on one app (two gthread threads): the second must wait for the
    scripts to be registered instead of answering 500 "dash is not a registered library"."""
    monkeypatch.delenv("SEGMENTATION_USERS", raising=False)
    slow = dash.Dash._generate_scripts_html

    def slowed(self: dash.Dash) -> Any:
        time.sleep(0.5)  # widen the window between Dash's "done" flag and the registered paths
        return slow(self)

    monkeypatch.setattr(dash.Dash, "_generate_scripts_html", slowed)
    app = create_app(fixture_db)
    suite = "/_dash-component-suites/dash/deps/react@18.v4_4_1m1.3.1.min.js"
    statuses: dict[str, int] = {}

    def get(path: str) -> None:
        statuses[path] = app.server.test_client().get(path).status_code

    first = threading.Thread(target=get, args=("/",))
    first.start()
    time.sleep(0.1)
    second = threading.Thread(target=get, args=(suite,))
    second.start()
    first.join()
    second.join()
    queries.close_thread_connections()
    assert statuses == {"/": 200, suite: 200}


def test_body_limit_middleware() -> None:
    seen: list[bytes] = []

    def inner(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.append(environ["wsgi.input"].read())
        start_response("200 OK", [])
        return [b"ok"]

    limited = http_headers.BodyLimit(inner, lambda: 10)
    statuses: list[str] = []

    def call(body: bytes, **environ: Any) -> bytes:
        env = {"wsgi.input": io.BytesIO(body), "wsgi.input_terminated": True, **environ}
        return b"".join(limited(env, lambda status, headers: statuses.append(status)))

    assert call(b"0123456789") == b"ok" and seen == [b"0123456789"]  # exactly the limit: whole
    assert call(b"0123456789x").startswith(b"The request body is larger than the 10 bytes")
    assert statuses[-1] == "413 Content Too Large" and len(seen) == 1
    assert call(b"0123456789xyz", CONTENT_LENGTH="13") == b"ok"  # with a length Werkzeug decides
    assert call(b"abc", **{"wsgi.input_terminated": None}) == b"ok"
