"""The navbar's run selector: shows the URL's run, and choosing another run reloads the page on it.

Pages write their filter state into the address bar with history.replaceState (assets/url_state.js), which
dcc.Location does not see, so a server callback that set `url.search` would start from stale props and
navigate to the wrong address. Switching runs therefore goes browser -> server -> browser:

1. `run_select.request` (clientside) sees the selector move away from the page's run and sends the
   browser's real path and query;
2. `switch_url` (server) builds the new address: same page, same filters, `run=` changed, segment ids
   mapped by name to the new run's (ids differ between runs; names without a match are dropped), the
   table page reset;
3. `run_select.go` (clientside) pushes it the way dcc.Link does, so every dcc.Location re-reads the
   address and the page renders on the new run.

`sync_run` keeps the selector and the `run-current` store in step with the URL, and hands the URL's query to
the `shared-query` store; pages that rewrite their address update that store too (url_state.js). From both,
`nav.hrefs` (clientside) builds the navbar links: every page gets `?run=`, and the pages that take the
filter bar's filters (FILTER_PAGES) also get the current filters (SHARED_KEYS), so "Germany, tenure over
a year" set on Explore is still set on Customers, Compare, Model and Simulator.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

import dash
import dash_bootstrap_components as dbc
from dash import ALL, ClientsideFunction, Input, Output, State, ctx, html

from dashboard import callback_errors, components, queries
from dashboard.filters import QUERY_KEYS
from dashboard.queries import NoData, QueryTimeout, filtered

# Query keys that hold ids of the page's run and are mapped (segment, the Simulator's start) or dropped
# (page) on a switch.
_SEGMENT_KEYS = ("segment", "start")
_DROPPED_KEYS = ("page", "run")
_MAX_QUERY = 4000  # longest query string considered (browser values are untrusted)
# The filter bar's URL keys, carried from page to page by the navbar links (table sort and paging are not).
SHARED_KEYS: tuple[str, ...] = tuple(k for k in QUERY_KEYS if k not in ("run", "sort", "desc", "page"))
# The pages (module names) whose views take those filters; the others get `?run=` only.
FILTER_PAGES: tuple[str, ...] = tuple(
    f"dashboard.pages.{name}" for name in ("explore", "customers", "compare", "model", "simulator")
)


def nav_config() -> dict[str, Any]:
    """What nav.hrefs needs to build the navbar links: page paths by module, filter pages, shared keys."""
    paths = {p["module"]: p["relative_path"] for p in dash.page_registry.values()}
    return {"paths": paths, "filter_pages": list(FILTER_PAGES), "keys": list(SHARED_KEYS)}


def run_options() -> list[dict[str, Any]]:
    """The run selector's options, empty when the file is missing, holds no run or the query timed out
    (the shell still renders; sync_run then says why)."""
    try:
        return _load_options()
    except (NoData, QueryTimeout):
        return []


def _load_options() -> list[dict[str, Any]]:
    """The run selector's options, empty when the file is missing or holds no run; QueryTimeout raised."""
    try:
        return components.run_options(queries.runs().to_dict("records"))
    except NoData:
        return []


def run_from_search(search: str | None) -> str | None:
    """The `run` value of a URL query string, if any."""
    for key, value in parse_qsl((search or "").lstrip("?")):
        if key == "run":
            return value
    return None


def sync_run(search: Any) -> tuple[Any, Any, Any, str, Any]:
    """The selector's options and value, the page's run, the shared query and a notice for the URL's run.

    A URL without a run shows the latest run; one naming a run that does not exist also shows the latest,
    and the notice says so (a shared link to a deleted run must not pass for the run it named)."""
    search = search[:_MAX_QUERY] if isinstance(search, str) else ""  # browser values are untrusted JSON
    options = _load_options()
    if not options:
        return [], None, None, "", None
    valid = {o["value"] for o in options}
    requested = run_from_search(search)
    run = (
        int(requested)
        if requested and requested.isdigit() and int(requested) in valid
        else options[0]["value"]
    )
    notice = None
    if requested is not None and run != (int(requested) if requested.isdigit() else None):
        notice = unknown_run_notice(requested, run)
    return options, run, run, search.lstrip("?"), notice


def _sync_failed(message: str) -> tuple[Any, Any, Any, Any, Any]:
    """sync_run when the runs query timed out: the selector stays as it is, the notice says why."""
    skip = dash.no_update
    return skip, skip, skip, skip, dbc.Alert(message, color="warning", className="mb-3", id="run-failed")


def unknown_run_notice(requested: str, shown: int) -> Any:
    """The warning above a page whose URL names a run this file does not hold."""
    return dbc.Alert(
        [
            html.Strong(f"There is no run {requested[:20]!r} in this file. "),
            f"Showing the latest run, Run {shown}, instead; pick another in the run selector.",
        ],
        color="warning",
        className="mb-3",
        id="unknown-run",
    )


def switch_url(request: Any) -> str | None:
    """The address of the same page and filters on another run; None for a request that makes no sense.

    request is untrusted JSON from the browser: {"path": str, "search": str, "from": int, "to": int}."""
    if not isinstance(request, Mapping):
        return None
    path, search = request.get("path"), request.get("search")
    old, new = request.get("from"), request.get("to")
    if not isinstance(path, str) or not path.startswith("/") or path.startswith("//"):
        return None
    if not isinstance(search, str) or len(search) > _MAX_QUERY:
        search = ""
    valid = {o["value"] for o in run_options()}
    if not _is_run(new, valid):
        return None
    names = _segment_names(old, valid)
    by_name = {name: sid for sid, name in _segment_names(new, valid).items()}
    query: list[tuple[str, str]] = [("run", str(new))]
    for key, value in parse_qsl(search.lstrip("?"), keep_blank_values=False):
        if key in _DROPPED_KEYS:
            continue
        if key in _SEGMENT_KEYS:
            name = names.get(int(value)) if value.isdigit() else None
            if name is None or name not in by_name:
                continue
            value = str(by_name[name])
            if (key, value) in query:
                continue
        query.append((key, value))
    return f"{path}?{urlencode(query)}"


def _is_run(value: Any, valid: set[int]) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value in valid


def _segment_names(run: Any, valid: set[int]) -> dict[int, str]:
    """Segment id -> name of a run (empty for an unknown run)."""
    if not _is_run(run, valid):
        return {}
    try:
        return {int(s): n for s, n in filtered.allowed(run).segments.items()}
    except (NoData, QueryTimeout):
        return {}


def register(app: dash.Dash) -> None:
    """The selector's callbacks, on the app itself (not dash.callback) so they belong to this app only."""
    app.callback(
        Output("run-select", "options"),
        Output("run-select", "value"),
        Output("run-current", "data"),
        Output("shared-query", "data"),
        Output("run-notice", "children"),
        Input("url", "search"),
    )(callback_errors.answers(_sync_failed)(sync_run))
    app.clientside_callback(
        ClientsideFunction(namespace="nav", function_name="hrefs"),
        Output({"type": "nav-link", "index": ALL}, "href"),
        Input("run-current", "data"),
        Input("shared-query", "data"),
        State({"type": "nav-link", "index": ALL}, "id"),
        State("nav-config", "data"),
    )
    app.clientside_callback(
        ClientsideFunction(namespace="run_select", function_name="request"),
        Output("run-switch-request", "data"),
        Input("run-select", "value"),
        State("run-current", "data"),
        prevent_initial_call=True,
    )
    app.callback(
        Output("run-switch-target", "data"),
        Input("run-switch-request", "data"),
        prevent_initial_call=True,
    )(callback_errors.answers()(_switch_target))
    app.clientside_callback(
        ClientsideFunction(namespace="run_select", function_name="go"),
        Output("run-switch-sink", "data"),
        Input("run-switch-target", "data"),
        prevent_initial_call=True,
    )


def _switch_target(request: Any) -> Any:
    """switch_url as a callback: no update when the request makes no sense."""
    if ctx.triggered_id is None:
        return dash.no_update
    target = switch_url(request)
    return dash.no_update if target is None else target
