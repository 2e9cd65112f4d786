"""Security headers on every response (a CSP the app's own assets satisfy, no framing, no sniffing), and
MAX_CONTENT_LENGTH enforced on chunked request bodies.

Dash's inline scripts (the renderer start-up and clientside callbacks) are allowed by their hashes from
app.csp_hashes(), computed when a page is served (the Pages router adds its clientside callback on the
first request). Responses other than static code are `Cache-Control: no-store`: they carry customer data.

Chunked bodies: gunicorn sets wsgi.input_terminated, so Werkzeug wraps the input in
LimitedStream(max_content_length, is_max=True), whose readall() stops at the limit without the extra read
that would raise 413 (pallets/werkzeug#2620): a 2 MiB chunked callback body reached Dash cut to 1 MiB.
BodyLimit reads such a body itself, up to the limit plus one byte, and answers 413 when it is longer.

Threaded workers (gthread): Dash's first-request setup (_setup_server, the Pages router) sets its "done"
flag before doing the work, so a second thread's request can run before the scripts are registered (500
"dash is not a registered library" on component suites). serialize_dash_setup runs it under a lock.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Iterable
from typing import Any

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


class BodyLimit:
    """WSGI middleware: a body without Content-Length (chunked) over limit() bytes gets 413, never cut."""

    def __init__(self, app: Callable[..., Iterable[bytes]], limit: Callable[[], int | None]) -> None:
        self.app = app
        self.limit = limit

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        limit = self.limit()
        if limit is None or environ.get("CONTENT_LENGTH") or not environ.get("wsgi.input_terminated"):
            return self.app(environ, start_response)
        stream, body, size = environ["wsgi.input"], io.BytesIO(), 0
        while size <= limit:
            chunk = stream.read(min(64 * 1024, limit + 1 - size))
            if not chunk:
                break
            body.write(chunk)
            size += len(chunk)
        if size > limit:
            text = f"The request body is larger than the {limit:,} bytes this server accepts.\n".encode()
            headers = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(text)))]
            start_response("413 Content Too Large", headers + list(FIXED.items()))
            return [text]
        environ["wsgi.input"] = io.BytesIO(body.getvalue())
        environ["CONTENT_LENGTH"] = str(size)
        return self.app(environ, start_response)


def serialize_dash_setup(app: dash.Dash) -> None:
    """Run Dash's first-request hooks once, under a lock, before any thread's request goes on (they sit
    after the login guard, so anonymous requests do not trigger them)."""
    funcs = app.server.before_request_funcs.setdefault(None, [])
    hooks = [f for f in funcs if getattr(f, "__module__", "").startswith("dash")]
    if not hooks:
        return
    lock = threading.Lock()
    done = threading.Event()

    def setup_once() -> None:
        if done.is_set():
            return
        with lock:
            if not done.is_set():
                for hook in hooks:
                    hook()
                done.set()

    funcs.insert(min(funcs.index(f) for f in hooks), setup_once)


def register(app: dash.Dash) -> None:
    """Add the headers to every response of app's server, and the chunked-body limit."""
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
    server = app.server
    limit = BodyLimit(server.wsgi_app, lambda: server.config.get("MAX_CONTENT_LENGTH"))
    server.wsgi_app = limit  # type: ignore[method-assign]
    serialize_dash_setup(app)
