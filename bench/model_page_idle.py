"""Benchmark: how long the Model page takes to settle in headless Chromium, on the bundled sample.

Starts the app under gunicorn (as the browser tests do) over a fresh run of data/online_retail_sample.csv
(or --db), opens /model in Debian's Chromium `--repeats` times in fresh contexts, and times navigation
start -> idle (network quiet and no Dash output loading), plus the size of the page's initial layout
response and whether it holds a 3-D scatter. Prints each time and the median.

usage: python bench/model_page_idle.py [--db /path/to/segments.duckdb] [--repeats 7]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.browser.conftest import CHROMIUM, start_gunicorn, stop, wait_idle  # noqa: E402

DRAWN = "#model-pca2d .main-svg"  # the page's first chart, drawn


def sample_db(folder: Path) -> Path:
    """A run of the bundled sample, the data the demo and the browser tests show."""
    from segmentation import pipeline
    from segmentation.config import RunConfig

    db = folder / "segments.duckdb"
    pipeline.run(RunConfig(inputs=(ROOT / "data" / "online_retail_sample.csv",), db_path=db, progress=False))
    return db


def main() -> None:
    """Time /model to idle `repeats` times (after one warm-up load) and print the numbers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, help="DB file (default: a fresh run of the bundled sample)")
    parser.add_argument("--repeats", type=int, default=7)
    a = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = a.db or sample_db(Path(tmp))
        server = start_gunicorn(db)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
                )
                times = []
                layout_bytes = 0
                has_3d = False
                for i in range(a.repeats + 1):
                    context = browser.new_context(viewport={"width": 1400, "height": 1000})
                    page = context.new_page()
                    sizes: list[int] = []

                    def on_response(response, sizes=sizes) -> None:  # noqa: ANN001 - Playwright's signature
                        if "_dash-update-component" in response.url or response.url.endswith("/model"):
                            try:
                                body = response.body()
                            except Exception:  # noqa: BLE001 - a response without a body
                                return
                            sizes.append(len(body))

                    page.on("response", on_response)
                    start = time.perf_counter()
                    page.goto(server.url + "/model")
                    page.wait_for_selector(DRAWN)
                    wait_idle(page)
                    elapsed = time.perf_counter() - start
                    if i == 0:
                        print(f"warm-up load: {elapsed:.2f} s")
                    else:
                        times.append(elapsed)
                        print(f"load {i}: {elapsed:.2f} s")
                    layout_bytes = max(sizes, default=0)
                    has_3d = page.evaluate(
                        "() => { const g = document.querySelector('#model-pca3d .js-plotly-plot');"
                        " return !!(g && g.data && g.data.some(t => t.type === 'scatter3d')); }"
                    )
                    context.close()
                browser.close()
        finally:
            stop(server)
    print(f"median to idle: {statistics.median(times):.2f} s (min {min(times):.2f}, max {max(times):.2f})")
    print(f"largest page/callback response: {layout_bytes:,} bytes; 3-D scatter drawn at load: {has_3d}")


if __name__ == "__main__":
    main()
