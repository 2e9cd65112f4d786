"""Customers on the stored principal components: the Model page's 2-D and 3-D scatters and the simulator's,
with axis titles that say how much variance each component explains and which features drive it."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from dashboard.figures.common import (
    FEATURE_LABELS,
    corner_annotation,
    empty_figure,
    id_colors,
    json_number,
    plain,
    plain_figure,
    segment_colors,
    segment_label,
)

SIMULATOR_POINT_TRACE = 1  # index of the simulated customer's marker in simulator_scatter (Patch target)


def _short_feature(feature: str) -> str:
    """A feature in a few lower-case words for axis titles ('revenue', 'recency'); user columns as named."""
    label = FEATURE_LABELS.get(feature)
    return label.split(" (")[0].lower() if label else plain(feature)


def pca_axis_titles(
    features: Sequence[str],
    loadings: Sequence[Sequence[float]],
    explained: Sequence[float] | None,
    top: int = 2,
) -> list[str]:
    """One title per stored component, e.g. 'PC1 (41% of variance: revenue +, frequency +)': the share of
    variance it explains (when the run stored it) and its `top` largest loadings with their signs, all read
    from the stored PCA (queries.model.pca_axes)."""
    titles = []
    for i, component in enumerate(loadings):
        order = sorted(range(len(component)), key=lambda j: (-abs(component[j]), j))[:top]
        signed = [(features[j], "+" if component[j] >= 0 else "−") for j in order]
        drivers = ", ".join(f"{_short_feature(f)} {sign}" for f, sign in signed)
        share = f"{explained[i]:.0%} of variance" if explained is not None and i < len(explained) else ""
        inside = ": ".join(p for p in (share, drivers) if p)
        titles.append(f"PC{i + 1} ({inside})" if inside else f"PC{i + 1}")
    return titles


def _short_title(title: str) -> str:
    """'PC1 (56% of variance: revenue +, units +)' -> 'PC1 (56%)'; 'PC1 (revenue +)' -> 'PC1'."""
    found = re.match(r"(PC\d+) \((\d+%) of variance", title)
    return f"{found[1]} ({found[2]})" if found else title.split(" ")[0]


def _axis_titles(axis_titles: Sequence[str] | None) -> list[str]:
    """The given titles for PC1..PC3, 'PCn' where none is given."""
    given = list(axis_titles or [])
    return [given[i] if i < len(given) else f"PC{i + 1}" for i in range(3)]


def pca_scatter(
    df: pd.DataFrame,
    dims: int = 2,
    names: Mapping[int, str] | None = None,
    axis_titles: Sequence[str] | None = None,
) -> dict[str, Any] | go.Figure:
    """Sampled customers on the first 2 (or 3) principal components, one colour per segment name (resolved
    among names, the run's, when given); outliers are drawn on top as black-edged crosses (2-D) or
    diamonds (3-D) in their segment's colour. axis_titles: pca_axis_titles of the run's stored PCA.

    A plain figure dict (common.plain_figure): validating 5,000 points' hover data in go.Scatter took about
    0.25 s of the Model page's load at a million customers.
    """
    if df.empty or df["pc1"].isna().all():
        return empty_figure("No PCA coordinates stored for this run.")
    three = dims == 3 and not df["pc3"].isna().all()
    titles = _axis_titles(axis_titles)
    palette = segment_colors([*df["segment_name"].astype(str), *(names or {}).values()])
    kind = "scatter3d" if three else "scatter"
    data: list[dict[str, Any]] = []
    outlier = df["is_outlier"].fillna(False).astype(bool).to_numpy()
    for segment_id, part in df[~outlier].groupby("segment_id", sort=True):
        name = plain(part["segment_name"].iloc[0])
        color = palette[str(part["segment_name"].iloc[0])]
        data.append(
            {
                "type": kind,
                **_coordinates(part, three),
                "mode": "markers",
                "name": name,
                "legendgroup": str(segment_id),
                # ids from data: inert in hover labels
                "customdata": [[plain(c)] for c in part["customer_id"].tolist()],
                "hovertemplate": name + ": customer %{customdata[0]}<extra></extra>",
                "marker": {"size": 2.5, "color": color}
                if three
                else {"size": 5, "color": color, "opacity": 0.6},
            }
        )
    out = df[outlier]
    if not out.empty:
        edge = {"color": "#000", "width": 1}
        colors = [palette[str(n)] for n in out["segment_name"].tolist()]
        data.append(
            {
                "type": kind,
                **_coordinates(out, three),
                "mode": "markers",
                "name": f"Outliers ({len(out):,})",
                "customdata": [
                    [plain(c), plain(n)]
                    for c, n in zip(out["customer_id"].tolist(), out["segment_name"].tolist(), strict=True)
                ],
                "hovertemplate": "outlier %{customdata[0]} (%{customdata[1]})<extra></extra>",
                "marker": {"size": 5, "color": colors, "symbol": "diamond", "line": edge}
                if three
                else {"size": 11, "color": colors, "symbol": "x", "line": edge},
            }
        )
    layout: dict[str, Any] = {"legend": {"itemsizing": "constant"}}
    if three:
        # Long titles overlap in a turning 3-D scene: the axes say "PC1 (56%)", a note under it the rest.
        axes = {"gridcolor": "#dee2e6", "backgroundcolor": "rgba(0,0,0,0)", "nticks": 5}
        layout["scene"] = {
            "xaxis": {**axes, "title": {"text": _short_title(titles[0])}},
            "yaxis": {**axes, "title": {"text": _short_title(titles[1])}},
            "zaxis": {**axes, "title": {"text": _short_title(titles[2])}},
            "aspectmode": "cube",
            "camera": {"eye": {"x": 1.5, "y": 1.5, "z": 0.9}},
            "domain": {"y": [0.14, 1]} if axis_titles else {},
        }
        layout["margin"] = {"l": 0, "r": 0, "t": 30, "b": 0}
        if axis_titles:
            layout["annotations"] = [corner_annotation("<br>".join(titles), align="left")]
    else:
        layout["xaxis"] = {"title": {"text": titles[0]}}
        layout["yaxis"] = {"title": {"text": titles[1]}}
    return plain_figure(data, layout, height=480)


def _coordinates(part: pd.DataFrame, three: bool) -> dict[str, list]:
    """x, y (and z) of the points as plain lists (missing coordinates as None)."""
    columns = {"x": "pc1", "y": "pc2", "z": "pc3"} if three else {"x": "pc1", "y": "pc2"}
    return {axis: _floats(part[column]) for axis, column in columns.items()}


def _floats(values: pd.Series) -> list[float | None]:
    """A column as JSON numbers: floats, None where missing (NaN is not JSON)."""
    return [json_number(v) for v in values.astype(float).tolist()]


def simulator_scatter(
    sample: pd.DataFrame,
    names: dict[int, str],
    point: tuple[float, float],
    color: str,
    axis_titles: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Sampled customers on PC1/PC2 coloured by segment, with the simulated customer as a big star
    (axis_titles: pca_axis_titles of the run's stored PCA). A plain figure dict (common.plain_figure).

    Trace 0 holds every sampled point, trace SIMULATOR_POINT_TRACE the star (so a callback can move it with
    a Patch), and the traces after it are legend entries only (one per segment).
    """
    ids = [int(s) for s in sample["segment_id"].tolist()] if not sample.empty else []
    labels = [plain(segment_label(names, s)) for s in ids]
    colors = id_colors(names, ids)
    data: list[dict[str, Any]] = [
        {
            "type": "scatter",
            "x": _floats(sample["pc1"]) if not sample.empty else [],
            "y": _floats(sample["pc2"]) if not sample.empty else [],
            "mode": "markers",
            "marker": {"size": 5, "color": [colors[s] for s in ids], "opacity": 0.45},
            "text": labels,
            "hovertemplate": "%{text}<extra></extra>",
            "showlegend": False,
            "name": "Customers",
        },
        {
            "type": "scatter",
            "x": [point[0]],
            "y": [point[1]],
            "mode": "markers",
            "marker": {
                "size": 24,
                "color": color,
                "symbol": "star",
                "line": {"color": "#212529", "width": 2},
            },
            "name": "Simulated customer",
            "hovertemplate": "Simulated customer<extra></extra>",
        },
    ]
    for segment_id in sorted(set(ids) | set(names)):
        data.append(
            {
                "type": "scatter",
                "x": [None],
                "y": [None],
                "mode": "markers",
                "marker": {"size": 9, "color": colors[segment_id]},
                "name": plain(segment_label(names, segment_id)),
                "hoverinfo": "skip",
            }
        )
    layout = {
        "xaxis": {"title": {"text": _axis_titles(axis_titles)[0]}, "zeroline": False},
        "yaxis": {"title": {"text": _axis_titles(axis_titles)[1]}, "zeroline": False},
        "margin": {"t": 30, "l": 10, "r": 10, "b": 10},
    }
    return plain_figure(data, layout, height=460)
