"""gunicorn settings for the dashboard (read by `gunicorn wsgi:server --config gunicorn.conf.py`).

Sync workers, each with its own read-only DuckDB connection opened on first use (never at import: DuckDB is
not fork-safe, so no preload). Put a buffering proxy (nginx) in front of sync workers.
"""

import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8050')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "sync"
timeout = 60
graceful_timeout = 30
max_requests = 1000
max_requests_jitter = 100
preload_app = False
accesslog = "-"
