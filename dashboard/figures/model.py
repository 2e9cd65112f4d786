"""The model's view of the segments: the profile radar, the k sweep and one customer's distances to the
centroids ("why this segment"). The PCA scatters are in figures.pca."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard.figures.common import (
    LOWER_IS_BETTER,
    PALETTE,
    POPULATION_COLOR,
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
    styled,
)


def radar_label(feature: str) -> str:
    """A radar axis label; features where lower is better say, on a second line, they are drawn inverted."""
    label = feature_label(feature)
    return label + "<br>(inverted)" if feature in LOWER_IS_BETTER else label


def profile_radar(
    scores: pd.DataFrame, names: dict[int, str], features: list[str]
) -> dict[str, Any] | go.Figure:
    """A radar of each segment's median as a robust z-score (profiles.normalise); the population is 0.

    Outward is always better: features where lower is better (LOWER_IS_BETTER: recency, return rate) are
    drawn with the score's sign flipped and say so in their label. Values are shown clipped to +-3
    population IQRs; the hover gives the (drawn) score and the real medians. A plain figure dict
    (common.plain_figure): every Compare change redraws it.
    """
    if scores.empty:
        return empty_figure("Pick segments to compare.")
    theta = [radar_label(f) for f in features] + [radar_label(features[0])]
    sign = pd.Series([-1.0 if f in LOWER_IS_BETTER else 1.0 for f in features], index=features)
    data: list[dict[str, Any]] = [
        {
            "type": "scatterpolar",
            "r": [0.0] * len(theta),
            "theta": theta,
            "mode": "lines",
            "name": "Everyone (0)",
            "line": {"color": POPULATION_COLOR, "dash": "dash", "width": 1.5},
            "hoverinfo": "skip",
        }
    ]
    biggest = 1.0
    colors = id_colors(names, scores["segment_id"])
    for segment_id, part in scores.groupby("segment_id", sort=True):
        part = part.set_index("feature").reindex(features)
        raw = part["score"].astype(float) * sign
        shown = raw.clip(-3, 3)
        biggest = max(biggest, float(shown.abs().max(skipna=True) or 0))
        custom = [
            [json_number(v) for v in row]
            for row in zip(raw.round(2), part["median"], part["population_median"], strict=True)
        ]
        r = [float(v) for v in shown.fillna(0)]
        data.append(
            {
                "type": "scatterpolar",
                "r": [*r, r[0]],
                "theta": theta,
                "customdata": [*custom, custom[0]],
                "mode": "lines+markers",
                "fill": "toself",
                "opacity": 0.75,
                "name": plain(segment_label(names, segment_id)),
                "line": {"color": colors[int(segment_id)], "width": 2},
                "hovertemplate": "%{theta}: %{customdata[0]} IQR from everyone (outward = better)<br>median "
                "%{customdata[1]:,.4~g} vs %{customdata[2]:,.4~g}<extra></extra>",
            }
        )
    span = float(np.ceil(biggest * 2) / 2)
    annotations = []
    if any(f in LOWER_IS_BETTER for f in features):
        annotations.append(
            {
                "text": "Outward = better than everyone<br>(on inverted axes, lower is better)",
                "x": 0.5,  # centred over the radar, in two lines: it fits a phone's or a half-width card
                "y": 1,
                "yshift": 30,  # above the top axis label
                "xref": "paper",
                "yref": "paper",
                "xanchor": "center",
                "yanchor": "bottom",
                "showarrow": False,
                "font": {"size": 11, "color": "#6c757d"},
            }
        )
    layout = {
        "annotations": annotations,
        "polar": {
            "radialaxis": {
                "range": [-span, span],
                "dtick": 1,
                "gridcolor": "#dee2e6",
                "tickfont": {"size": 10, "color": "#6c757d"},
            },
            "angularaxis": {"gridcolor": "#dee2e6"},
            "bgcolor": "rgba(0,0,0,0)",
        },
        "legend": {"orientation": "h", "yanchor": "top", "y": -0.08, "xanchor": "center", "x": 0.5},
        "margin": {"l": 120, "r": 120, "t": 80, "b": 40},  # room for the longest axis labels (Frequency)
    }
    return plain_figure(data, layout, height=460)


SWEEP_PANELS: tuple[tuple[str, str], ...] = (
    ("inertia", "Inertia (look for the elbow)"),
    ("silhouette", "Silhouette (higher is better)"),
    ("davies_bouldin", "Davies-Bouldin (lower is better)"),
    ("calinski_harabasz", "Calinski-Harabasz (higher is better)"),
)


def k_sweep(df: pd.DataFrame, chosen_k: int | None) -> dict[str, Any] | go.Figure:
    """Four small line charts of the sweep's scores by k, the chosen k marked on each (star and line). A
    plain figure dict laid out as make_subplots would (common.plain_figure)."""
    if df.empty:
        return empty_figure("This run stores no k sweep.")
    ks = [int(k) for k in df["k"].tolist()]
    chosen = df[df["k"] == chosen_k]
    layout: dict[str, Any] = {"annotations": [], "shapes": [], "margin": {"t": 70}}
    data: list[dict[str, Any]] = []
    domains = grid_domains(len(SWEEP_PANELS), 2, 0.1, 0.2)
    for i, ((column, title), (x_dom, y_dom)) in enumerate(zip(SWEEP_PANELS, domains, strict=True)):
        suffix = str(i + 1) if i else ""
        layout[f"xaxis{suffix}"] = {
            "anchor": f"y{suffix}",
            "domain": x_dom,
            "dtick": 1,
            "title": {"text": "k"},
        }
        layout[f"yaxis{suffix}"] = {"anchor": f"x{suffix}", "domain": y_dom}
        layout["annotations"].append(panel_title(title, sum(x_dom) / 2, y_dom[1]))
        axes = {"xaxis": f"x{suffix}", "yaxis": f"y{suffix}"}
        data.append(
            {
                "type": "scatter",
                "x": ks,
                "y": [json_number(v) for v in df[column].tolist()],
                "mode": "lines+markers",
                "name": column,
                "line": {"color": PALETTE[0], "width": 2},
                "marker": {"size": 7},
                "showlegend": False,
                "hovertemplate": "k = %{x}: %{y:,.4~g}<extra></extra>",
                **axes,
            }
        )
        if not chosen.empty:
            data.append(
                {
                    "type": "scatter",
                    "x": [int(k) for k in chosen["k"].tolist()],
                    "y": [json_number(v) for v in chosen[column].tolist()],
                    "mode": "markers",
                    "name": f"chosen k = {chosen_k}",
                    "marker": {"color": PALETTE[3], "size": 15, "symbol": "star"},
                    "showlegend": i == 0,
                    "hovertemplate": "chosen k = %{x}: %{y:,.4~g}<extra></extra>",
                    **axes,
                }
            )
            layout["shapes"].append(
                {
                    "type": "line",
                    "x0": chosen_k,
                    "x1": chosen_k,
                    "xref": f"x{suffix}",
                    "y0": 0,
                    "y1": 1,
                    "yref": f"y{suffix} domain",
                    "line": {"color": PALETTE[3], "dash": "dot", "width": 1},
                }
            )
    return plain_figure(data, layout, height=560)


def why_segment(
    features: pd.DataFrame,
    own_id: int | None,
    own_name: str,
    next_id: int | None,
    next_name: str | None,
    among: Iterable[str] = (),
) -> go.Figure:
    """The customer, its segment's centroid and the next-nearest centroid per feature, in the model's space.

    Segments are coloured by name among `among` (the run's segment names, as on the other pages).

    features: queries.customer.Why.features (z, z_centroid, z_next). The distance the model uses is the
    straight-line distance between these points, so the chart shows which features pull which way.
    """
    if features.empty or features["z"].isna().all():
        return empty_figure("The run stored no model for this customer.")
    labels = [feature_label(f) for f in features["feature"]][::-1]
    rows = features.iloc[::-1]
    palette = segment_colors([own_name, *([next_name] if next_name is not None else []), *among])
    fig = go.Figure()
    if next_id is not None and rows["z_next"].notna().any():
        fig.add_scatter(
            x=rows["z_next"],
            y=labels,
            mode="markers",
            name=plain(f"{next_name} (next nearest)"),
            marker={
                "symbol": "circle-open",
                "size": 13,
                "color": palette[str(next_name)],
                "line": {"width": 2},
            },
            hovertemplate="%{y}: %{x:.2f}<extra>%{fullData.name}</extra>",
        )
    if own_id is not None and rows["z_centroid"].notna().any():
        fig.add_scatter(
            x=rows["z_centroid"],
            y=labels,
            mode="markers",
            name=plain(f"{own_name} centroid"),
            marker={"symbol": "diamond", "size": 13, "color": palette[str(own_name)]},
            hovertemplate="%{y}: %{x:.2f}<extra>%{fullData.name}</extra>",
        )
    fig.add_scatter(
        x=rows["z"],
        y=labels,
        mode="markers",
        name="This customer",
        marker={"symbol": "x", "size": 12, "color": POPULATION_COLOR},
        hovertemplate="%{y}: %{x:.2f}<extra>This customer</extra>",
    )
    fig.add_vline(x=0, line={"color": "#adb5bd", "dash": "dot", "width": 1})
    fig.update_layout(
        xaxis={"title": {"text": "Scaled value (0 = population centre)"}},
        margin={"t": 50, "l": 10, "r": 10, "b": 10},
    )
    return styled(fig, height=80 + 38 * len(features))
