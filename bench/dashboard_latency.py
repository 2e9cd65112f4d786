"""Benchmark: the dashboard's time per page load and per filter callback, and its CSV exports (issue 13).

Page loads and filter callbacks go through the real app in this one process (create_app(db) + Flask's test
client: Dash's dispatch, the queries on the read-only DuckDB connection, figures, JSON), with the settings
gunicorn.conf.py gives a worker (SEGMENTATION_DB_THREADS=1 on this machine's worker model, the DuckDB memory
cap). The result cache (SEGMENTATION_RESULT_CACHE, on in gunicorn.conf.py) is off by default: every request
is then a cold query, as after each re-run swaps the file and as for any filter set not asked before, which
is the honest measure of a random choice; `--cache` measures with it on. The output says which was used.

* Page loads: every page in dash.page_registry (but the 404 page), loaded N times with seeded random URL
  filters (country, segment, tenure range, outliers: values from the DB; bench/filter_choices.py) the way
  the browser does it (bench/app_driver.py, bench/dash_protocol.py): the HTML, /_dash-layout,
  /_dash-dependencies, then the callbacks that fire by themselves, wave after wave. Per page: the initial
  callbacks' total server time per load, each callback's time (the slowest marked), the three static
  requests, and the largest response of the load.
* Filter callbacks: on every page with controls of its own (ids starting with the page module's name:
  overview-map-segment, explore-country, compare-filter-tenure, ...), N changes of one random control to a
  random valid value, each made on the page as it loaded (every control at least once, then at random);
  every callback that fires (the page's filter callback and what its answer fires, such as the Customers
  grid's first block after the clientside purge) is timed, per callback.
* Exports (unless --skip-exports): /export/customers.csv for about 100k customers (a tenure threshold) and
  for all of them, downloaded from a real gunicorn worker (one worker, anonymous, on loopback), time to the
  last byte and the worker's RSS growth meanwhile (bench/worker_rss.py).

One table: median, p95, max, largest response, beside the targets with PASS/FAIL. The exit code is 0
whatever the figures: a person reads them. Timings are wall clock, so other load on the machine inflates
them. --db defaults to /tmp/loaddb/seg_1m.duckdb, built (1M customers, seed 0) if missing.

usage: python bench/dashboard_latency.py [--db FILE] [--repeats 200] [--seed 0] [--pages / /explore ...]
                                        [--cache | --no-cache] [--skip-exports] [--export-repeats 3]
"""

from __future__ import annotations

import argparse
import copy
import os
import random
import runpy
import sys
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path[:0] = [str(ROOT), str(BENCH)]

from app_driver import Browser  # noqa: E402
from dash_protocol import Page  # noqa: E402
from filter_choices import (  # noqa: E402
    changeable,
    export_query,
    random_search,
    random_value,
    run_facts,
)
from latency_table import (  # noqa: E402
    MB,
    Row,
    bytes_at_most,
    max_at_most,
    p95_at_most,
    render,
    rss_below,
)
from load_test import LOADDB, build_1m_db, server_env  # noqa: E402
from worker_rss import download, served  # noqa: E402

from dashboard import create_app  # noqa: E402

DEFAULT_DB = LOADDB / "seg_1m.duckdb"
# Issue 13's targets.
FILTER_P95_MS = 60.0  # every filter callback
PAGE_P95_MS = 250.0  # a page's initial callbacks together
MAX_RESPONSE = 1 * MB  # any response of a page load or a callback
EXPORT_MAX_MS = 3000.0  # a CSV export of 1M rows
EXPORT_RSS_MB = 200.0  # the worker's RSS growth during it
EXPORT_ROWS = 100_000  # the smaller export's size


def worker_settings(cache: bool) -> dict[str, str]:
    """Set this process's SEGMENTATION_* settings as gunicorn.conf.py sets a worker's (explicit ones in the
    environment win), the result cache as asked; the values in effect."""
    os.environ["SEGMENTATION_RESULT_CACHE"] = "1" if cache else "0"
    runpy.run_path(str(ROOT / "gunicorn.conf.py"))  # only os.environ.setdefault calls and constants
    return {k: v for k, v in sorted(os.environ.items()) if k.startswith("SEGMENTATION_")}


def registered_pages(wanted: list[str] | None) -> list[tuple[str, str]]:
    """(path, id prefix) of the app's pages in navbar order, the 404 page left out; wanted: a subset."""
    import dash

    pages = sorted(
        (p for p in dash.page_registry.values() if not p["module"].endswith("not_found_404")),
        key=lambda p: (p.get("order") is None, p.get("order") or 0, p["path"]),
    )
    found = [(p["path"], p["module"].rsplit(".", 1)[-1]) for p in pages]
    if wanted:
        unknown = sorted(set(wanted) - {path for path, _ in found})
        if unknown:
            sys.exit(f"--pages: no such page {unknown}; the app has {[path for path, _ in found]}")
        found = [(path, prefix) for path, prefix in found if path in wanted]
    return found


def progress(text: str) -> None:
    """A progress line on stderr (the table goes to stdout)."""
    print(text, file=sys.stderr, flush=True)


# -- page loads --------------------------------------------------------------------------------------------


def measure_loads(browser: Browser, path: str, searches: list[str]) -> list[Row]:
    """Load path once per search; rows: initial callbacks' total, each callback, the static requests."""
    total = Row(
        f"{path}: initial callbacks of a load, total",
        checks=[p95_at_most(PAGE_P95_MS), bytes_at_most(MAX_RESPONSE)],
    )
    static = Row("  HTML + /_dash-layout + /_dash-dependencies")
    per_callback: dict[str, Row] = {}
    for search in searches:
        _, fixed, calls = browser.load(path, search)
        static.add(sum(c.ms for c in fixed), max(c.size for c in fixed))
        total.add(sum(c.ms for c in calls), max(c.size for c in [*fixed, *calls]))
        total.errors += sum(not c.ok for c in [*fixed, *calls])
        for c in calls:
            per_callback.setdefault(c.name, Row(f"  {c.name}")).add(c.ms, c.size)
    rows = sorted(per_callback.values(), key=lambda r: -r.p95)
    if rows:
        rows[0].name += " (slowest)"
    return [total, *rows, static]


# -- filter callbacks --------------------------------------------------------------------------------------


def controls(page: Page, prefix: str) -> list[str]:
    """Keys of the page's own controls whose value change fires a server request (sorted)."""
    found = []
    for key, (cid, ctype, props) in page.comps.items():
        name = cid if isinstance(cid, str) else str(cid.get("type", ""))
        if name.startswith(prefix + "-") and changeable(ctype, props) and page.changed(f"{key}.value"):
            found.append(key)
    return sorted(found)


def change_order(rng: random.Random, keys: list[str], n: int) -> list[str]:
    """n controls to change: every one once (shuffled), then random ones until there are n."""
    order = rng.sample(keys, len(keys))
    return order + [rng.choice(keys) for _ in range(max(0, n - len(order)))]


def measure_changes(browser: Browser, path: str, prefix: str, rng: random.Random, n: int) -> list[Row]:
    """n control changes on path, each from the page as loaded; one row per callback that fired."""
    page, _, _ = browser.load(path)
    keys = controls(page, prefix)
    if not keys:
        return [Row(f"{path}: no controls of its own on this DB")]
    as_loaded = copy.deepcopy(page.comps)
    rows: dict[str, Row] = {}
    fired_by: dict[str, set[str]] = {}
    for key in change_order(rng, keys, n):
        page.comps = copy.deepcopy(as_loaded)
        _, ctype, props = page.comps[key]
        calls = browser.change(page, f"{key}.value", random_value(rng, ctype, props))
        for c in calls:
            row = rows.setdefault(
                c.name, Row(c.name, checks=[p95_at_most(FILTER_P95_MS), bytes_at_most(MAX_RESPONSE)])
            )
            row.add(c.ms, c.size)
            row.errors += not c.ok
            fired_by.setdefault(c.name, set()).add(key)
    for name, row in rows.items():
        row.name = f"{path}: {name} ({len(fired_by[name])}/{len(keys)} controls)"
    return sorted(rows.values(), key=lambda r: r.name)


# -- exports -----------------------------------------------------------------------------------------------


def measure_exports(
    db: Path, facts: dict[str, Any], env: dict[str, str], repeats: int
) -> tuple[list[Row], list[str]]:
    """The ~100k-row and the all-rows CSV export from one gunicorn worker; rows and notes (first bytes)."""
    smaller = export_query(db, facts, EXPORT_ROWS)
    scenarios = [
        ("export CSV, ~100k rows", smaller, []),
        ("export CSV, all customers", {}, [max_at_most(EXPORT_MAX_MS), rss_below(EXPORT_RSS_MB)]),
    ]
    rows, notes = [], []
    with served(db, env) as (url, pid):
        export = f"{url}/export/customers.csv?"
        download(export + urlencode({"country": facts["countries"][-1]}), pid)  # first use: not measured
        for label, query, checks in scenarios:
            link = export + urlencode({"run": facts["run"], **query})
            row, first = Row(label, checks=list(checks), rss_mb=0.0), []
            for _ in range(max(1, repeats)):
                got = download(link, pid)
                row.add(got.last_ms, got.size)
                row.rss_mb = max(row.rss_mb or 0.0, got.rss_growth_mb)
                row.errors += got.status != 200
                first.append(got.first_ms)
            what = ", ".join(f"{k} {v}" for k, v in query.items()) or "no filter"
            row.name = f"{label} ({got.lines - 1:,} rows: {what})"
            notes.append(f"{label}: first byte after {min(first):.0f}-{max(first):.0f} ms")
            rows.append(row)
            progress(f"exports: {row.name} done")
    return rows, notes


# -- main --------------------------------------------------------------------------------------------------


def section(title: str, rows: Iterable[Row]) -> list[Row]:
    """A heading row followed by rows."""
    return [Row(title), *rows]


def parse_args() -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=DEFAULT_DB, help="DB file (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=200, help="loads per page, changes per page")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pages", nargs="+", metavar="PATH", help="only these pages (e.g. / /explore)")
    parser.add_argument(
        "--cache",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="the result cache as gunicorn.conf.py sets it (default: off, every query cold)",
    )
    parser.add_argument("--skip-exports", action="store_true", help="no gunicorn export measurements")
    parser.add_argument("--export-repeats", type=int, default=3, help="downloads per export size")
    return parser.parse_args()


def describe(args: argparse.Namespace, facts: dict[str, Any], settings: dict[str, str]) -> str:
    """The two lines above the table: the DB and the run's size, then the settings in effect."""
    cache = (
        "ON (as gunicorn.conf.py sets it)" if args.cache else "OFF (every query cold; --cache turns it on)"
    )
    return (
        f"{args.db}: run {facts['run']}, {facts['customers']:,} customers, "
        f"{len(facts['countries'])} countries, k={len(facts['segments'])}; "
        f"{args.repeats} loads and {args.repeats} control changes per page, seed {args.seed}\n"
        f"result cache {cache}; " + ", ".join(f"{k}={v}" for k, v in settings.items())
    )


def main() -> int:
    args = parse_args()
    if not args.db.exists():
        if args.db.resolve() != DEFAULT_DB.resolve():
            sys.exit(f"{args.db}: no such file")
        progress(f"building {DEFAULT_DB} (1M customers; this takes several minutes)")
        build_1m_db(DEFAULT_DB)
    started = time.monotonic()
    gunicorn_env = {**server_env(), "SEGMENTATION_ALLOW_ANONYMOUS": "1"}
    settings = worker_settings(args.cache)  # before the app opens any connection
    gunicorn_env["SEGMENTATION_RESULT_CACHE"] = settings["SEGMENTATION_RESULT_CACHE"]
    facts = run_facts(args.db)
    browser = Browser(create_app(args.db).server.test_client())
    browser.get("/")  # Dash registers the pages' callbacks on the first request
    pages = registered_pages(args.pages)
    rng = random.Random(args.seed)
    searches = [random_search(rng, facts) for _ in range(args.repeats)]
    print(describe(args, facts, settings), flush=True)
    for path, _ in pages:  # warm-up: imports, connections, Dash's first-use work; not measured
        browser.load(path)
    loads: list[Row] = []
    for path, _ in pages:
        loads += measure_loads(browser, path, searches)
        progress(f"loads: {path} done ({time.monotonic() - started:.0f} s)")
    changes: list[Row] = []
    for path, prefix in pages:
        changes += measure_changes(browser, path, prefix, random.Random(f"{args.seed}-{path}"), args.repeats)
        progress(f"changes: {path} done ({time.monotonic() - started:.0f} s)")
    table = section(
        f"PAGE LOADS ({args.repeats} per page, random URL filters; server time of the initial callbacks)",
        loads,
    ) + section("FILTER CALLBACKS (one control changed to a random value, from the page as loaded)", changes)
    notes = ["exports skipped (--skip-exports)"]
    if not args.skip_exports:
        try:
            exports, notes = measure_exports(args.db, facts, gunicorn_env, args.export_repeats)
        except (SystemExit, RuntimeError, OSError) as exc:  # gunicorn did not start: keep what was measured
            exports, notes = [], [f"exports not measured: {str(exc)[-1500:]}"]
        table += section(
            f"EXPORTS (gunicorn, one worker, loopback; {args.export_repeats} downloads each, "
            "time to the last byte)",
            exports,
        )
    print(render(table))
    print("\n".join(notes))
    if browser.errors:
        counts = Counter(browser.errors)
        print(
            f"{len(browser.errors)} request errors: "
            + "; ".join(f"{e} x{n}" for e, n in counts.most_common())
        )
    print(f"took {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
