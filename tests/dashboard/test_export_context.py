"""Export file names and headers: run, snapshot, filters and UTC time in a safe, bounded name; RFC 5987
filename* for names that are not ASCII."""

from __future__ import annotations

import shutil
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import unquote

import duckdb
import pytest

from dashboard import create_app, queries
from dashboard.export_context import (
    SLUG_MAX_BYTES,
    ExportContext,
    as_utc,
    base_name,
    content_disposition,
    filter_slug,
    slug,
)
from dashboard.filters import Allowed, Filters

INFO = queries.RunInfo(
    3, None, "transactions", (), date(2011, 12, 9), 1, 1, 1, (), None, None, None, None, 0, 0
)
WHEN = datetime(2026, 12, 1, 4, 15, tzinfo=timezone.utc)


def filters(**query: object) -> Filters:
    """Filters of run 3 over a wide allowed set (countries A..Z plus a few real names, segments 0-3)."""
    countries = tuple(sorted({"Germany", "Côte d'Ivoire", "日本", *(f"Country {c}" for c in "ABCDEFGHIJKL")}))
    allowed = Allowed(
        run_id=3,
        countries=countries,
        segments={0: "Champions", 1: "At Risk", 2: "Can't Lose", 3: "Big Spenders"},
        ranges={"tenure": (0.0, 900.0), "monetary": (-100.0, 5000.0)},
    )
    return Filters.from_query(query, allowed)


def test_ctx001_the_issue_example() -> None:
    ctx = ExportContext.build(INFO, filters(country="Germany", preset="at-risk"), exported_at=WHEN)
    assert ctx.filename("csv") == "customers_run3_snap2011-12-09_germany_at-risk_20261201T041500Z.csv"
    assert ctx.filename("xlsx").endswith("_20261201T041500Z.xlsx")


@pytest.mark.parametrize(
    ("query", "part"),
    [
        ({}, "all"),
        ({"segment": ["1", "2"]}, "at-risk+cant-lose"),
        ({"tenure_min": "100"}, "tenure-ge100"),
        ({"tenure_max": "365"}, "tenure-le365"),
        ({"tenure_min": "30", "tenure_max": "365.5"}, "tenure30to365.5"),
        ({"monetary_min": "-50"}, "monetary-ge-50"),
        ({"outliers": "exclude"}, "outliers-excluded"),
        ({"preset": "outliers"}, "outliers"),
    ],
)
def test_ctx002_filter_slugs(query: dict[str, object], part: str) -> None:
    assert filter_slug(filters(**query)) == part


def test_ctx003_top_and_the_limit_are_named() -> None:
    ctx = ExportContext.build(INFO, filters(preset="at-risk"), top=10, exported_at=WHEN)
    assert "_at-risk_top10_" in ctx.filename("csv")
    assert ctx.filters[-1] == "Limit: the first 10 customers of the list"


def test_ctx004_long_filter_sets_are_cut_but_stay_distinct() -> None:
    every = filters(country=[f"Country {c}" for c in "ABCDEFGHIJKL"], segment=["0", "1", "2", "3"])
    fewer = filters(country=[f"Country {c}" for c in "ABCDEFGHIJK"], segment=["0", "1", "2", "3"])
    a, b = filter_slug(every), filter_slug(fewer)
    assert len(a.encode()) <= SLUG_MAX_BYTES and len(b.encode()) <= SLUG_MAX_BYTES
    assert a.startswith("country-a+country-b+") and "-etc-" in a
    assert a != b  # same cut prefix, different hash of the full set
    name = ExportContext.build(INFO, every, exported_at=WHEN).filename("xlsx")
    assert len(name.encode()) < 160 and name.endswith("_20261201T041500Z.xlsx")


def test_ctx005_cut_never_splits_a_multibyte_character() -> None:
    text = filter_slug(filters(country=["日本"] * 1), max_bytes=SLUG_MAX_BYTES)
    assert text == "日本"
    cut = filter_slug(filters(country=["日本", "Côte d'Ivoire", "Germany"]), max_bytes=14)
    assert cut.encode("utf-8").decode("utf-8") == cut and len(cut.encode()) <= 14


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("../../etc/passwd", "etcpasswd"),
        ("C:\\Windows\\x", "cwindowsx"),
        ("Côte d'Ivoire", "côte-divoire"),
        ("  ", "x"),
        ("a\x00b\r\nc", "ab-c"),
        ("v2.5 .hidden", "v2.5-hidden"),
    ],
)
def test_ctx006_slug(text: str, expected: str) -> None:
    assert slug(text) == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("/srv/data/sales.csv", "sales.csv"),
        ("C:\\Users\\ana\\sales.xlsx", "sales.xlsx"),
        ("sales.csv", "sales.csv"),
        ("/srv/data/", "data"),
    ],
)
def test_ctx007_sources_are_named_without_their_directory(source: str, expected: str) -> None:
    assert base_name(source) == expected


def test_ctx008_content_disposition_ascii_and_rfc5987() -> None:
    assert content_disposition("customers_run1_all_20261201T041500Z.csv") == (
        'attachment; filename="customers_run1_all_20261201T041500Z.csv"'
    )
    header = content_disposition("customers_run1_côte-divoire+日本_20261201T041500Z.csv")
    fallback, star = header.split("; filename*=")
    assert fallback == 'attachment; filename="customers_run1_cote-divoire+_20261201T041500Z.csv"'
    assert star.startswith("UTF-8''") and star.isascii()
    assert unquote(star[len("UTF-8''") :]) == "customers_run1_côte-divoire+日本_20261201T041500Z.csv"


def test_ctx009_export_time_is_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    assert as_utc(datetime(2026, 12, 1, 6, 15, 0, 999, tzinfo=plus_two)) == WHEN
    assert as_utc(datetime(2026, 12, 1, 4, 15)) == WHEN  # naive: taken as UTC
    assert as_utc(None).tzinfo == timezone.utc


def test_ctx010_route_with_a_non_ascii_country(fixture_db: Path, tmp_path: Path) -> None:
    db = tmp_path / "segments.duckdb"
    shutil.copyfile(fixture_db, db)
    with duckdb.connect(str(db)) as con:
        con.execute("UPDATE customers SET country = 'Côte d’Ivoire' WHERE run_id = 1 AND country = 'France'")
    app = create_app(db)
    try:
        r = app.server.test_client().get(
            "/export/customers.csv", query_string={"run": "1", "country": "Côte d’Ivoire"}
        )
        r.get_data()
        header = r.headers["Content-Disposition"]
        assert header.startswith('attachment; filename="customers_run1_snap2011-12-10_cote-divoire_')
        assert "filename*=UTF-8''customers_run1_snap2011-12-10_c%C3%B4te-divoire_" in header
        assert header.isascii()
    finally:
        queries.close_thread_connections()
