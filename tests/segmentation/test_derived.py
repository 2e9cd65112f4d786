"""Derived features: the expression language parses, compiles to bound SQL, and says what is wrong."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from segmentation.derived import check_columns, compile_sql, parse
from segmentation.errors import InputError

NAMES = {"MntWines": "c0", "MntFruits": "c1", "Kids": "c2", "Dt_Customer": "c3", "Mnt Gold": "c4"}
AS_OF = dt.date(2014, 12, 31)


def evaluate(text: str) -> list[object]:
    with duckdb.connect() as con:
        con.execute(
            "CREATE TABLE t AS SELECT * FROM (VALUES ('10', '5', '2', '04-09-2012', '1'), "
            "('1', '0', '3', 'not a date', '2')) v(c0, c1, c2, c3, c4)"
        )
        derived = parse(text)
        check_columns(derived, tuple(NAMES))
        sql, params = compile_sql(
            derived, lambda n: f"TRY_CAST({NAMES[n]} AS DOUBLE)", lambda n: NAMES[n], AS_OF
        )
        return [row[0] for row in con.execute(f"SELECT {sql} FROM t", params).fetchall()]  # noqa: S608


@pytest.mark.parametrize(
    "text, expected",
    [
        ("value = MntWines + MntFruits * 2", [20.0, 1.0]),  # * before +
        ("value = (MntWines + MntFruits) * 2", [30.0, 2.0]),
        ("per = MntWines / MntFruits", [2.0, None]),  # division by zero: missing, counted by cleaning
        ("x = -(MntWines - 1) ÷ 2 × 3", [-13.5, -0.0]),
        ("years = years_since(Dt_Customer, '%d-%m-%Y')", [848 / 365.25, None]),  # bad date: missing
        ("days = days_since(Dt_Customer, '%d-%m-%Y') - 1", [847.0, None]),
        ("l = log1p(Kids) + abs(-3)", [pytest.approx(4.0986122886681), pytest.approx(4.3862943611199)]),
        ('g = "Mnt Gold" * 1e1 + .5', [10.5, 20.5]),
    ],
)
def test_expressions_evaluate_in_duckdb(text: str, expected: list[object]) -> None:
    assert evaluate(text) == expected


def test_numbers_and_formats_are_bound_never_pasted() -> None:
    derived = parse("v = MntWines * 1234.5 + days_since(Dt_Customer, '%Y); DROP TABLE t; --')")
    sql, params = compile_sql(derived, lambda n: NAMES[n], lambda n: NAMES[n], AS_OF)
    assert "1234.5" not in sql and "DROP" not in sql and "%Y" not in sql
    assert params[0] == 1234.5


def test_the_tree_knows_its_columns_in_first_use_order() -> None:
    assert parse("v = Kids + MntWines * Kids").columns() == ("Kids", "MntWines")
    assert parse('"my value" = Kids').name == "my value"


@pytest.mark.parametrize(
    "text, problem",
    [
        ("value MntWines", 'expected NAME = EXPRESSION, e.g. "value = MntWines + MntFruits"'),
        ("v = MntWines +", "the expression ends too early"),
        ("v = Mnt + 1", "unknown column 'Mnt'; columns: MntWines, MntFruits, Kids, Dt_Customer, Mnt Gold"),
        ("v = mntwines + 1", "unknown column 'mntwines'; did you mean 'MntWines'?"),
        ("v = foo(MntWines)", "unknown function 'foo'; known: days_since, years_since, abs, log1p"),
        ("v = MntWines $ 2", "unexpected character '$' at position 14"),
        ("v = (MntWines", "expected ')', found the end"),
        ("v = MntWines Kids", "unexpected 'Kids' after a complete expression"),
        ("v = 'x'", "a text on its own is not a number"),
        ("v = years_since(1)", "years_since() takes a date column first"),
        ("v = abs(Kids, 2)", "abs() takes 1 argument(s), got 2"),
        ("v = Kids + 'x'", "the text 'x' can only be a date format argument"),
        ("v = 3", "the expression reads no column"),
    ],
)
def test_bad_expressions_are_one_sentence(text: str, problem: str) -> None:
    with pytest.raises(InputError) as info:
        derived = parse(text)
        check_columns(derived, tuple(NAMES))
        compile_sql(derived, lambda n: NAMES[n], lambda n: NAMES[n], AS_OF)
    assert str(info.value) == f'--feature "{text}": {problem}.'
