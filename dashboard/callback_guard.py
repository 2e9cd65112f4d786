"""Checks every body POSTed to Dash's callback route before Dash reads it (issue 11, item 7).

Dash trusts the body's shape: a list where it expects an object, a missing key, an `inputs` entry that is a
string, a pattern id that is not JSON or a pathname that is a number all end in a KeyError/TypeError deep in
Dash, an HTTP 500 (80 of 3,248 fuzzed calls). The browser is an untrusted API client (RELIABILITY.md §2), so
a before_request hook answers such bodies with 4xx and one sentence: 415 not JSON, 400 not the renderer's
shape (or nested deeper than any real value), 422 not the registered callback's ids and properties (or a
page-router value of the wrong type). Pattern-matching inputs and state are checked for shape only, and
values are the callbacks' business: they validate them (filters.py), and never trust a pattern id.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import dash
import flask
from werkzeug.exceptions import HTTPException

MAX_MATCHES = 200  # components one pattern-matching (ALL) dependency may name; the app has at most ~20
MAX_DEPTH = 32  # nesting of any value (clickData, getRowsRequest and figures stay under 10)
MAX_ID_CHARS = 2_000  # one id or changed-prop string
MAX_PATHNAME = 2_048
MAX_SEARCH = 20_000
ROUTER_ID = "_pages_location"
WILDCARDS = ("ALL", "MATCH", "ALLSMALLER")
_KIND_KEYS = ("inputs", "state")


class Rejected(Exception):
    """A callback body the server will not hand to Dash: status and one sentence."""

    def __init__(self, status: int, sentence: str) -> None:
        super().__init__(sentence)
        self.status = status


def register(app: dash.Dash) -> None:
    """Check bodies POSTed to this app's `_dash-update-component` (after Dash's own set-up hook)."""
    route = app.config.routes_pathname_prefix + "_dash-update-component"

    def guard() -> flask.Response | None:
        if flask.request.path != route or flask.request.method != "POST":
            return None
        try:
            check(app, read_body())
        except Rejected as exc:
            return flask.Response(str(exc) + "\n", status=exc.status, mimetype="text/plain")
        return None

    app.server.before_request(guard)


def read_body() -> Any:
    """The request's JSON (cached by Flask for Dash); Rejected if it is not JSON or cannot be parsed."""
    request = flask.request
    if not request.is_json:
        raise Rejected(415, "A callback request must have Content-Type: application/json.")
    try:
        return request.get_json()
    except HTTPException as exc:  # 400 bad JSON, 413 too large
        raise Rejected(exc.code or 400, "The callback request body is not valid JSON.") from None
    except RecursionError:
        raise Rejected(400, "The callback request body is nested too deeply.") from None


def check(app: dash.Dash, body: Any) -> None:
    """Raise Rejected unless body is the renderer's request for one of app's callbacks, shaped as
    registered: `output` a known callback, `outputs`/`inputs`/`state` the registered ids and properties,
    `changedPropIds` strings naming an id, values nested at most MAX_DEPTH deep."""
    if not isinstance(body, dict):
        raise Rejected(400, "The callback request body must be a JSON object.")
    output = body.get("output")
    if not isinstance(output, str) or len(output) > 20 * MAX_ID_CHARS:
        raise Rejected(400, "The callback request needs 'output' as a string.")
    callback = app.callback_map.get(output)
    if callback is None or "callback" not in callback:  # clientside callbacks have no server function
        raise Rejected(422, "The callback request's 'output' names no server callback of this app.")
    _depth_ok(body)
    for kind in _KIND_KEYS:
        sent = body.get(kind, [])
        expected = callback.get(kind) or []
        if not isinstance(sent, list) or len(sent) != len(expected):
            raise Rejected(422, f"The callback request's '{kind}' must list {len(expected)} entries.")
        for dep, item in zip(expected, sent, strict=True):
            _entry_ok(kind, dep["id"], dep["property"], item, with_value=True)
    if not callback.get("no_output"):
        _outputs_ok(output, body.get("outputs"))
    _changed_ok(body.get("changedPropIds", []))
    _router_values_ok(body)


def _depth_ok(body: Any) -> None:
    """Rejected if any value nests deeper than MAX_DEPTH (iteratively: no recursion on hostile input)."""
    stack = [(body, 0)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise Rejected(400, f"The callback request nests values more than {MAX_DEPTH} levels deep.")
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)


def _pattern(raw_id: str) -> dict[str, Any] | None:
    """The registered pattern id as a dict (None for a plain string id)."""
    if not raw_id.startswith("{"):
        return None
    parsed = json.loads(raw_id)
    return parsed if isinstance(parsed, dict) else None


def _is_wildcard(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 1 and value[0] in WILDCARDS


def _entry_ok(kind: str, raw_id: str, prop: str, item: Any, with_value: bool) -> None:
    """One sent entry against its registered dependency (a dict, or a list of dicts for ALL patterns).

    Pattern-matching inputs and state only need the shape (the callbacks ignore ids they do not know, and
    Dash copes with any id there); outputs must name the pattern's components, since Dash keys its answer
    by them."""
    pattern = _pattern(raw_id)
    wild = pattern is not None and any(_is_wildcard(v) for v in pattern.values())
    if not wild:
        _one_ok(kind, raw_id, pattern, prop, item, with_value)
        return
    items = item if isinstance(item, list) else [item]
    if len(items) > MAX_MATCHES:
        raise Rejected(422, f"The callback request names more than {MAX_MATCHES} components in '{kind}'.")
    if kind == "outputs" and not isinstance(item, list) and not _only_match(pattern):
        raise Rejected(422, f"The callback request's 'outputs' entry for {raw_id} must be a list.")
    for one in items:
        if kind == "outputs":
            _one_ok(kind, raw_id, pattern, prop, one, with_value)
        elif not isinstance(one, dict) or "id" not in one or not _same_prop(one.get("property"), prop):
            raise Rejected(
                422, f"The callback request's '{kind}' entries must match the callback's ({raw_id})."
            )


def _only_match(pattern: dict[str, Any] | None) -> bool:
    """True when every wildcard of the pattern is MATCH (the renderer then sends one component)."""
    return pattern is not None and all(v[0] == "MATCH" for v in pattern.values() if _is_wildcard(v))


def _same_prop(sent: Any, prop: str) -> bool:
    """The sent property names the registered one ('value@hash' of allow_duplicate is 'value')."""
    return isinstance(sent, str) and sent.split("@")[0] == prop.split("@")[0]


def _one_ok(
    kind: str, raw_id: str, pattern: dict[str, Any] | None, prop: str, item: Any, with_value: bool
) -> None:
    """One {id, property[, value]} object against the registered id (wildcards match any scalar)."""
    if not isinstance(item, dict) or not _same_prop(item.get("property"), prop):
        raise Rejected(422, f"The callback request's '{kind}' entries must match the callback's ({raw_id}).")
    sent = item.get("id")
    if pattern is None:
        ok = sent == raw_id
    else:
        ok = (
            isinstance(sent, dict)
            and sent.keys() == pattern.keys()
            and all(
                (isinstance(sent[k], (str, int, float)) and not isinstance(sent[k], bool))
                if _is_wildcard(v)
                else sent[k] == v
                for k, v in pattern.items()
            )
        )
    if not ok:
        raise Rejected(422, f"The callback request's '{kind}' entries must match the callback's ({raw_id}).")
    if not with_value and "value" in item:
        raise Rejected(422, f"The callback request's '{kind}' entries carry no values.")


def _split_output(output: str) -> list[tuple[str, str]]:
    """(id, property) of each output named by a callback key ('a.b' or '..a.b...c.d..')."""
    parts = output[2:-2].split("...") if output.startswith("..") else [output]
    pairs = []
    for part in parts:
        cut = part.rindex("}") + 1 if part.startswith("{") else part.rindex(".")
        pairs.append((part[:cut], part[cut:].lstrip(".")))
    return pairs


def _outputs_ok(output: str, outputs: Any) -> None:
    """`outputs` as the renderer sends it: a list for several outputs, one entry for one."""
    pairs = _split_output(output)
    if output.startswith(".."):
        if not isinstance(outputs, list) or len(outputs) != len(pairs):
            raise Rejected(422, f"The callback request's 'outputs' must list {len(pairs)} entries.")
        entries = outputs
    else:
        entries = [outputs]
    for (raw_id, prop), item in zip(pairs, entries, strict=True):
        _entry_ok("outputs", raw_id, prop, item, with_value=False)


def _changed_ok(changed: Any) -> None:
    """changedPropIds: strings 'id.property', a JSON object before the dot for pattern ids."""
    if not isinstance(changed, list) or len(changed) > MAX_MATCHES:
        raise Rejected(400, "The callback request's 'changedPropIds' must be a list of strings.")
    for prop_id in changed:
        if not isinstance(prop_id, str) or len(prop_id) > MAX_ID_CHARS or "." not in prop_id:
            raise Rejected(400, "The callback request's 'changedPropIds' must be 'id.property' strings.")
        component = prop_id.rpartition(".")[0]
        if component.startswith("{"):
            try:
                parsed = json.loads(component)
            except ValueError:
                parsed = None
            if not isinstance(parsed, dict):
                raise Rejected(400, "The callback request's 'changedPropIds' name an id that is not JSON.")


def _router_values_ok(body: Mapping[str, Any]) -> None:
    """Dash's page router gets a string pathname and a string (or no) search, of bounded length."""
    for item in body.get("inputs", []):
        if not isinstance(item, dict) or item.get("id") != ROUTER_ID:
            continue
        value = item.get("value")
        if item.get("property") == "pathname" and not (
            isinstance(value, str) and value.startswith("/") and len(value) <= MAX_PATHNAME
        ):
            raise Rejected(422, f"The page address must be a path of at most {MAX_PATHNAME} characters.")
        if item.get("property") == "search" and not (
            value is None or (isinstance(value, str) and len(value) <= MAX_SEARCH)
        ):
            raise Rejected(422, f"The page query must be a string of at most {MAX_SEARCH} characters.")
