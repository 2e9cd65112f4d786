"""Derived features of a sales run (`--feature "aov = monetary / frequency"`), checked against pandas over the
stored per-customer columns; a bad expression is one sentence, exit 2, and changes nothing."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from segmentation.cli import main


def test_derived_sales_features_equal_pandas_and_join_the_model(
    small_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "d.duckdb"
    base = ["run", str(small_csv), "--db", str(db), "--k", "3", "--quiet"]
    features = ["aov = monetary / frequency", "age_days = days_since(first_purchase)",
                '"log spend" = log1p(monetary) * 2']  # fmt: skip
    zero = "per_item = monetary / (quantity - quantity)"  # always a division by zero
    assert main([*base, "--feature", features[0], "--feature", zero]) == 2  # no customer has a value
    assert f'--feature "{zero}": no customer has a value' in capsys.readouterr().err
    assert not db.exists()
    assert main([*base, *(a for f in features for a in ("--feature", f))]) == 0
    with duckdb.connect(str(db), read_only=True) as con:
        names = con.sql("SELECT features FROM runs").fetchall()[0][0]
        frame = con.sql(
            "SELECT segment_id, monetary::DOUBLE AS monetary, frequency, tenure_days, features FROM customers"
        ).df()
        profile = dict(
            con.sql("SELECT segment_id, mean FROM segment_profiles WHERE feature = 'aov'").fetchall()
        )
    assert names[-3:] == ["aov", "age_days", "log spend"]
    values = pd.DataFrame(frame["features"].tolist(), columns=names)
    np.testing.assert_allclose(values["aov"], frame["monetary"] / frame["frequency"], rtol=1e-12)
    np.testing.assert_allclose(values["age_days"], frame["tenure_days"])  # days from the first purchase
    np.testing.assert_allclose(values["log spend"], np.log1p(frame["monetary"]) * 2, rtol=1e-12)
    assert profile[-1] == pytest.approx(values["aov"].mean())
    for segment, mean in values["aov"].groupby(frame["segment_id"]).mean().items():
        assert profile[segment] == pytest.approx(mean)


@pytest.mark.parametrize(
    ("feature", "message"),
    [
        ("x = monetry / frequency", "unknown column 'monetry'"),
        ("x = monetary; DROP TABLE runs", "unexpected"),
        ("x = days_since(monetary)", "'monetary' is not a date column"),
        ("monetary = frequency * 2", "the run already has a column named 'monetary'"),
        ("x = __import__('os')", "--feature"),
    ],
)
def test_a_bad_sales_feature_is_one_sentence_and_changes_nothing(
    small_csv: Path, db_copy: Path, capsys: pytest.CaptureFixture[str], feature: str, message: str
) -> None:
    before = db_copy.read_bytes()
    assert main(["run", str(small_csv), "--db", str(db_copy), "--feature", feature, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("Error: ") and message in err and err.count("\n") == 1, err
    assert f'--feature "{feature}"' in err
    assert db_copy.read_bytes() == before
