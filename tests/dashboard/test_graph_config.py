"""Every chart the dashboard can show uses the one safe mode-bar config (nothing sent to a remote service)."""

from __future__ import annotations

import ast
from pathlib import Path

from dashboard import components

DASHBOARD = Path(__file__).resolve().parents[2] / "dashboard"


def test_the_config_turns_off_every_remote_button(app) -> None:  # map_config needs the app's path prefix
    for config in (components.graph_config(), components.map_config()):
        assert config["showSendToCloud"] is False and config["showEditInChartStudio"] is False
        assert config["showLink"] is False and config["displaylogo"] is False
        assert config["plotlyServerURL"] == ""
        assert {"sendDataToCloud", "editInChartStudio"} <= set(config["modeBarButtonsToRemove"])


def test_every_graph_uses_the_safe_config() -> None:
    """Each dcc.Graph(...) call in dashboard/ passes config=components.graph_config() or map_config()."""
    calls = 0
    for path in DASHBOARD.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and ast.unparse(node.func) in ("dcc.Graph", "Graph")):
                continue
            calls += 1
            config = {k.arg: ast.unparse(k.value) for k in node.keywords}.get("config")
            assert config in (
                "components.graph_config()",
                "components.map_config()",
                "graph_config()",
                "map_config()",
            ), f"{path.name}:{node.lineno} dcc.Graph without the safe config ({config})"
    assert calls >= 10
