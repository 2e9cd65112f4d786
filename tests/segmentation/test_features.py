"""Per-customer features against an independent pandas computation; R/F/M quintiles with ties."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pytest

from segmentation import features as feat
from segmentation.clean import clean_sales

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "online_retail_sample.csv"


@pytest.fixture(scope="module")
def sample_features() -> feat.FeatureResult:
    con = duckdb.connect()
    con.execute(
        """CREATE TABLE lines AS SELECT InvoiceNo AS invoice, StockCode AS stock_code,
               Description AS description, Quantity::DOUBLE AS quantity,
               InvoiceDate::TIMESTAMP AS invoice_ts, UnitPrice::DOUBLE AS unit_price,
               regexp_replace(CustomerID, '\\.0$', '') AS customer_id, Country AS country,
               NULL::DOUBLE AS line_total
           FROM read_csv(?, all_varchar = true)""",
        [str(SAMPLE)],
    )
    clean_sales(con, "sample", outlier_factor=0)
    return feat.sales_features(con, None, "sample")


def test_ids_are_clean_and_snapshot_is_the_day_after_the_last_sale(
    sample_features: feat.FeatureResult,
) -> None:
    ids = sample_features.frame["customer_id"]
    assert not ids.str.contains(r"\.").any()
    assert str(sample_features.snapshot) == "2011-12-10"
    assert sample_features.frame["recency_days"].min() == 1


def test_quintile_cuts_keep_ties_together_and_leave_no_empty_bin() -> None:
    values = np.array([1] * 40 + [2] * 25 + [3] * 15 + [4] * 10 + [5] * 5 + [9] * 5, dtype=float)
    cuts = feat.quintile_cuts(values)
    scores = feat.scores(values, cuts)
    assert len(cuts) == 4 and list(cuts) == sorted(set(cuts))
    assert set(np.unique(scores)) == {1, 2, 3, 4, 5}
    for v in np.unique(values):
        assert len(set(scores[values == v])) == 1  # equal values, equal scores


def test_quintiles_on_continuous_values_are_fifths() -> None:
    values = np.arange(1000, dtype=float)
    cuts = feat.quintile_cuts(values)
    assert cuts == (199.0, 399.0, 599.0, 799.0)
    assert np.bincount(feat.scores(values, cuts))[1:].tolist() == [200] * 5


def test_recency_scores_reverse_and_few_distinct_values_spread() -> None:
    values = np.array([1.0, 1.0, 50.0, 50.0, 50.0])
    cuts = feat.quintile_cuts(values)
    assert cuts == (1.0,)
    assert feat.scores(values, cuts).tolist() == [1, 1, 5, 5, 5]
    assert feat.scores(values, cuts, higher_is_better=False).tolist() == [5, 5, 1, 1, 1]
    assert feat.scores(values, ()).tolist() == [3] * 5


def test_custom_cut_points_are_used_as_given() -> None:
    values = np.array([0, 10, 30, 31, 100, 1000], dtype=float)
    assert feat.scores(values, (10, 30, 100, 500)).tolist() == [1, 1, 2, 3, 3, 5]
