"""Locust users that behave like marketing users of the dashboard (run by bench/load_test.py, loopback only).

A page load is what the browser does: GET the page, /_dash-layout and /_dash-dependencies, then every
server callback that fires on its own, found from the dependency list and the layout (not a fixed list):
callbacks whose inputs sit in newly inserted components (prevent_initial_call is honoured unless an output
already existed outside the insertion, as Dash does), props that components set on mount (dcc.Location's
pathname/search, the infinite AG Grid's first getRowsRequest), then the callbacks the answers trigger,
wave after wave (that model of the renderer is bench/dash_protocol.py), each wave's requests in parallel.
Then the user changes filters (country, segment, tenure) on Explore, Customers or Overview with 1-3 s think
time, scrolls the customers grid, and sometimes downloads a small filtered CSV. Request names say what each
is; names starting with "filter" are the filter callbacks the load test's thresholds apply to. Settings
come from the environment (LOADTEST_USER, LOADTEST_PASSWORD: log in first; LOADTEST_SEED;
LOADTEST_JUDGE_LATENCY=0: report the latencies without judging them).
"""

from __future__ import annotations

import json
import os
import random
import re
import sys
from pathlib import Path
from typing import Any

import gevent.pool
from locust import HttpUser, between, events, task
from locust.runners import STATE_STOPPED, STATE_STOPPING

sys.path.insert(0, str(Path(__file__).resolve().parent))  # locust loads this file by path
from dash_protocol import Dep, Fired, Page, rows_request, run_waves  # noqa: E402
from dash_protocol import open_page as new_tab  # noqa: E402 - the task open_page below is another thing

FILTER_P95_MS = 500.0
FILTER_P99_MS = 1000.0
PAGES = {"/": 3, "/explore": 4, "/customers": 4, "/compare": 1}
SMALL_EXPORT_ROWS = 20_000  # the Customers page's count below which a user downloads the list
PARALLEL = 6  # a browser's connections per host
_HIDDEN = re.compile(r"<input[^>]*type=[\"']hidden[\"'][^>]*>", re.I)
_ATTR = re.compile(r"(name|value)=[\"']([^\"']*)[\"']", re.I)


class MarketingUser(HttpUser):
    """Opens pages, changes filters, scrolls the grid and downloads small lists, 1-3 s apart."""

    wait_time = between(1, 3)

    def on_start(self) -> None:
        self.rng = random.Random(f"{os.environ.get('LOADTEST_SEED', '0')}-{id(self)}")
        self.deps: list[Dep] | None = None
        self.page: Page | None = None
        self.path = "/"
        self.next_row = 0
        self.count: int | None = None
        self.export_href: str | None = None
        if os.environ.get("LOADTEST_USER"):
            self.login()
        self.load(self.rng.choice(["/", "/explore", "/customers"]))

    # -- login -------------------------------------------------------------------------------------------
    def login(self) -> None:
        """GET /login, send its hidden fields back with the credentials; 404 means the app has no login."""
        with self.client.get("/login", name="login: GET /login", catch_response=True) as r:
            if r.status_code == 404:
                r.success()
                return
            html = r.text
        fields = {}
        for tag in _HIDDEN.findall(html):
            attrs = {a.lower(): v for a, v in _ATTR.findall(tag)}
            if "name" in attrs:
                fields[attrs["name"]] = attrs.get("value", "")
        fields.update(username=os.environ["LOADTEST_USER"], password=os.environ.get("LOADTEST_PASSWORD", ""))
        with self.client.post(
            "/login", data=fields, name="login: POST /login", catch_response=True, allow_redirects=False
        ) as r:
            if r.status_code not in (200, 302, 303):
                r.failure(f"login answered {r.status_code}")
            elif r.status_code == 200 and 'name="password"' in r.text:
                r.failure("login refused the load-test user")

    # -- the browser's part ------------------------------------------------------------------------------
    def callback(self, dep: Dep, changed: list[str], name: str) -> dict[str, Any] | None:
        """POST one callback; its response dict (None for 204 / failure)."""
        assert self.page is not None
        body = self.page.body(dep, sorted(set(changed)))
        with self.client.post("/_dash-update-component", json=body, name=name, catch_response=True) as r:
            if r.status_code == 204:
                return None
            if r.status_code == 0 and self.environment.runner.state in (STATE_STOPPING, STATE_STOPPED):
                r.success()  # cut off by the end of the test, not by the server
                return None
            if r.status_code != 200:
                r.failure(f"{dep.name}: HTTP {r.status_code} {r.error or ''}".strip())
                return None
            try:
                payload = r.json()["response"]
            except (ValueError, KeyError):
                r.failure(f"{dep.name}: not a callback answer")
                return None
            text = r.text
            if "Traceback" in text or "Something went wrong" in text:
                r.failure(f"{dep.name}: error text in the answer")
            return payload

    def run_waves(self, fired: Fired, kind: str) -> None:
        """Send each wave of triggered callbacks in parallel, apply the answers, repeat for what they fire."""
        assert self.page is not None

        def send_wave(wave: Fired) -> list[dict[str, Any] | None]:
            pool = gevent.pool.Pool(PARALLEL)
            jobs = []
            for dep, changed in wave.items():
                label = f"{kind} cb: {dep.name} ({self.path})" if kind == "load" else f"{kind} cb: {dep.name}"
                jobs.append(pool.spawn(self.callback, dep, changed, label))
            try:
                pool.join()
            finally:  # the test's end stops this user: its parallel requests stop with it, unrecorded
                pool.kill()
            return [job.value for job in jobs]

        run_waves(self.page, fired, send_wave, self.remember)

    def load(self, path: str, search: str = "") -> None:
        """A full page load: the HTML, layout, dependencies, then every callback that fires by itself."""
        self.path = path
        self.client.get(path + search, name=f"load: GET {path}")
        layout = self.client.get("/_dash-layout", name="load: /_dash-layout").json()
        raw = self.client.get("/_dash-dependencies", name="load: /_dash-dependencies").json()
        self.page, fired = new_tab(raw, layout, path, search)
        self.deps = self.page.deps
        self.next_row, self.count, self.export_href = 100, None, None
        self.run_waves(fired, "load")

    def remember(self) -> None:
        """Note the Customers page's count and CSV link from what the answers put on the page."""
        assert self.page is not None
        comp = self.page.comps.get("customers-count")
        if comp:
            digits = re.sub(r"[^\d]", "", json.dumps(comp[2].get("children"))[:200].split(" of ")[0])
            self.count = int(digits) if digits else None
        comp = self.page.comps.get("customers-exports")
        if comp:
            links = re.findall(r'"href": "([^"]*customers\.csv[^"]*)"', json.dumps(comp[2].get("children")))
            self.export_href = links[0] if links else None

    def prefix(self) -> str | None:
        return {"/explore": "explore", "/customers": "customers"}.get(self.path)

    def change_control(self, prefix: str) -> str | None:
        """Set a new value on the page's country, segment or tenure control; its 'id.prop' (None: none)."""
        assert self.page is not None
        control = self.rng.choice(["country", "country", "segment", "tenure"])
        comp = self.page.comps.get(f"{prefix}-{control}")
        if comp is None:
            return None
        props = comp[2]
        if control == "tenure":
            lo, hi = props.get("min"), props.get("max")
            if lo is None or hi is None or props.get("disabled"):
                return None
            a = self.rng.uniform(lo, hi)
            props["value"] = (
                None if self.rng.random() < 0.2 else sorted([round(a), round(self.rng.uniform(a, hi))])
            )
        else:
            values = [o["value"] if isinstance(o, dict) else o for o in props.get("options") or []]
            if not values:
                return None
            n = self.rng.choice([0, 1, 1, 1, 2])
            props["value"] = self.rng.sample(values, min(n, len(values)))
        return f"{prefix}-{control}.value"

    # -- what a marketing user does ----------------------------------------------------------------------
    @task(6)
    def change_filter(self) -> None:
        """Change one filter on Explore/Customers (their filter callback) or Overview (its map callback)."""
        assert self.page is not None
        if self.path == "/":
            comp = self.page.comps.get("overview-map-segment")
            if comp is None or self.rng.random() < 0.4:  # Overview's filters come from its link
                search = self.rng.choice(
                    ["?country=United+Kingdom", "?country=Germany", "?segment=0", "?tenure_min=365", ""]
                )
                return self.load("/", search)
            options = [o["value"] for o in comp[2].get("options") or [] if isinstance(o, dict)]
            comp[2]["value"] = self.rng.choice(options) if options else None
            return self.run_waves(self.page.changed("overview-map-segment.value"), "filter")
        prefix = self.prefix()
        if prefix is None:
            return self.load(self.rng.choice(["/", "/explore", "/customers"]))
        changed = self.change_control(prefix)
        if changed is None:
            return
        fired = self.page.changed(changed)  # on Customers: the clientside purge's first-block request too
        if prefix == "customers":
            self.next_row = 100
        self.run_waves(fired, "filter")

    @task(2)
    def open_page(self) -> None:
        pages = list(PAGES)
        self.load(self.rng.choices(pages, weights=[PAGES[p] for p in pages])[0])

    @task(2)
    def scroll_grid(self) -> None:
        """Scroll the Customers grid to its next block of 100 rows."""
        if self.path != "/customers" or self.page is None or "customers-grid" not in self.page.comps:
            return self.load("/customers")
        start = self.next_row
        self.page.comps["customers-grid"][2]["getRowsRequest"] = rows_request(start)
        self.next_row += 100
        self.run_waves(self.page.changed("customers-grid.getRowsRequest"), "scroll")

    @task(1)
    def export_small(self) -> None:
        """Download the Customers page's CSV when its filters select few customers."""
        if (
            self.path != "/customers"
            or not self.export_href
            or self.count is None
            or self.count > SMALL_EXPORT_ROWS
        ):
            return
        with self.client.get(
            self.export_href, name="export: customers.csv (small)", catch_response=True, stream=False
        ) as r:
            if r.status_code != 200 or not r.text.startswith(("customer_id", "\ufeff", "#", '"')):
                r.failure(f"export answered {r.status_code}: {r.text[:80]!r}")


def _row(name: str, e: Any) -> str:
    """One summary line: count, failures, median, p95, p99, max (ms)."""
    if not e.num_requests:
        return f"{name[:58]:<58} {0:>7} {e.num_failures:>6}"
    pct = e.get_response_time_percentile
    return (
        f"{name[:58]:<58} {e.num_requests:>7} {e.num_failures:>6} {pct(0.5):>7.0f} {pct(0.95):>7.0f} "
        f"{pct(0.99):>7.0f} {e.max_response_time:>7.0f}"
    )


@events.quitting.add_listener
def _verdict(environment: Any, **_: Any) -> None:
    """Print the summary per request type; exit code 1 on any failure, or (unless LOADTEST_JUDGE_LATENCY=0)
    when the filter callbacks together miss p95 <= 500 ms or p99 <= 1 s."""
    from locust.stats import StatsEntry

    stats = environment.stats
    merged = StatsEntry(stats, "filter callbacks (all)", "ALL")
    for e in stats.entries.values():
        if e.name.startswith("filter"):
            merged.extend(e)
    lines = [f"{'request':<58} {'count':>7} {'fails':>6} {'median':>7} {'p95':>7} {'p99':>7} {'max':>7}"]
    lines += [_row(e.name, e) for _, e in sorted(stats.entries.items())]
    lines += [_row(merged.name, merged), _row("all requests", stats.total)]
    print("LOAD TEST SUMMARY (milliseconds)\n" + "\n".join(lines), flush=True)
    for err in sorted(stats.errors.values(), key=lambda e: -e.occurrences)[:10]:
        print(f"error x{err.occurrences}: {err.method} {err.name}: {err.error}"[:300], flush=True)
    bad = []
    if stats.total.num_failures:
        bad.append(f"{stats.total.num_failures} failed requests")
    if not merged.num_requests:
        bad.append("no filter callback was sent")
    elif os.environ.get("LOADTEST_JUDGE_LATENCY", "1") != "0":  # --small reports latencies only
        p95, p99 = merged.get_response_time_percentile(0.95), merged.get_response_time_percentile(0.99)
        if p95 > FILTER_P95_MS:
            bad.append(f"filter callbacks p95 {p95:.0f} ms > {FILTER_P95_MS:.0f} ms")
        if p99 > FILTER_P99_MS:
            bad.append(f"filter callbacks p99 {p99:.0f} ms > {FILTER_P99_MS:.0f} ms")
    print("VERDICT: " + ("FAIL: " + "; ".join(bad) if bad else "PASS"), flush=True)
    environment.process_exit_code = 1 if bad else 0
