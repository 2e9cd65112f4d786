"""Security headers on every response: a CSP the app's own assets satisfy, no framing, no sniffing.

Dash's inline scripts (the renderer start-up and clientside callbacks) are allowed by their hashes from
app.csp_hashes(), computed when a page is served (the Pages router adds its clientside callback on the
first request). Responses other than static code are `Cache-Control: no-store`: they carry customer data.
"""

from __future__ import annotations

import dash
from flask import Response, request

# Plotly and the grids set inline style attributes and <style> elements, hence 'unsafe-inline' for styles
# only; scripts run from this origin or by hash.
CSP_BASE = (
    "default-src 'self'",
    "img-src 'self' data: blob:",
    "style-src 'self' 'unsafe-inline'",
    "font-src 'self' data:",
    "connect-src 'self'",
    "worker-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
)
STATIC = ("assets/", "_dash-component-suites/")
FIXED = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def content_security_policy(app: dash.Dash) -> str:
    """The CSP header value for app now (its inline scripts allowed by hash)."""
    scripts = " ".join(["script-src 'self'", *app.csp_hashes()])
    return "; ".join([CSP_BASE[0], scripts, *CSP_BASE[1:]])


def register(app: dash.Dash) -> None:
    """Add the headers to every response of app's server."""
    prefix = app.config.routes_pathname_prefix
    static = tuple(prefix + s for s in STATIC)
    cache: dict[int, str] = {}

    def headers(response: Response) -> Response:
        key = len(app._inline_scripts) + len(dash._callback.GLOBAL_INLINE_SCRIPTS)  # noqa: SLF001
        if key not in cache:
            cache.clear()
            cache[key] = content_security_policy(app)
        response.headers["Content-Security-Policy"] = cache[key]
        for name, value in FIXED.items():
            response.headers[name] = value
        if not request.path.startswith(static):
            response.headers["Cache-Control"] = "no-store"
        return response

    app.server.after_request(headers)
