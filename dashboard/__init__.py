"""The Dash app over one segmentation DuckDB file: create_app(db_path) builds it; nothing runs at import.

The app reads the file read-only through dashboard.queries (which reopens it when a re-run swaps a new one
in), serves every file it needs itself (vendored Bootstrap CSS and world topojson in assets/), and keeps
all filter state in the URL. Debug and dev tools stay off unless the caller enables them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dash
from dash import dcc, html

from dashboard import auth, callback_guard, components, export, http_headers, nav_menu, not_found, run_select

HERE = Path(__file__).resolve().parent
PAGES_FOLDER = HERE / "pages"
ASSETS_FOLDER = HERE / "assets"
TITLE = "Customer segments"
MAX_CONTENT_LENGTH = 1024 * 1024  # callback bodies are small; uploads never go through callbacks


def create_app(db_path: str | Path, users: str | Path | None = None) -> dash.Dash:
    """Build the dashboard over the DuckDB file at db_path (missing or empty: pages say how to make a run).

    With a users file (users, else $SEGMENTATION_USERS) every route needs a login (dashboard/auth.py)."""
    app = dash.Dash(
        __name__,
        use_pages=True,
        pages_folder=str(PAGES_FOLDER),
        assets_folder=str(ASSETS_FOLDER),
        serve_locally=True,
        suppress_callback_exceptions=True,
        title=TITLE,
        update_title=None,
    )
    server = app.server
    server.config["SEGMENTATION_DB"] = str(Path(db_path))
    server.config["MAX_CONTENT_LENGTH"] = MAX_CONTENT_LENGTH
    if os.environ.get("SECRET_KEY"):  # one key shared by every worker (RELIABILITY.md §2)
        server.config["SECRET_KEY"] = os.environ["SECRET_KEY"]
    export.register(server, app.config.routes_pathname_prefix)
    auth.register(server, app.config.routes_pathname_prefix, users)
    http_headers.register(app)
    callback_guard.register(app)  # malformed callback bodies: 4xx before Dash reads them
    not_found.register(app)  # unknown page paths: the shell with HTTP 404
    app.layout = shell
    run_select.register(app)
    nav_menu.register(app)
    return app


def _nav_pages() -> list[dict[str, Any]]:
    """The registered pages in navbar order, without the 404 page."""
    pages = [p for p in dash.page_registry.values() if p["module"].split(".")[-1] != "not_found_404"]
    return sorted(pages, key=lambda p: (p.get("order") is None, p.get("order") or 0, p["name"]))


def shell() -> html.Div:
    """The layout around every page: location, navbar with the run selector, and the page container."""
    options = run_select.run_options()
    latest = options[0]["value"] if options else None
    return html.Div(
        [
            dcc.Location(id="url", refresh="callback-nav"),
            dcc.Store(id="run-current", data=latest),
            dcc.Store(id="shared-query", data=""),
            dcc.Store(id="nav-config", data=run_select.nav_config()),
            dcc.Store(id="run-switch-request"),
            dcc.Store(id="run-switch-target"),
            dcc.Store(id="run-switch-sink"),
            components.navbar(_nav_pages(), options, latest, auth.account_menu()),
            html.Main(
                [html.Div(id="run-notice"), dash.page_container], className="container-fluid px-4 pb-4"
            ),
        ]
    )
