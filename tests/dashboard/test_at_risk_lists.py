"""At-risk lists agree with their purpose: every row says why it is listed and carries a win-back action,
never its learned segment's "upsell" (issue: 31 of 175 at-risk customers of the sample said "Loyal")."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from dashboard import export
from segmentation import pipeline
from segmentation.config import RunConfig
from segmentation.rfm_groups import RFM_GROUP_ACTIONS
from tests.dashboard.test_export import parse_csv

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "online_retail_sample.csv"
WIN_BACK = {RFM_GROUP_ACTIONS["At Risk"], RFM_GROUP_ACTIONS["Can't Lose"]}


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled sample, segmented as `segments demo` does (its learned segments have no At Risk name)."""
    db = tmp_path_factory.mktemp("sample") / "segments.duckdb"
    pipeline.run(RunConfig(inputs=(SAMPLE,), db_path=db, progress=False))
    return db


def at_risk_rows(db: Path, run: int, tmp_path: Path) -> list[dict[str, str]]:
    out = tmp_path / f"at-risk-{run}.csv"
    export.write_export(db, {"run": str(run), "preset": "at-risk"}, out)
    return parse_csv(out.read_bytes().decode("utf-8"))[1]


def test_fallback_to_rfm_groups_lists_win_back_actions_and_the_reason(
    sample_db: Path, tmp_path: Path
) -> None:
    with duckdb.connect(str(sample_db), read_only=True) as con:
        names = {n for (n,) in con.execute("SELECT name FROM segments WHERE run_id = 1").fetchall()}
        expected = {
            c: (g, r, f, m)
            for c, g, r, f, m in con.execute(
                "SELECT customer_id, rfm_group, r_score, f_score, m_score FROM customers "
                "WHERE run_id = 1 AND rfm_group IN ('At Risk', 'Can''t Lose')"
            ).fetchall()
        }
    assert not names & {"At Risk", "Can't Lose"}  # so the preset falls back to the RFM groups
    rows = at_risk_rows(sample_db, 1, tmp_path)
    assert {r["customer_id"] for r in rows} == set(expected) and len(rows) > 50
    for r in rows:
        group, rs, fs, ms = expected[r["customer_id"]]
        assert r["list_reason"] == f"RFM group {group} (R {rs}, F {fs}, M {ms})"
        assert r["action"] == RFM_GROUP_ACTIONS[group] and r["action"] in WIN_BACK
        assert "upsell" not in r["action"].lower()
    learned_loyal = [r for r in rows if r["segment_name"] in ("Loyal", "Champions")]
    assert learned_loyal, "the sample has at-risk customers in upbeat learned segments; they must be covered"


def test_named_at_risk_segments_keep_their_own_win_back_action(fixture_db: Path, tmp_path: Path) -> None:
    rows = at_risk_rows(fixture_db, 1, tmp_path)
    assert rows and {r["segment_name"] for r in rows} <= {"At Risk", "Can't Lose"}
    assert all(r["list_reason"] == "segment " + r["segment_name"] for r in rows)
    with duckdb.connect(str(fixture_db), read_only=True) as con:
        actions = dict(con.execute("SELECT name, action FROM segments WHERE run_id = 1").fetchall())
    assert all(r["action"] == actions[r["segment_name"]] for r in rows)


def test_lists_without_a_preset_carry_the_segment_action_and_no_reason(
    fixture_db: Path, tmp_path: Path
) -> None:
    out = tmp_path / "all.csv"
    export.write_export(fixture_db, {"run": "1"}, out)
    rows = parse_csv(out.read_bytes().decode("utf-8"))[1]
    with duckdb.connect(str(fixture_db), read_only=True) as con:
        actions = dict(con.execute("SELECT name, action FROM segments WHERE run_id = 1").fetchall())
    assert rows and all(r["list_reason"] == "" and r["action"] == actions[r["segment_name"]] for r in rows)
