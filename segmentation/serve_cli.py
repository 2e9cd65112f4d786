"""`segments serve` and `segments demo`: check the address first, then (demo) segment, then serve.

The port is tested with a real bind before anything else happens, so a busy port is one sentence and a
non-zero exit, with no "serving" line printed and (demo) no DB file written for a server that cannot
start. The same holds for login: a bad users file or SECRET_KEY, or a non-loopback host without login.
`dashboard` is imported inside the functions: serving is the one place this side touches it.
"""

from __future__ import annotations

import argparse
import errno
import ipaddress
import socket
import sys
from pathlib import Path

from segmentation.config import RunConfig
from segmentation.errors import InputError
from segmentation.users import USERS_ENV

DEMO_DATA = Path(__file__).resolve().parent.parent / "data" / "online_retail_sample.csv"


def check_port(host: str, port: int) -> None:
    """Raise InputError (one sentence) unless a server could listen on host:port right now: bind a
    socket there, with SO_REUSEADDR as the development server does, and close it again."""
    if not 1 <= port <= 65535:
        raise InputError(f"--port {port}: expected a port number from 1 to 65535.")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except (socket.gaierror, UnicodeError) as exc:
        raise InputError(f"--host {host}: not an address this machine can listen on ({exc}).") from None
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
            probe.listen(1)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise InputError(
                    f"Port {port} on {host} is already in use; stop the other server or pass --port N."
                ) from None
            if exc.errno == errno.EACCES:
                raise InputError(
                    f"Port {port} on {host} needs more privileges; pass --port N with N above 1023."
                ) from None
            raise InputError(f"Cannot listen on {host} port {port}: {exc.strerror or exc}.") from None


def is_loopback(host: str) -> bool:
    """True when every address host resolves to is a loopback address (127.0.0.0/8, ::1)."""
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return False
    return bool(infos) and all(ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback for info in infos)


def check_login(a: argparse.Namespace) -> None:
    """Raise InputError (one sentence) when the users file or SECRET_KEY is wrong, or when the server
    would listen beyond this machine without login or with the debugger on."""
    from dashboard.auth import check_settings

    users_file = check_settings(getattr(a, "users", None))
    if is_loopback(a.host):
        return
    if users_file is None:
        raise InputError(
            f"--host {a.host}: serving customer data beyond this machine needs login; pass --users FILE "
            f"(or set {USERS_ENV}) and SECRET_KEY, or serve on 127.0.0.1."
        )
    if a.debug:
        raise InputError(f"--host {a.host}: --debug exposes the debugger; use it on 127.0.0.1 only.")


def serve(a: argparse.Namespace) -> int:
    """Serve the dashboard with Flask's development server (production: gunicorn wsgi:server); the port
    and the login settings were checked by the caller."""
    from dashboard import create_app

    app = create_app(a.db, users=getattr(a, "users", None))
    print(f"Dashboard on http://{a.host}:{a.port}/ (Ctrl+C stops it)", file=sys.stderr, flush=True)
    app.run(host=a.host, port=a.port, debug=a.debug, use_reloader=False)
    return 0


def cmd_serve(a: argparse.Namespace) -> int:
    """Check the port and the login settings, then serve the dashboard over the DB."""
    check_port(a.host, a.port)
    check_login(a)
    return serve(a)


def cmd_demo(a: argparse.Namespace) -> int:
    """Check the port, segment the bundled sample unless the DB already has a run, then serve."""
    from segmentation import pipeline, report, store

    check_port(a.host, a.port)
    check_login(a)
    has_run = False
    if a.db.exists():
        try:
            has_run = bool(store.list_runs(a.db))
        except Exception:  # an unreadable or foreign file: segmenting replaces it atomically
            has_run = False
    if not has_run:
        summary = pipeline.run(RunConfig(inputs=(DEMO_DATA,), db_path=a.db))
        print(report.format_run(summary))
        check_port(a.host, a.port)  # taken while the sample was segmented: say so before "Dashboard on"
    return serve(a)
