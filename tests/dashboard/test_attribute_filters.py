"""Attribute filters, Compare rows and export columns on a real run with `--attributes`, checked against
plain pandas over the attributes file; URL values that are not the run's own are dropped."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dashboard import attribute_filters, create_app, queries
from dashboard.filter_values import filters_from_controls
from dashboard.filters import Filters, query_from_args
from dashboard.queries import aggregates, filtered, profiles
from segmentation import cli


@pytest.fixture(scope="module")
def attributes_run(small_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    """A real run of the small sample with an attributes file (age, plan with a formula-like value), and
    the pandas join of the stored customers with that file."""
    folder = tmp_path_factory.mktemp("attributes")
    ids = sorted(pd.read_csv(small_csv, dtype=str)["CustomerID"].dropna().unique())
    rng = np.random.default_rng(11)
    plans = rng.choice(["basic", "plus", "pro", "=HYPERLINK(1)"], len(ids) - 3)
    attrs = pd.DataFrame({"id": ids[:-3], "age": rng.integers(18, 80, len(ids) - 3), "plan": plans})
    path = folder / "attributes.csv"
    attrs.to_csv(path, index=False)
    db = folder / "segments.duckdb"
    args = ["run", str(small_csv), "--db", str(db), "--attributes", str(path), "--attributes-key", "id",
            "--k", "3", "--quiet"]  # fmt: skip
    assert cli.main(args) == 0
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        customers = con.sql("SELECT customer_id, segment_id, monetary FROM customers").df()
    attrs["customer_id"] = attrs["id"].str.removesuffix(".0")
    joined = customers.merge(attrs, on="customer_id", how="left")
    return db, joined


def test_the_run_lists_its_attributes_and_urls_keep_only_its_values(attributes_run: tuple) -> None:
    db, joined = attributes_run
    with queries.using(db):
        allowed = filtered.allowed(1)
        f = Filters.from_query(
            {
                "attr:plan": ["pro", "gold", "=HYPERLINK(1)"],  # gold is not a value of the run
                "attr_min:age": "60",
                "attr_max:age": "30",  # swapped: 30 to 60
                "attr:nope": "x",  # not an attribute of the run
                "attr_min:plan": "3",  # a category has no range
            },
            allowed,
        )
        assert allowed.attributes[0] == attribute_filters.AttributeInfo(
            "age", "number", 1, float(joined["age"].min()), float(joined["age"].max())
        )
        assert set(allowed.attributes[1].categories) == {"basic", "plus", "pro", "=HYPERLINK(1)"}
        matched = int(joined["age"].notna().sum())
        assert allowed.attribute_source.endswith(
            f": {matched:,} of {len(joined):,} customers have attributes."
        ), allowed.attribute_source
        assert f.query_pairs()[1:] == [
            ("attr_min:age", "30"),
            ("attr_max:age", "60"),
            ("attr:plan", "pro"),
            ("attr:plan", "=HYPERLINK(1)"),
        ] or f.query_pairs()[1:] == [
            ("attr_min:age", "30"),
            ("attr_max:age", "60"),
            ("attr:plan", "=HYPERLINK(1)"),
            ("attr:plan", "pro"),
        ]
        assert "age: 30 to 60" in f.describe()

        # the URL round trip and the controls' values give the same filters
        class Args(dict):
            def getlist(self, key: str) -> list[str]:
                return [v for k, v in f.query_pairs() if k == key]

        assert Filters.from_query(query_from_args(Args(dict(f.query_pairs()))), allowed) == f
        controls = {"attributes": attribute_filters.control_values(f.attributes, allowed.attributes)}
        assert filters_from_controls(controls, 1)[0].attributes == f.attributes
        # a bound at the run's own end is no filter
        edge = Filters.from_query({"attr_min:age": str(joined["age"].min())}, allowed)
        assert edge.attributes == () and edge.is_default()


def test_attribute_filters_select_what_pandas_selects(attributes_run: tuple) -> None:
    db, joined = attributes_run
    kept = joined[joined["plan"].isin(["pro", "plus"]) & joined["age"].between(30, 60)]
    assert 0 < len(kept) < len(joined)
    with queries.using(db):
        allowed = filtered.allowed(1)
        f = Filters.from_query(
            {"attr:plan": ["pro", "plus"], "attr_min:age": "30", "attr_max:age": "60"}, allowed
        )
        assert filtered.count(f) == len(kept)
        summary = aggregates.segment_summary(f).set_index("segment_id")
        for sid, part in kept.groupby("segment_id"):
            assert summary.loc[sid, "customers"] == len(part)
        exported = filtered.export_frame(f)
    assert sorted(exported["customer_id"]) == sorted(kept["customer_id"])
    assert list(exported.columns[-2:]) == ["age", "plan"]
    by_id = kept.set_index("customer_id")
    for row in exported.itertuples():
        assert row.age == by_id.loc[row.customer_id, "age"] and row.plan == by_id.loc[row.customer_id, "plan"]


def test_compare_rows_are_the_pandas_means_and_commonest_values(attributes_run: tuple) -> None:
    db, joined = attributes_run
    ids = sorted(int(s) for s in joined["segment_id"].unique())
    with queries.using(db):
        allowed = filtered.allowed(1)
        stored = profiles.profiles(1, ids).set_index(["segment_id", "feature"])
        tops = profiles.category_tops(1).set_index(["segment_id", "attribute"])
        f = Filters.from_query({"attr_min:age": "40"}, allowed)
        live = profiles.profiles(f, ids).set_index(["segment_id", "feature"])
        live_tops = profiles.category_tops(f).set_index(["segment_id", "attribute"])
        assert "age" in profiles.features(1)
    older = joined[joined["age"] >= 40]
    for frame, prof, top in ((joined, stored, tops), (older, live, live_tops)):
        for sid, part in [*frame.groupby("segment_id"), (-1, frame)]:
            if sid not in prof.index.get_level_values(0):
                continue
            assert prof.loc[(sid, "age"), "mean"] == pytest.approx(part["age"].mean())
            counts = part["plan"].value_counts(dropna=False)
            best = counts.max()
            assert top.loc[(sid, "plan"), "share"] == pytest.approx(best / len(part))
            assert top.loc[(sid, "plan"), "value"] in set(counts[counts == best].index.astype(object))


def test_csv_export_through_the_app_has_the_attribute_columns_neutralised(attributes_run: tuple) -> None:
    db, joined = attributes_run
    app = create_app(db)
    try:
        response = app.server.test_client().get("/export/customers.csv?run=1&attr:plan=%3DHYPERLINK(1)")
        assert response.status_code == 200
        text = response.get_data(as_text=True)
    finally:
        queries.close_thread_connections()
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert lines[0].endswith(",age,plan")
    assert len(lines) - 1 == int((joined["plan"] == "=HYPERLINK(1)").sum())
    assert all(line.endswith(",'=HYPERLINK(1)") or line.endswith(',"\'=HYPERLINK(1)"') for line in lines[1:])


def test_an_attribute_named_like_a_formula_is_a_neutralised_header() -> None:
    from dashboard import export
    from dashboard.export_stream import ExportStream

    stream = ExportStream(["customer_id", "=SUM(A1)", "@cmd", "plan"], 0, iter([]))
    header = b"".join(export.csv_bytes(stream, export.Tally()))
    assert header.decode().strip() == "customer_id,'=SUM(A1),'@cmd,plan"


def test_the_model_histogram_draws_a_numeric_attribute(attributes_run: tuple) -> None:
    """The Model page lists every profiled feature, numeric attributes included; picking one draws its
    histogram (numpy's binning of the joined ages), and customers without a row count as missing."""
    from dashboard.queries import model as mq
    from tests.dashboard.test_queries_model import reference_counts

    db, joined = attributes_run
    with queries.using(db):
        assert "age" in profiles.features(1)
        hist = mq.histogram(1, "age", bins=20)
    has = joined[joined["age"].notna()]
    ages = has["age"].astype(float).to_numpy()
    assert hist is not None and hist.missing == int(joined["age"].isna().sum()) > 0
    assert (hist.lo, hist.hi) == pytest.approx(tuple(np.quantile(ages, [0.01, 0.99])))
    got = {(int(r.bin), int(r.segment_id)): int(r.customers) for r in hist.counts.itertuples()}
    assert got == reference_counts(ages, has["segment_id"].to_numpy(), hist.lo, hist.hi, 20)
