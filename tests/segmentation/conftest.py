"""Real servers for the database and object-storage sources: a PostgreSQL server (Debian's packages) and
an S3-compatible server (moto's server mode), both on loopback.

`.ci/run` starts both and exports SEGMENTS_TEST_PG_URL and SEGMENTS_TEST_S3_ENDPOINT; without them (a
developer's venv) these fixtures start their own for the session and stop them. A missing server binary
fails the tests that need it, with the reason: nothing here is skipped.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_USER = "segments"
PG_PASSWORD = "segments-test-password"


def free_port() -> int:
    """A TCP port free on loopback now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_bin(name: str) -> str:
    """initdb / pg_ctl: on PATH, or where Debian puts them (/usr/lib/postgresql/N/bin)."""
    debian = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    found = shutil.which(name) or (debian[-1] if debian else None)
    if found is None:
        pytest.fail(
            f"PostgreSQL's {name} is not installed: install Debian's postgresql package "
            "(`apt-get install postgresql`, as .ci/run does) or set SEGMENTS_TEST_PG_URL.",
            pytrace=False,
        )
    return found


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """postgresql://segments:PASSWORD@127.0.0.1:PORT/postgres, a superuser on a throwaway server."""
    given = os.environ.get("SEGMENTS_TEST_PG_URL")
    if given:
        yield given
        return
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    root = Path(tempfile.mkdtemp(prefix="segments-test-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        shutil.chown(root, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    data, pwfile, log = root / "data", root / "pw", root / "log"
    pwfile.write_text(PG_PASSWORD + "\n")
    if as_user:
        shutil.chown(pwfile, "postgres", "postgres")
    port = free_port()
    run = dict(check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
    try:
        subprocess.run(
            [*as_user, initdb, "-D", str(data), "-U", PG_USER, f"--pwfile={pwfile}",
             "--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8", "--locale=C.UTF-8"],
            **run,
        )  # fmt: skip
        opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run([*as_user, pg_ctl, "-D", str(data), "-l", str(log), "-o", opts, "-w", "start"], **run)
    except subprocess.CalledProcessError as exc:
        pytest.fail(f"could not start PostgreSQL: {exc.stdout}", pytrace=False)
    try:
        yield f"postgresql://{PG_USER}:{PG_PASSWORD}@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_user, pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"], check=False,
                       capture_output=True, timeout=60)  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """http://127.0.0.1:PORT of an S3-compatible server (moto in server mode)."""
    given = os.environ.get("SEGMENTS_TEST_S3_ENDPOINT")
    if given:
        yield given
        return
    try:
        import moto.server  # noqa: F401
    except ImportError:
        pytest.fail("moto[server] is not installed: install the dev extra (pip install -e '.[dev]').")
    port = free_port()
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(url + "/moto-api/", timeout=2).close()  # noqa: S310 - loopback
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    pytest.fail(f"moto's server did not start: {log.read().decode(errors='replace')}")
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
