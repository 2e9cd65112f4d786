"""Files beside the served DB (issue 11, items 3 and 9): a stray `<db>.wal` and killed runs' temp copies.

A `<db>.wal` is made for real: a separate process opens the served file read-write in place, writes, and
is killed with SIGKILL (no checkpoint), as a crashed program would leave it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import dash
import pytest

from dashboard import components, create_app, queries
from segmentation import pipeline, store
from segmentation.cli import main
from segmentation.config import RunConfig
from segmentation.errors import InputError
from segmentation.served_file import stray_wal_sentence

ROOT = Path(__file__).resolve().parents[2]

WRITE_IN_PLACE_AND_DIE = """
import os, sys, duckdb
con = duckdb.connect(sys.argv[1])
con.execute("SET checkpoint_threshold = '1TB'")
con.execute("CREATE TABLE note (x INTEGER)")
con.execute("INSERT INTO note VALUES (42)")
os.kill(os.getpid(), 9)
"""


def _crash_writing_in_place(db: Path) -> Path:
    """Another program writes db in place and dies: db.wal holds its committed, unchecked-pointed rows."""
    proc = subprocess.run([sys.executable, "-c", WRITE_IN_PLACE_AND_DIE, str(db)], check=False)
    assert proc.returncode == -9
    wal = db.with_name(db.name + ".wal")
    assert wal.exists()
    return wal


def _stray_wal(db: Path, small_csv: Path) -> Path:
    """A `<db>.wal` made for an earlier version of db (the state the issue found after a swap)."""
    wal = _crash_writing_in_place(db)
    kept = wal.with_name("kept.wal")
    wal.rename(kept)  # the run below then replaces db with a newer file
    pipeline.run(RunConfig(inputs=(small_csv,), db_path=db, progress=False, k=3))
    kept.rename(wal)
    return wal


def _run_ids(db: Path) -> list[int]:
    con = store.open_read_only(db)
    try:
        return [r[0] for r in con.execute("SELECT id FROM runs ORDER BY id").fetchall()]
    finally:
        con.close()


def test_readers_name_a_stray_wal_and_its_fix(
    db_copy: Path, small_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _stray_wal(db_copy, small_csv)
    sentence = stray_wal_sentence(db_copy)
    assert sentence == (
        f"segments.duckdb.wal beside {db_copy} does not belong to it (left by a crash or another program), "
        f"so the file cannot be read; run `segments run FILE --db {db_copy}` (it removes the stray .wal) "
        f"or remove {db_copy}.wal."
    )
    before = {p.name: p.read_bytes() for p in db_copy.parent.iterdir()}
    capsys.readouterr()
    assert main(["runs", "--db", str(db_copy)]) == 2
    assert capsys.readouterr().err == f"Error: {sentence}\n"
    out = db_copy.parent / "list.csv"
    assert main(["export", "--db", str(db_copy), "--out", str(out)]) == 2
    assert capsys.readouterr().err == f"Error: {sentence}\n"
    assert not out.exists()
    with pytest.raises(queries.NoData) as err:
        queries.connection(db_copy)
    assert err.value.reason == "stray_wal"
    page = str(components.empty_state(err.value))
    assert "The segmentation database cannot be read" in page
    assert "No segmentation run yet" not in page
    assert (
        "segments.duckdb.wal beside segments.duckdb does not belong to it (left by a crash or another "
        "program), so the file cannot be read; make a new run (it removes the stray .wal) or remove "
        "segments.duckdb.wal." in page
    )
    assert {p.name: p.read_bytes() for p in db_copy.parent.iterdir()} == before  # readers change nothing


def test_every_dashboard_page_says_the_stray_wal_sentence(db_copy: Path, small_csv: Path) -> None:
    _stray_wal(db_copy, small_csv)
    app = create_app(db_copy)
    for module, page in dash.page_registry.items():
        if module.endswith("not_found_404"):
            continue
        with app.server.test_request_context("/"):
            tree = json.dumps(page["layout"](run="2"), default=lambda o: o.to_plotly_json())
        assert "does not belong to it (left by a crash or another program)" in tree, module
        assert "No segmentation run yet" not in tree, module


def test_the_next_run_removes_a_stray_wal_with_a_warning(
    db_copy: Path, small_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wal = _stray_wal(db_copy, small_csv)
    capsys.readouterr()
    summary = pipeline.run(RunConfig(inputs=(small_csv,), db_path=db_copy, progress=False, k=3))
    err = capsys.readouterr().err
    assert err.startswith(f"WARNING: removed {wal}: it did not belong to segments.duckdb (IO Error: ")
    assert err.endswith("and stopped every reader from opening it.\n")
    assert not wal.exists()
    assert _run_ids(db_copy) == [1, 2, summary.run_id]
    assert sorted(p.name for p in db_copy.parent.iterdir()) == ["segments.duckdb", "segments.duckdb.lock"]


def test_writes_left_in_an_own_wal_are_kept_and_the_wal_removed(
    db_copy: Path, small_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wal = _crash_writing_in_place(db_copy)
    capsys.readouterr()
    pipeline.run(RunConfig(inputs=(small_csv,), db_path=db_copy, progress=False, k=3))
    assert capsys.readouterr().err == (
        "WARNING: segments.duckdb.wal held writes made to segments.duckdb in place by another program; "
        "they are kept in the new file and the .wal was removed.\n"
    )
    assert not wal.exists()
    con = store.open_read_only(db_copy)
    assert con.execute("SELECT x FROM note").fetchall() == [(42,)]  # the other program's committed row
    assert con.execute("SELECT count(*) FROM runs").fetchone() == (2,)
    con.close()


def test_a_run_refuses_while_another_program_holds_the_file_read_write(
    db_copy: Path, small_csv: Path
) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(db_copy)!r}); print(1, flush=True); "
            "time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"1\n"
        before = db_copy.read_bytes()
        with pytest.raises(InputError) as err:
            pipeline.run(RunConfig(inputs=(small_csv,), db_path=db_copy, progress=False, k=3))
        assert str(err.value) == (
            f"{db_copy} is open for writing by process {holder.pid} ({os.path.realpath(sys.executable)}); "
            "close that program "
            "(the dashboard only reads) and run again; nothing was changed."
        )
        assert db_copy.read_bytes() == before
        assert sorted(p.name for p in db_copy.parent.iterdir()) == ["segments.duckdb", "segments.duckdb.lock"]
    finally:
        holder.kill()
        holder.wait()


def test_leftovers_are_matched_by_exact_name_never_by_glob(tmp_path: Path) -> None:
    hexes = ["0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210"]
    db = tmp_path / "seg[1].duckdb"  # as a glob, "seg[1]" matches "seg1"
    other_in_progress = tmp_path / f"seg1.duckdb.tmp-{hexes[0]}"  # another DB's live run
    own = [tmp_path / f"seg[1].duckdb.tmp-{hexes[1]}", tmp_path / f"seg[1].duckdb.tmp-{hexes[1]}.wal"]
    not_a_leftover = [
        tmp_path / "seg[1].duckdb.tmp-notes.txt",
        tmp_path / f"seg[1].duckdb.tmp-{hexes[0]}.bak",
    ]
    for path in [other_in_progress, *own, *not_a_leftover]:
        path.write_bytes(b"x")
    with store.run_lock(db):
        pass
    assert other_in_progress.exists()
    assert all(p.exists() for p in not_a_leftover)
    assert not any(p.exists() for p in own)


def test_a_run_of_a_db_with_glob_characters_keeps_another_dbs_temp_file(
    small_run: tuple[Path, pipeline.RunSummary], small_csv: Path, tmp_path: Path
) -> None:
    db = tmp_path / "seg[1].duckdb"
    shutil.copyfile(small_run[0], db)
    other = tmp_path / "seg1.duckdb.tmp-0123456789abcdef0123456789abcdef"
    other.write_bytes(b"another run's copy")
    pipeline.run(RunConfig(inputs=(small_csv,), db_path=db, progress=False, k=3))
    assert other.read_bytes() == b"another run's copy"
    assert _run_ids(db) == [1, 2]
    assert not db.with_name(db.name + ".wal").exists()


def test_no_wal_is_left_beside_the_served_file_after_any_swap(db_copy: Path, small_csv: Path) -> None:
    _crash_writing_in_place(db_copy)
    store.rename_segment(db_copy, 1, "0", "VIP")  # rename goes copy -> swap too
    assert not db_copy.with_name(db_copy.name + ".wal").exists()
    con = store.open_read_only(db_copy)
    assert con.execute("SELECT name FROM segments WHERE run_id = 1 AND segment_id = 0").fetchone() == ("VIP",)
    assert con.execute("SELECT x FROM note").fetchall() == [(42,)]
    con.close()
