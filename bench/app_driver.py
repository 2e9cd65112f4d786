"""The real app driven in-process the way a browser drives it, every request timed (Flask's test client).

`Browser.load(path, search)` is a page load: the page's HTML, /_dash-layout, /_dash-dependencies, then the
callbacks that fire by themselves, wave after wave (bench/dash_protocol.py decides which, as locust's users
do). `Browser.change(page, prop_id)` sends what a control change fires and what the answers fire in turn.
Each request becomes a `Call`: what it was, wall milliseconds from the request to its last byte (the
request body is encoded before the clock starts), response bytes, HTTP status. A status other than 200/204,
or a callback answer that is not one, is also noted in `Browser.errors` (the app logs the traceback).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from dash_protocol import Fired, Page, open_page, run_waves

CALLBACK_URL = "/_dash-update-component"


@dataclass(frozen=True)
class Call:
    """One timed request: callback name (or URL), milliseconds to the last byte, bytes, HTTP status."""

    name: str
    ms: float
    size: int
    status: int

    @property
    def ok(self) -> bool:
        """HTTP 200, or 204 (a callback that changed nothing)."""
        return self.status in (200, 204)


class Browser:
    """One tab over a Flask test client; collects error descriptions in `errors`."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.errors: list[str] = []

    def _timed(self, name: str, send: Any) -> tuple[Call, bytes]:
        t = time.perf_counter()
        response = send()
        data = response.get_data()
        call = Call(name, (time.perf_counter() - t) * 1000, len(data), response.status_code)
        if not call.ok:
            self.errors.append(f"{name}: HTTP {call.status}")
        return call, data

    def get(self, url: str) -> tuple[Call, bytes]:
        """GET url (drained); the call and the body."""
        return self._timed(url.split("?")[0], lambda: self.client.get(url))

    def callback(self, page: Page, dep: Any, changed: list[str]) -> tuple[Call, dict[str, Any] | None]:
        """POST one callback as the renderer does; the call and the answer's response dict (None: none)."""
        body = json.dumps(page.body(dep, sorted(set(changed))))
        call, data = self._timed(
            dep.name, lambda: self.client.post(CALLBACK_URL, data=body, content_type="application/json")
        )
        if call.status != 200:
            return call, None
        try:
            return call, json.loads(data)["response"]
        except (ValueError, KeyError):
            self.errors.append(f"{dep.name}: not a callback answer")
            return call, None

    def run(self, page: Page, fired: Fired) -> list[Call]:
        """Send fired and every wave it leads to, one request after another; the calls in order."""
        calls: list[Call] = []

        def send_wave(wave: Fired) -> list[dict[str, Any] | None]:
            answers = []
            for dep, changed in wave.items():
                call, answer = self.callback(page, dep, changed)
                calls.append(call)
                answers.append(answer)
            return answers

        run_waves(page, fired, send_wave)
        return calls

    def load(self, path: str, search: str = "") -> tuple[Page, list[Call], list[Call]]:
        """A page load: the Page as the tab then holds it, the three static requests, and the callbacks."""
        html, _ = self.get(path + search)
        layout, layout_data = self.get("/_dash-layout")
        deps, deps_data = self.get("/_dash-dependencies")
        page, fired = open_page(json.loads(deps_data), json.loads(layout_data), path, search)
        return page, [html, layout, deps], self.run(page, fired)

    def change(self, page: Page, prop_id: str, value: Any) -> list[Call]:
        """Set 'id.prop' to value as the component would, then send what that fires; the calls."""
        key, prop = prop_id.rsplit(".", 1)
        page.comps[key][2][prop] = value
        return self.run(page, page.changed(prop_id))
