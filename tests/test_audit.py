"""The export audit (issue 11, item 3): one JSON line per export, web or CLI, appended safely to a log
outside the DB; an export that cannot be audited does not happen; `segments audit` prints the log."""

from __future__ import annotations

import json
import multiprocessing
import os
import stat
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from flask import g

from dashboard import create_app, queries
from segmentation import audit, cli
from tests.dashboard.conftest import build_db

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv(audit.ENV, raising=False)
    path = build_db(tmp_path / "shop.duckdb")
    yield path
    queries.close_thread_connections()


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_audit001_log_path_beside_the_db_or_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(audit.ENV, raising=False)
    assert audit.log_path(tmp_path / "seg[1].duckdb") == tmp_path / "seg[1].duckdb.audit.jsonl"
    monkeypatch.setenv(audit.ENV, str(tmp_path / "elsewhere.jsonl"))
    assert audit.log_path(tmp_path / "x.duckdb") == tmp_path / "elsewhere.jsonl"


def test_audit002_append_is_one_json_line_mode_0600(tmp_path: Path) -> None:
    log = tmp_path / "a.jsonl"
    audit.append(log, {"user": "ann\nsecond line", "rows": 3})
    audit.append(log, {"user": "bob", "rows": 4})
    assert stat.S_IMODE(os.stat(log).st_mode) == 0o600
    assert log.read_text(encoding="utf-8").count("\n") == 2
    assert [e["user"] for e in audit.read(log)] == ["ann\nsecond line", "bob"]


def _writer(path: str, who: int) -> None:
    for n in range(100):
        audit.append(path, {"user": f"w{who}", "n": n, "pad": "x" * 5000})


def test_audit003_concurrent_appends_never_interleave(tmp_path: Path) -> None:
    log = tmp_path / "a.jsonl"
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(str(log), w)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    entries = audit.read(log)  # every line parses: no torn or interleaved writes
    assert len(entries) == 400
    for w in range(4):
        assert [e["n"] for e in entries if e["user"] == f"w{w}"] == list(range(100))


def test_audit004_web_export_logs_who_what_and_how_much(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = create_app(db)
    signed_in: list[str] = []

    @app.server.before_request
    def login() -> None:  # what the login does for a signed-in user
        if signed_in:
            g.user_name = signed_in[0]

    client = app.server.test_client()
    r = client.get("/export/customers.csv?run=1&country=France")
    assert r.status_code == 200
    body = r.data
    (entry,) = lines(db.with_name("shop.duckdb.audit.jsonl"))
    rows = body.decode().count("\r\n") - 1
    assert entry == {
        "at": entry["at"],
        "user": "anonymous",
        "db": "shop.duckdb",
        "run": 1,
        "filters": "run=1&country=France",
        "format": "csv",
        "rows": rows,
        "bytes": len(body),
        "outcome": "complete",
    }
    assert rows > 0 and entry["at"].endswith("Z")

    signed_in.append("alice")
    r = client.get("/export/customers.xlsx?run=2")
    assert r.status_code == 200 and r.data
    last = lines(db.with_name("shop.duckdb.audit.jsonl"))[-1]
    assert (last["user"], last["format"], last["run"], last["rows"], last["bytes"], last["outcome"]) == (
        "alice",
        "xlsx",
        2,
        200,
        len(r.data),
        "complete",
    )


def test_audit005_a_client_that_goes_away_is_logged_as_aborted(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dashboard import export_stream

    monkeypatch.setattr(export_stream, "EXPORT_BATCH_ROWS", 10)
    client = create_app(db).server.test_client()
    r = client.get("/export/customers.csv?run=1", buffered=False)
    pieces = iter(r.response)
    sent = next(pieces) + next(pieces)  # the header, then a batch of rows
    r.close()  # what the server does when the client hangs up
    (entry,) = lines(db.with_name("shop.duckdb.audit.jsonl"))
    assert entry["outcome"] == "aborted"
    assert 0 < entry["rows"] < 200 and entry["bytes"] >= len(sent)


def test_audit006_unwritable_log_refuses_the_web_export(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "no-such-dir" / "audit.jsonl"
    monkeypatch.setenv(audit.ENV, str(log))
    client = create_app(db).server.test_client()
    for ext in ("csv", "xlsx"):
        r = client.get(f"/export/customers.{ext}?run=1")
        assert r.status_code == 500
        text = r.get_data(as_text=True)
        assert text.startswith(f"Export refused: {log}: the export audit log cannot be opened for appending")
        assert text.count(".") >= 1 and "customer_id" not in text and len(text.strip().splitlines()) == 1
    assert not log.exists()


def test_audit007_unwritable_log_fails_the_cli_export_and_changes_nothing(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "list.csv"
    out.write_text("earlier export\n")
    log = tmp_path / "ro" / "audit.jsonl"
    log.parent.mkdir()
    log.write_text("")
    log.chmod(0o400)
    monkeypatch.setenv(audit.ENV, str(log))
    if os.access(log, os.W_OK):  # root ignores file modes: a directory as the log is unwritable for all
        monkeypatch.setenv(audit.ENV, str(log.parent))
        log = log.parent
    code = cli.main(["export", "--db", str(db), "--out", str(out), "--sidecar"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"Error: {log}: the export audit log cannot be opened for appending (")
    assert err.count("\n") == 1
    assert out.read_text() == "earlier export\n"  # nothing already stored changes
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["list.csv", "ro", "shop.duckdb"])


def test_audit008_cli_export_logged_as_the_os_user_and_printed(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "list.xlsx"
    assert cli.main(["export", "--db", str(db), "--out", str(out), "--country", "Germany", "--top", "5"]) == 0
    capsys.readouterr()
    (entry,) = audit.read(db.with_name("shop.duckdb.audit.jsonl"))
    assert entry["user"] == audit.cli_user() and entry["user"].startswith("cli:")
    assert (entry["format"], entry["rows"], entry["top"], entry["outcome"]) == ("xlsx", 5, 5, "complete")
    assert entry["filters"] == "run=2&country=Germany" and entry["bytes"] == out.stat().st_size

    assert cli.main(["audit", "--db", str(db)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == list(audit.FIELDS)
    assert table[1].split() == [
        entry["at"],
        entry["user"],
        "shop.duckdb",
        "2",
        "run=2&country=Germany",
        "xlsx",
        "5",
        f"{entry['bytes']:,}",
        "complete",
    ]
    assert cli.main(["audit", "--db", str(db), "--json", "--user", entry["user"]]) == 0
    assert [json.loads(x) for x in capsys.readouterr().out.splitlines()] == [entry]
    assert cli.main(["audit", "--db", str(db), "--user", "nobody"]) == 0
    assert "no exports recorded that match" in capsys.readouterr().out
    tomorrow = date.fromordinal(date.today().toordinal() + 1).isoformat()
    assert cli.main(["audit", "--db", str(db), "--since", tomorrow, "--json"]) == 0
    assert capsys.readouterr().out == ""


def test_audit009_a_damaged_log_is_one_sentence_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "a.jsonl"
    log.write_text('{"user": "x"}\nnot json\n')
    assert cli.main(["audit", "--log", str(log)]) == 2
    assert capsys.readouterr().err == (
        f"Error: {log} line 2: expected one JSON object per line (an audit entry).\n"
    )
    assert log.read_text() == '{"user": "x"}\nnot json\n'


def test_audit010_segmentation_never_imports_the_dashboard() -> None:
    code = "import sys, segmentation.audit, segmentation.cli; print(any(m.startswith('dashboard') for m in sys.modules))"  # noqa: E501
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_audit011_a_log_failing_at_the_end_cuts_the_file_short(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = create_app(db).server.test_client()
    full = client.get("/export/customers.csv?run=1").data
    real = audit.append

    def failing(path: Path, entry: dict) -> None:
        if entry["outcome"] == "complete":
            raise audit.AuditError(
                f"{path}: the export audit log cannot be written (No space left on device)."
            )
        real(path, entry)

    monkeypatch.setattr(audit, "append", failing)
    r = client.get("/export/customers.csv?run=1", buffered=False)
    received = b""
    with pytest.raises(audit.AuditError, match="No space left on device"):
        for piece in r.response:
            received += piece
    r.close()
    assert len(received) < len(full) and full.startswith(received)  # the client never gets the whole file
