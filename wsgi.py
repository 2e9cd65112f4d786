"""The WSGI entry point for gunicorn: `gunicorn wsgi:server --config gunicorn.conf.py`.

It refuses to start (one sentence on stderr, gunicorn exits) without a users file in $SEGMENTATION_USERS,
unless SEGMENTATION_ALLOW_ANONYMOUS=1 says the dashboard may be served without login; a users file or
SECRET_KEY that is not right is one sentence too.
"""

from __future__ import annotations

import os
import sys

from flask import Flask

from segmentation.errors import InputError
from segmentation.users import USERS_ENV, configured_path

ANONYMOUS_ENV = "SEGMENTATION_ALLOW_ANONYMOUS"
APP_LOAD_ERROR = 4  # gunicorn's arbiter halts on this worker exit code instead of respawning the worker


def refuse(sentence: str) -> SystemExit:
    """Print the sentence on stderr and exit with the code that makes gunicorn stop, not loop."""
    print(f"Error: {sentence}", file=sys.stderr, flush=True)
    return SystemExit(APP_LOAD_ERROR)


def build() -> Flask:
    """The Flask server of the dashboard, or one sentence on stderr and SystemExit."""
    if configured_path() is None and os.environ.get(ANONYMOUS_ENV, "").strip() != "1":
        raise refuse(
            f"refusing to serve customer data without login: set {USERS_ENV} to a users file "
            f"(segments users add NAME --role ROLE) and SECRET_KEY, or {ANONYMOUS_ENV}=1 to allow anyone."
        )
    from dashboard import create_app  # after the check: a refusal is immediate

    try:
        return create_app(os.environ.get("SEGMENTATION_DB", "data/segments.duckdb")).server
    except InputError as exc:
        raise refuse(str(exc)) from None


server = build()
