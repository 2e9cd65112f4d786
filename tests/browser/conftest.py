"""Browser tests: the real app under gunicorn on a loopback port, driven by Playwright in Debian's Chromium.

Every test's page fails it if the browser logs a console error or asks for anything outside the app's own
origin (the product must work offline). Screenshots go to tests/browser/screenshots-latest/.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

ROOT = Path(__file__).resolve().parents[2]
SHOTS = Path(__file__).resolve().parent / "screenshots-latest"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test in this folder carries the `browser` marker (`-m "not browser"` for a quick loop)."""
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser_type_launch_args() -> dict:
    """Debian's Chromium, headless and quiet on a closed network; never a downloaded browser."""
    return {
        "executable_path": CHROMIUM,
        "headless": True,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-quic",
            "--no-first-run",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args() -> dict:
    return {"viewport": {"width": 1400, "height": 1000}, "accept_downloads": True}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """A running gunicorn serving the app over one DB file."""

    url: str
    db: Path
    process: subprocess.Popen = field(repr=False)


def start_gunicorn(
    db: Path,
    workers: int = 2,
    users: Path | None = None,
    secret: str | None = None,
    extra_env: dict[str, str] | None = None,
) -> Server:
    """Start `gunicorn wsgi:server` (the Procfile's entry point) and wait until it answers. With users (a
    users file) login is on, signed with secret; without, SEGMENTATION_ALLOW_ANONYMOUS=1 opens the app.
    extra_env: more settings for gunicorn.conf.py (e.g. GUNICORN_KEEPALIVE)."""
    port = free_port()
    env = {
        **os.environ,
        "SEGMENTATION_DB": str(db),
        "PORT": str(port),
        "WEB_CONCURRENCY": str(workers),
        "SEGMENTATION_DB_THREADS": "1",
        **(extra_env or {}),
    }
    for name in ("SEGMENTATION_USERS", "SEGMENTATION_ALLOW_ANONYMOUS", "SECRET_KEY"):
        env.pop(name, None)
    if users is None:
        env["SEGMENTATION_ALLOW_ANONYMOUS"] = "1"
    else:
        env.update(SEGMENTATION_USERS=str(users), SECRET_KEY=secret or "browser-tests-" + "k" * 32)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "wsgi:server",
            "--config",
            "gunicorn.conf.py",
            "--bind",
            f"127.0.0.1:{port}",
            "--access-logfile",
            "/dev/null",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(url + "/", timeout=5) as response:
                if response.status == 200:
                    return Server(url, db, process)
        except OSError:
            if process.poll() is not None:
                raise RuntimeError("gunicorn exited: " + process.stderr.read().decode()[-2000:]) from None
            if time.monotonic() > deadline:
                process.kill()
                raise
            time.sleep(0.2)


def stop(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.process.kill()


@pytest.fixture(scope="session")
def browser_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real run of the bundled sample (all 1,096 customers), the data the demo shows."""
    from segmentation import pipeline
    from segmentation.config import RunConfig

    db = tmp_path_factory.mktemp("browser") / "segments.duckdb"
    pipeline.run(RunConfig(inputs=(ROOT / "data" / "online_retail_sample.csv",), db_path=db, progress=False))
    return db


@pytest.fixture(scope="session")
def live_server(browser_db: Path) -> Iterator[Server]:
    server = start_gunicorn(browser_db)
    yield server
    stop(server)


@pytest.fixture(scope="session")
def two_runs_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two runs of the bundled sample (k = 4, then k = 5): the same names under different ids, and names
    only one run has, as after a re-run with other settings."""
    from segmentation import pipeline
    from segmentation.config import RunConfig

    db = tmp_path_factory.mktemp("two-runs") / "segments.duckdb"
    for k in (4, 5):
        pipeline.run(
            RunConfig(inputs=(ROOT / "data" / "online_retail_sample.csv",), db_path=db, k=k, progress=False)
        )
    return db


@pytest.fixture(scope="session")
def two_runs_server(two_runs_db: Path) -> Iterator[Server]:
    server = start_gunicorn(two_runs_db)
    yield server
    stop(server)


@dataclass
class Watch:
    """What the page did that a test must not allow: console errors and requests leaving the origin."""

    errors: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)


@pytest.fixture
def watch() -> Watch:
    return Watch()


@contextmanager
def guarded_page(browser: Browser, server: Server, watch: Watch) -> Iterator[Page]:
    """A fresh page on server that records console errors and blocks (and records) off-origin requests;
    on exit the test fails if there were any (the product must work offline)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(20_000)

    def guard(route, request) -> None:  # noqa: ANN001 - Playwright's callback signature
        if request.url.startswith(server.url) or request.url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            watch.foreign.append(request.url)
            route.abort()

    page.route("**/*", guard)
    page.on("console", lambda m: watch.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: watch.errors.append(str(e)))
    yield page
    context.close()
    assert watch.foreign == [], f"requests left the app's origin: {watch.foreign}"
    assert watch.errors == [], f"browser console errors: {watch.errors}"


@pytest.fixture
def app_page(browser: Browser, live_server: Server, watch: Watch) -> Iterator[Page]:
    """A fresh page on the live app; fails the test on console errors or any off-origin request."""
    with guarded_page(browser, live_server, watch) as page:
        yield page


def wait_idle(page: Page) -> None:
    """Wait until Dash has no callback in flight (its loading states) and the network is quiet."""
    page.wait_for_load_state("networkidle")
    page.wait_for_function("() => !document.querySelector('[data-dash-is-loading=\"true\"]')")


def shot(page: Page, name: str) -> Path:
    """Save a full-page screenshot for a person to look at."""
    SHOTS.mkdir(exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def click_widest_bar(page: Page, graph_id: str) -> None:
    """Click the widest bar of a graph's last bar trace (hovered first: plotly clicks the hovered point)."""
    x, y = page.evaluate(
        """(graphId) => {
            const traces = document.querySelectorAll('#' + graphId + ' .trace.bars');
            const bars = [...traces[traces.length - 1].querySelectorAll('.point path')]
                .map(p => p.getBoundingClientRect()).sort((a, b) => b.width - a.width);
            return [bars[0].x + bars[0].width / 2, bars[0].y + bars[0].height / 2];
        }""",
        graph_id,
    )
    page.mouse.move(x, y)
    page.wait_for_selector(f"#{graph_id} .hoverlayer .hovertext")
    page.mouse.click(x, y)


def click_country(page: Page, graph_id: str, country: str) -> None:
    """Click a country's shape on a choropleth map, once plotly has drawn it (shapes carry ISO-3 codes)."""
    from dashboard.figures.map_view import country_code

    code = country_code(country) or country
    find = (
        f"() => [...document.querySelectorAll('#{graph_id} path.choroplethlocation')]"
        f".find(p => p.__data__ && p.__data__.loc === {code!r})"
    )
    page.wait_for_function(f"() => !!({find})()")
    x, y = page.evaluate(
        f"() => {{ const r = ({find})().getBoundingClientRect(); "
        "return [r.x + r.width / 2, r.y + r.height / 2]; }"
    )
    page.mouse.click(x, y)


def choose_option(page: Page, dropdown: str, option: str) -> None:
    """Pick one option of a Dash dropdown by its exact label, then close it. Clicking the option (not
    Enter) matters: Enter right after typing can pick the first option before the list has filtered."""
    page.locator(f"#{dropdown}").click()
    page.keyboard.type(option)
    page.get_by_role("option", name=option, exact=True).click()
    page.keyboard.press("Escape")
