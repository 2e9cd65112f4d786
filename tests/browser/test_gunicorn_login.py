"""Login under the real gunicorn (3 workers): a session made on one worker is honoured by every worker (one
SECRET_KEY from the environment), routes are closed without it, viewers cannot export; and a chunked
request body over MAX_CONTENT_LENGTH answers 413 instead of reaching Dash cut to 1 MiB."""

from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
from collections.abc import Iterator
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest

from segmentation import users
from tests.browser.conftest import Server, start_gunicorn, stop

WORKERS = 3
PASSWORDS = {"eve": "exporter-password", "vic": "viewer-password"}
LIMIT = 1024 * 1024


@pytest.fixture(scope="module")
def login_server(browser_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    path = tmp_path_factory.mktemp("login-users") / "users.json"
    users.add(path, "eve", "exporter", PASSWORDS["eve"])
    users.add(path, "vic", "viewer", PASSWORDS["vic"])
    # Keep-alive on (it is off by default) so that served_by can see which worker holds a connection.
    server = start_gunicorn(
        browser_db,
        workers=WORKERS,
        users=path,
        secret="gunicorn-login-" + "q" * 40,
        extra_env={"GUNICORN_KEEPALIVE": "5"},
    )
    yield server
    stop(server)


def request(
    server: Server, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One request on a fresh connection (so the kernel may hand it to any worker)."""
    parts = urlsplit(server.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def login(server: Server, name: str) -> str:
    """Log in through the form; returns the Cookie header value of the new session."""
    status, headers, page = request(server, "GET", "/login")
    assert status == 200
    token = re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()
    cookie = SimpleCookie(headers["set-cookie"])
    form = urlencode({"csrf_token": token, "username": name, "password": PASSWORDS[name], "next": "/"})
    status, headers, _ = request(
        server,
        "POST",
        "/login",
        form,
        {
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"segments_session={cookie['segments_session'].value}",
        },
    )
    assert status == 303 and headers["location"] == "/"
    return "segments_session=" + SimpleCookie(headers["set-cookie"])["segments_session"].value


def worker_pids(server: Server) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(server.process.pid)], capture_output=True, text=True)
    return [int(pid) for pid in out.stdout.split()]


def socket_owner(server_port: int, client_port: int, pids: list[int]) -> int | None:
    """The worker holding the server side of the loopback TCP connection from client_port (from
    /proc/net/tcp's socket inode and the workers' /proc/<pid>/fd links)."""
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = fields[1].split(":")[1], fields[2].split(":")[1]
        if int(local, 16) == server_port and int(remote, 16) == client_port:
            inode = fields[9]
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(fd) == f"socket:[{inode}]":
                    return pid
            except OSError:
                continue
    return None


def served_by(server: Server, cookie: str, pids: list[int]) -> tuple[int, bytes, int | None]:
    """GET /_dash-layout on a fresh keep-alive connection; (status, body, the worker that answered)."""
    parts = urlsplit(server.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        connection.request("GET", "/_dash-layout", headers={"Cookie": cookie})
        response = connection.getresponse()
        body = response.read()
        owner = socket_owner(parts.port, connection.sock.getsockname()[1], pids)  # still open: keep-alive
        return response.status, body, owner
    finally:
        connection.close()


def test_a_session_works_on_every_worker(login_server: Server) -> None:
    cookie = login(login_server, "eve")
    pids = worker_pids(login_server)
    assert len(pids) == WORKERS
    answered: dict[int, int] = {}
    for _ in range(60):  # fresh connections, until every worker has answered a few
        status, body, owner = served_by(login_server, cookie, pids)
        assert status == 200 and b'"account-menu"' in body and owner in pids
        answered[owner] = answered.get(owner, 0) + 1
        if len(answered) == WORKERS and min(answered.values()) >= 2:
            break
    assert sorted(answered) == sorted(pids), answered


def test_routes_are_closed_without_a_session(login_server: Server) -> None:
    status, headers, _ = request(login_server, "GET", "/explore?run=1", headers={"Accept": "text/html"})
    assert status == 302 and headers["location"] == "/login?next=%2Fexplore%3Frun%3D1"
    for path in ("/_dash-layout", "/_dash-dependencies", "/assets/style.css", "/export/customers.csv"):
        assert request(login_server, "GET", path)[0] == 401, path
    body = json.dumps({"output": "x.children", "inputs": []})
    headers = {"Content-Type": "application/json"}
    assert request(login_server, "POST", "/_dash-update-component", body, headers)[0] == 401


def test_viewer_export_is_403_exporter_gets_the_list(login_server: Server) -> None:
    viewer, exporter = login(login_server, "vic"), login(login_server, "eve")
    status, _, body = request(login_server, "GET", "/export/customers.csv", headers={"Cookie": viewer})
    assert status == 403 and body.startswith(b"Your role (viewer) may not export customer lists")
    status, _, body = request(login_server, "GET", "/export/customers.csv", headers={"Cookie": exporter})
    assert status == 200 and body.decode("utf-8-sig").startswith("customer_id,")


def router_body(padding: int) -> bytes:
    """The Pages router callback for /explore, padded by a key Dash ignores to size the body."""
    return json.dumps(
        {
            "padding": "a" * padding,
            "output": ".._pages_content.children..._pages_store.data..",
            "outputs": [
                {"id": "_pages_content", "property": "children"},
                {"id": "_pages_store", "property": "data"},
            ],
            "inputs": [
                {"id": "_pages_location", "property": "pathname", "value": "/explore"},
                {"id": "_pages_location", "property": "search", "value": ""},
            ],
            "changedPropIds": ["_pages_location.pathname"],
            "state": [],
        }
    ).encode()


def chunked(body: bytes) -> Iterator[bytes]:
    for start in range(0, len(body), 64 * 1024):
        yield body[start : start + 64 * 1024]


def test_chunked_body_over_the_limit_is_413(login_server: Server) -> None:
    cookie = login(login_server, "eve")
    headers = {"Content-Type": "application/json", "Cookie": cookie}
    big = router_body(2 * LIMIT)
    fits = router_body(LIMIT - 2000)
    assert len(fits) <= LIMIT < len(big)

    def send(body: bytes, chunk: bool) -> tuple[int, bytes]:
        parts = urlsplit(login_server.url)
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        try:
            extra = {"Transfer-Encoding": "chunked"} if chunk else {}
            connection.request(
                "POST",
                "/_dash-update-component",
                body=chunked(body) if chunk else body,
                headers={**headers, **extra},
                encode_chunked=chunk,
            )
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    status, text = send(big, chunk=True)
    assert status == 413, (status, text[:200])
    assert text == b"The request body is larger than the 1,048,576 bytes this server accepts.\n"
    assert send(big, chunk=False)[0] == 413  # with Content-Length Werkzeug refuses it up front
    status, text = send(fits, chunk=True)  # a chunked body under the limit arrives whole
    assert status == 200, (status, text[:300])
    assert "_pages_content" in json.loads(text)["response"]
