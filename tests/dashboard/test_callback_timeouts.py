"""Every server callback answers a query timeout, or a DB file gone mid-session, with the page's own
message or "no change", never an HTTP 500 (issue 11, item 7).

The callbacks are not listed by hand: they come from /_dash-dependencies, so a callback added later is
tested too, and the test fails until it is classified below (it shows a sentence, or it only moves controls).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dash
import pytest
from flask.testing import FlaskClient

from dashboard import callback_errors, create_app, queries
from tests.dashboard.conftest import PLAUSIBLE_VALUES, build_db, callback_body, server_callbacks

TIMEOUT_TEXT = "The query ran longer than 20 s and was stopped."

# Callbacks (by the first output) whose outputs can carry a sentence: they must show it.
SAYS_WHY = {
    "run-select.options",
    "model-histogram.figure",
    "model-pca3d-box.children",
    '{"index":["ALL"],"type":"simulator-slider"}.value',  # the Simulator: its result panel says why
    "history-sankey.figure",
    "compare-segments.value",
    "overview-map.figure",
    "explore-kpis.children",
    "customers-grid.getRowsResponse",
    "customers-why.is_open",
    "_pages_content.children",
}
# Callbacks whose outputs are controls, a link or the address: they answer "no change" (or, for the grid's
# columns, still apply the choice).
QUIET = {
    "run-switch-target.data",
    "compare-filter-country.value",
    "compare-filter-tenure.value",
    "url.href",
    "explore-country.value",
    "explore-tenure.value",
    "customers-grid.columnDefs",
    "customers-alive.value",
    "customers-country.value",
}
# With the file gone the run selector is simply empty: the page's empty state (the router) says why.
EMPTY_WITHOUT_FILE = {"run-select.options"}


def first_output(dep: dict[str, Any]) -> str:
    """A callback's name here: its first output, without the '@hash' of allow_duplicate or pattern ids."""
    first = dep["output"].lstrip(".").split("...")[0].rstrip(".")
    if first.startswith("{"):
        cut = first.rindex("}") + 1
        first = first[:cut] + first[cut:].split("@")[0]
    return first.split("@")[0]


def plausible(_id: str, prop: str) -> Any:
    return PLAUSIBLE_VALUES.get(prop)


def problems(
    client: FlaskClient, sentence: str, exempt: frozenset[str] | set[str] = frozenset()
) -> list[str]:
    """Every callback that answers 5xx, or that should say `sentence` and does not."""
    found = []
    for dep in server_callbacks(client):
        name = first_output(dep)
        response = client.post("/_dash-update-component", json=callback_body(dep, plausible))
        text = response.get_data(as_text=True)
        if response.status_code >= 500:
            found.append(f"{name}: HTTP {response.status_code}")
        elif name in SAYS_WHY and name not in exempt and sentence not in text:
            found.append(f"{name}: HTTP {response.status_code} without {sentence!r}: {text[:120]}")
    return found


@pytest.fixture
def timing_out(app: dash.Dash, monkeypatch: pytest.MonkeyPatch) -> Iterator[FlaskClient]:
    """A client of the app whose every query times out (the seam all queries go through)."""

    def too_slow(*_args: Any, **_kwargs: Any) -> Any:
        raise queries.QueryTimeout(TIMEOUT_TEXT)

    client = app.server.test_client()
    server_callbacks(client)  # register the pages' callbacks (the shell's layout queries) before the patch
    monkeypatch.setattr(queries, "_execute", too_slow)
    yield client


def test_every_callback_is_classified(client: FlaskClient) -> None:
    names = {first_output(d) for d in server_callbacks(client)}
    assert names == SAYS_WHY | QUIET, f"classify these callbacks: {sorted(names ^ (SAYS_WHY | QUIET))}"


def test_a_timeout_in_any_callback_shows_the_message(timing_out: FlaskClient) -> None:
    assert problems(timing_out, f"{TIMEOUT_TEXT} {callback_errors.RETRY}") == []


def test_the_shell_still_renders_when_the_runs_query_times_out(timing_out: FlaskClient) -> None:
    assert timing_out.get("/").status_code == 200
    layout = timing_out.get("/_dash-layout")
    assert layout.status_code == 200 and "run-select" in layout.get_data(as_text=True)


def test_a_file_gone_mid_session_shows_no_run_yet(tmp_path: Path) -> None:
    db = build_db(tmp_path / "segments.duckdb")
    app = create_app(db)
    client = app.server.test_client()
    server_callbacks(client)
    shutil.move(db, tmp_path / "elsewhere.duckdb")
    try:
        no_run = callback_errors.NO_RUN.rstrip(".")  # the router's empty state has it as a heading
        assert problems(client, no_run, exempt=EMPTY_WITHOUT_FILE) == []
    finally:
        queries.close_thread_connections()


def test_quiet_callbacks_change_nothing_on_a_timeout(timing_out: FlaskClient) -> None:
    for dep in server_callbacks(timing_out):
        name = first_output(dep)
        if name not in QUIET or name == "customers-grid.columnDefs":
            continue
        response = timing_out.post("/_dash-update-component", json=callback_body(dep, plausible))
        assert response.status_code == 204 or response.get_json()["response"] == {}, name


def test_the_decorator_passes_other_answers_through() -> None:
    @callback_errors.answers(lambda message: ("failed", message))
    def fine(x: int) -> tuple[str, int]:
        return "ok", x

    def gone() -> None:
        raise queries.NoData("missing", Path("x.duckdb"))

    assert fine(3) == ("ok", 3) and fine.__name__ == "fine"
    assert callback_errors.answers(lambda message: ("failed", message))(gone)() == (
        "failed",
        "No segmentation run yet.",
    )
    with pytest.raises(dash.exceptions.PreventUpdate):
        callback_errors.answers()(gone)()


def test_a_real_interrupted_query_reaches_the_page_as_the_message(
    app: dash.Dash, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not a stub: every query first runs a scan that takes seconds, the watchdog interrupts it after
    50 ms, and the Overview map (a 500 before) and the run selector show the sentence."""
    client = app.server.test_client()
    deps = {first_output(d): d for d in server_callbacks(client)}
    real_execute = queries._execute

    def slow_first(sql: str, params: Any) -> Any:
        queries.connection().execute(
            "SELECT count(*) FROM range(10000000000) t(i) WHERE i % 7 = 3"
        ).fetchall()
        return real_execute(sql, params)

    monkeypatch.setattr(queries, "QUERY_TIMEOUT_S", 0.05)
    monkeypatch.setattr(queries, "_execute", slow_first)
    for name in ("overview-map.figure", "run-select.options"):
        response = client.post("/_dash-update-component", json=callback_body(deps[name], plausible))
        assert response.status_code == 200, name
        assert "longer than 0.05 s and was stopped" in response.get_data(as_text=True), name
    monkeypatch.undo()  # real queries and the 20 s limit: the interrupted connection still answers
    response = client.post(
        "/_dash-update-component", json=callback_body(deps["overview-map.figure"], plausible)
    )
    assert response.status_code == 200 and "was stopped" not in response.get_data(as_text=True)
