"""Distributions: stacked histograms of a feature per segment (Model page) and of the filtered customers
(Explore page)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard import measures
from dashboard.figures.common import (
    WHOLE_FEATURES,
    empty_figure,
    feature_label,
    grid_domains,
    id_colors,
    panel_title,
    plain,
    plain_figure,
    segment_label,
    whole_ticks,
)


def feature_histogram(
    counts: pd.DataFrame, edges: list[float], names: dict[int, str], feature: str
) -> dict[str, Any] | go.Figure:
    """Stacked bars of customers per bin and segment (queries.model.histogram), in segment colours; counts
    (and whole-number features) tick on whole numbers only. A plain figure dict (common.plain_figure): every
    feature pick and filter change redraws it."""
    if counts.empty or len(edges) < 2:
        return empty_figure("No values for this feature.")
    width = edges[1] - edges[0]
    colors = id_colors(names, counts["segment_id"])
    segment = counts["segment_id"].to_numpy(dtype=np.int64)
    bin_all = counts["bin"].to_numpy(dtype=np.int64)
    customers = counts["customers"].to_numpy(dtype=np.int64)
    starts = np.asarray(edges, dtype=float)[bin_all]
    data = []
    for sid in sorted({int(x) for x in segment}):
        own = segment == sid
        lo = starts[own]
        data.append(
            {
                "type": "bar",
                "x": (lo + width / 2).tolist(),
                "y": customers[own].tolist(),
                "width": width,
                "name": plain(segment_label(names, sid)),
                "marker": {"color": colors[sid], "line": {"width": 0}},
                "customdata": np.column_stack([lo, lo + width]).tolist(),
                "hovertemplate": "%{customdata[0]:,.4~g} to %{customdata[1]:,.4~g}: %{y:,} customers"
                "<extra></extra>",
            }
        )
    layout = {
        "barmode": "stack",
        "bargap": 0,
        "legend": {"traceorder": "normal"},
        "xaxis": {
            "title": {"text": feature_label(feature)},
            **(whole_ticks(edges[-1] - edges[0]) if feature in WHOLE_FEATURES else {}),
            **measures.axis_format(feature),
        },
        "yaxis": {"title": {"text": "Customers"}, **whole_ticks(_tallest(bin_all, customers))},
    }
    return plain_figure(data, layout, height=380)


def _tallest(bins: np.ndarray, customers: np.ndarray) -> float:
    """The most customers in one bin, all segments stacked (the count axis' span); bins are 0-based."""
    return float(np.bincount(bins, weights=customers).max()) if bins.size else 0.0


EXPLORE_HISTOGRAM_LABELS: dict[str, str] = {
    "tenure": "Tenure (days)",
    "recency": "Recency (days)",
    "frequency": "Frequency (orders)",
    "monetary": "Revenue",
}


# Explore's 2x2 grid (row 1 on top; horizontal spacing 0.08, vertical 0.16): panel i uses axes
# x{i+1}/y{i+1} ("x"/"y" for the first).
_GRID = grid_domains(len(EXPLORE_HISTOGRAM_LABELS), 2, 0.08, 0.16)


def explore_histograms(df: pd.DataFrame, names: dict[int, str]) -> dict[str, Any] | go.Figure:
    """A 2x2 grid of stacked histograms (queries.distributions.histograms), one colour per segment.

    The end bins also hold the tails beyond the binned 1st..99th percentile range; their hover says so.
    Counts, days and orders tick on whole numbers only. A plain figure dict (common.plain_figure): every
    filter change redraws it.
    """
    if df.empty:
        return empty_figure("No customers match these filters.")
    keys = list(EXPLORE_HISTOGRAM_LABELS)
    layout: dict[str, Any] = {"annotations": []}
    data: list[dict[str, Any]] = []
    shown: set[int] = set()
    colors = id_colors(names, df["segment_id"])
    # NumPy columns once: slicing the frame per panel and segment cost more than the rest of the figure
    feature = df["feature"].to_numpy()
    segment = df["segment_id"].to_numpy(dtype=np.int64)
    bin_all = df["bin"].to_numpy(dtype=np.int64)
    customers = df["customers"].to_numpy(dtype=np.int64)
    lo_all, width_all = df["lo"].to_numpy(dtype=float), df["width"].to_numpy(dtype=float)
    vmin_all, vmax_all = df["vmin"].to_numpy(dtype=float), df["vmax"].to_numpy(dtype=float)
    for i, key in enumerate(keys):
        suffix = str(i + 1) if i else ""
        x_dom, y_dom = _GRID[i]
        xaxis: dict[str, Any] = {"anchor": f"y{suffix}", "domain": x_dom}
        yaxis: dict[str, Any] = {"anchor": f"x{suffix}", "domain": y_dom}
        if i % 2 == 0:
            yaxis["title"] = {"text": "Customers"}
        layout[f"xaxis{suffix}"], layout[f"yaxis{suffix}"] = xaxis, yaxis
        layout["annotations"].append(panel_title(EXPLORE_HISTOGRAM_LABELS[key], sum(x_dom) / 2, y_dom[1]))
        rows = np.flatnonzero(feature == key)
        if rows.size == 0:
            layout["annotations"].append(
                {
                    "text": "not in this run",
                    "showarrow": False,
                    "xref": f"x{suffix} domain",
                    "yref": f"y{suffix} domain",
                    "x": 0.5,
                    "y": 0.5,
                    "font": {"color": "#6c757d", "size": 13},
                }
            )
            continue
        first = rows[0]
        lo = float(lo_all[first])
        width = 1.0 if np.isnan(width_all[first]) else float(width_all[first])
        vmin, vmax = float(vmin_all[first]), float(vmax_all[first])
        last = int(bin_all[rows].max())
        whole = key != "monetary"
        yaxis.update(whole_ticks(_tallest(bin_all[rows], customers[rows])))
        if whole:
            xaxis.update(whole_ticks((last + 1) * width))
        for sid in sorted({int(x) for x in segment[rows]}):
            own = rows[segment[rows] == sid]
            bins = bin_all[own]
            starts = lo + bins * width
            labels = [
                [_bin_label(b, s, width, last, vmin, vmax, whole)]
                for b, s in zip(bins.tolist(), starts.tolist(), strict=True)
            ]
            data.append(
                {
                    "type": "bar",
                    "x": (
                        starts + (width - 1) / 2 if whole else starts + width / 2
                    ).tolist(),  # whole: centred
                    "y": customers[own].tolist(),
                    "width": width,
                    "name": plain(segment_label(names, sid)),
                    "legendgroup": str(sid),
                    "showlegend": sid not in shown,
                    "marker": {"color": colors[sid], "line": {"width": 0}},
                    "customdata": labels,
                    "hovertemplate": "%{customdata[0]}: %{y:,} customers<extra>%{fullData.name}</extra>",
                    "xaxis": f"x{suffix}",
                    "yaxis": f"y{suffix}",
                }
            )
            shown.add(sid)
    layout.update(barmode="stack", bargap=0.05, margin={"t": 70}, legend={"y": 1.1})
    return plain_figure(data, layout, height=520)


def _bin_label(
    bin_: int, start: float, width: float, last: int, vmin: float, vmax: float, whole: bool
) -> str:
    """A bin's range in words; the end bins say they hold the tails (e.g. '≥ 1,200')."""
    end = start + width - (1 if whole else 0)
    fmt = "{:,.0f}" if whole else "{:,.2f}"
    if bin_ == 0 and vmin < start:
        return "≤ " + fmt.format(end)
    if bin_ == last and vmax > end:
        return "≥ " + fmt.format(start)
    if whole and end <= start:
        return fmt.format(start)
    return fmt.format(start) + " to " + fmt.format(end)
