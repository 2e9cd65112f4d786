"""Benchmark: server-side latency of the Explore filter callback and of the Customers export, on a DB file.

Each request goes through the real app (create_app + Flask's test client: Dash's callback dispatch, the
query layer on its read-only connection, figure serialisation, CSV/XLSX writing), in one process with the
thread count a gunicorn worker gets. Filter values vary per request (seeded) so DuckDB never answers the
same question twice in a row. Prints median and p95 per scenario.

usage: python bench/dashboard_latency.py --db /path/to/segments.duckdb [--repeats 30] [--seed 0]
Make a 1M-customer file first:
    segments generate --customers 1000000 --out sales_1m.parquet
    segments run sales_1m.parquet --db segments_1m.duckdb
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import duckdb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank) of values."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))]


def timed(fn: Callable[[], Any], repeats: int) -> list[float]:
    """Wall milliseconds of each call, after one warm-up call (first-use connection and imports)."""
    fn()
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def run_facts(db: Path) -> dict[str, Any]:
    """The latest run's id, customers, countries by size, segment ids, and tenure range (read-only)."""
    with duckdb.connect(str(db), read_only=True) as con:
        run, customers = con.execute("SELECT id, customers FROM runs ORDER BY id DESC LIMIT 1").fetchone()
        countries = [
            r[0]
            for r in con.execute(
                "SELECT country FROM customers WHERE run_id = ? GROUP BY 1 ORDER BY count(*) DESC", [run]
            ).fetchall()
        ]
        segments = [
            r[0]
            for r in con.execute(
                "SELECT segment_id FROM segments WHERE run_id = ? ORDER BY 1", [run]
            ).fetchall()
        ]
        lo, hi = con.execute(
            "SELECT min(tenure_days), max(tenure_days) FROM customers WHERE run_id = ?", [run]
        ).fetchone()
    return {
        "run": run,
        "customers": customers,
        "countries": countries,
        "segments": segments,
        "tenure": (lo, hi),
    }


def explore_request(app: Any) -> tuple[dict[str, Any], Callable[[dict[str, Any]], dict[str, Any]]]:
    """The Explore page's filter callback (found in the app's dependency list) and a body builder for it."""
    deps = app.server.test_client().get("/_dash-dependencies").get_json()
    for dep in deps:
        ids = {i["id"] for i in dep["inputs"] if isinstance(i["id"], str)}
        if "explore-country" in ids and "explore-kpis" in dep["output"]:
            break
    else:
        sys.exit("no Explore filter callback (inputs explore-country..., output explore-kpis) in this app")

    def body(values: dict[str, Any]) -> dict[str, Any]:
        inputs = [{**i, "value": values.get(f"{i['id']}.{i['property']}")} for i in dep["inputs"]]
        state = [{**s, "value": values.get(f"{s['id']}.{s['property']}")} for s in dep["state"]]
        outputs = [
            {"id": part.split(".")[0], "property": part.split(".")[1]}
            for part in dep["output"].strip(".").split("...")
        ]
        return {
            "output": dep["output"],
            "outputs": outputs,
            "inputs": inputs,
            "state": state,
            "changedPropIds": ["explore-country.value"],
        }

    return dep, body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--export-repeats", type=int, default=10, help="repeats of the large exports")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault("SEGMENTATION_DB_THREADS", "2")
    from dashboard import create_app

    facts = run_facts(args.db)
    app = create_app(args.db)
    client = app.server.test_client()
    rng = random.Random(args.seed)
    run, countries, segments = facts["run"], facts["countries"], facts["segments"]
    lo, hi = facts["tenure"]
    print(
        f"{args.db}: run {run}, {facts['customers']:,} customers, "
        f"{len(countries)} countries, k={len(segments)}"
    )

    _, explore_body = explore_request(app)

    def explore_once() -> None:
        picked = rng.sample(countries[:12], rng.randint(1, 3))
        start = rng.uniform(lo, (lo + hi) / 2)
        values = {
            "explore-country.value": picked,
            "explore-segment.value": rng.sample(segments, rng.randint(1, len(segments))),
            "explore-tenure.value": [start, rng.uniform(start, hi)],
            "explore-outliers.value": rng.choice(["include", "exclude"]),
            "explore-tenure-band.value": "any",
            "explore-map-metric.value": rng.choice(["customers", "revenue"]),
            "explore-run.data": run,
        }
        r = client.post("/_dash-update-component", json=explore_body(values))
        assert r.status_code == 200, r.get_data(as_text=True)[:500]
        assert "explore-kpis" in json.loads(r.get_data())["response"]

    def export_once(query: Callable[[], dict[str, Any]], ext: str = "csv") -> Callable[[], None]:
        def go() -> None:
            r = client.get(f"/export/customers.{ext}?" + urlencode({"run": run, **query()}, doseq=True))
            assert r.status_code == 200, r.get_data(as_text=True)[:500]
            r.get_data()  # drain the streamed body

        return go

    def rows(query: dict[str, Any]) -> int:
        with duckdb.connect(str(args.db), read_only=True) as con:
            where, params = "run_id = ?", [run]
            if "country" in query:
                where += " AND country = ?"
                params.append(query["country"])
            return con.execute(f"SELECT count(*) FROM customers WHERE {where}", params).fetchone()[0]  # noqa: S608

    scenarios: list[tuple[str, Callable[[], None], int]] = [
        ("Explore filter callback (1-3 countries, segments, tenure, outliers)", explore_once, args.repeats),
        (
            f"Customers export CSV, one country (~{rows({'country': countries[3]}):,} rows, varies)",
            export_once(lambda: {"country": rng.choice(countries[1:8]), "segment": rng.sample(segments, 2)}),
            args.repeats,
        ),
        (
            "Customers export CSV, at-risk preset",
            export_once(lambda: {"preset": "at-risk", "tenure_min": int(rng.uniform(lo, hi / 2))}),
            args.export_repeats,
        ),
        (
            "Customers export XLSX, one small country",
            export_once(lambda: {"country": rng.choice(countries[8:20] or countries)}, "xlsx"),
            args.export_repeats,
        ),
        (
            f"Customers export CSV, every customer ({facts['customers']:,} rows)",
            export_once(lambda: {"outliers": rng.choice(["include", "exclude"])}),
            max(3, args.export_repeats // 3),
        ),
    ]
    print(f"{'scenario':<72} {'n':>3} {'median ms':>10} {'p95 ms':>10}")
    for name, fn, n in scenarios:
        ms = timed(fn, n)
        print(f"{name:<72} {n:>3} {statistics.median(ms):>10.0f} {percentile(ms, 95):>10.0f}", flush=True)


if __name__ == "__main__":
    main()
