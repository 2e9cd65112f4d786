"""`segments serve` and `segments demo` against a real socket: a busy port is one sentence and exit 2,
before any "serving" line and before the demo writes a DB; a free port is checked, then served."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dash
import pytest

from segmentation import pipeline, report, serve_cli
from segmentation.cli import main


def busy_sentence(port: int) -> str:
    return f"Error: Port {port} on 127.0.0.1 is already in use; stop the other server or pass --port N.\n"


@pytest.fixture
def held_port() -> Iterator[int]:
    """A loopback port another server holds (a listening socket) for the whole test."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        yield int(holder.getsockname()[1])


@pytest.fixture
def stored_db(small_run: tuple[Path, object], tmp_path: Path) -> Path:
    """A copy of a real small run."""
    target = tmp_path / "db" / "segments.duckdb"
    target.parent.mkdir()
    shutil.copyfile(small_run[0], target)
    return target


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Dash's run() replaced by a recorder: what would have been served, without blocking."""
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(dash.Dash, "run", lambda self, **kwargs: calls.append(kwargs))
    return calls


def test_demo_on_a_busy_port_fails_before_segmenting(
    held_port: int, tmp_path: Path, capsys: pytest.CaptureFixture[str], served: list[dict[str, Any]]
) -> None:
    db = tmp_path / "demo.duckdb"
    assert main(["demo", "--db", str(db), "--port", str(held_port)]) == 2
    out, err = capsys.readouterr()
    assert (out, err) == ("", busy_sentence(held_port))
    assert not db.exists() and list(tmp_path.iterdir()) == []  # nothing segmented, no temp file left
    assert served == []


def test_demo_on_a_busy_port_leaves_an_existing_db_alone(
    held_port: int, stored_db: Path, capsys: pytest.CaptureFixture[str], served: list[dict[str, Any]]
) -> None:
    before = stored_db.read_bytes()
    assert main(["demo", "--db", str(stored_db), "--port", str(held_port)]) == 2
    assert capsys.readouterr() == ("", busy_sentence(held_port))
    assert stored_db.read_bytes() == before and served == []


def test_serve_on_a_busy_port_says_so_without_serving(
    held_port: int, stored_db: Path, capsys: pytest.CaptureFixture[str], served: list[dict[str, Any]]
) -> None:
    assert main(["serve", "--db", str(stored_db), "--port", str(held_port)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err == busy_sentence(held_port)
    assert "Dashboard on" not in err and served == []


def test_serve_on_a_free_port_checks_then_serves(
    stored_db: Path, capsys: pytest.CaptureFixture[str], served: list[dict[str, Any]]
) -> None:
    port = free_port()
    assert main(["serve", "--db", str(stored_db), "--port", str(port)]) == 0
    assert capsys.readouterr().err == f"Dashboard on http://127.0.0.1:{port}/ (Ctrl+C stops it)\n"
    assert served == [{"host": "127.0.0.1", "port": port, "debug": False, "use_reloader": False}]


def test_demo_rechecks_the_port_after_segmenting(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    served: list[dict[str, Any]],
) -> None:
    """Another server takes the port while the sample is segmented: the sentence, not 'Dashboard on'."""
    port = free_port()
    taken: list[socket.socket] = []

    def segment_while_someone_takes_the_port(config: Any) -> str:
        holder = socket.socket()
        holder.bind(("127.0.0.1", port))
        holder.listen(1)
        taken.append(holder)
        return "summary"

    monkeypatch.setattr(pipeline, "run", segment_while_someone_takes_the_port)
    monkeypatch.setattr(report, "format_run", lambda summary: "the run's report")
    try:
        assert main(["demo", "--db", str(tmp_path / "d.duckdb"), "--port", str(port)]) == 2
    finally:
        for holder in taken:
            holder.close()
    assert capsys.readouterr() == ("the run's report\n", busy_sentence(port))
    assert served == []


@pytest.mark.parametrize("port", ["0", "65536", "-1"])
def test_a_port_out_of_range_is_one_sentence(
    port: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], served: list[dict[str, Any]]
) -> None:
    assert main(["serve", "--db", str(tmp_path / "x.duckdb"), "--port", port]) == 2
    assert capsys.readouterr().err == f"Error: --port {port}: expected a port number from 1 to 65535.\n"
    assert served == []


def test_check_port_accepts_a_free_port_and_releases_it() -> None:
    port = free_port()
    serve_cli.check_port("127.0.0.1", port)
    with socket.socket() as again:  # the probe let go of it
        again.bind(("127.0.0.1", port))
