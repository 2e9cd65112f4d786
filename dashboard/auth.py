"""Login for the dashboard (Flask-Login sessions over the users file), when a users file is configured.

register() turns it on: a server-rendered /login form with a session CSRF token, /logout, and a guard that
runs before everything else (Dash's own setup included): without a session, page GETs from a browser get
302 to /login and every other route 401; viewers get 403 on the exports. The users file is re-read when
it changes on disk, so a removed user or a new password ends that user's sessions at once.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import Flask, Response, g, has_request_context, redirect, render_template_string, request, session
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user

from segmentation import users
from segmentation.errors import InputError

log = logging.getLogger("segmentation.auth")

SESSION_HOURS = 8
MIN_SECRET = 32
EXPORT_ENDPOINTS = ("export_customers_csv", "export_customers_xlsx")
# Failed logins, per worker process (gunicorn workers do not share them): per name and per client address.
FAIL_WINDOW = 15 * 60
FAILS_PER_NAME = 5
FAILS_PER_ADDRESS = 50
MAX_TRACKED = 10_000
SECURE_ENV = "SEGMENTATION_COOKIE_SECURE"
# Paths (after the routes prefix) that answer without a session: the form, its stylesheet, logout.
PUBLIC = ("login", "logout", "assets/bootstrap.min.css")
NOT_PAGES = ("_dash-", "_reload-hash", "_favicon.ico", "assets/", "export/", "static/")

LOGIN_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }} · Customer segments</title>
<link rel="stylesheet" href="{{ css }}">
</head>
<body class="bg-light">
<main class="container" style="max-width: 24rem; margin-top: 12vh">
<h1 class="h4 mb-3">Customer segments</h1>
{% if message %}<div class="alert alert-{{ level }}" role="alert">{{ message }}</div>{% endif %}
{% if name %}
<p>Logged in as <strong>{{ name }}</strong>.</p>
<form method="post" action="{{ logout }}">
<input type="hidden" name="csrf_token" value="{{ csrf }}">
<button type="submit" class="btn btn-primary w-100">Log out</button>
</form>
{% else %}
<form method="post" action="{{ action }}">
<input type="hidden" name="csrf_token" value="{{ csrf }}">
<input type="hidden" name="next" value="{{ next }}">
<div class="mb-3"><label class="form-label" for="username">Name</label>
<input class="form-control" id="username" name="username" autocomplete="username" required autofocus
 maxlength="64" value="{{ username }}"></div>
<div class="mb-3"><label class="form-label" for="password">Password</label>
<input class="form-control" id="password" name="password" type="password" autocomplete="current-password"
 required></div>
<button type="submit" class="btn btn-primary w-100">Log in</button>
</form>
{% endif %}
</main>
</body>
</html>
"""


class Account(UserMixin):
    """A logged-in user; the session id carries a fingerprint of the hash, so a new password logs out."""

    def __init__(self, user: users.User) -> None:
        self.name = user.name
        self.role = user.role
        self.id = f"{user.name}:{fingerprint(user)}"


def fingerprint(user: users.User) -> str:
    """A short digest of the user's password hash (changes when the password does)."""
    return hashlib.sha256(user.hash.encode("utf-8")).hexdigest()[:16]


class UsersFile:
    """The users file, re-read whenever its inode, size or mtime changes (thread-safe)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._users: dict[str, users.User] = {}

    def current(self) -> dict[str, users.User]:
        """The users now on disk; a missing or malformed file raises InputError (one sentence)."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            raise InputError(f"{self.path}: users file not found.") from None
        except OSError as exc:
            raise InputError(f"{self.path}: cannot read the users file ({exc.strerror or exc}).") from None
        stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
        with self._lock:
            if stamp != self._stamp:
                self._users = users.load(self.path)
                self._stamp = stamp
            return self._users


@dataclass
class Throttle:
    """Failed logins per key in a sliding window (in this process only; each worker counts its own)."""

    window: float = FAIL_WINDOW
    fails: dict[str, deque[float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait(self, limits: dict[str, int]) -> int:
        """Seconds until every key in limits is below its limit again (0: may try now)."""
        now = time.monotonic()
        longest = 0.0
        with self.lock:
            for key, limit in limits.items():
                times = self.fails.get(key)
                while times and times[0] <= now - self.window:
                    times.popleft()
                if times and len(times) >= limit:
                    longest = max(longest, times[-limit] + self.window - now)
        return int(longest) + 1 if longest else 0

    def fail(self, keys: list[str]) -> None:
        now = time.monotonic()
        with self.lock:
            if len(self.fails) >= MAX_TRACKED:  # bounded memory: forget the oldest keys
                for key in list(self.fails)[: MAX_TRACKED // 10]:
                    del self.fails[key]
            for key in keys:
                self.fails.setdefault(key, deque(maxlen=FAILS_PER_ADDRESS)).append(now)

    def clear(self, key: str) -> None:
        with self.lock:
            self.fails.pop(key, None)


@dataclass
class State:
    """What the routes and the guard share (kept in server.extensions["segmentation_auth"])."""

    users_file: UsersFile
    prefix: str
    throttle: Throttle = field(default_factory=Throttle)


def safe_next(value: Any, prefix: str) -> str:
    """value if it is a path on this site under prefix, else prefix (no open redirect)."""
    if not isinstance(value, str) or not value.startswith(prefix) or value.startswith("//"):
        return prefix
    if "\\" in value or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return prefix
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return prefix
    return value


def client_address() -> str:
    """The client's address: from a local proxy (the app listens on loopback) the last X-Forwarded-For
    hop, which the proxy adds; else the peer. Without this every client behind nginx shares one limit."""
    peer = request.remote_addr or "unknown"
    forwarded = request.headers.get("X-Forwarded-For", "").split(",")[-1].strip()
    return forwarded if forwarded and peer.startswith(("127.", "::1")) else peer


def _csrf_token() -> str:
    token = session.get("csrf")
    if not isinstance(token, str):
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def _csrf_ok() -> bool:
    sent, kept = request.form.get("csrf_token", ""), session.get("csrf")
    return isinstance(kept, str) and hmac.compare_digest(sent.encode(), kept.encode())


def _page(
    state: State, status: int = 200, message: str = "", level: str = "danger", **extra: Any
) -> Response:
    """The login (or logout) page, autoescaped, with the vendored Bootstrap CSS and no script."""
    body = render_template_string(
        LOGIN_PAGE,
        title="Log out" if extra.get("name") else "Log in",
        css=f"{state.prefix}assets/bootstrap.min.css",
        action=f"{state.prefix}login",
        logout=f"{state.prefix}logout",
        csrf=_csrf_token(),
        message=message,
        level=level,
        next=extra.get("next", state.prefix),
        username=extra.get("username", ""),
        name=extra.get("name", ""),
    )
    return Response(body, status=status, mimetype="text/html")


def _logged_in() -> bool:
    """A session with a current user that is younger than SESSION_HOURS (absolute, not sliding)."""
    if not current_user.is_authenticated:
        return False
    started = session.get("login_at")
    if isinstance(started, int) and 0 <= time.time() - started <= SESSION_HOURS * 3600:
        return True
    logout_user()
    session.clear()
    return False


def login_view(state: State) -> Response:
    """GET: the form; POST: check the token, the throttle and the password, then start a session."""
    target = safe_next(request.values.get("next"), state.prefix)
    if request.method == "GET":
        if _logged_in():
            return redirect(target)
        return _page(state, next=target)
    if not _csrf_ok():
        return _page(state, 400, "The form expired; please log in again.", next=target)
    name = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    address = client_address()
    limits = {f"name:{name}": FAILS_PER_NAME, f"addr:{address}": FAILS_PER_ADDRESS}
    wait = state.throttle.wait(limits)
    if wait:
        log.warning("login throttled for %r from %s", name, address)
        minutes = max(1, round(wait / 60))
        message = f"Too many failed logins; try again in {minutes} minute{'s' if minutes > 1 else ''}."
        return _page(state, 429, message, next=target, username=name)
    try:
        known = state.users_file.current()
    except InputError as exc:
        log.error("%s", exc)
        return _page(state, 503, "Login is unavailable: the users file cannot be read.", next=target)
    user = users.verify(known, name, password)
    if user is None:
        state.throttle.fail(list(limits))
        log.warning("failed login for %r from %s", name, address)
        return _page(state, 200, "Wrong name or password.", next=target, username=name)  # re-shown form
    state.throttle.clear(f"name:{name}")
    session.clear()  # nothing from before the login survives it
    login_user(Account(user), remember=False)
    session["login_at"] = int(time.time())
    session["csrf"] = secrets.token_urlsafe(32)
    log.info("login %s (%s) from %s", user.name, user.role, address)
    return redirect(target, code=303)


def logout_view(state: State) -> Response:
    """POST (with the session's token): end the session; GET: a page with the log-out button."""
    if request.method == "GET":
        if not _logged_in():
            return redirect(f"{state.prefix}login")
        return _page(state, name=current_user.name)
    if not _csrf_ok():
        return _page(state, 400, "The form expired; please log out again.", name=_current_name())
    logout_user()
    session.clear()
    return redirect(f"{state.prefix}login", code=303)


def _current_name() -> str:
    return current_user.name if current_user.is_authenticated else ""


def _relative(prefix: str) -> str:
    path = request.path
    return path[len(prefix) :] if path.startswith(prefix) else path.lstrip("/")


def _denied(state: State, rel: str) -> Response:
    """302 to the form for a browser asking for a page; 401 with a JSON sentence for everything else."""
    accept = request.accept_mimetypes  # no Accept header accepts anything (RFC 9110), a page included
    wants_html = not accept or accept.best_match(["text/html", "application/json"]) == "text/html"
    if request.method in ("GET", "HEAD") and wants_html and not rel.startswith(NOT_PAGES):
        here = request.path + (f"?{request.query_string.decode('latin-1')}" if request.query_string else "")
        return redirect(f"{state.prefix}login?{urlencode({'next': safe_next(here, state.prefix)})}")
    return Response('{"error": "Log in first."}\n', status=401, mimetype="application/json")


def guard(state: State) -> Response | None:
    """Before every request: let the public paths through, else demand a session (and a role to export)."""
    rel = _relative(state.prefix)
    if rel in PUBLIC:
        return None
    try:
        state.users_file.current()
    except InputError as exc:
        log.error("%s", exc)
        return Response("Login is unavailable: the users file cannot be read.\n", 503, mimetype="text/plain")
    if not _logged_in():
        return _denied(state, rel)
    g.user_name = current_user.name
    g.user_role = current_user.role
    if request.endpoint in EXPORT_ENDPOINTS and current_user.role == "viewer":
        return Response(
            "Your role (viewer) may not export customer lists; an admin can give you the exporter role.\n",
            status=403,
            mimetype="text/plain",
        )
    return None


def _load(state: State, user_id: str) -> Account | None:
    """Flask-Login's user loader: the user still exists with the same password (fingerprint)."""
    name, _, print_ = user_id.rpartition(":")
    try:
        user = state.users_file.current().get(name)
    except InputError:
        return None
    return Account(user) if user is not None and hmac.compare_digest(fingerprint(user), print_) else None


def check_settings(users_file: str | Path | None = None, secret: str | None = None) -> Path | None:
    """The users file to use (argument, else $SEGMENTATION_USERS) after checking it and SECRET_KEY
    (argument, else the environment); None: no login. Problems are one InputError sentence."""
    path = Path(users_file) if users_file else users.configured_path()
    if path is None:
        return None
    secret = secret or os.environ.get("SECRET_KEY", "")
    if not secret:
        raise InputError(
            f"{path}: login needs SECRET_KEY in the environment, the same for every worker "
            '(e.g. python -c "import secrets; print(secrets.token_hex(32))").'
        )
    if len(secret) < MIN_SECRET:
        raise InputError(f"SECRET_KEY has {len(secret)} characters; expected at least {MIN_SECRET}.")
    users.load(path)
    return path


def register(server: Flask, routes_prefix: str = "/", users_file: str | Path | None = None) -> bool:
    """Turn login on when a users file is configured (True), else leave the app open (False).

    Raises InputError (one sentence) when the users file cannot be read or SECRET_KEY is missing/short."""
    path = check_settings(users_file, server.config.get("SECRET_KEY"))  # a bad file stops the start
    if path is None:
        return False
    state = State(UsersFile(path), routes_prefix)
    server.config.update(
        SECRET_KEY=server.config.get("SECRET_KEY") or os.environ["SECRET_KEY"],
        SESSION_COOKIE_NAME="segments_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=os.environ.get(SECURE_ENV, "").strip().lower() in ("1", "true", "yes"),
        PERMANENT_SESSION_LIFETIME=timedelta(hours=SESSION_HOURS),
    )
    manager = LoginManager()
    manager.session_protection = "strong"  # a new address or browser ends the session
    manager.init_app(server)
    manager.user_loader(lambda user_id: _load(state, user_id))
    server.extensions["segmentation_auth"] = state
    server.add_url_rule(
        f"{routes_prefix}login", "auth_login", lambda: login_view(state), methods=["GET", "POST"]
    )
    server.add_url_rule(
        f"{routes_prefix}logout", "auth_logout", lambda: logout_view(state), methods=["GET", "POST"]
    )
    server.before_request_funcs.setdefault(None, []).insert(0, lambda: guard(state))
    return True


def account_menu() -> Any:
    """The navbar's user name and log-out button, or None when login is off or outside a request."""
    from dash import dcc, html
    from flask import current_app

    if not has_request_context() or "segmentation_auth" not in current_app.extensions:
        return None
    if not current_user.is_authenticated:
        return None
    state: State = current_app.extensions["segmentation_auth"]
    return html.Form(
        [
            html.Span(
                [current_user.name, html.Small(f" ({current_user.role})", className="text-white-50")],
                className="navbar-text me-2",
                id="account-name",
            ),
            dcc.Input(type="hidden", name="csrf_token", value=_csrf_token()),
            html.Button("Log out", type="submit", className="btn btn-outline-light btn-sm", id="logout"),
        ],
        action=f"{state.prefix}logout",
        method="POST",
        className="d-flex align-items-center ms-xl-3 my-2 my-xl-0",
        id="account-menu",
    )
