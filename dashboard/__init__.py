"""The Dash app over one segmentation DuckDB file: create_app(db_path) builds it; nothing runs at import.

The app reads the file read-only through dashboard.queries (which reopens it when a re-run swaps a new one
in), serves every file it needs itself (vendored Bootstrap CSS and world topojson in assets/), and keeps
all filter state in the URL. Debug and dev tools stay off unless the caller enables them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import dash
from dash import ALL, Input, Output, State, ctx, dcc, html

from dashboard import components, export, queries
from dashboard.queries import NoData

HERE = Path(__file__).resolve().parent
PAGES_FOLDER = HERE / "pages"
ASSETS_FOLDER = HERE / "assets"
TITLE = "Customer segments"
MAX_CONTENT_LENGTH = 1024 * 1024  # callback bodies are small; uploads never go through callbacks


def create_app(db_path: str | Path) -> dash.Dash:
    """Build the dashboard over the DuckDB file at db_path (missing or empty: pages say how to make a run)."""
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
    app.layout = shell
    _register_shell_callbacks(app)
    return app


def _nav_pages() -> list[dict[str, Any]]:
    """The registered pages in navbar order, without the 404 page."""
    pages = [p for p in dash.page_registry.values() if p["module"].split(".")[-1] != "not_found_404"]
    return sorted(pages, key=lambda p: (p.get("order") is None, p.get("order") or 0, p["name"]))


def _run_options() -> list[dict[str, Any]]:
    """The run selector's options, empty when the file is missing or holds no run."""
    try:
        return components.run_options(queries.runs().to_dict("records"))
    except NoData:
        return []


def shell() -> html.Div:
    """The layout around every page: location, navbar with the run selector, and the page container."""
    options = _run_options()
    return html.Div(
        [
            dcc.Location(id="url", refresh="callback-nav"),
            components.navbar(_nav_pages(), options, options[0]["value"] if options else None),
            html.Main(dash.page_container, className="container-fluid px-4 pb-4"),
        ]
    )


def _run_from_search(search: str | None) -> str | None:
    """The `run` value of a URL query string, if any."""
    values = parse_qs((search or "").lstrip("?")).get("run")
    return values[0] if values else None


def sync_run(
    search: str | None, selected: Any, pathname: str | None, link_ids: list[dict[str, str]]
) -> tuple[Any, Any, Any, list[str]]:
    """Keep the run selector, the URL's `run=` and the navbar links' `?run=` in step.

    Choosing a run in the selector reloads the current page on that run (other filters dropped: segment ids
    differ between runs); opening a URL selects its run, or the latest when it has none or an unknown one.
    """
    search = search if isinstance(search, str) else ""  # browser values are untrusted JSON
    link_ids = [i if isinstance(i, dict) else {} for i in link_ids] if isinstance(link_ids, list) else []
    options = _run_options()
    valid = {o["value"] for o in options}
    pages = {p["module"]: p["relative_path"] for p in dash.page_registry.values()}
    if not options:
        return [], None, dash.no_update, [pages.get(str(i.get("index")), "/") for i in link_ids]
    if ctx.triggered_id == "run-select" and isinstance(selected, int) and selected in valid:
        run = int(selected)
        url_run = _run_from_search(search)
        search_out: Any = dash.no_update if url_run == str(run) else "?" + urlencode({"run": run})
    else:
        requested = _run_from_search(search)
        run = (
            int(requested)
            if requested and requested.isdigit() and int(requested) in valid
            else options[0]["value"]
        )
        search_out = dash.no_update
    hrefs = [f"{pages.get(str(i.get('index')), '/')}?{urlencode({'run': run})}" for i in link_ids]
    return options, run, search_out, hrefs


def _register_shell_callbacks(app: dash.Dash) -> None:
    """The shell's one callback, on the app itself (not dash.callback) so it belongs to this app only."""
    app.callback(
        Output("run-select", "options"),
        Output("run-select", "value"),
        Output("url", "search"),
        Output({"type": "nav-link", "index": ALL}, "href"),
        Input("url", "search"),
        Input("run-select", "value"),
        State("url", "pathname"),
        State({"type": "nav-link", "index": ALL}, "id"),
    )(sync_run)
