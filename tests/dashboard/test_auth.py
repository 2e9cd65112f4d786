"""Login (dashboard/auth.py) through Flask's test client on the real app over a real DuckDB file: every
route with and without a session, roles, the form's CSRF token, safe `next`, the failure throttle,
logout, cookie flags, session expiry and protection, and users-file changes while serving."""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dash
import pytest
from flask import g
from flask.testing import FlaskClient

from dashboard import auth, create_app, queries
from segmentation import users
from segmentation.errors import InputError

SECRET = "test-secret-" + "s" * 40
PASSWORDS = {"ann": "admin-password", "eve": "exporter-password", "vic": "viewer-password"}
PAGE_ROUTER = {
    "output": ".._pages_content.children..._pages_store.data..",
    "outputs": [{"id": "_pages_content", "property": "children"}, {"id": "_pages_store", "property": "data"}],
    "inputs": [
        {"id": "_pages_location", "property": "pathname", "value": "/explore"},
        {"id": "_pages_location", "property": "search", "value": ""},
    ],
    "changedPropIds": ["_pages_location.pathname"],
    "state": [],
}


@pytest.fixture(scope="module")
def users_master(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("users") / "users.json"
    for (name, password), role in zip(PASSWORDS.items(), ("admin", "exporter", "viewer"), strict=True):
        users.add(path, name, role, password)
    return path


@pytest.fixture
def users_file(users_master: Path, tmp_path: Path) -> Path:
    path = tmp_path / "users.json"
    shutil.copyfile(users_master, path)
    return path


@pytest.fixture
def app(fixture_db: Path, users_file: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dash.Dash]:
    monkeypatch.setenv("SECRET_KEY", SECRET)
    monkeypatch.delenv("SEGMENTATION_COOKIE_SECURE", raising=False)
    app = create_app(fixture_db, users=users_file)

    @app.server.route("/whoami")
    def whoami() -> dict[str, Any]:
        return {"name": g.get("user_name"), "role": g.get("user_role")}

    yield app
    queries.close_thread_connections()


@pytest.fixture
def client(app: dash.Dash) -> FlaskClient:
    return app.server.test_client()


def csrf(client: FlaskClient, path: str = "/login") -> str:
    text = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', text).group(1)


def login(client: FlaskClient, name: str, password: str | None = None, **extra: str) -> Any:
    data = {"username": name, "password": PASSWORDS.get(name, "") if password is None else password}
    return client.post("/login", data={"csrf_token": csrf(client), **data, **extra})


def component_suite(fixture_db: Path) -> str:
    """A real script path of Dash's component suites (from an open app's index page)."""
    text = create_app(fixture_db).server.test_client().get("/").get_data(as_text=True)
    return re.search(r'src="(/_dash-component-suites/dash/dash-renderer/[^"]+)"', text).group(1)


def requests(fixture_db: Path) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path, kwargs) for every kind of route the app serves, but the login form's."""
    return [
        ("GET", "/_dash-layout", {}),
        ("GET", "/_dash-dependencies", {}),
        ("POST", "/_dash-update-component", {"json": PAGE_ROUTER}),
        ("GET", component_suite(fixture_db), {}),
        ("GET", "/assets/style.css", {}),
        ("GET", "/assets/nav.js", {}),
        ("GET", "/assets/topojson/world_110m.json", {}),
        ("GET", "/_reload-hash", {}),
        ("GET", "/_favicon.ico", {}),
        ("GET", "/export/customers.csv", {"headers": {"Accept": "text/html,*/*"}}),
        ("GET", "/export/customers.xlsx", {"headers": {"Accept": "text/html,*/*"}}),
        ("GET", "/explore", {"headers": {"Accept": "application/json"}}),
    ]


def test_without_a_session_every_route_is_closed(client: FlaskClient, fixture_db: Path) -> None:
    for method, path, kwargs in requests(fixture_db):
        response = client.open(path, method=method, **kwargs)
        assert response.status_code == 401, (method, path, response.status_code)
        assert response.get_json() == {"error": "Log in first."}, path
    for path in ("/", "/explore?run=1&segment=2", "/customers", "/no-such-page"):
        response = client.get(path, headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
        assert response.status_code == 302, path
        assert response.headers["Location"] == "/login?" + re.sub(
            "=", "%3D", "next=" + path.replace("/", "%2F").replace("?", "%3F").replace("&", "%26")
        ).replace("next%3D", "next=", 1)
    # only the form and its stylesheet answer
    assert client.get("/login").status_code == 200
    assert client.get("/assets/bootstrap.min.css").status_code == 200


def test_with_a_session_every_route_answers(client: FlaskClient, fixture_db: Path) -> None:
    assert login(client, "eve").status_code == 303
    for method, path, kwargs in requests(fixture_db):
        response = client.open(path, method=method, **kwargs)
        assert response.status_code == 200, (method, path, response.status_code)
    assert client.get("/").status_code == 200
    assert client.get("/whoami").get_json() == {"name": "eve", "role": "exporter"}


def test_viewers_cannot_export(client: FlaskClient) -> None:
    login(client, "vic")
    for path in ("/export/customers.csv", "/export/customers.xlsx?preset=at-risk"):
        response = client.get(path)
        assert response.status_code == 403
        assert response.get_data(as_text=True) == (
            "Your role (viewer) may not export customer lists; an admin can give you the exporter role.\n"
        )
    assert client.get("/_dash-layout").status_code == 200
    assert client.get("/whoami").get_json() == {"name": "vic", "role": "viewer"}


def test_admins_export(client: FlaskClient) -> None:
    login(client, "ann")
    assert client.get("/export/customers.csv").status_code == 200


def test_without_users_g_stays_unset(fixture_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SEGMENTATION_USERS", raising=False)
    app = create_app(fixture_db)

    @app.server.route("/whoami")
    def whoami() -> dict[str, Any]:
        return {"name": g.get("user_name"), "role": g.get("user_role")}

    client = app.server.test_client()
    assert client.get("/whoami").get_json() == {"name": None, "role": None}
    assert client.get("/export/customers.csv").status_code == 200
    assert 'name="password"' not in client.get("/login").get_data(as_text=True)  # no login form
    assert "segmentation_auth" not in app.server.extensions
    assert find(client.get("/_dash-layout").get_json(), "account-menu") is None


def test_login_redirects_to_a_safe_next_only(client: FlaskClient) -> None:
    response = login(client, "eve", next="/explore?run=1&segment=2")
    assert response.headers["Location"] == "/explore?run=1&segment=2"
    for hostile in (
        "//evil.example/x",
        "https://evil.example/",
        "/\\evil.example",
        "\\\\evil.example",
        "javascript:alert(1)",
        "/ok\r\nSet-Cookie: x=1",
        "http:/evil.example",
        "",
    ):
        client.post("/logout", data={"csrf_token": csrf(client, "/logout")})
        response = login(client, "eve", next=hostile)
        assert response.status_code == 303 and response.headers["Location"] == "/", hostile


def test_wrong_password_and_unknown_name_say_the_same(client: FlaskClient) -> None:
    wrong = login(client, "eve", "not-her-password")
    unknown = login(client, "nobody", "not-her-password")
    for response in (wrong, unknown):
        assert response.status_code == 200  # the form again, with the message; no session
        assert "Wrong name or password." in response.get_data(as_text=True)
    assert client.get("/_dash-layout").status_code == 401


def test_login_form_needs_its_csrf_token(client: FlaskClient) -> None:
    csrf(client)
    for token in ("", "forged"):
        response = client.post(
            "/login", data={"csrf_token": token, "username": "eve", "password": PASSWORDS["eve"]}
        )
        assert response.status_code == 400
        assert "The form expired; please log in again." in response.get_data(as_text=True)
    assert client.get("/_dash-layout").status_code == 401


def test_login_page_escapes_what_it_echoes(client: FlaskClient) -> None:
    text = login(client, '<script>alert("x")</script>', "whatever-pass").get_data(as_text=True)
    assert "<script>alert" not in text and "&lt;script&gt;alert" in text


def test_repeated_failures_are_throttled(client: FlaskClient) -> None:
    for _ in range(auth.FAILS_PER_NAME):
        assert login(client, "eve", "guess-guess").status_code == 200
    response = login(client, "eve")  # right password, but too late
    assert response.status_code == 429
    assert re.search(r"Too many failed logins; try again in \d+ minutes?\.", response.get_data(as_text=True))
    assert client.get("/_dash-layout").status_code == 401
    assert login(client, "ann").status_code == 303  # other names are not locked out


def test_throttle_window_slides() -> None:
    throttle = auth.Throttle(window=0.3)
    throttle.fail(["name:x"])
    throttle.fail(["name:x"])
    assert throttle.wait({"name:x": 2}) >= 1 and throttle.wait({"name:x": 3}) == 0
    time.sleep(0.35)
    assert throttle.wait({"name:x": 2}) == 0


def test_logout_ends_the_session(client: FlaskClient) -> None:
    login(client, "eve")
    page = client.get("/logout").get_data(as_text=True)
    assert "Logged in as <strong>eve</strong>" in page and "Log out" in page
    assert client.post("/logout", data={"csrf_token": "forged"}).status_code == 400
    assert client.get("/_dash-layout").status_code == 200
    response = client.post("/logout", data={"csrf_token": csrf(client, "/logout")})
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    assert client.get("/_dash-layout").status_code == 401


def find(node: Any, component_id: str) -> dict[str, Any] | None:
    """The component with component_id in a /_dash-layout JSON tree."""
    if isinstance(node, dict):
        if node.get("props", {}).get("id") == component_id:
            return node
        node = list(node.get("props", {}).values())
    if isinstance(node, list):
        for child in node:
            found = find(child, component_id)
            if found is not None:
                return found
    return None


def test_navbar_shows_the_user_and_a_logout_form(client: FlaskClient) -> None:
    assert login(client, "vic").status_code == 303
    form = find(client.get("/_dash-layout").get_json(), "account-menu")
    assert form is not None and form["type"] == "Form"
    assert form["props"]["action"] == "/logout" and form["props"]["method"] == "POST"
    text = str(form)
    assert "'vic'" in text and "(viewer)" in text and "'csrf_token'" in text


def test_cookie_flags(app: dash.Dash, client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    response = login(client, "eve")
    cookies = response.headers.getlist("Set-Cookie")
    assert len(cookies) == 1 and cookies[0].startswith("segments_session=")
    flags = cookies[0].lower()
    assert "httponly" in flags and "samesite=lax" in flags and "secure" not in flags
    assert "expires" not in flags  # a browser-session cookie; the 8 h limit is checked on the server
    assert app.server.config["SECRET_KEY"] == SECRET
    assert not any(c.startswith("remember_token") for c in cookies)


def test_secure_cookie_when_asked(
    fixture_db: Path, users_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECRET_KEY", SECRET)
    monkeypatch.setenv("SEGMENTATION_COOKIE_SECURE", "1")
    client = create_app(fixture_db, users=users_file).server.test_client()
    cookie = login(client, "eve").headers["Set-Cookie"].lower()
    assert "; secure" in cookie


def test_session_ends_after_eight_hours(client: FlaskClient) -> None:
    login(client, "eve")
    with client.session_transaction() as session:
        session["login_at"] = int(time.time()) - 8 * 3600 - 5
    assert client.get("/_dash-layout").status_code == 401
    assert client.get("/", headers={"Accept": "text/html"}).status_code == 302


def test_strong_session_protection(client: FlaskClient) -> None:
    login(client, "eve")
    assert client.get("/_dash-layout").status_code == 200
    assert client.get("/_dash-layout", headers={"User-Agent": "another browser"}).status_code == 401


def test_users_file_changes_apply_at_once(client: FlaskClient, users_file: Path) -> None:
    login(client, "eve")
    users.add(users_file, "eve", "viewer", "exporter-password")  # same password, new hash and role
    assert client.get("/_dash-layout").status_code == 401  # the password hash changed: log in again
    login(client, "eve")
    assert client.get("/export/customers.csv").status_code == 403
    users.remove(users_file, "eve")
    assert client.get("/_dash-layout").status_code == 401
    assert "Wrong name or password." in login(client, "eve").get_data(as_text=True)


def test_users_file_broken_while_serving(client: FlaskClient, users_file: Path) -> None:
    login(client, "eve")
    users_file.write_text("{not json")
    response = client.get("/_dash-layout")
    assert response.status_code == 503
    assert response.get_data(as_text=True) == "Login is unavailable: the users file cannot be read.\n"
    assert login(client, "ann").status_code == 503


@pytest.mark.parametrize(
    ("secret", "text", "sentence"),
    [
        ("", None, "login needs SECRET_KEY in the environment, the same for every worker"),
        ("short", None, "SECRET_KEY has 5 characters; expected at least 32."),
        (SECRET, "{oops", "not valid JSON at line 1 column 2."),
        (SECRET, '{"users": {"eve": {"role": "boss", "hash": "scrypt:x"}}}', "role 'boss' is unknown"),
    ],
)
def test_bad_settings_stop_the_start_in_one_sentence(
    fixture_db: Path,
    users_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    secret: str,
    text: str | None,
    sentence: str,
) -> None:
    monkeypatch.setenv("SECRET_KEY", secret)
    if text is not None:
        users_file.write_text(text)
    with pytest.raises(InputError) as caught:
        create_app(fixture_db, users=users_file)
    assert sentence in str(caught.value) and "\n" not in str(caught.value)


def test_env_variable_turns_login_on(
    fixture_db: Path, users_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECRET_KEY", SECRET)
    monkeypatch.setenv("SEGMENTATION_USERS", str(users_file))
    client = create_app(fixture_db).server.test_client()
    assert client.get("/_dash-layout").status_code == 401


def test_throttle_tells_clients_behind_a_local_proxy_apart(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Behind nginx every request comes from 127.0.0.1: the per-address limit must count the forwarded
    client, or one guesser locks everyone out. A forwarded header from a non-local peer is ignored."""
    monkeypatch.setattr(auth, "FAILS_PER_ADDRESS", 3)

    def attempt(name: str, password: str, forwarded: str, peer: str = "127.0.0.1") -> int:
        kwargs: dict[str, Any] = {
            "headers": {"X-Forwarded-For": forwarded},
            "environ_base": {"REMOTE_ADDR": peer},
        }
        page = client.get("/login", **kwargs).get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        data = {"csrf_token": token, "username": name, "password": password}
        return client.post("/login", data=data, **kwargs).status_code

    for name in ("a1", "a2", "a3"):  # one guesser spraying names
        assert attempt(name, "guess-guess", "10.0.0.1, 203.0.113.5") == 200
    assert attempt("eve", PASSWORDS["eve"], "203.0.113.5") == 429
    assert attempt("eve", PASSWORDS["eve"], "198.51.100.7") == 303  # another client is not locked out
    for name in ("b1", "b2", "b3"):
        assert attempt(name, "guess-guess", f"198.51.100.{len(name)}{name}", peer="192.0.2.9") == 200
    assert attempt("eve", PASSWORDS["eve"], "198.51.100.99", peer="192.0.2.9") == 429
