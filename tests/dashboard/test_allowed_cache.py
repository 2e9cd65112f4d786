"""filtered.allowed() is read once per (file identity, run): every filter callback validates its values
against it, so a repeat costs no query; a re-run or rename that swaps a new file in is read afresh."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from dashboard import queries
from dashboard.queries import filtered
from tests.dashboard.conftest import build_db


def count_queries(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every SQL text the query layer executes from now on."""
    seen: list[str] = []
    real = queries._execute

    def spy(sql: str, params: Any) -> Any:
        seen.append(sql)
        return real(sql, params)

    monkeypatch.setattr(queries, "_execute", spy)
    return seen


def test_a_repeat_costs_no_query(fresh_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = filtered.allowed(1)
    seen = count_queries(monkeypatch)
    again = filtered.allowed(1)
    assert again == first and seen == []
    filtered.allowed(2)  # another run is another key
    assert len(seen) >= 3


def test_a_swapped_file_is_read_afresh(fresh_db: Path, tmp_path: Path) -> None:
    old = filtered.allowed(1)
    replacement = build_db(tmp_path / "next.duckdb", runs=2, n=50, seed=7)
    os.replace(replacement, fresh_db)  # what a re-run does
    new = filtered.allowed(1)
    assert new != old
    direct = filtered._allowed_uncached(1)
    assert new == direct and new.countries == direct.countries and new.ranges == direct.ranges
