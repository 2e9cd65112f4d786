"""The WSGI entry point for gunicorn: `gunicorn wsgi:server --config gunicorn.conf.py`.

It refuses to start (one sentence on stderr, exit code 4 so gunicorn exits) without a users file in
$SEGMENTATION_USERS, unless SEGMENTATION_ALLOW_ANONYMOUS=1 says the dashboard may be served without login;
a users file or SECRET_KEY that is not right is one sentence too (dashboard/startup.py).
"""

from __future__ import annotations

import os

from flask import Flask

from dashboard.startup import preflight, refuse
from segmentation.errors import InputError


def build() -> Flask:
    """The Flask server of the dashboard, or one sentence on stderr and SystemExit."""
    preflight()
    from dashboard import create_app

    try:
        return create_app(os.environ.get("SEGMENTATION_DB", "data/segments.duckdb")).server
    except InputError as exc:
        raise refuse(str(exc)) from None


server = build()
