"""Unknown paths answer HTTP 404 with the app's shell; every page and route keeps working (issue 11,
item 9). Checked with the Flask test client and once under real gunicorn."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from pathlib import Path

import dash
import pytest
from flask.testing import FlaskClient

from dashboard import not_found
from tests.browser.conftest import start_gunicorn, stop

UNKNOWN = [
    "/nope",
    "/wp-admin.php",
    "/explore/../x",
    "/explore/x",
    "/Explore",
    "/404",  # the not-found page itself is no page
    "/export/nope.csv",
    "/login.php?next=/",
    "/%2e%2e/etc/passwd",
    "/" + "x" * 2000,
]
SHELL = "_dash-renderer"  # the index page's renderer script: the browser still draws the not-found page


def page_paths() -> list[str]:
    """Every registered page's path but the not-found page's."""
    return [
        p["path"]
        for p in dash.page_registry.values()
        if p["module"].split(".")[-1] != not_found.NOT_FOUND_MODULE
    ]


@pytest.mark.parametrize("path", UNKNOWN)
def test_unknown_paths_answer_404_with_the_shell(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert SHELL in response.get_data(as_text=True)


def test_every_page_answers_200_with_or_without_slash_and_query(client: FlaskClient) -> None:
    client.get("/")
    paths = page_paths()
    assert {"/", "/explore", "/customers", "/compare", "/model", "/simulator", "/history"} <= set(paths)
    for path in paths:
        for variant in {
            path,
            path.rstrip("/") + "/",
            path + "?run=1&country=France",
            path.rstrip("/") + "/?run=2",
        }:
            assert client.get(variant).status_code == 200, variant


def test_dash_routes_assets_and_exports_still_answer(client: FlaskClient, app: dash.Dash) -> None:
    index = client.get("/").get_data(as_text=True)
    suite = re.search(r'src="(/_dash-component-suites/[^"]+)"', index)
    assert suite is not None
    asset = next(p.name for p in Path(app.config.assets_folder).iterdir() if p.suffix == ".css")
    for path in (
        "/_dash-layout",
        "/_dash-dependencies",
        "/_favicon.ico",
        suite.group(1),
        f"/assets/{asset}",
        "/export/customers.csv?run=1",
    ):
        assert client.get(path).status_code == 200, path
    assert client.get("/assets/nope.css").status_code == 404


def test_routes_added_beside_dash_are_untouched(app: dash.Dash) -> None:
    """Routes like /login and /logout (dashboard/auth.py adds them when login is on) are not the catch-all."""
    app.server.add_url_rule("/login", "test_login", lambda: "login form")
    client = app.server.test_client()
    assert client.get("/login").status_code == 200
    assert client.get("/login/extra").status_code == 404


def test_is_page_matches_like_dashs_router(client: FlaskClient) -> None:
    client.get("/")
    assert not_found.is_page("/explore//") and not_found.is_page("/")
    assert not not_found.is_page("/explore/x") and not not_found.is_page("explore")
    assert not_found.is_page("/app/explore", "/app/") and not not_found.is_page("/explore", "/app/")


def test_under_gunicorn(fixture_db: Path) -> None:
    server = start_gunicorn(fixture_db, workers=1)
    try:
        for path, status in (
            ("/nope", 404),
            ("/wp-admin.php", 404),
            ("/explore/", 200),
            ("/model?run=1", 200),
        ):
            try:
                with urllib.request.urlopen(server.url + path, timeout=30) as response:
                    got, body = response.status, response.read().decode()
            except urllib.error.HTTPError as exc:
                got, body = exc.code, exc.read().decode()
            assert got == status, path
            assert SHELL in body, path
    finally:
        stop(server)
