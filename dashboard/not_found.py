"""Unknown page paths answer HTTP 404 (issue 11, item 9), still with the app's shell.

Dash serves its index for every GET path (a `<path:path>` catch-all), so `/nope` or `/wp-admin.php`
answered 200 and only the browser-side router showed "Page not found". An after_request hook sets 404 on
catch-all answers whose path is no registered page, matched the way Dash's router matches (prefix and
slashes stripped; dash/_pages.py `_path_to_page`): the browser still renders the not-found page, crawlers
and scanners see 404. Every other route (Dash's own, /assets, /export, /login) is untouched.
"""

from __future__ import annotations

import dash
import flask

NOT_FOUND_MODULE = "not_found_404"  # the page Dash's router shows for unknown paths: not a real page


def register(app: dash.Dash) -> None:
    """Answer 404 for catch-all GETs of paths that name no page of the app."""
    prefix = app.config.routes_pathname_prefix
    catchall = prefix + "<path:path>"

    def mark(response: flask.Response) -> flask.Response:
        rule = flask.request.url_rule
        if rule is not None and rule.rule == catchall and response.status_code == 200:
            if not is_page(flask.request.path, prefix):
                response.status_code = 404
        return response

    app.server.after_request(mark)


def is_page(path: str, prefix: str = "/") -> bool:
    """Whether path (with the routes prefix) names a registered page, trailing slash or not."""
    base = prefix.rstrip("/")
    if not (path.startswith(base + "/") or (base and path == base)):
        return False
    wanted = path[len(base) :].strip("/")
    for page in dash.page_registry.values():
        if page["module"].split(".")[-1] == NOT_FOUND_MODULE:
            continue
        if page.get("path_template"):
            template = page["path_template"].strip("/").split("/")
            parts = wanted.split("/")
            if len(parts) == len(template) and all(
                t.startswith("<") or t == p for t, p in zip(template, parts, strict=True)
            ):
                return True
        if wanted == page["path"].strip("/"):
            return True
    return False
