"""Starting with or without login: wsgi.py (gunicorn's entry) refuses to serve without a users file unless
SEGMENTATION_ALLOW_ANONYMOUS=1, in one sentence, and gunicorn then stops instead of respawning workers;
`segments serve`/`demo` need no login on loopback but refuse any other address without it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import dash
import pytest

from segmentation import users
from segmentation.cli import main
from segmentation.serve_cli import is_loopback

ROOT = Path(__file__).resolve().parents[2]
SECRET = "start-secret-" + "z" * 40
REFUSAL = (
    "Error: refusing to serve customer data without login: set SEGMENTATION_USERS to a users file "
    "(segments users add NAME --role ROLE) and SECRET_KEY, or SEGMENTATION_ALLOW_ANONYMOUS=1 "
    "to allow anyone.\n"
)


@pytest.fixture(scope="module")
def users_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("users") / "users.json"
    users.add(path, "ann", "admin", "admin-password")
    return path


def free_port() -> str:
    with socket.socket() as probe:
        probe.bind(("0.0.0.0", 0))
        return str(probe.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SEGMENTATION_USERS", "SECRET_KEY")}
    env.pop("SEGMENTATION_ALLOW_ANONYMOUS", None)
    return {**env, **extra}


def import_wsgi(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "import wsgi"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_wsgi_refuses_without_users(fixture_db: Path) -> None:
    done = import_wsgi(clean_env(SEGMENTATION_DB=str(fixture_db)))
    assert done.returncode == 4 and done.stderr == REFUSAL


@pytest.mark.parametrize(
    ("secret", "text", "sentence"),
    [
        ("", None, "login needs SECRET_KEY in the environment, the same for every worker"),
        (SECRET, "[1, 2", "not valid JSON at line 1 column 6."),
    ],
)
def test_wsgi_bad_login_settings_are_one_sentence(
    fixture_db: Path, tmp_path: Path, users_file: Path, secret: str, text: str | None, sentence: str
) -> None:
    path = users_file
    if text is not None:
        path = tmp_path / "users.json"
        path.write_text(text)
    env = clean_env(SEGMENTATION_DB=str(fixture_db), SEGMENTATION_USERS=str(path), SECRET_KEY=secret)
    done = import_wsgi(env)
    assert done.returncode == 4 and done.stderr.startswith("Error: ") and done.stderr.count("\n") == 1
    assert sentence in done.stderr


def test_wsgi_serves_with_users_or_when_anonymous_is_allowed(fixture_db: Path, users_file: Path) -> None:
    code = "import wsgi; c = wsgi.server.test_client(); print(c.get('/_dash-layout').status_code)"
    for extra, status in (
        ({"SEGMENTATION_ALLOW_ANONYMOUS": "1"}, "200"),
        ({"SEGMENTATION_USERS": str(users_file), "SECRET_KEY": SECRET}, "401"),
    ):
        env = clean_env(SEGMENTATION_DB=str(fixture_db), **extra)
        done = subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0 and done.stdout.strip() == status, done.stderr[-2000:]


def test_gunicorn_stops_instead_of_respawning(fixture_db: Path) -> None:
    """The refusal exits with gunicorn's APP_LOAD_ERROR (4) from the master, so nothing respawns or loops."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "gunicorn", "wsgi:server", "--config", "gunicorn.conf.py"]
        + ["--bind", "127.0.0.1:0", "--workers", "2", "--access-logfile", "/dev/null"],
        cwd=ROOT,
        env=clean_env(SEGMENTATION_DB=str(fixture_db)),
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert done.returncode == 4 and time.monotonic() - started < 90
    # The master refuses before forking (gunicorn.conf.py on_starting): one sentence, no worker booted, and
    # none of the traceback gunicorn prints when two workers exit with code 4 at once and race to halt it.
    assert done.stderr.count(REFUSAL.strip()) == 1
    assert "Booting worker" not in done.stderr and "Traceback" not in done.stderr


def test_is_loopback() -> None:
    for host in ("127.0.0.1", "127.0.0.2", "localhost", "::1"):
        assert is_loopback(host), host
    for host in ("0.0.0.0", "::", "192.0.2.10", "no-such-host.invalid"):
        assert not is_loopback(host), host


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[tuple[dash.Dash, dict[str, Any]]]:
    """Dash's run() replaced by a recorder of (app, kwargs)."""
    calls: list[tuple[dash.Dash, dict[str, Any]]] = []
    monkeypatch.setattr(dash.Dash, "run", lambda self, **kwargs: calls.append((self, kwargs)))
    monkeypatch.delenv("SEGMENTATION_USERS", raising=False)
    monkeypatch.delenv("SECRET_KEY", raising=False)
    return calls


def test_serve_beyond_loopback_needs_login(
    fixture_db: Path, served: list[Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve", "--db", str(fixture_db), "--host", "0.0.0.0", "--port", free_port()]) == 2
    err = capsys.readouterr().err
    assert err == (
        "Error: --host 0.0.0.0: serving customer data beyond this machine needs login; pass --users FILE "
        "(or set SEGMENTATION_USERS) and SECRET_KEY, or serve on 127.0.0.1.\n"
    )
    assert served == []


def test_demo_beyond_loopback_refuses_before_segmenting(
    tmp_path: Path, served: list[Any], capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "demo.duckdb"
    assert main(["demo", "--db", str(db), "--host", "0.0.0.0", "--port", free_port()]) == 2
    assert "needs login" in capsys.readouterr().err
    assert not db.exists() and served == []


def test_serve_with_users_beyond_loopback(
    fixture_db: Path,
    users_file: Path,
    served: list[Any],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SECRET_KEY", SECRET)
    argv = [
        "serve",
        "--db",
        str(fixture_db),
        "--host",
        "0.0.0.0",
        "--port",
        free_port(),
        "--users",
        str(users_file),
    ]
    assert main([*argv, "--debug"]) == 2
    assert "--debug exposes the debugger; use it on 127.0.0.1 only." in capsys.readouterr().err
    assert main(argv) == 0
    (app, kwargs), *_ = served
    assert kwargs["host"] == "0.0.0.0"
    assert app.server.test_client().get("/_dash-layout").status_code == 401


def test_serve_on_loopback_needs_no_login_but_checks_a_given_one(
    fixture_db: Path,
    tmp_path: Path,
    served: list[Any],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["serve", "--db", str(fixture_db), "--port", free_port()]) == 0
    assert served[0][0].server.test_client().get("/_dash-layout").status_code == 200
    capsys.readouterr()
    broken = tmp_path / "users.json"
    broken.write_text("{")
    monkeypatch.setenv("SECRET_KEY", SECRET)
    assert main(["serve", "--db", str(fixture_db), "--port", free_port(), "--users", str(broken)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"Error: {broken}: not valid JSON") and err.count("\n") == 1
    assert len(served) == 1
