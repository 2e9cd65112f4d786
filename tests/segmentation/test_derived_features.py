"""Derived features and date tenure on a customer table, end to end, checked against pandas."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from segmentation.cli import main

AS_OF = "2014-12-31"


@pytest.fixture
def campaign(tmp_path: Path) -> Path:
    """A customer table shaped like the public marketing-campaign data: spend columns and a signup date."""
    rng = np.random.default_rng(3)
    n = 120
    days = rng.integers(0, 700, n)
    frame = pd.DataFrame(
        {
            "ID": np.arange(1000, 1000 + n),
            "Income": rng.integers(20_000, 90_000, n),
            "MntWines": rng.integers(0, 900, n),
            "MntFruits": rng.integers(0, 100, n),
            "MntMeatProducts": rng.integers(0, 500, n),
            "Kidhome": rng.integers(0, 3, n),
            "Dt_Customer": [
                (dt.date(2012, 7, 30) + dt.timedelta(days=int(d))).strftime("%d-%m-%Y") for d in days
            ],
        }
    )
    frame.loc[5, "Kidhome"] = 0
    path = tmp_path / "marketing_campaign.csv"
    frame.to_csv(path, index=False)
    return path


def stored(db: Path) -> pd.DataFrame:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.sql("SELECT customer_id, tenure_days, features FROM customers ORDER BY customer_id").df()


def test_derived_features_and_date_tenure_equal_pandas(campaign: Path, tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    args = ["run", str(campaign), "--db", str(db), "--customer-table", "--id-column", "ID"]
    args += ["--features", "Income", "--feature", "value = MntWines + MntFruits + MntMeatProducts"]
    args += ["--feature", "years = years_since(Dt_Customer, '%d-%m-%Y')", "--tenure-column", "Dt_Customer"]
    args += ["--snapshot-date", AS_OF, "--k", "3", "--quiet"]
    assert main(args) == 0
    got = stored(db)
    source = pd.read_csv(campaign).sort_values("ID", key=lambda s: s.astype(str)).reset_index(drop=True)
    signup = pd.to_datetime(source["Dt_Customer"], format="%d-%m-%Y")
    days = (pd.Timestamp(AS_OF) - signup).dt.days.to_numpy(dtype=float)
    values = np.array(got["features"].tolist())
    assert list(got["customer_id"]) == list(source["ID"].astype(str))
    assert np.array_equal(values[:, 0], source["Income"].to_numpy(dtype=float))
    expected_value = (source["MntWines"] + source["MntFruits"] + source["MntMeatProducts"]).to_numpy(float)
    assert np.array_equal(values[:, 1], expected_value)
    assert np.allclose(values[:, 2], days / 365.25, rtol=0, atol=1e-12)
    assert np.array_equal(got["tenure_days"].to_numpy(dtype=float), days)
    with duckdb.connect(str(db), read_only=True) as con:
        (params,) = con.sql("SELECT params FROM runs").fetchall()[0]
    assert "value = MntWines + MntFruits + MntMeatProducts" in params


def test_a_division_by_zero_is_a_counted_missing_feature(
    campaign: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "s.duckdb"
    args = ["run", str(campaign), "--db", str(db), "--customer-table", "--id-column", "ID"]
    args += ["--feature", "per_kid = MntWines / Kidhome", "--feature", "value = MntWines + MntFruits"]
    assert main([*args, "--k", "3", "--quiet"]) == 0
    zero_kids = int((pd.read_csv(campaign)["Kidhome"] == 0).sum())
    assert len(stored(db)) == 120 - zero_kids
    out = capsys.readouterr().out
    assert "missing_feature" in out


@pytest.mark.parametrize(
    "feature, message",
    [
        ("value = MntWine + 1", "--feature \"value = MntWine + 1\": unknown column 'MntWine'"),
        ("value = MntWines +", '--feature "value = MntWines +": the expression ends too early.'),
        ("Income = MntWines * 2", "feature 'Income' is named twice; expected each feature once."),
    ],
)
def test_bad_feature_is_one_sentence_and_changes_nothing(
    campaign: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], feature: str, message: str
) -> None:
    db = tmp_path / "s.duckdb"
    base = ["run", str(campaign), "--db", str(db), "--customer-table", "--id-column", "ID", "--quiet"]
    assert main([*base, "--features", "Income", "--k", "3"]) == 0
    before = db.read_bytes()
    capsys.readouterr()
    assert main([*base, "--features", "Income", "--feature", feature]) == 2
    err = capsys.readouterr().err
    assert err.startswith("Error: ") and message in err and err.count("\n") == 1
    assert db.read_bytes() == before


def test_a_tenure_column_of_ambiguous_dates_asks_for_the_format(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text(
        "ID,Spend,Since\n" + "".join(f"{i},{i * 3},0{1 + i % 9}/0{1 + i % 8}/2013\n" for i in range(30))
    )
    db = tmp_path / "s.duckdb"
    args = ["run", str(path), "--db", str(db), "--customer-table", "--id-column", "ID", "--features", "Spend"]
    args += ["--tenure-column", "Since", "--k", "2", "--quiet"]
    assert main(args) == 2
    assert not db.exists()
    assert main([*args, "--date-format", "%d/%m/%Y", "--snapshot-date", "2014-01-01"]) == 0
    assert stored(db)["tenure_days"].min() > 0


def test_a_tenure_column_of_numbers_stays_days_with_decimal_commas_and_null_words(tmp_path: Path) -> None:
    """Only text that is no number by the numbers' own rule (either decimal mark, 'None' missing) is dates."""
    path = tmp_path / "eu.csv"
    rows = [f"{i};{i * 3};{i * 10},25" for i in range(1, 30)] + ["30;90;None"]
    path.write_text("ID;Spend;Days\n" + "\n".join(rows) + "\n")
    db = tmp_path / "s.duckdb"
    args = ["run", str(path), "--db", str(db), "--customer-table", "--id-column", "ID", "--features", "Spend"]
    assert main([*args, "--tenure-column", "Days", "--k", "2", "--quiet"]) == 0
    tenure = dict(zip(stored(db)["customer_id"], stored(db)["tenure_days"], strict=True))
    assert tenure["7"] == 70 and tenure["29"] == 290  # 70,25 and 290,25 days, stored in whole days
    assert pd.isna(tenure["30"])
