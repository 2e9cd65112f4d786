"""Where the map looks: the view that fits the countries holding most of the customers (or revenue).

A world view shows a European customer base as specks (Germany was 13 x 15 px at 1440 px wide), and plotly's
own fit uses whole countries (France then reaches to French Guiana). So the view is fitted here to each
country's mainland box (its largest polygon, read from the vendored topojson in assets/) over the countries
in the largest country's region: every country holding at least MAJOR of the metric, and the others as
long as the view stays within REGION degrees (a continent). Far-away small markets (Australia beside a
European base) stay off the view and are named under it; the ranked country list beside the map shows all.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from dashboard.figures.country_codes import COUNTRY_CODES

TOPOJSON = Path(__file__).resolve().parents[1] / "assets" / "topojson" / "world_110m.json"
MAJOR = 0.05  # a country with this share of the metric is always in view
REGION = (45.0, 75.0)  # the largest (lat, lon) span the minor countries may stretch the view to
_PAD = 0.12  # margin around the fitted box, as a share of its size
_MIN_SPAN = (14.0, 24.0)  # smallest (lat, lon) span in degrees: one small country is not a full-screen blob
_LAT_LIMITS = (-58.0, 85.0)  # no Antarctica

Box = tuple[float, float, float, float]  # (lat_min, lat_max, lon_min, lon_max)


@dataclass(frozen=True)
class MapView:
    """A fitted view: the lat/lon ranges to show, and the countries with a value that lie outside it."""

    lat_range: tuple[float, float]
    lon_range: tuple[float, float]
    outside: tuple[str, ...]


def country_code(name: object) -> str | None:
    """The ISO alpha-3 code of a country name as stored (plotly.js's names and aliases), or None."""
    return COUNTRY_CODES.get(name.strip().lower()) if isinstance(name, str) else None


@lru_cache(maxsize=1)
def mainland_boxes() -> dict[str, Box]:
    """ISO alpha-3 -> the box of the country's largest polygon, from the vendored topojson."""
    topo = json.loads(TOPOJSON.read_text())
    (sx, sy), (tx, ty) = topo["transform"]["scale"], topo["transform"]["translate"]
    arcs = []
    for arc in topo["arcs"]:  # delta-encoded, quantized positions
        x = y = 0
        points = []
        for dx, dy, *_ in arc:
            x, y = x + dx, y + dy
            points.append((y * sy + ty, x * sx + tx))  # (lat, lon)
        arcs.append(points)
    boxes: dict[str, Box] = {}
    for geometry in topo["objects"]["countries"]["geometries"]:
        code = geometry.get("id")
        polygons = {"Polygon": [geometry.get("arcs")], "MultiPolygon": geometry.get("arcs")}.get(
            geometry.get("type"), []
        )
        best: tuple[float, Box] | None = None
        for polygon in polygons or []:
            if not polygon:
                continue
            points = [p for index in polygon[0] for p in arcs[index if index >= 0 else ~index]]
            if not points:
                continue
            lats, lons = [p[0] for p in points], [p[1] for p in points]
            box = (min(lats), max(lats), min(lons), max(lons))
            area = (box[1] - box[0]) * (box[3] - box[2])
            if best is None or area > best[0]:
                best = (area, box)
        if isinstance(code, str) and best is not None:
            boxes[code] = best[1]
    return boxes


def fit(values: Mapping[str, float]) -> MapView | None:
    """The view over the countries with a (positive) value: the major ones, and minor ones while the view
    stays within a region; None when no country with a value can be placed (keep the world view)."""
    boxes = mainland_boxes()
    placed = sorted(
        ((float(v), name) for name, v in values.items() if v and v > 0 and country_code(name) in boxes),
        reverse=True,
    )
    total = sum(v for v, _ in placed)
    if not placed or total <= 0:
        return None
    view: Box | None = None
    for value, name in placed:
        box = boxes[country_code(name)]  # type: ignore[index]
        grown = box if view is None else _union(view, box)
        if (
            view is None
            or value >= MAJOR * total
            or (grown[1] - grown[0] <= REGION[0] and grown[3] - grown[2] <= REGION[1])
        ):
            view = grown
    assert view is not None
    lat_range = _padded(view[0], view[1], _MIN_SPAN[0], _LAT_LIMITS)
    lon_range = _padded(view[2], view[3], _MIN_SPAN[1], (-180.0, 180.0))
    outside = tuple(
        name
        for _, name in placed
        if not _inside(boxes[country_code(name)], lat_range, lon_range)  # type: ignore[index]
    )
    return MapView(lat_range, lon_range, outside)


def _union(a: Box, b: Box) -> Box:
    return (min(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), max(a[3], b[3]))


def _padded(lo: float, hi: float, min_span: float, limits: tuple[float, float]) -> tuple[float, float]:
    """[lo, hi] widened by _PAD on each side and to at least min_span, kept within limits."""
    span = max(hi - lo, 0.0)
    pad = max(span * _PAD, (min_span - span) / 2, 0.0)
    lo, hi = lo - pad, hi + pad
    return round(max(lo, limits[0]), 2), round(min(hi, limits[1]), 2)


def _inside(box: Box, lat_range: tuple[float, float], lon_range: tuple[float, float]) -> bool:
    """True when the box's centre is in the view (a country cut at the edge still counts as shown)."""
    lat, lon = (box[0] + box[1]) / 2, (box[2] + box[3]) / 2
    return lat_range[0] <= lat <= lat_range[1] and lon_range[0] <= lon <= lon_range[1]
