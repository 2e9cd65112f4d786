"""Scheduled re-runs (issue 12): --if-changed skips an unchanged input, and a re-run's segments keep the
names of the previous run's matching segments (segmentation/rerun.py, segmentation/carry_over.py)."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import duckdb
import numpy as np
import pytest

from segmentation import carry_over, ingest, naming, pipeline, rerun, store
from segmentation.cli import main
from segmentation.config import RunConfig
from segmentation.model import Transform


def _runs(db: Path) -> list[tuple]:
    con = store.open_read_only(db)
    try:
        return con.execute("SELECT id, source_sha256 FROM runs ORDER BY id").fetchall()
    finally:
        con.close()


def _names(db: Path, run_id: int) -> dict[int, tuple]:
    con = store.open_read_only(db)
    try:
        rows = con.execute(
            "SELECT s.segment_id, s.name, n.source, n.by_user, n.from_run, n.from_segment FROM segments s "
            "LEFT JOIN segment_names n USING (run_id, segment_id) WHERE s.run_id = ? ORDER BY 1",
            [run_id],
        ).fetchall()
    finally:
        con.close()
    return {r[0]: r[1:] for r in rows}


# --- --if-changed ---------------------------------------------------------------------------------------


def test_if_changed_skips_in_one_line_and_writes_nothing(
    db_copy: Path, small_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = db_copy.read_bytes()
    listing = sorted(p.name for p in db_copy.parent.iterdir())
    # --threads only sets resources: still the same run
    code = main(["run", str(small_csv), "--db", str(db_copy), "--if-changed", "--quiet", "--threads", "1"])
    out = capsys.readouterr()
    sha = _runs(db_copy)[0][1]
    assert code == 0
    assert out.out == f"segments: skipped: inputs unchanged since run 1 (sha256 {sha[:8]}…)\n"
    assert out.err == ""
    assert db_copy.read_bytes() == before
    assert sorted(p.name for p in db_copy.parent.iterdir()) == listing


def test_if_changed_runs_on_changed_settings_a_changed_file_or_an_empty_db(
    db_copy: Path, small_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", str(small_csv), "--db", str(db_copy), "--if-changed", "--quiet", "--seed", "1"]) == 0
    assert "Run 2 stored" in capsys.readouterr().out
    # the same settings as run 2 now skip
    assert main(["run", str(small_csv), "--db", str(db_copy), "--if-changed", "--quiet", "--seed", "1"]) == 0
    assert capsys.readouterr().out.startswith("segments: skipped: inputs unchanged since run 2")
    # a changed file (one line fewer) runs
    changed = tmp_path / "retail_small.csv"
    lines = small_csv.read_text(encoding="latin-1").splitlines(keepends=True)
    changed.write_text("".join(lines[:-1]), encoding="latin-1")
    assert main(["run", str(changed), "--db", str(db_copy), "--if-changed", "--quiet", "--seed", "1"]) == 0
    assert "Run 3 stored" in capsys.readouterr().out
    shas = [r[1] for r in _runs(db_copy)]
    assert shas[0] == shas[1] != shas[2]
    # no DB yet: it runs and makes one
    fresh = tmp_path / "fresh" / "segments.duckdb"
    fresh.parent.mkdir()
    assert main(["run", str(small_csv), "--db", str(fresh), "--if-changed", "--quiet", "--k", "3"]) == 0
    assert "Run 1 stored" in capsys.readouterr().out


def test_if_changed_leaves_a_file_it_cannot_read_to_the_run(
    small_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not a DuckDB file: the run's own sentence and exit 2; a DuckDB file without runs: a normal run."""
    bad = tmp_path / "bad" / "segments.duckdb"
    bad.parent.mkdir()
    bad.write_bytes(b"not a database" * 100)
    assert main(["run", str(small_csv), "--db", str(bad), "--if-changed", "--quiet", "--k", "3"]) == 2
    assert capsys.readouterr().err.startswith("Error: ")
    assert bad.read_bytes() == b"not a database" * 100
    empty = tmp_path / "empty" / "segments.duckdb"
    empty.parent.mkdir()
    duckdb.connect(str(empty)).close()
    assert main(["run", str(small_csv), "--db", str(empty), "--if-changed", "--quiet", "--k", "3"]) == 0
    assert "Run 1 stored" in capsys.readouterr().out


def test_the_checksum_before_reading_equals_the_one_ingest_stores(small_csv: Path, tmp_path: Path) -> None:
    """For every local file kind and for several files, hashing the bytes first gives runs.source_sha256."""
    gz = tmp_path / "sales.csv.gz"
    with open(small_csv, "rb") as src, gzip.open(gz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    parquet = tmp_path / "sales.parquet"
    xlsx = tmp_path / "sales.xlsx"
    with duckdb.connect() as con:
        frame = con.sql("SELECT * FROM read_csv(?, all_varchar = true)", params=[str(small_csv)]).df()
        con.sql("SELECT * FROM frame").write_parquet(str(parquet))
    frame.head(300).to_excel(xlsx, index=False)
    for inputs in [(small_csv,), (gz,), (parquet,), (xlsx,), (gz, small_csv)]:
        cfg = RunConfig(inputs=inputs, progress=False)
        with duckdb.connect() as con:
            stored = ingest.load_sales(con, cfg).sha256
        assert rerun.input_checksum(cfg) == stored, inputs


# --- names carried over ---------------------------------------------------------------------------------


def test_a_rerun_on_the_same_data_keeps_every_name(db_copy: Path, small_csv: Path) -> None:
    summary = pipeline.run(RunConfig(inputs=(small_csv,), db_path=db_copy, progress=False))
    first, second = _names(db_copy, 1), _names(db_copy, 2)
    assert [v[0] for v in second.values()] == [v[0] for v in first.values()]
    assert all(v[1:] == ("carried", False, 1, seg) for seg, v in second.items())
    assert "matched with run 1" in summary.names_line
    assert all("kept from run 1 segment" in c.note for c in summary.name_choices)


def test_a_renamed_segment_keeps_its_user_name_in_later_runs(db_copy: Path, small_csv: Path) -> None:
    old, new = store.rename_segment(db_copy, 1, "1", "Quarterly Regulars")
    assert _names(db_copy, 1)[1] == ("Quarterly Regulars", "renamed", True, None, None)
    for run_id in (2, 3):
        pipeline.run(RunConfig(inputs=(small_csv,), db_path=db_copy, progress=False))
        assert _names(db_copy, run_id)[1] == ("Quarterly Regulars", "carried", True, run_id - 1, 1)
    assert old not in {v[0] for v in _names(db_copy, 3).values()}


def test_a_rerun_on_changed_data_with_more_segments(db_copy: Path, small_csv: Path, tmp_path: Path) -> None:
    """Real data, a quarter later and one segment more: kept names are the old segments' names, each
    taken once; the new ones differ from them; the report accounts for every segment."""
    old_k = len(_names(db_copy, 1))
    later = tmp_path / "later.csv"
    with duckdb.connect() as con:  # drop the first month's lines: recency, tenure and money all move
        con.sql(
            "SELECT * FROM read_csv(?, all_varchar = true) WHERE InvoiceDate >= '2011-01-01'",
            params=[str(small_csv)],
        ).write_csv(str(later), header=True)
    for inputs, k in (((small_csv,), old_k), ((later,), old_k + 1)):  # log all: one transform for both
        summary = pipeline.run(
            RunConfig(inputs=inputs, db_path=db_copy, progress=False, k=k, log_features="all")
        )
    assert "matched with run 2" in summary.names_line
    old, new = _names(db_copy, 2), _names(db_copy, 3)
    assert len(new) == old_k + 1
    names = [v[0] for v in new.values()]
    assert len(set(names)) == len(names)
    carried = {seg: v for seg, v in new.items() if v[1] == "carried"}
    assert len({v[4] for v in carried.values()}) == len(carried)  # one-to-one
    assert all(v[0] == old[v[4]][0] for v in carried.values())
    assert 0 < len(carried) < len(new)  # at least the extra segment is named afresh
    fresh = {v[0] for v in new.values() if v[1] == "generated"}
    assert not fresh & {v[0] for v in carried.values()}
    assert [c.segment_id for c in summary.name_choices] == list(range(old_k + 1))


def test_other_features_are_not_compared(db_copy: Path, small_csv: Path) -> None:
    summary = pipeline.run(
        RunConfig(
            inputs=(small_csv,),
            db_path=db_copy,
            progress=False,
            model_features=("recency_days", "frequency", "monetary"),
        )
    )
    assert "run 1's segments were not compared" in summary.names_line
    assert {v[1] for v in _names(db_copy, 2).values()} == {"generated"}


def test_a_file_from_before_segment_names_still_carries_names(db_copy: Path, small_csv: Path) -> None:
    with duckdb.connect(str(db_copy)) as con:  # as stored by the previous version
        con.execute("DROP TABLE segment_names")
    pipeline.run(RunConfig(inputs=(small_csv,), db_path=db_copy, progress=False))
    first, second = _names(db_copy, 1), _names(db_copy, 2)
    assert all(v[1] is None for v in first.values())
    assert [v[0] for v in second.values()] == [v[0] for v in first.values()]
    assert {v[1] for v in second.values()} == {"carried"}


IDENTITY = Transform(("recency_days", "frequency", "monetary"), (False,) * 3, np.zeros(3), np.ones(3))
LEVELS = {  # population percentiles of each segment's medians
    "best": {"recency_days": 0.1, "frequency": 0.9, "monetary": 0.9},  # Champions
    "gone": {"recency_days": 0.9, "frequency": 0.1, "monetary": 0.1},  # Dormant
    "mid": {"recency_days": 0.5, "frequency": 0.5, "monetary": 0.5},  # Need Attention
    "new": {"recency_days": 0.05, "frequency": 0.1, "monetary": 0.2},  # New or Promising
}


def _previous(centroids: list[list[float]], names: list[tuple[str, bool]]) -> carry_over.Previous:
    return carry_over.Previous(
        7,
        IDENTITY.features,
        IDENTITY.log_transform,
        np.zeros(3),
        np.ones(3),
        np.array(centroids, dtype=float),
        dict(enumerate(names)),
    )


def test_changed_data_with_a_new_segment_keeps_the_others_and_names_the_new_one() -> None:
    previous = _previous(
        [[-1, 1, 1], [1, -1, -1], [0, 0, 0]], [("Champions", False), ("Dormant", False), ("VIP", True)]
    )
    new = np.array([[0.1, 0.1, 0.0], [-1.1, 0.9, 1.0], [1.0, -1.0, -0.9], [-1.5, -1.0, -1.0]])
    levels = {0: LEVELS["mid"], 1: LEVELS["best"], 2: LEVELS["gone"], 3: LEVELS["new"]}
    choices, line = carry_over.choose_names(previous, IDENTITY, new, levels, {0: 40, 1: 30, 2: 20, 3: 10})
    by_seg = {c.segment_id: c for c in choices}
    assert [by_seg[s].name.name for s in (0, 1, 2)] == ["VIP", "Champions", "Dormant"]
    assert [(by_seg[s].source, by_seg[s].from_segment) for s in (0, 1, 2)] == [
        ("carried", 2),
        ("carried", 0),
        ("carried", 1),
    ]
    assert by_seg[0].by_user and "a name set by a user" in by_seg[0].note
    assert by_seg[3].source == "generated" and by_seg[3].name.name in ("New", "Promising")
    assert "beyond its reach" in by_seg[3].note
    assert len({c.name.name for c in choices}) == 4
    assert "3 of 4 kept" in line
    # a kept table name describes the segment with this run's numbers
    assert by_seg[1].name == naming.name_segments({1: LEVELS["best"]})[1]


def test_matching_is_one_to_one() -> None:
    """Two new centroids near the same old one: the closer keeps its name, the other gets another."""
    previous = _previous([[-1, 1, 1], [1, -1, -1]], [("Champions", False), ("Dormant", False)])
    new = np.array([[-1.05, 1.0, 1.0], [-0.9, 1.0, 1.0], [1.0, -1.0, -1.0]])
    pairs, _, radius = carry_over.match(new, previous.centroids)
    assert sorted((i, j) for i, j, _ in pairs) == [(0, 0), (2, 1)]
    assert np.allclose(radius, np.sqrt(12) / 2)
    levels = {0: LEVELS["best"], 1: LEVELS["best"], 2: LEVELS["gone"]}
    choices, _ = carry_over.choose_names(previous, IDENTITY, new, levels, {0: 5, 1: 5, 2: 5})
    names = [c.name.name for c in choices]
    assert names[0] == "Champions" and names[2] == "Dormant" and names[1] not in ("Champions", "Dormant")
    assert "kept by a closer segment of this run" in choices[1].note


def test_a_table_name_that_no_longer_holds_is_not_kept_but_a_users_name_is() -> None:
    previous = _previous([[-1, 1, 1], [1, -1, -1]], [("Champions", False), ("Best Friends", True)])
    new = np.array([[-1.0, 1.0, 1.0], [1.0, -1.0, -1.0]])
    levels = {0: LEVELS["gone"], 1: LEVELS["gone"]}  # both now look dormant
    choices, _ = carry_over.choose_names(previous, IDENTITY, new, levels, {0: 5, 1: 5})
    assert choices[0].source == "generated" and choices[0].name.name != "Champions"
    assert "no longer describes it" in choices[0].note
    assert (choices[1].name.name, choices[1].source, choices[1].by_user) == ("Best Friends", "carried", True)
