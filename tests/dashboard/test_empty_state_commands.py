"""The commands the dashboard suggests name the DB file it serves (`--db`, absolute, shell-quoted), so a
copied command makes the run this very app will show: the empty state of every page, the export's 404 and
History's "make a second run" notice."""

from __future__ import annotations

import json
import shlex
import shutil
from pathlib import Path
from typing import Any

import dash
import pytest

from dashboard import components, create_app, queries
from segmentation import pipeline

SAMPLE = "data/online_retail_sample.csv"


def rendered(app: dash.Dash, module: str, **query: Any) -> Any:
    """A page's layout as the JSON tree Dash sends, built inside a request."""
    with app.server.test_request_context("/"):
        layout = dash.page_registry[module]["layout"](**query)
        return json.loads(json.dumps(layout, default=lambda o: o.to_plotly_json()))


def codes(tree: Any) -> list[str]:
    """The text of every html.Code in a layout tree (the suggested commands)."""
    found: list[str] = []
    if isinstance(tree, dict):
        if tree.get("type") == "Code" and isinstance(tree.get("props", {}).get("children"), str):
            found.append(tree["props"]["children"])
        for value in tree.values():
            found += codes(value)
    elif isinstance(tree, list):
        for value in tree:
            found += codes(value)
    return found


@pytest.fixture
def awkward_db(tmp_path: Path) -> Path:
    """A DB path a shell would split or choke on unquoted: a space, a quote and a dollar."""
    folder = tmp_path / "shop data"
    folder.mkdir()
    return folder / "it's $HOME.duckdb"


def test_every_page_over_a_missing_db_suggests_commands_for_that_db(awkward_db: Path) -> None:
    app = create_app(awkward_db)
    quoted = shlex.quote(str(awkward_db))
    for module in dash.page_registry:
        if module.endswith("not_found_404"):
            continue
        commands = codes(rendered(app, module, run="1", country="France"))
        assert commands == [f"segments run {SAMPLE} --db {quoted}", f"segments demo --db {quoted}"], module
        # what a shell makes of them: the exact path as one argument
        assert shlex.split(commands[0]) == ["segments", "run", SAMPLE, "--db", str(awkward_db)]
        assert shlex.split(commands[1]) == ["segments", "demo", "--db", str(awkward_db)]
    queries.close_thread_connections()


def test_a_relative_db_path_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    app = create_app(Path("data") / "segments.duckdb")
    commands = codes(rendered(app, "dashboard.pages.overview"))
    assert (
        commands[0] == f"segments run {SAMPLE} --db {shlex.quote(str(tmp_path / 'data' / 'segments.duckdb'))}"
    )


def test_the_export_404_names_the_db(awkward_db: Path) -> None:
    app = create_app(awkward_db)
    r = app.server.test_client().get("/export/customers.csv?run=1")
    assert r.status_code == 404
    quoted = shlex.quote(str(awkward_db))
    assert r.get_data(as_text=True) == (
        f"No segmentation run yet: make one with `segments run {SAMPLE} --db {quoted}` "
        f"or `segments demo --db {quoted}`.\n"
    )


def test_history_second_run_command_names_the_db(
    small_run: tuple[Path, pipeline.RunSummary], small_csv: Path, tmp_path: Path
) -> None:
    db = tmp_path / "my runs" / "segments.duckdb"
    db.parent.mkdir()
    shutil.copyfile(small_run[0], db)
    app = create_app(db)
    commands = codes(rendered(app, "dashboard.pages.history"))
    assert commands == [
        f"segments run {shlex.quote(str(small_csv))} --k {small_run[1].k + 1} --db {shlex.quote(str(db))}"
    ]
    queries.close_thread_connections()


def test_make_run_commands_outside_the_app() -> None:
    assert components.served_db() is None
    assert components.make_run_commands(None) == (f"segments run {SAMPLE}", "segments demo")
