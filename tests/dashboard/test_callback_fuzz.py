"""Seeded fuzzing of Dash's callback route: hostile bodies and values never give a 5xx (issue 11, item 7).

Every callback in /_dash-dependencies (the page router, the shell's, every page's, clientside ones too) gets
malformed bodies, which must be answered 400/413/415/422 by dashboard/callback_guard.py before Dash reads
them, and well-formed bodies with odd values (wrong types, huge strings, lone surrogates, NaN, SQL), which
the callbacks must answer normally (200/204), except a page address that is not a path (422).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from typing import Any

import dash
import pytest
from flask.testing import FlaskClient

from dashboard import MAX_CONTENT_LENGTH, callback_guard
from tests.dashboard.conftest import PLAUSIBLE_VALUES, callback_body, server_callbacks

SEED = 20261201
MALFORMED = {400, 413, 415, 422}
PLAUSIBLE: dict[str, Any] = {**PLAUSIBLE_VALUES, "pathname": "/explore"}
ODD_VALUES: list[Any] = [
    None,
    0,
    -1,
    10**30,
    1.5,
    float("nan"),
    float("inf"),
    True,
    "",
    "x" * 100_000,
    "\udc80\ud800",  # lone surrogates: valid JSON escapes, not encodable as UTF-8
    "'; DROP TABLE customers; --",
    "<script>alert(1)</script>",
    "../../etc/passwd",
    "/nope",
    "/explore/../../etc/passwd",
    "//evil.example/x",
    "/%00%ff?x=\u0000",
    "/" + "é" * 1_000,
    "/explore?run=1&country=' OR 1=1",
    [],
    [None, 1, "a", [2]],
    list(range(5_000)),
    {},
    {"points": [{"customdata": None}]},
    {"points": "x", "startRow": -5, "endRow": 10**12, "rowId": ["a"]},
    {"startRow": "0", "endRow": "x", "sortModel": [{"colId": "'; --", "sort": "up"}]},
    {"rowId": {"a": 1}},
    [[[[[[]]]]]],
    [float("nan"), 1],  # range sliders, slider positions
    [1e308, -1e308],
    ["1", "2"],
    [{"a": 1}, {"b": 2}],
    "1e5",
    -0.0,
]


@pytest.fixture
def fuzz_client(app: dash.Dash) -> Iterator[tuple[FlaskClient, list[dict[str, Any]]]]:
    """A client of the app over the fixture DB and every dependency it lists (server and clientside)."""
    client = app.server.test_client()
    server_callbacks(client)
    yield client, client.get("/_dash-dependencies").get_json()


def plausible(_id: str, prop: str) -> Any:
    return PLAUSIBLE.get(prop)


def _post_json(client: FlaskClient, body: Any) -> int:
    return client.post("/_dash-update-component", json=body).status_code


def _post_raw(client: FlaskClient, data: bytes, content_type: str | None) -> int:
    headers = {"Content-Type": content_type} if content_type else {}
    return client.post("/_dash-update-component", data=data, headers=headers).status_code


def malformed_bodies(dep: dict[str, Any], rng: random.Random) -> Iterator[tuple[str, Any]]:
    """(label, body) pairs whose shape no renderer sends, derived from one dependency's good body."""
    good = callback_body(dep, plausible)
    junk: list[Any] = [None, 1, "x", True, {}, {"id": 1}, [1], [{"id": None, "property": None}], "a" * 5000]
    for key in ("output", "outputs", "inputs", "state"):
        if key != "state" or dep["state"]:
            yield f"no {key}", {k: v for k, v in good.items() if k != key}
    for key in ("output", "outputs", "inputs", "state", "changedPropIds"):
        for value in rng.sample(junk, 4):
            if key == "state" and value == [] and not dep["state"]:
                continue
            yield f"{key}={value!r:.30}", {**good, key: value}
    yield "unknown output", {**good, "output": "nope.children"}
    yield "output of another shape", {**good, "output": ".." + dep["output"] + "...x.y.."}
    yield "one input missing", {**good, "inputs": good["inputs"][:-1]}
    yield "one input too many", {**good, "inputs": [*good["inputs"], good["inputs"][0]]}
    plain = next((n for n, d in enumerate(dep["inputs"]) if not d["id"].startswith("{")), None)
    if plain is not None:
        for label, change in (
            ("input id renamed", {"id": "evil"}),
            ("input property renamed", {"property": "constructor"}),
            ("input id a list", {"id": ["a"]}),
        ):
            inputs = list(good["inputs"])
            inputs[plain] = {**inputs[plain], **change}
            yield label, {**good, "inputs": inputs}
        inputs = list(good["inputs"])
        inputs[plain] = "url.pathname"
        yield "input as a string", {**good, "inputs": inputs}
    yield "changedPropIds bad JSON id", {**good, "changedPropIds": ['{"index":.n_clicks']}
    yield "changedPropIds without a dot", {**good, "changedPropIds": ["nodot"]}
    yield "changedPropIds of ints", {**good, "changedPropIds": [1, 2]}
    yield "changedPropIds nested", {**good, "changedPropIds": [["a.b"]]}
    yield (
        "value nested 200 deep",
        {**good, "state": [*good["state"], _nest(200)]}
        if good["state"]
        else {
            **good,
            "inputs": [{**_first(good["inputs"][0]), "value": _nest(200)}, *good["inputs"][1:]],
        },
    )
    pattern = next((i for i, d in enumerate(dep["inputs"]) if d["id"].startswith("{")), None)
    if pattern is not None:
        entry = _first(good["inputs"][pattern])
        inputs = list(good["inputs"])
        inputs[pattern] = [entry] * (callback_guard.MAX_MATCHES + 1)
        yield "pattern list over the cap", {**good, "inputs": inputs}
        inputs = list(good["inputs"])
        inputs[pattern] = [{**entry, "property": "constructor"}]
        yield "pattern entry of another property", {**good, "inputs": inputs}
        inputs = list(good["inputs"])
        inputs[pattern] = ["x", 1]
        yield "pattern entries not objects", {**good, "inputs": inputs}
    if dep["output"].startswith("..{"):  # a pattern-matching (ALL) first output: the Simulator's sliders
        outputs = list(good["outputs"])
        outputs[0] = [{**outputs[0][0], "id": {"type": "other", "index": 0}}]
        yield "pattern output of another type", {**good, "outputs": outputs}
        outputs = list(good["outputs"])
        outputs[0] = [{**outputs[0][0], "id": None}]
        yield "pattern output without an id", {**good, "outputs": outputs}
        outputs = list(good["outputs"])
        outputs[0] = outputs[0][0]
        yield "pattern output not a list", {**good, "outputs": outputs}


def forged_pattern_inputs(dep: dict[str, Any], good: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """Pattern-matching inputs with ids no page has (the callbacks ignore them: answered normally)."""
    pattern = next((i for i, d in enumerate(dep["inputs"]) if d["id"].startswith("{")), None)
    if pattern is None:
        return
    entry = _first(good["inputs"][pattern])
    for forged in ({"type": "other", "index": 0}, None, "evil", {"index": True, "type": "x"}, [1]):
        inputs = list(good["inputs"])
        inputs[pattern] = [{**entry, "id": forged}]
        yield f"forged pattern id {forged!r}", {**good, "inputs": inputs}
    inputs = list(good["inputs"])
    inputs[pattern] = entry
    yield "pattern input as one entry", {**good, "inputs": inputs}


def _first(entry: Any) -> dict[str, Any]:
    return entry[0] if isinstance(entry, list) else entry


def _nest(depth: int) -> Any:
    value: Any = 0
    for _ in range(depth):
        value = [value]
    return value


def odd_value_bodies(dep: dict[str, Any], rng: random.Random, count: int) -> Iterator[tuple[str, Any]]:
    """(label, body) pairs: the good body with one or all values replaced by odd ones."""
    keys = [f"{d['id']}.{d['property']}" for d in dep["inputs"] + dep["state"]]
    for n in range(count):
        replace_all = n % 5 == 4
        target = rng.choice(keys)
        choices: dict[str, Any] = {k: rng.choice(ODD_VALUES) for k in keys}

        picked = set(keys) if replace_all else {target}

        def values(raw: str, prop: str, choices: dict[str, Any] = choices, picked: set[str] = picked) -> Any:
            key = f"{raw}.{prop}"
            return choices[key] if key in picked else PLAUSIBLE.get(prop)

        changed = rng.randrange(len(dep["inputs"]))
        label = "all" if replace_all else f"{target}={choices[target]!r:.40}"
        yield label, callback_body(dep, values, changed)


def test_malformed_bodies_get_4xx(fuzz_client: tuple[FlaskClient, list[dict[str, Any]]]) -> None:
    client, deps = fuzz_client
    rng = random.Random(SEED)
    bad: list[str] = []
    sent = 0
    for dep in deps:
        for label, body in malformed_bodies(dep, rng):
            status = _post_json(client, body)
            sent += 1
            if status not in MALFORMED:
                bad.append(f"{dep['output'][:60]} / {label}: HTTP {status}")
    raw_cases: list[tuple[str, bytes, str | None]] = [
        ("bad JSON", b'{"output": ', "application/json"),
        ("JSON list", b"[1, 2]", "application/json"),
        ("JSON null", b"null", "application/json"),
        ("JSON string", b'"x"', "application/json"),
        ("nested 100,000 deep", b"[" * 100_000 + b"]" * 100_000, "application/json"),
        ("not UTF-8", b'{"output": "\xff\xfe"}', "application/json"),
        ("text/plain", json.dumps(callback_body(deps[0], plausible)).encode(), "text/plain"),
        ("form", b"output=x", "application/x-www-form-urlencoded"),
        ("no content type", b'{"output": "x"}', None),
        ("over 1 MB", b'{"output": "' + b"x" * 1_100_000 + b'"}', "application/json"),
    ]
    for label, data, content_type in raw_cases:
        status = _post_raw(client, data, content_type)
        sent += 1
        if status not in MALFORMED:
            bad.append(f"{label}: HTTP {status}")
    assert sent > 1000
    assert bad == [], f"{len(bad)} of {sent} malformed requests not answered 4xx:\n" + "\n".join(bad)


def test_odd_values_get_normal_answers(fuzz_client: tuple[FlaskClient, list[dict[str, Any]]]) -> None:
    client, deps = fuzz_client
    rng = random.Random(SEED + 1)
    bad: list[str] = []
    sent = 0
    for dep in deps:
        if dep.get("clientside_function"):
            continue
        good = callback_body(dep, plausible)
        harmless = [
            ("extra keys", {**good, "evil": {"__proto__": 1}, "outputs_extra": []}),
            ("changed id of another input", {**good, "changedPropIds": ["[1,2].n_clicks", "x.y"]}),
            ("no changedPropIds", {k: v for k, v in good.items() if k != "changedPropIds"}),
            *forged_pattern_inputs(dep, good),
        ]
        for label, body in [*harmless, *odd_value_bodies(dep, rng, 20)]:
            response = client.post("/_dash-update-component", json=body)
            sent += 1
            router_ok = _router_ok(body)
            expected = {200, 204} if router_ok in (None, True) else {422}
            if len(json.dumps(body)) > MAX_CONTENT_LENGTH:
                expected = {413}
            if response.status_code not in expected:
                bad.append(f"{dep['output'][:60]} / {label[:40]}: HTTP {response.status_code}")
    assert sent > 400
    assert bad == [], f"{len(bad)} of {sent} odd values not answered normally:\n" + "\n".join(bad)


def _router_ok(body: dict[str, Any]) -> bool | None:
    """None when the body is not the page router's; else whether its pathname is a path and its search a
    string or absent, within the guard's lengths."""
    values = {
        item["property"]: item.get("value")
        for item in body["inputs"]
        if isinstance(item, dict) and item["id"] == callback_guard.ROUTER_ID
    }
    if not values:
        return None
    path, search = values.get("pathname"), values.get("search")
    path_ok = isinstance(path, str) and path.startswith("/") and len(path) <= callback_guard.MAX_PATHNAME
    search_ok = search is None or (isinstance(search, str) and len(search) <= callback_guard.MAX_SEARCH)
    return path_ok and search_ok


def test_a_real_renderer_body_still_works(fuzz_client: tuple[FlaskClient, list[dict[str, Any]]]) -> None:
    """The guard passes what the renderer sends: the router, a multi-output page callback, a pattern one."""
    client, deps = fuzz_client
    by_output: Callable[[str], dict[str, Any]] = lambda prefix: next(  # noqa: E731
        d for d in deps if d["output"].lstrip(".").startswith(prefix)
    )
    router = client.post(
        "/_dash-update-component", json=callback_body(by_output("_pages_content"), plausible)
    )
    assert router.status_code == 200 and "explore-filters" in router.get_data(as_text=True)
    missing = {"pathname": "/nope", "search": ""}
    body = callback_body(by_output("_pages_content"), lambda _i, prop: missing.get(prop))
    not_found = client.post("/_dash-update-component", json=body)
    assert not_found.status_code == 200 and "not-found" in not_found.get_data(as_text=True)
    explore = client.post("/_dash-update-component", json=callback_body(by_output("explore-kpis"), plausible))
    assert explore.status_code == 200 and "explore-kpis" in explore.get_json()["response"]
    band = by_output("explore-tenure.value@")
    assert client.post("/_dash-update-component", json=callback_body(band, plausible)).status_code == 200
