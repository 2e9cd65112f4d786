"""The Content-Security-Policy holds in Chromium: every page renders its charts with no CSP violation.

guarded_page fails a test on console errors, and Chromium reports a CSP refusal as one; a listener for
`securitypolicyviolation` events (installed before the app's own scripts) records them as well. The first
test proves the watch catches a violation, so the page test below cannot pass blind.
"""

from __future__ import annotations

import urllib.request

from playwright.sync_api import Browser, Page

from tests.browser.conftest import Server, Watch, guarded_page, shot, wait_idle

PAGES = ("/", "/explore", "/compare", "/customers", "/model", "/simulator", "/history")
RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', e => window.__csp.push(
    e.violatedDirective + ' ' + (e.blockedURI || 'inline') + ' ' + (e.sample || '')));
"""


def violations(page: Page) -> list[str]:
    return page.evaluate("() => window.__csp")


def test_csp_header_on_every_response(live_server: Server) -> None:
    for path in ("/", "/_dash-layout", "/assets/style.css", "/export/customers.csv"):
        with urllib.request.urlopen(live_server.url + path, timeout=30) as response:
            csp = response.headers["Content-Security-Policy"]
            assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, path
            assert response.headers["X-Frame-Options"] == "DENY", path
            assert response.headers["X-Content-Type-Options"] == "nosniff", path
            assert response.headers["Referrer-Policy"] == "same-origin", path
            static = path.startswith("/assets/")
            assert (response.headers.get("Cache-Control") == "no-store") is not static, path


def test_the_watch_catches_a_csp_violation(browser: Browser, live_server: Server, watch: Watch) -> None:
    with guarded_page(browser, live_server, watch) as page:
        page.add_init_script(RECORD_VIOLATIONS)
        page.goto(live_server.url + "/")
        wait_idle(page)
        page.evaluate(
            "() => { const s = document.createElement('script'); s.textContent = 'window.__ran = 1';"
            " document.body.appendChild(s); }"
        )
        page.wait_for_function("() => window.__csp.length > 0")
        assert page.evaluate("() => window.__ran") is None  # the injected inline script did not run
        assert any("script-src" in v for v in violations(page))
        assert any("Content Security Policy" in e for e in watch.errors), watch.errors
        watch.errors.clear()  # seen: the guard must not fail this test for the violation it provoked


def check_pages(page: Page, server: Server, watch: Watch, paths: tuple[str, ...]) -> None:
    """Open each path, wait for its chart (or grid) to draw, then demand no CSP violation and no error."""
    for path in paths:
        response = page.goto(server.url + path)
        assert response is not None
        assert "script-src 'self' 'sha256-" in response.headers["content-security-policy"]
        wait_idle(page)
        page.wait_for_selector(
            ".ag-row" if path == "/customers" else ".js-plotly-plot .main-svg", timeout=45_000
        )
        if path == "/model":  # the WebGL 3-D scatter too (plotly's gl code is where eval would hide)
            page.get_by_role("button", name="Show the 3-D view").click()
            wait_idle(page)
            page.wait_for_selector("#model-pca3d .gl-container canvas", state="attached")
            page.wait_for_selector("#model-pca3d .legendtext")
        shot(page, f"brws019{path.replace('/', '_') if path != '/' else '_overview'}")
        assert violations(page) == [], (path, violations(page))
        assert watch.errors == [], (path, watch.errors)


def test_every_page_renders_under_the_csp(
    browser: Browser, live_server: Server, two_runs_server: Server, watch: Watch
) -> None:
    with guarded_page(browser, live_server, watch) as page:
        page.add_init_script(RECORD_VIOLATIONS)
        check_pages(page, live_server, watch, PAGES[:-1])
    with guarded_page(browser, two_runs_server, watch) as page:  # the Sankey needs two runs
        page.add_init_script(RECORD_VIOLATIONS)
        check_pages(page, two_runs_server, watch, ("/history",))
