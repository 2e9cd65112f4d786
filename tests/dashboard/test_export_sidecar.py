"""`segments export` on a real pipeline run: plain CSV, the optional --sidecar JSON, nothing written on bad
input, and no export (CSV, XLSX, sidecar, web or CLI) that holds the DB's or the input's filesystem path."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest

from dashboard import create_app, queries
from dashboard.queries import filtered
from segmentation import cli

HEADER = ",".join(filtered.EXPORT_COLUMNS)


@pytest.fixture
def real_db(small_run: tuple[Path, Any], tmp_path: Path) -> Path:
    """A copy of the small real run in a directory whose name must never show up in an export."""
    target = tmp_path / "srv-private-dir" / "segments.duckdb"
    target.parent.mkdir()
    shutil.copyfile(small_run[0], target)
    return target


def stored(db: Path, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    """Rows read from the DB directly, without dashboard code."""
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def busiest_country(db: Path) -> tuple[str, int]:
    """The run's country with most customers, and how many."""
    row = stored(db, "SELECT country, count(*) FROM customers GROUP BY ALL ORDER BY 2 DESC, 1 LIMIT 1")[0]
    return str(row[0]), int(row[1])


def texts_of(blob: bytes) -> list[bytes]:
    """The blob itself and, for an XLSX (a zip), every member's name and inflated bytes."""
    texts = [blob]
    if blob.startswith(b"PK"):
        with zipfile.ZipFile(io.BytesIO(blob)) as book:
            for name in book.namelist():
                texts += [name.encode(), book.read(name)]
    return texts


def test_side001_no_export_holds_a_server_path(real_db: Path, tmp_path: Path) -> None:
    sources = stored(real_db, "SELECT sources FROM runs")[0][0]
    source = Path(sources[0])
    assert source.is_absolute()  # the run stored a full path: there is something to leak
    secrets = {str(real_db), str(real_db.parent), str(source), str(source.parent), str(real_db.resolve())}
    blobs: dict[str, bytes] = {}
    app = create_app(real_db)
    client = app.server.test_client()
    for ext in ("csv", "xlsx"):
        r = client.get(f"/export/customers.{ext}?run=1")
        assert r.status_code == 200
        blobs[f"web {ext}"] = r.get_data()
        blobs[f"web {ext} header"] = r.headers["Content-Disposition"].encode()
    queries.close_thread_connections()
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    for ext in ("csv", "xlsx"):
        out = out_dir / f"list.{ext}"
        assert cli.main(["export", "--db", str(real_db), "--out", str(out), "--sidecar"]) == 0
        blobs[f"cli {ext}"] = out.read_bytes()
        blobs[f"cli {ext} sidecar"] = (out_dir / f"list.{ext}.about.json").read_bytes()
    assert source.name.encode() in blobs["cli csv sidecar"]  # the input is named, by its name only
    for what, blob in blobs.items():
        for text in texts_of(blob):
            for secret in secrets:
                assert secret.encode() not in text, f"{what} holds {secret}"


def test_side002_cli_csv_is_plain_and_pandas_reads_it(real_db: Path, tmp_path: Path) -> None:
    country, count = busiest_country(real_db)
    out = tmp_path / "list.csv"
    assert cli.main(["export", "--db", str(real_db), "--country", country, "--out", str(out)]) == 0
    text = out.read_bytes().decode("utf-8")
    assert text.split("\r\n", 1)[0] == HEADER
    frame = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert list(frame.columns) == list(filtered.EXPORT_COLUMNS)
    assert len(frame) == count > 0 and set(frame["country"]) == {country}
    ids = {r[0] for r in stored(real_db, "SELECT customer_id FROM customers WHERE country = ?", [country])}
    assert set(frame["customer_id"]) == ids
    assert len(list(csv.reader(io.StringIO(text, newline="")))) == count + 1  # header + rows, nothing else
    assert not (tmp_path / "list.csv.about.json").exists()  # no sidecar without --sidecar
    assert sorted(p.name for p in tmp_path.iterdir()) == ["list.csv", real_db.parent.name]


def test_side003_sidecar_holds_the_context(
    real_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    country, count = busiest_country(real_db)
    snapshot = stored(real_db, "SELECT snapshot_date FROM runs WHERE id = 1")[0][0]
    out = tmp_path / "list.csv"
    before = datetime.now(timezone.utc).replace(microsecond=0)
    args = ["export", "--db", str(real_db), "--country", country, "--tenure-min", "0", "--sidecar"]
    assert cli.main([*args, "--out", str(out)]) == 0
    after = datetime.now(timezone.utc)
    sidecar = tmp_path / "list.csv.about.json"
    assert capsys.readouterr().out == f"wrote {count:,} customers of run 1 to {out} (context in {sidecar})\n"
    about = json.loads(sidecar.read_text(encoding="utf-8"))
    assert about["product"] == "Customer segments export"
    assert about["file"] == "list.csv"
    assert about["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert about["rows"] == count and about["columns"] == list(filtered.EXPORT_COLUMNS)
    exported = datetime.strptime(about["exported_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    assert before <= exported <= after + timedelta(seconds=1)
    assert about["run"]["id"] == 1 and about["run"]["snapshot_date"] == snapshot.isoformat()
    assert about["run"]["kind"] == "transactions"
    assert about["filters"]["description"] == [f"Country: {country}"]  # tenure >= 0 excludes nobody
    assert about["filters"]["query"].startswith("run=1&country=")
    assert about["top"] is None
    assert out.read_bytes().decode("utf-8").split("\r\n", 1)[0] == HEADER  # the CSV stays plain


def test_side004_xlsx_with_sidecar_and_top(real_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "risk.xlsx"
    args = [
        "export",
        "--db",
        str(real_db),
        "--preset",
        "at-risk",
        "--top",
        "5",
        "--sidecar",
        "--out",
        str(out),
    ]
    assert cli.main(args) == 0
    about = json.loads((tmp_path / "risk.xlsx.about.json").read_text(encoding="utf-8"))
    assert about["top"] == 5 and about["rows"] == 5
    assert about["filters"]["description"][-1] == "Limit: the first 5 customers of the list"
    assert about["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    "bad",
    [["--country", "Atlantis"], ["--segment", "Nobody"], ["--tenure-min", "90", "--tenure-max", "10"]],
)
def test_side005_a_failed_export_writes_neither_file(
    bad: list[str], real_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "list.csv"
    code = cli.main(["export", "--db", str(real_db), *bad, "--sidecar", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("Error: --") and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == [real_db.parent]  # no CSV, no sidecar, no temp file


def test_side006_a_failed_export_leaves_an_earlier_pair_alone(real_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "list.csv"
    assert cli.main(["export", "--db", str(real_db), "--sidecar", "--out", str(out)]) == 0
    before = (out.read_bytes(), (tmp_path / "list.csv.about.json").read_bytes())
    assert (
        cli.main(["export", "--db", str(real_db), "--country", "Atlantis", "--sidecar", "--out", str(out)])
        == 2
    )
    assert (out.read_bytes(), (tmp_path / "list.csv.about.json").read_bytes()) == before


def test_side007_help_names_the_sidecar() -> None:
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices["export"]
    text = sub.format_help()
    assert "--sidecar" in text and "OUT.about.json" in text
