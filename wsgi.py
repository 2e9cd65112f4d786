"""The WSGI entry point for gunicorn: `gunicorn wsgi:server --config gunicorn.conf.py`."""

from __future__ import annotations

import os

from dashboard import create_app

server = create_app(os.environ.get("SEGMENTATION_DB", "data/segments.duckdb")).server
