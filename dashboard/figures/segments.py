"""Segment-level figures: customer and revenue shares as bars, the segments x RFM groups heatmap and the
per-feature boxes of the Compare page."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard import measures
from dashboard.figures.common import (
    VALUE_LABELS,
    empty_figure,
    feature_label,
    grid_domains,
    id_colors,
    json_number,
    panel_title,
    plain,
    plain_figure,
    segment_colors,
    segment_label,
)
from segmentation import currency as money


def segment_shares(df: pd.DataFrame, currency: str | None = None) -> dict[str, Any] | go.Figure:
    """Horizontal bars per segment: share of customers (solid) and of revenue (hatched), in segment colours,
    each labelled with its value just past its end (dark text, so any segment colour reads).

    df: queries.filtered.segment_summary output. Each bar's customdata is its segment id (click-through).
    A plain figure dict (common.plain_figure): every filter change redraws it.
    """
    if df.empty or int(df["customers"].sum()) == 0:
        return empty_figure("No customers match these filters.")
    df = df.iloc[::-1]  # first segment on top
    palette = segment_colors(df["name"])  # every segment of the run is a row (zeros included)
    colors = [palette[str(n)] for n in df["name"]]
    # names from data: inert in tick and hover labels; a long generated name ("High Frequency · High Spend")
    # breaks at its " · " so the tick label fits the narrow card instead of running past its left edge
    labels = [_two_lines(plain(name)) for name in df["name"]]
    before, after = money.affixes(currency)
    revenue_share = (df["revenue_share"].astype(float) * 100).tolist()
    share = (df["share"].astype(float) * 100).tolist()
    bar = {"type": "bar", "y": labels, "orientation": "h", "texttemplate": "%{x:.1f}%", **VALUE_LABELS}
    # Horizontal groups stack their first trace at the bottom: revenue first puts customers on top.
    data = [
        {
            **bar,
            "name": "Revenue",
            "x": revenue_share,
            "marker": {"color": colors, "pattern": {"shape": "/", "fgcolor": "white", "solidity": 0.35}},
            "customdata": _id_and(df["segment_id"], df["revenue"]),
            "hovertemplate": (
                f"%{{y}}: revenue {before}%{{customdata[1]:,.0f}}{after} (%{{x:.1f}}%)<extra></extra>"
            ),
        },
        {
            **bar,
            "name": "Customers",
            "x": share,
            "marker": {"color": colors},
            "customdata": _id_and(df["segment_id"], df["customers"]),
            "hovertemplate": "%{y}: %{customdata[1]:,} customers (%{x:.1f}%)<extra></extra>",
        },
    ]
    low, high = min(0.0, *revenue_share, *share), max(0.0, *revenue_share, *share)
    room = 0.18 * ((high - low) or 1.0)  # for the labels past the bars' ends
    layout = {
        "barmode": "group",
        "bargap": 0.25,
        "showlegend": False,  # both traces share the segment colours; the card says solid = customers
        "xaxis": {
            "title": {"text": "% of filtered total"},
            "ticksuffix": "%",
            "range": [low - room if low < 0 else 0.0, high + room],
        },
        "margin": {"t": 10, "r": 48},  # r: the last label past the longest bar stays inside the figure
    }
    return plain_figure(data, layout, height=max(420, 60 * len(df) + 80))


def _two_lines(label: str, longest: int = 16) -> str:
    """A tick label longer than `longest` characters on two lines, broken at its first " · " (if any)."""
    if len(label) <= longest or " · " not in label:
        return label
    head, tail = label.split(" · ", 1)
    return f"{head} ·<br>{tail}"


def _id_and(ids: pd.Series, values: pd.Series) -> list[list[Any]]:
    """[[segment id, value], ...] as plain lists: plotly sends NumPy arrays as base64 `bdata`, which Dash's
    clickData leaves out, so a click would carry no id."""
    return [[int(i), v.item() if hasattr(v, "item") else v] for i, v in zip(ids, values, strict=True)]


def profile_boxes(
    stats: pd.DataFrame, names: dict[int, str], features: list[str], columns: int = 4
) -> dict[str, Any] | go.Figure:
    """Small multiples, one per feature: a box per series from DuckDB quantiles (profiles.box_stats).

    Boxes are p25-median-p75 with the mean dashed; whiskers reach the 5th and 95th percentiles. A plain
    figure dict (common.plain_figure) laid out as make_subplots would: every Compare change redraws it,
    and 32 validated go.Box traces added one by one cost about 0.3 s at four series.
    """
    if stats.empty or not features:
        return empty_figure("Pick segments to compare.")
    rows = int(np.ceil(len(features) / columns))
    domains = grid_domains(len(features), columns, 0.06, 0.16 if rows > 1 else 0.1)
    order = sorted(stats["segment_id"].unique(), key=lambda s: (s < 0, s))
    colors = id_colors(names, order)
    labels = {int(s): plain(segment_label(names, s)) for s in order}
    by_feature = {f: part.set_index("segment_id") for f, part in stats.groupby("feature", sort=False)}
    layout: dict[str, Any] = {"annotations": []}
    data: list[dict[str, Any]] = []
    for i, (feature, (x_dom, y_dom)) in enumerate(zip(features, domains, strict=True)):
        suffix = str(i + 1) if i else ""
        layout[f"xaxis{suffix}"] = {"anchor": f"y{suffix}", "domain": x_dom, "showticklabels": False}
        layout[f"yaxis{suffix}"] = {
            "anchor": f"x{suffix}",
            "domain": y_dom,
            "tickfont": {"size": 10},
            **measures.axis_format(feature),
        }
        layout["annotations"].append(panel_title(feature_label(feature), sum(x_dom) / 2, y_dom[1], size=12))
        part = by_feature.get(feature)
        for segment_id in order if part is not None else ():
            if segment_id not in part.index:
                continue
            s = part.loc[segment_id]
            label = labels[int(segment_id)]
            data.append(
                {
                    "type": "box",
                    "x": [label],
                    **{key: [json_number(s[column])] for key, column in _BOX_PARTS},
                    "boxmean": True,
                    "name": label,
                    "legendgroup": str(segment_id),
                    "showlegend": i == 0,
                    "marker": {"color": colors[int(segment_id)]},
                    "line": {"width": 1.5},
                    "xaxis": f"x{suffix}",
                    "yaxis": f"y{suffix}",
                }
            )
    layout.update(
        boxgap=0.25,
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0 + 40 / (260 * rows), "x": 0},
        margin={"t": 80, "b": 10},
    )
    return plain_figure(data, layout, height=260 * rows + 80)


# plotly's box parts and the box_stats columns that give them
_BOX_PARTS = (
    ("q1", "p25"),
    ("median", "median"),
    ("q3", "p75"),
    ("lowerfence", "p05"),
    ("upperfence", "p95"),
    ("mean", "mean"),
)


def rfm_heatmap(crosstab: pd.DataFrame, groups: list[str | None]) -> dict[str, Any] | go.Figure:
    """Learned segments (rows) x rule-based RFM groups (columns): colour = share of the segment, text = count.

    groups is profiles.rfm_columns(crosstab): the column order (None = customers without a group). A plain
    figure dict (common.plain_figure) built from NumPy grids: every Compare redraw builds it, and pivot
    tables plus a validated go.Heatmap took 25-30 ms of that on 1M customers.
    """
    if crosstab.empty:
        return empty_figure("No customers in this run.")
    segments = crosstab[["segment_id", "segment_name"]].drop_duplicates().sort_values("segment_id")
    rows = {int(s): i for i, s in enumerate(segments["segment_id"])}
    cols = {g: j for j, g in enumerate(groups)}
    share = np.zeros((len(rows), len(cols)))
    count = np.zeros((len(rows), len(cols)), dtype=np.int64)
    for s, g, part, n in zip(
        crosstab["segment_id"], crosstab["rfm_group"], crosstab["share"], crosstab["customers"], strict=True
    ):
        j = cols.get(None if g is None or g != g else g)  # NaN or None: customers without a group
        if j is None:
            continue
        if part == part:  # NaN shares count as none, as pivot_table's sum skips them
            share[rows[int(s)], j] += float(part)
        count[rows[int(s)], j] += int(n)
    x = ["(no group)" if g is None else plain(g) for g in groups]
    y = [plain(n) for n in segments["segment_name"]]
    trace = {
        "type": "heatmap",
        "z": np.round(share * 100, 1).tolist(),
        "x": x,
        "y": y,
        "customdata": count.tolist(),
        "text": count.tolist(),
        "texttemplate": "%{text:,}",
        "colorscale": [[0, "#f8f9fa"], [1, "#084c8d"]],
        "zmin": 0,
        "zmax": 100,
        "xgap": 2,
        "ygap": 2,
        "colorbar": {"title": {"text": "% of segment"}, "ticksuffix": "%", "thickness": 12},
        "hovertemplate": "%{y} x %{x}: %{customdata:,} customers (%{z:.1f}% of the segment)<extra></extra>",
    }
    layout = {"yaxis": {"autorange": "reversed"}, "xaxis": {"tickangle": -30}, "margin": {"t": 10}}
    return plain_figure([trace], layout, height=max(300, 55 * len(y) + 150))
