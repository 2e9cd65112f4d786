"""The run selector's server side: the address of the same page on another run, and the unknown-run notice."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import duckdb

from dashboard import queries, run_select


def _names(db: Path, run: int) -> dict[int, str]:
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute("SELECT segment_id, name FROM segments WHERE run_id = ?", [run]).fetchall()
    return {int(i): n for i, n in rows}


def _query(url: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(url).query)


def test_switch_keeps_filters_and_maps_segments_by_name(two_run_db: Path) -> None:
    old, new = _names(two_run_db, 1), _names(two_run_db, 2)
    shared = [sid for sid, name in old.items() if name in new.values()]
    gone = [sid for sid, name in old.items() if name not in new.values()]
    assert shared, "the fixture runs share no segment name"
    search = "?" + "&".join(
        ["run=1", "country=Germany", *(f"segment={s}" for s in shared + gone), "recency_max=40", "page=3"]
    )
    with queries.using(two_run_db):
        target = run_select.switch_url({"path": "/customers", "search": search, "from": 1, "to": 2})
    assert target is not None and target.startswith("/customers?")
    query = _query(target)
    assert query[0] == ("run", "2")
    assert ("country", "Germany") in query and ("recency_max", "40") in query
    assert not any(k == "page" for k, _ in query)  # the table starts at its first page
    by_name = {n: s for s, n in new.items()}
    assert [v for k, v in query if k == "segment"] == [str(by_name[old[s]]) for s in shared]
    with queries.using(two_run_db):  # the Simulator's start profile is a segment id too
        target = run_select.switch_url(
            {"path": "/simulator", "search": f"?run=1&start={shared[0]}&monetary=120", "from": 1, "to": 2}
        )
    assert target == f"/simulator?run=2&start={by_name[old[shared[0]]]}&monetary=120"


def test_switch_refuses_what_makes_no_sense(two_run_db: Path) -> None:
    with queries.using(two_run_db):
        for request in (
            None,
            "x",
            {"path": "/explore", "search": "", "from": 2, "to": 99},  # no such run
            {"path": "/explore", "search": "", "from": 2, "to": True},
            {"path": "//evil.example/x", "search": "", "from": 2, "to": 1},  # never off the app
            {"path": "https://evil.example/", "search": "", "from": 2, "to": 1},
            {"path": 5, "search": "", "from": 2, "to": 1},
        ):
            assert run_select.switch_url(request) is None, request
        # hostile query values are carried as data (re-encoded), never as new keys or paths
        target = run_select.switch_url(
            {"path": "/explore", "search": "?country=%26run%3D9&segment=abc", "from": 2, "to": 1}
        )
    assert target == "/explore?run=1&country=%26run%3D9"


def test_sync_run_names_an_unknown_run(two_run_db: Path) -> None:
    with queries.using(two_run_db):
        options, value, current, query, notice = run_select.sync_run("?run=99&country=Germany")
        assert [o["value"] for o in options] == [2, 1] and value == current == 2
        assert query == "run=99&country=Germany"  # the navbar links take the filters from here
        assert "There is no run '99'" in str(notice) and "Run 2" in str(notice)
        _, value, _, _, notice = run_select.sync_run("?run=1")
        assert value == 1 and notice is None
        _, value, _, _, notice = run_select.sync_run({"not": "a string"})
        assert value == 2 and notice is None
