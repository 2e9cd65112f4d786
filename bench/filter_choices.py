"""Seeded random filter choices for the dashboard benchmark, from the values stored in the DB and the page.

* `run_facts(db)`: the latest run's id, size, countries (largest first), segment ids and tenure range;
* `random_search(rng, facts)`: a page address's query string (country, segment, tenure range, outliers),
  each filter present about half the time, as links from other pages and shared addresses carry them;
* `export_query(db, facts, rows)`: a filter set that keeps about `rows` customers (a tenure threshold);
* `changeable` / `random_value`: a new valid value for one control, from its own props (options, min/max,
  step), as a person would pick it.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import duckdb

from dashboard.filters import OUTLIER_MODES

VALUE_CONTROLS = frozenset({"Dropdown", "RadioItems", "Checklist", "RangeSlider", "Slider", "Switch"})
RESET_CHANCE = 0.25  # a range or multi-select change that clears it (full range, nothing picked)


def run_facts(db: Path) -> dict[str, Any]:
    """The latest run's id, customers, countries by size, segment ids, and tenure range (read-only)."""
    with duckdb.connect(str(db), read_only=True) as con:
        run, customers = con.execute("SELECT id, customers FROM runs ORDER BY id DESC LIMIT 1").fetchone()
        countries = [
            r[0]
            for r in con.execute(
                "SELECT country FROM customers WHERE run_id = ? GROUP BY 1 ORDER BY count(*) DESC, 1", [run]
            ).fetchall()
        ]
        segments = [
            r[0]
            for r in con.execute(
                "SELECT segment_id FROM segments WHERE run_id = ? ORDER BY 1", [run]
            ).fetchall()
        ]
        lo, hi = con.execute(
            "SELECT min(tenure_days), max(tenure_days) FROM customers WHERE run_id = ?", [run]
        ).fetchone()
    return {
        "run": run,
        "customers": customers,
        "countries": countries,
        "segments": segments,
        "tenure": (lo, hi),
    }


def random_search(rng: random.Random, facts: dict[str, Any]) -> str:
    """'?country=..&segment=..&tenure_min=..&tenure_max=..&outliers=..' with each part about half the time
    ('' when none came up)."""
    query: dict[str, Any] = {}
    if facts["countries"] and rng.random() < 0.5:
        query["country"] = rng.sample(facts["countries"], min(rng.randint(1, 3), len(facts["countries"])))
    if len(facts["segments"]) > 1 and rng.random() < 0.5:
        query["segment"] = rng.sample(facts["segments"], rng.randint(1, len(facts["segments"]) - 1))
    lo, hi = facts["tenure"]
    if lo is not None and hi is not None and hi > lo and rng.random() < 0.5:
        a = rng.randint(int(lo), int(hi))
        query["tenure_min"], query["tenure_max"] = a, rng.randint(a, int(hi))
    if rng.random() < 0.3:
        query["outliers"] = rng.choice(OUTLIER_MODES)
    return "?" + urlencode(query, doseq=True) if query else ""


def export_query(db: Path, facts: dict[str, Any], rows: int) -> dict[str, Any]:
    """URL filters keeping about `rows` of the run's customers: tenure at least its (1 - rows/n) quantile
    ({} when the run has no more than `rows` customers)."""
    if facts["customers"] <= rows:
        return {}
    with duckdb.connect(str(db), read_only=True) as con:
        (cut,) = con.execute(
            "SELECT quantile_disc(tenure_days, ?) FROM customers WHERE run_id = ?",
            [1 - rows / facts["customers"], facts["run"]],
        ).fetchone()
    return {"tenure_min": int(cut)}


def option_values(options: Any) -> list[Any]:
    """The selectable values of a Dash options prop (list of values or of dicts, or a value->label dict)."""
    if isinstance(options, dict):
        return list(options)
    out = []
    for o in options or []:
        if isinstance(o, dict):
            if not o.get("disabled"):
                out.append(o.get("value"))
        else:
            out.append(o)
    return out


def changeable(ctype: str, props: dict[str, Any]) -> bool:
    """True if a person can give this control another value (enabled, with options or a range)."""
    if ctype not in VALUE_CONTROLS or props.get("disabled"):
        return False
    if ctype in ("RangeSlider", "Slider"):
        return props.get("min") is not None and props.get("max") is not None and props["max"] > props["min"]
    if ctype == "Switch":
        return True
    return len(option_values(props.get("options"))) > (0 if ctype == "Checklist" else 1)


def _on_step(x: float, lo: float, step: Any) -> float:
    """x moved to the slider's step grid (from lo)."""
    step = step or 1
    return round(lo + round((x - lo) / step) * step, 6)


def random_value(rng: random.Random, ctype: str, props: dict[str, Any]) -> Any:
    """A random valid value for a changeable control, different from its current one when it can be."""
    current = props.get("value")
    for _ in range(8):
        value = _draw(rng, ctype, props)
        if value != current:
            return value
    return value


def _draw(rng: random.Random, ctype: str, props: dict[str, Any]) -> Any:
    """One random value of the control's kind."""
    if ctype == "Switch":
        return not props.get("value")
    if ctype in ("RangeSlider", "Slider"):
        lo, hi, step = props["min"], props["max"], props.get("step")
        a = _on_step(rng.uniform(lo, hi), lo, step)
        if ctype == "Slider":
            return a
        if rng.random() < RESET_CHANCE:
            return None
        return [a, _on_step(rng.uniform(a, hi), lo, step)]
    values = option_values(props.get("options"))
    if ctype == "Checklist":
        return rng.sample(values, rng.randint(1, len(values)))
    if ctype == "Dropdown" and props.get("multi"):
        n = 0 if rng.random() < RESET_CHANCE else rng.randint(1, min(3, len(values)))
        return rng.sample(values, n)
    return rng.choice(values)
