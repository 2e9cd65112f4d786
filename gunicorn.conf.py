"""gunicorn settings for the dashboard (read by `gunicorn wsgi:server --config gunicorn.conf.py`).

Listens on loopback only: 127.0.0.1:$PORT (default 8050). To serve behind a proxy on another address set
GUNICORN_BIND (or BIND): a host (GUNICORN_BIND=0.0.0.0 listens on every interface at $PORT, what a platform
that sets PORT needs), host:port, or unix:/run/segments.sock. A `--bind` on the command line wins.

Worker model (chosen by measurement, bench/README.md "Load test"): gthread workers, WEB_CONCURRENCY
processes (default: the number of cores) x GUNICORN_THREADS threads (default 4). Threads keep a long
export from being killed by `timeout` (the arbiter's heartbeat comes from the worker's main thread, not
the request) and let DuckDB queries, which release the GIL, overlap while another thread builds a figure.
Each thread opens its own read-only DuckDB connection on first use (never at import: DuckDB is not
fork-safe, so no preload) and reopens it when a re-run swaps the file (dashboard/queries). DuckDB's own
threads per connection default to cores / (workers x threads), at least 1, so the workers do not
oversubscribe the machine (SEGMENTATION_DB_THREADS overrides; SEGMENTATION_DB_MEMORY caps each
connection's memory, default: a share of RAM). GUNICORN_WORKER_CLASS=sync gives one request per worker.
SEGMENTATION_RESULT_CACHE=1 (default here) keeps small aggregate results per file identity in each worker.
Put a buffering proxy (nginx) in front for slow clients.
"""

import os

cores = os.cpu_count() or 1
_port = os.environ.get("PORT", "8050")
_bind = (os.environ.get("GUNICORN_BIND") or os.environ.get("BIND") or "127.0.0.1").strip()
# A bare host (GUNICORN_BIND=0.0.0.0, e.g. on a platform that sets PORT) listens on $PORT.
bind = _bind if ":" in _bind or _bind.startswith("unix:") else f"{_bind}:{_port}"
workers = int(os.environ.get("WEB_CONCURRENCY", str(cores)))
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
threads = int(os.environ.get("GUNICORN_THREADS", "4")) if worker_class == "gthread" else 1
timeout = 60
graceful_timeout = 30
# No keep-alive by default: a gthread worker that closes an idle kept-alive connection just as the client
# reuses it resets that request (benoitc/gunicorn#1698, #2676; the 50-user load test lost 2 of 9,444 requests
# to it). With keepalive 0 every answer says "Connection: close", so no client reuses a connection the worker
# may drop. The proxy in front keeps the browsers' connections alive (nginx opens a new upstream connection
# per request unless told otherwise). GUNICORN_KEEPALIVE=N (seconds) turns it back on.
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "0"))
# Recycling after max_requests resets keep-alive connections queued on a gthread worker
# (benoitc/gunicorn#3038, fixes not merged; the 50-user load test lost a callback to it): off for gthread
# unless GUNICORN_MAX_REQUESTS asks for it. DuckDB memory is capped per connection (SEGMENTATION_DB_MEMORY).
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "0" if worker_class == "gthread" else "1000"))
max_requests_jitter = max_requests // 10
preload_app = False
accesslog = "-"

# DuckDB per connection: every thread of every worker has one, so share the cores and the memory out.
_slots = max(1, workers * threads)
os.environ.setdefault("SEGMENTATION_DB_THREADS", str(max(1, cores // _slots)))
try:
    _ram_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
except (ValueError, OSError, AttributeError):
    _ram_mb = 4096
os.environ.setdefault("SEGMENTATION_DB_MEMORY", f"{max(256, _ram_mb // 2 // _slots)}MB")
# Keep small aggregate results per (file identity, query) in each worker (dashboard/queries/result_cache.py).
os.environ.setdefault("SEGMENTATION_RESULT_CACHE", "1")


def on_starting(server: object) -> None:
    """Check the login settings once in the master, before any worker is forked: a refusal is one sentence
    and exit code 4 (dashboard/startup.py); workers check again when they load wsgi.py."""
    from dashboard.startup import preflight

    preflight()
