"""A model of what the Dash renderer sends to the server, from /_dash-dependencies and the layout alone.

Shared by the locust users (bench/locustfile.py) and the latency benchmark (bench/dashboard_latency.py); no
HTTP client here, the callers send the requests. A page load: `open_page` inserts the layout and says which
server callbacks fire by themselves (inputs in newly inserted components, prevent_initial_call honoured
unless an output already existed outside the insertion, as Dash does; props components set on mount:
dcc.Location's pathname/search, the infinite AG Grid's first getRowsRequest); `run_waves` then sends them
wave after wave, applying each answer and collecting what it fires. A control change: set its prop in
`Page.comps` and send `Page.triggered_by("id.prop")`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

MOUNT_PROPS = {("Location", "pathname"), ("Location", "search")}
LOCATIONS = ("url", "_pages_location")  # the shell's and dash.page_container's dcc.Location ids
MAX_WAVES = 6  # waves of triggered callbacks followed after one action
# Clientside functions (namespace, name) that purge an infinite AG Grid, which then asks the server for its
# first block again: the Customers page's filter change (dashboard/assets/customers_grid.js `refresh`).
GRID_PURGES = {("customers_grid", "refresh"): "customers-grid"}


def rows_request(start: int = 0, size: int = 100) -> dict[str, Any]:
    """An infinite AG Grid's getRowsRequest for rows start..start+size, unsorted and unfiltered."""
    return {"startRow": start, "endRow": start + size, "sortModel": [], "filterModel": {}}


def key(cid: Any) -> str:
    """A component id as Dash writes it in changedPropIds: strings as they are, dict ids as sorted JSON."""
    return cid if isinstance(cid, str) else json.dumps(cid, sort_keys=True, separators=(",", ":"))


def walk(node: Any, found: dict[str, tuple[Any, str, dict[str, Any]]]) -> None:
    """Every component with an id in a Dash JSON tree: key -> (id, type, props)."""
    if isinstance(node, list):
        for item in node:
            walk(item, found)
    elif isinstance(node, dict):
        props = node.get("props")
        if isinstance(props, dict) and "type" in node:
            if "id" in props:
                found[key(props["id"])] = (props["id"], node["type"], props)
            for value in props.values():
                walk(value, found)


def parse_spec(spec: str) -> tuple[Any, str]:
    """'id.prop' (id maybe JSON with ["ALL"] wildcards) -> (id or pattern dict, prop)."""
    cid, prop = spec.rsplit(".", 1)
    return (json.loads(cid) if cid.startswith("{") else cid), prop


class Dep:
    """One server callback from /_dash-dependencies."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw
        self.output = raw["output"]
        multi = self.output.startswith("..")
        parts = self.output.strip(".").split("...") if multi else [self.output]
        self.multi = multi
        self.outputs = [parse_spec(p) for p in parts]
        # pattern ids come as JSON text in /_dash-dependencies: parsed, so they match components' dict ids
        self.inputs = [parse_spec(f"{i['id']}.{i['property']}") for i in raw["inputs"]]
        self.state = [parse_spec(f"{s['id']}.{s['property']}") for s in raw["state"]]
        self.pic = bool(raw.get("prevent_initial_call"))
        self.name = parts[0].split("@")[0]
        pattern_ids = [p for p, _ in self.outputs + self.inputs + self.state if not isinstance(p, str)]
        self.usable = not any("MATCH" in json.dumps(p) or "ALLSMALLER" in json.dumps(p) for p in pattern_ids)


class Page:
    """What one browser tab knows: components and their props, and the app's callbacks."""

    def __init__(self, deps: list[Dep], clientside: list[Dep] | None = None) -> None:
        self.deps = deps
        self.clientside = clientside or []  # only those in GRID_PURGES have an effect the model follows
        self.comps: dict[str, tuple[Any, str, dict[str, Any]]] = {}

    def matches(self, pattern: Any) -> list[str]:
        """Keys of the components an id or pattern (ALL wildcards) names."""
        if isinstance(pattern, str):
            return [pattern] if pattern in self.comps else []
        out = []
        for k, (cid, _, _) in self.comps.items():
            if isinstance(cid, dict) and set(cid) == set(pattern):
                if all(v == ["ALL"] or cid[f] == v for f, v in pattern.items()):
                    out.append(k)
        return out

    def body(self, dep: Dep, changed: list[str]) -> dict[str, Any]:
        """The JSON the renderer POSTs to /_dash-update-component for dep."""

        def item(pattern: Any, prop: str, with_value: bool) -> Any:
            keys = self.matches(pattern)
            items = []
            for k in keys:
                cid, _, props = self.comps[k]
                entry = {"id": cid, "property": prop}
                if with_value:
                    entry["value"] = props.get(prop)
                items.append(entry)
            if isinstance(pattern, str):
                return items[0] if items else {"id": pattern, "property": prop, "value": None}
            return items

        outputs = [item(p, prop, False) for p, prop in dep.outputs]
        return {
            "output": dep.output,
            "outputs": outputs if dep.multi else outputs[0],
            "inputs": [item(p, prop, True) for p, prop in dep.inputs],
            "state": [item(p, prop, True) for p, prop in dep.state],
            "changedPropIds": changed,
        }

    def insert(self, tree: Any, before: set[str]) -> dict[Dep, list[str]]:
        """Add a subtree; the callbacks its insertion fires, with the props that fired them."""
        new: dict[str, tuple[Any, str, dict[str, Any]]] = {}
        walk(tree, new)
        self.comps.update(new)
        fired: dict[Dep, list[str]] = {}
        for dep in self.deps:
            if not dep.usable:
                continue
            ins = [(k, prop) for p, prop in dep.inputs for k in self.matches(p) if k in new]
            outs_outside = any(k in before for p, _ in dep.outputs for k in self.matches(p))
            if ins and (not dep.pic or outs_outside):
                fired[dep] = [f"{k}.{prop}" for k, prop in ins]
        for k, (_, ctype, props) in new.items():  # props the components set themselves when mounted
            mounted = [p for t, p in MOUNT_PROPS if t == ctype]
            if ctype == "AgGrid" and props.get("rowModelType") == "infinite":
                props["getRowsRequest"] = rows_request()
                mounted.append("getRowsRequest")
            for prop in mounted:
                for dep in self.triggered_by(f"{k}.{prop}"):
                    fired.setdefault(dep, []).append(f"{k}.{prop}")
        return fired

    def triggered_by(self, changed: str) -> list[Dep]:
        """Server callbacks with the changed 'id.prop' among their inputs."""
        k, prop = changed.rsplit(".", 1)
        return [
            d
            for d in self.deps
            if d.usable and any(pr == prop and k in self.matches(p) for p, pr in d.inputs)
        ]

    def changed(self, prop_id: str) -> dict[Dep, list[str]]:
        """What the renderer sends when 'id.prop' changes (its new value already in comps): the server
        callbacks it is an input of, and the first-block request of a grid a clientside callback it fires
        purges (GRID_PURGES)."""
        fired = {dep: [prop_id] for dep in self.triggered_by(prop_id)}
        k, prop = prop_id.rsplit(".", 1)
        for cs in self.clientside:
            fn = cs.raw.get("clientside_function") or {}
            grid = GRID_PURGES.get((fn.get("namespace"), fn.get("function_name")))
            if grid not in self.comps or not any(pr == prop and k in self.matches(p) for p, pr in cs.inputs):
                continue
            self.comps[grid][2]["getRowsRequest"] = rows_request()
            for dep in self.triggered_by(f"{grid}.getRowsRequest"):
                fired.setdefault(dep, []).append(f"{grid}.getRowsRequest")
        return fired

    def apply(self, response: dict[str, Any]) -> tuple[dict[Dep, list[str]], list[str]]:
        """Store a callback's answer; the callbacks it fires (insertions and changed inputs)."""
        fired: dict[Dep, list[str]] = {}
        changed = []
        for k, props in response.items():
            if k not in self.comps:
                continue
            for prop, value in props.items():
                self.comps[k][2][prop] = value
                changed.append(f"{k}.{prop}")
                if isinstance(value, (dict, list)) and "props" in json.dumps(value)[:20000]:
                    for dep, ids in self.insert(value, set(self.comps)).items():
                        fired.setdefault(dep, []).extend(ids)
        for c in changed:
            for dep, ids in self.changed(c).items():
                fired.setdefault(dep, []).extend(ids)
        return fired, changed


Fired = dict[Dep, list[str]]


def open_page(raw_deps: list[dict[str, Any]], layout: Any, path: str, search: str = "") -> tuple[Page, Fired]:
    """A fresh tab on path+search: the Page and the server callbacks the layout fires by itself."""
    server = [Dep(d) for d in raw_deps if not d.get("clientside_function")]
    page = Page(server, [Dep(d) for d in raw_deps if d.get("clientside_function")])
    fired = page.insert(layout, set())
    for loc in LOCATIONS:
        if loc in page.comps:
            page.comps[loc][2].update(pathname=path, search=search)
    return page, fired


def run_waves(
    page: Page,
    fired: Fired,
    send_wave: Callable[[Fired], Iterable[dict[str, Any] | None]],
    after_wave: Callable[[], None] | None = None,
) -> None:
    """Send fired, apply the answers, then send what they fire, for at most MAX_WAVES waves.

    send_wave returns each callback's response dict (None: no answer) in the order of its argument;
    after_wave runs after each wave. As the renderer does, a callback is not fired again by an answer
    in the chain that led to it (its predecessors), so a callback whose output is also its input runs once.
    """
    before: dict[Dep, frozenset[Dep]] = {dep: frozenset() for dep in fired}
    for _ in range(MAX_WAVES):
        if not fired:
            return
        answers = list(send_wave(fired))
        nxt: Fired = {}
        chains: dict[Dep, frozenset[Dep]] = {}
        for dep, answer in zip(fired, answers, strict=True):
            if not answer:
                continue
            chain = before[dep] | {dep}
            more, _ = page.apply(answer)
            for d, ids in more.items():
                if d not in chain:
                    nxt.setdefault(d, []).extend(ids)
                    chains[d] = chains.get(d, frozenset()) | chain
        fired, before = nxt, chains
        if after_wave is not None:
            after_wave()
