"""The production entry's start-up rules, checked before anything opens the DuckDB file.

wsgi.py runs preflight() in every worker, and gunicorn.conf.py runs it once in gunicorn's master before it
forks (on_starting), so a refusal is one sentence and exit code 4 from the master instead of one from each
worker racing to halt the arbiter (gunicorn then prints its own traceback).
"""

from __future__ import annotations

import os
import sys

from segmentation.errors import InputError
from segmentation.users import USERS_ENV, configured_path

ANONYMOUS_ENV = "SEGMENTATION_ALLOW_ANONYMOUS"
APP_LOAD_ERROR = 4  # gunicorn's arbiter halts on this worker exit code instead of respawning the worker


def refuse(sentence: str) -> SystemExit:
    """Print the sentence on stderr and exit with the code that makes gunicorn stop, not loop."""
    print(f"Error: {sentence}", file=sys.stderr, flush=True)
    return SystemExit(APP_LOAD_ERROR)


def preflight() -> None:
    """Refuse (SystemExit 4, one sentence on stderr) without a users file unless anonymous serving is
    allowed, or when the users file or SECRET_KEY is not right. Reads no DuckDB file."""
    if configured_path() is None and os.environ.get(ANONYMOUS_ENV, "").strip() != "1":
        raise refuse(
            f"refusing to serve customer data without login: set {USERS_ENV} to a users file "
            f"(segments users add NAME --role ROLE) and SECRET_KEY, or {ANONYMOUS_ENV}=1 to allow anyone."
        )
    from dashboard.auth import check_settings

    try:
        check_settings()
    except InputError as exc:
        raise refuse(str(exc)) from None
