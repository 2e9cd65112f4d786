"""bench/dashboard_latency.py on a small two-run DB: its table has a row for every page of the app, every
callback a page's own controls fire, and both exports, so the benchmark cannot silently stop covering one.

The pages and callbacks expected come from the app itself (dash.page_registry and /_dash-dependencies), not
from the benchmark's output. Two runs, so History has its run pickers.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import dash

from dashboard import create_app
from segmentation import pipeline
from segmentation.config import RunConfig


def expected(db: Path) -> tuple[list[str], list[str]]:
    """The app's page paths (but the 404 page) and 'path: callback' for every server callback with a
    `value` input of a page's own component (id, or pattern id type, starting with the page's module name)."""
    app = create_app(db)
    client = app.server.test_client()
    client.get("/")
    deps = client.get("/_dash-dependencies").get_json()
    pages = {
        p["path"]: p["module"].rsplit(".", 1)[-1]
        for p in dash.page_registry.values()
        if not p["module"].endswith("not_found_404")
    }
    callbacks = []
    for dep in deps:
        if dep.get("clientside_function"):
            continue
        name = dep["output"].strip(".").split("...")[0].split("@")[0]
        for i in dep["inputs"]:
            cid = json.loads(i["id"]) if i["id"].startswith("{") else i["id"]
            text = cid if isinstance(cid, str) else cid.get("type", "")
            for path, prefix in pages.items():
                if i["property"] == "value" and text.startswith(prefix + "-"):
                    callbacks.append(f"{path}: {name}")
    # a Customers filter change purges the grid in the browser (clientside), which asks for its first block
    callbacks.append("/customers: customers-grid.getRowsResponse")
    return sorted(pages), sorted(set(callbacks))


def test_dashboard_latency_covers_every_page_filter_callback_and_export(
    small_run: tuple[Path, pipeline.RunSummary], small_csv: Path, tmp_path: Path, run_bench: Callable
) -> None:
    db = tmp_path / "segments.duckdb"
    shutil.copyfile(small_run[0], db)
    pipeline.run(RunConfig(inputs=(small_csv,), db_path=db, progress=False, k=3, n_init=1))
    result = run_bench("dashboard_latency.py", "--db", str(db), "--repeats", "3", timeout=180)
    out = result.stdout
    assert result.returncode == 0, out[-4000:] + result.stderr[-4000:]
    lines = out.splitlines()
    header = next(line for line in lines if line.startswith("scenario "))
    for column in ("median ms", "p95 ms", "max ms", "max bytes", "RSS +MB", "target", "result"):
        assert column in header, column
    assert "result cache OFF" in out
    pages, callbacks = expected(db)
    assert len(pages) == 7 and len(callbacks) >= 9, (pages, callbacks)
    for path in pages:
        row = next(
            (line for line in lines if line.startswith(f"{path}: initial callbacks of a load, total")), ""
        )
        assert re.search(r"total +3 ", row) and ("PASS" in row or "FAIL" in row), (
            f"no load row for {path}:\n{out}"
        )
    for name in callbacks:
        row = next((line for line in lines if line.startswith(name + " (")), "")
        assert "p95 <= 60 ms" in row, f"no row for filter callback {name}:\n{out}"
    for export in ("export CSV, ~100k rows (", "export CSV, all customers ("):
        row = next((line for line in lines if line.startswith(export)), "")
        assert row and "rows:" in row, f"no export row {export}:\n{out}"
    assert "max < 3 s; RSS +< 200 MB" in out
