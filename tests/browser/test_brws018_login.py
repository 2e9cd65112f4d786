"""Login in Chromium against gunicorn with a users file: a page asks for the form, the form brings the person
back to the page they asked for, the navbar names them and logs them out; a viewer sees pages but not the
exports. No console error, no request leaving the origin (guarded_page)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from segmentation import users
from tests.browser.conftest import Server, Watch, guarded_page, shot, start_gunicorn, stop, wait_idle

PASSWORDS = {"eve": "exporter-password", "vic": "viewer-password"}


@pytest.fixture(scope="module")
def login_server(browser_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    path = tmp_path_factory.mktemp("brws018") / "users.json"
    users.add(path, "eve", "exporter", PASSWORDS["eve"])
    users.add(path, "vic", "viewer", PASSWORDS["vic"])
    server = start_gunicorn(browser_db, users=path, secret="brws018-secret-" + "w" * 40)
    yield server
    stop(server)


def log_in(page: Page, name: str, password: str) -> None:
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def test_login_returns_to_the_page_and_logout_ends_it(
    browser: Browser, login_server: Server, watch: Watch
) -> None:
    with guarded_page(browser, login_server, watch) as page:
        page.goto(login_server.url + "/explore?run=1")
        expect(page).to_have_url(login_server.url + "/login?next=%2Fexplore%3Frun%3D1")
        expect(page.get_by_role("button", name="Log in")).to_be_visible()
        # the vendored Bootstrap styles the form (no CDN)
        assert (
            page.evaluate("() => getComputedStyle(document.querySelector('.btn-primary')).display")
            != "inline"
        )
        shot(page, "brws018_login_form")

        log_in(page, "eve", "not-the-password")
        expect(page.get_by_role("alert")).to_have_text("Wrong name or password.")
        expect(page.get_by_label("Name")).to_have_value("eve")

        log_in(page, "eve", PASSWORDS["eve"])
        expect(page).to_have_url(login_server.url + "/explore?run=1")
        wait_idle(page)
        page.wait_for_selector(".js-plotly-plot .main-svg", timeout=45_000)
        expect(page.locator("#account-name")).to_have_text("eve (exporter)")
        shot(page, "brws018_logged_in")

        page.locator("#logout").click()
        expect(page).to_have_url(login_server.url + "/login")
        page.goto(login_server.url + "/")
        expect(page).to_have_url(login_server.url + "/login?next=%2F")
        assert page.request.get(login_server.url + "/_dash-layout").status == 401


def test_viewer_sees_pages_but_cannot_export(browser: Browser, login_server: Server, watch: Watch) -> None:
    with guarded_page(browser, login_server, watch) as page:
        page.goto(login_server.url + "/customers")
        log_in(page, "vic", PASSWORDS["vic"])
        expect(page).to_have_url(login_server.url + "/customers")
        wait_idle(page)
        expect(page.locator("#account-name")).to_have_text("vic (viewer)")
        for ext in ("csv", "xlsx"):  # the page offers no export a viewer would only get a 403 from
            button = page.locator(f"#customers-{ext}")
            expect(button).to_be_disabled()
            expect(button).to_have_attribute("title", re.compile(r"^Your role \(viewer\) may not export"))
        response = page.request.get(login_server.url + "/export/customers.csv")
        assert response.status == 403
        assert response.text().startswith("Your role (viewer) may not export customer lists")


def test_an_open_page_whose_session_ends_goes_to_the_form(
    browser: Browser, login_server: Server, watch: Watch
) -> None:
    """The session ends while the page is open (here: its cookie is gone); the next callback answers 401
    and assets/session_end.js sends the person to the form, which would bring them back."""
    with guarded_page(browser, login_server, watch) as page:
        page.goto(login_server.url + "/explore")
        log_in(page, "eve", PASSWORDS["eve"])
        expect(page).to_have_url(login_server.url + "/explore")
        wait_idle(page)
        page.context.clear_cookies()
        page.locator("#navbar-collapse").get_by_role("link", name="Customers").click()
        expect(page).to_have_url(re.compile(re.escape(login_server.url) + r"/login\?next=%2Fcustomers"))
        expect(page.get_by_role("button", name="Log in")).to_be_visible()
        # The 401s that ended the page were expected. So is the error Dash's renderer logs when more than one
        # callback got a 401 before the page left: its error handler reads such a response's body a second
        # time ("body stream already read"; seen in CI, where requests go out on parallel connections).
        expected = ("401", "body stream already read")
        assert watch.errors and all(any(x in e for x in expected) for e in watch.errors), watch.errors
        assert any("401" in e for e in watch.errors), watch.errors
        watch.errors.clear()
