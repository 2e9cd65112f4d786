"""Country codes (customers.country_code): the run stores each country's rank among its countries and keeps
customers in segment and country order; the dashboard's country filter and per-country sums over the codes
equal the same queries over the text (a file whose codes are removed), and a plain pandas count."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pandas as pd

from dashboard import queries
from dashboard.filters import Filters
from dashboard.queries import aggregates, filtered
from segmentation import pipeline


def test_the_run_stores_codes_in_country_order(small_run: tuple[Path, pipeline.RunSummary]) -> None:
    with duckdb.connect(str(small_run[0]), read_only=True) as con:
        rows = con.sql(
            "SELECT country, country_code, segment_id, customer_id FROM customers WHERE run_id = 1 "
            "ORDER BY rowid"
        ).df()
    countries = sorted(rows["country"].unique())
    assert dict(zip(rows["country"], rows["country_code"], strict=True)) == {
        c: i + 1 for i, c in enumerate(countries)
    }
    stored = list(rows[["segment_id", "country", "customer_id"]].itertuples(index=False, name=None))
    assert stored == sorted(stored)


def test_country_filters_and_sums_over_codes_equal_the_text_and_pandas(
    small_run: tuple[Path, pipeline.RunSummary], tmp_path: Path
) -> None:
    text_db = tmp_path / "text.duckdb"
    shutil.copyfile(small_run[0], text_db)
    with duckdb.connect(str(text_db)) as con:
        con.execute("UPDATE customers SET country_code = NULL")
        frame = con.sql("SELECT country, segment_id, monetary FROM customers WHERE run_id = 1").df()
    top = frame["country"].value_counts().index[:2].tolist()
    results = []
    for db in (small_run[0], text_db):
        with queries.using(db):
            allowed = filtered.allowed(1)
            f = Filters.from_query({"country": top, "tenure_min": "30"}, allowed)
            summary = aggregates.summary(f)
            everyone = aggregates.summary(Filters.from_query({}, allowed))
            codes = f.params()["country_codes"]
            results.append((bool(allowed.country_codes), codes, filtered.count(f), summary, everyone))
        queries.close_thread_connections()
    (coded, codes, n_coded, s_coded, all_coded), (texted, no_codes, n_text, s_text, all_text) = results
    assert coded and codes is not None and not texted and no_codes is None
    assert n_coded == n_text > 0
    for a, b in ((s_coded, s_text), (all_coded, all_text)):
        assert a.kpis == b.kpis
        pd.testing.assert_frame_equal(a.country_summary(), b.country_summary())
        pd.testing.assert_frame_equal(a.segments, b.segments)
    by_country = frame.groupby("country")["monetary"].agg(["size", "sum"])
    got = all_coded.country_summary().set_index("country")
    assert got["customers"].to_dict() == by_country["size"].to_dict()
    for country, total in by_country["sum"].items():
        assert abs(got.loc[country, "revenue"] - float(total)) < 1e-6


def test_the_lean_summary_equals_the_full_one_where_it_has_values(
    small_run: tuple[Path, pipeline.RunSummary],
) -> None:
    with queries.using(small_run[0]):
        allowed = filtered.allowed(1)
        for query in ({}, {"tenure_min": "100"}, {"country": [allowed.countries[0]]}):
            f = Filters.from_query(query, allowed)
            full, lean = aggregates.summary(f), aggregates.summary(f, lean=True)
            assert lean.kpis == full.kpis
            pd.testing.assert_frame_equal(lean.country_summary(), full.country_summary())
            columns = ["segment_id", "name", "customers", "revenue", "share", "revenue_share", "outliers"]
            pd.testing.assert_frame_equal(lean.segments[columns], full.segments[columns])
            assert lean.segments["recency_days"].isna().all()
