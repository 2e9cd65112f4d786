"""Fixture DuckDB files for dashboard tests: the real schema (store.create_schema) filled with seeded rows."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import dash
import duckdb
import numpy as np
import pandas as pd
import pytest
from flask.testing import FlaskClient

from dashboard import create_app, queries
from segmentation import cli, store

COUNTRIES_1 = ("United Kingdom", "France", "Germany", "EIRE", "Spain", "Netherlands")
SEGMENTS_1 = {0: "Champions", 1: "Loyal", 2: "At Risk", 3: "Can't Lose"}
# Run 2 is a customer-table run: no R/F/M/tenure for some customers, no segment named At Risk (the preset
# falls back to rfm_group), a segment name and a country that look like formulas.
COUNTRIES_2 = ("France", "Germany", "Italy", '=HYPERLINK("http://x")', "Portugal", "Belgium")
SEGMENTS_2 = {0: "Big Spenders", 1: "Occasional", 2: "=Evil Name", 3: "Dormant"}
FORMULA_IDS = ("=1+1", "+SUM(A1)", "-2", "@cmd", "\tTAB", "\rCR")
RFM_GROUPS = ("Champions", "Loyal", "At Risk", "Can't Lose", "Hibernating", None)
SNAPSHOT = date(2011, 12, 10)


def _customers(run_id: int, n: int, seed: int, countries: tuple[str, ...], with_rfm: bool) -> pd.DataFrame:
    """n seeded customers of one run: outliers, NULLs where the schema allows them, formula-like ids."""
    rng = np.random.default_rng(seed)
    ids = [f"C{run_id}{i:04d}" for i in range(n)]
    ids[: len(FORMULA_IDS)] = FORMULA_IDS
    recency = rng.integers(1, 700, n).astype(float)
    frequency = rng.integers(1, 40, n).astype(float)
    tenure = np.maximum(recency + rng.integers(0, 900, n), recency)
    monetary = np.round(rng.lognormal(6, 1.2, n) - 50, 2)  # a few negative (net returns)
    country = rng.choice(np.array(countries, dtype=object), n)
    if not with_rfm:  # customer-table run: these columns may be NULL
        null = rng.random(n) < 0.3
        recency[null] = np.nan
        frequency[rng.random(n) < 0.3] = np.nan
        tenure[rng.random(n) < 0.3] = np.nan
        country[rng.random(n) < 0.1] = None
    snapshot = datetime(SNAPSHOT.year, SNAPSHOT.month, SNAPSHOT.day)
    df = pd.DataFrame(
        {
            "run_id": run_id,
            "customer_id": ids,
            "country": country,
            "first_purchase": [None if np.isnan(t) else snapshot - timedelta(days=float(t)) for t in tenure],
            "last_purchase": [None if np.isnan(r) else snapshot - timedelta(days=float(r)) for r in recency],
            "recency_days": recency,
            "frequency": frequency,
            "monetary": monetary,
            "quantity": rng.integers(1, 500, n).astype(float),
            "avg_basket_value": np.round(rng.uniform(5, 300, n), 2),
            "tenure_days": tenure,
            "distinct_products": rng.integers(1, 80, n),
            "return_rate": np.round(rng.uniform(0, 0.3, n), 3),
            "r_score": rng.integers(1, 6, n),
            "f_score": rng.integers(1, 6, n),
            "m_score": rng.integers(1, 6, n),
            "rfm_group": rng.choice(np.array(RFM_GROUPS, dtype=object), n),
            "segment_id": rng.integers(0, 4, n),
            "is_outlier": rng.random(n) < 0.08,
            "pc1": rng.normal(0, 1, n),
            "pc2": rng.normal(0, 1, n),
            "pc3": rng.normal(0, 1, n),
            "dist_own": rng.uniform(0, 3, n),
            "dist_next": rng.uniform(3, 6, n),
            "next_segment_id": rng.integers(0, 4, n),
        }
    )
    df["features"] = [
        [float(a), float(b), float(c)] for a, b, c in zip(recency, frequency, monetary, strict=True)
    ]
    return df


def _insert_run(
    con: duckdb.DuckDBPyConnection, run_id: int, mode: str, customers: pd.DataFrame, names: dict[int, str]
) -> None:
    """Insert one run, its cleaning steps, customers and segments."""
    revenue = float(customers["monetary"].sum())
    con.execute(
        """INSERT INTO runs (id, created_at, mode, sources, snapshot_date, rows_in, rows_clean, customers,
                             params, seed, features, scaler, algorithm, k, k_reason, silhouette, outliers,
                             revenue, status)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, '{}', 0, ['recency_days', 'frequency', 'monetary'], 'standard',
                   'kmeans', 4, 'Fixed by the user.', 0.41, ?, ?, 'ok')""",
        [
            run_id,
            datetime(2024, 1, run_id, 12, 0),
            mode,
            [f"sales_{run_id}.csv"],
            SNAPSHOT,
            5000 * run_id,
            4000 * run_id,
            len(customers),
            int(customers["is_outlier"].sum()),
            revenue,
        ],
    )
    steps = [("missing_customer_id", 600), ("duplicates", 150), ("cancellations", 200), ("non_positive", 50)]
    left = 5000 * run_id
    for step, (rule, removed) in enumerate(steps, start=1):
        left -= removed
        con.execute(
            "INSERT INTO cleaning_steps VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [run_id, step, rule, rule.replace("_", " "), removed, left, removed // 10, 0, removed * 2.5],
        )
    con.register("new_customers", customers)
    con.execute("INSERT INTO customers BY NAME SELECT * FROM new_customers")
    con.unregister("new_customers")
    for sid, name in names.items():
        part = customers[customers["segment_id"] == sid]
        con.execute(
            "INSERT INTO segments VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                run_id,
                sid,
                name,
                f"{name} customers.",
                f"Act on {name}.",
                len(part),
                len(part) / len(customers),
                float(part["monetary"].sum()),
                float(part["monetary"].sum()) / revenue,
                int(part["is_outlier"].sum()),
            ],
        )


def build_db(path: Path, runs: int = 2, n: int = 200, seed: int = 0) -> Path:
    """Write a fixture DB with `runs` runs (1: transactions, 2: customer table) of n customers each."""
    with duckdb.connect(str(path)) as con:
        store.create_schema(con)
        if runs >= 1:
            _insert_run(con, 1, "transactions", _customers(1, n, seed, COUNTRIES_1, True), SEGMENTS_1)
        if runs >= 2:
            _insert_run(con, 2, "customers", _customers(2, n, seed + 1, COUNTRIES_2, False), SEGMENTS_2)
        con.execute("CHECKPOINT")
    return path


def customers_frame(path: Path, run_id: int) -> pd.DataFrame:
    """The run's customers joined to segment names, read independently of the dashboard code."""
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(
            """SELECT c.*, s.name AS segment_name FROM customers c
               LEFT JOIN segments s USING (run_id, segment_id) WHERE c.run_id = ?""",
            [run_id],
        ).df()


@pytest.fixture(scope="session")
def fixture_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A session-wide read-only fixture DB with two runs."""
    return build_db(tmp_path_factory.mktemp("db") / "segments.duckdb")


@pytest.fixture
def db(fixture_db: Path) -> Iterator[Path]:
    """Queries in this test read the fixture DB; this thread's connections are closed afterwards."""
    with queries.using(fixture_db):
        yield fixture_db
    queries.close_thread_connections()


@pytest.fixture
def fresh_db(tmp_path: Path) -> Iterator[Path]:
    """A per-test fixture DB (for tests that swap or remove it)."""
    path = build_db(tmp_path / "segments.duckdb")
    with queries.using(path):
        yield path
    queries.close_thread_connections()


@pytest.fixture(scope="session")
def make_db() -> Callable[..., Path]:
    """build_db as a fixture: make_db(path, runs=2, n=200, seed=0) -> path."""
    return build_db


@pytest.fixture(scope="session")
def read_customers() -> Callable[[Path, int], pd.DataFrame]:
    """customers_frame as a fixture: read_customers(path, run_id) -> DataFrame (no dashboard code)."""
    return customers_frame


@pytest.fixture
def app(fixture_db: Path) -> Iterator[dash.Dash]:
    """The dashboard over the session's fixture DB (Dash globals are reset by tests/conftest.py)."""
    yield create_app(fixture_db)
    queries.close_thread_connections()


@pytest.fixture
def client(app: dash.Dash) -> FlaskClient:
    """A Flask test client of the app's server."""
    return app.server.test_client()


@pytest.fixture(scope="session")
def two_run_db(
    small_run: tuple[Path, object], small_csv: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The small real run (k chosen by the sweep) plus a second run of the same input with --k 3."""
    db = tmp_path_factory.mktemp("two_runs") / "segments.duckdb"
    shutil.copyfile(small_run[0], db)
    assert cli.main(["run", str(small_csv), "--db", str(db), "--k", "3", "--quiet"]) == 0
    return db


@pytest.fixture(scope="session")
def value_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real run of 3,000 generated customers, whose value model finds churn (about 100 below 50%)."""
    from segmentation import pipeline, synthetic
    from segmentation.config import RunConfig

    folder = tmp_path_factory.mktemp("value")
    sales = folder / "sales.parquet"
    synthetic.generate(sales, 3000, seed=1)
    db = folder / "segments.duckdb"
    pipeline.run(RunConfig(inputs=(sales,), db_path=db, progress=False))
    return db


def post_dash_callback(client: FlaskClient, output_prefix: str, values: dict[str, Any]) -> int:
    """POST one callback (the first whose outputs start with output_prefix) the way the renderer does, with
    the given input/state values by 'id.prop'; returns the status code."""
    deps = client.get("/_dash-dependencies").get_json()
    dep = next(d for d in deps if d["output"].startswith(output_prefix))
    outputs: list[Any] = [
        [] if _is_pattern(raw) else {"id": raw, "property": prop.split("@")[0]}
        for raw, prop in _split_outputs(dep["output"])
    ]

    def items(kind: str) -> list[Any]:
        # a pattern (ALL) names no component here: the fixture runs have no --attributes controls
        return [
            []
            if _is_pattern(i["id"])
            else {"id": i["id"], "property": i["property"], "value": values.get(f"{i['id']}.{i['property']}")}
            for i in dep[kind]
        ]

    body = {
        "output": dep["output"],
        "outputs": outputs,
        "inputs": items("inputs"),
        "state": items("state"),
        "changedPropIds": [next(iter(values))],
        "parsedChangedPropsIds": [next(iter(values))],
    }
    return client.post("/_dash-update-component", json=body).status_code


def _concrete_id(raw: str) -> Any:
    """A dependency's id as the renderer sends it: a pattern id's wildcards (ALL, MATCH...) become index 0."""
    if not raw.startswith("{"):
        return raw
    parsed = json.loads(raw)
    return {k: 0 if isinstance(v, list) else v for k, v in parsed.items()}


def _is_pattern(raw: str) -> bool:
    return raw.startswith("{") and any(isinstance(v, list) for v in json.loads(raw).values())


def _split_outputs(output: str) -> list[tuple[str, str]]:
    """The (id, property) pairs of a dependency's `output` string ('a.b', or '..a.b...c.d..' for several;
    pattern ids are JSON; an '@hash' suffix marks allow_duplicate)."""
    parts = output[2:-2].split("...") if output.startswith("..") else [output]
    pairs = []
    for part in parts:
        cut = part.rindex("}") + 1 if part.startswith("{") else part.rindex(".")
        pairs.append((part[:cut], part[cut:].lstrip(".").split("@")[0]))
    return pairs


# Input/state values that get each callback past its own "nothing to do" checks and into its queries.
PLAUSIBLE_VALUES: dict[str, Any] = {
    "n_clicks": 1,
    "clickData": {"points": [{"customdata": [1], "y": "Champions", "location": "DEU"}]},
    "getRowsRequest": {"startRow": 0, "endRow": 100},
    "cellClicked": {"rowId": "C10001", "colId": "customer_id"},
    "pathname": "/",
    "search": "?run=1",
}


def callback_body(dep: dict[str, Any], values: Callable[[str, str], Any], changed: int = 0) -> dict[str, Any]:
    """The JSON the renderer POSTs for one entry of /_dash-dependencies: values(id, prop) gives each input
    and state value; a pattern-matching (ALL) dependency gets one component, index 0; `changed` picks the
    input that fired."""

    def one(raw: str, prop: str, with_value: bool) -> dict[str, Any]:
        item: dict[str, Any] = {"id": _concrete_id(raw), "property": prop}
        if with_value:
            item["value"] = values(raw, prop)
        return item

    def entry(raw: str, prop: str, with_value: bool = True) -> Any:
        return [one(raw, prop, with_value)] if _is_pattern(raw) else one(raw, prop, with_value)

    outs = [entry(i, p, False) for i, p in _split_outputs(dep["output"])]
    fired = dep["inputs"][changed]
    fired_id = _concrete_id(fired["id"])
    if isinstance(fired_id, dict):
        fired_id = json.dumps(fired_id, separators=(",", ":"), sort_keys=True)
    return {
        "output": dep["output"],
        "outputs": outs if dep["output"].startswith("..") else outs[0],
        "inputs": [entry(i["id"], i["property"]) for i in dep["inputs"]],
        "state": [entry(i["id"], i["property"]) for i in dep["state"]],
        "changedPropIds": [f"{fired_id}.{fired['property']}"],
    }


def server_callbacks(client: FlaskClient) -> list[dict[str, Any]]:
    """Every server-side callback the app registers (all pages and the shell), from /_dash-dependencies."""
    client.get("/")  # the first request registers the pages' callbacks
    deps = client.get("/_dash-dependencies").get_json()
    return [d for d in deps if not d.get("clientside_function")]
