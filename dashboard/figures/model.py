"""The model's view of the segments: the profile radar, the k sweep, PCA scatters (2-D, 3-D and the
simulator's) and one customer's distances to the centroids ("why this segment")."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard.figures.common import (
    PALETTE,
    POPULATION_COLOR,
    empty_figure,
    feature_label,
    id_colors,
    plain,
    segment_colors,
    segment_label,
    styled,
)

SIMULATOR_POINT_TRACE = 1  # index of the simulated customer's marker in simulator_scatter (Patch target)


def profile_radar(scores: pd.DataFrame, names: dict[int, str], features: list[str]) -> go.Figure:
    """A radar of each segment's median as a robust z-score (profiles.normalise); the population is 0.

    Values are shown clipped to +-3 population IQRs; the hover gives the real score and medians.
    """
    if scores.empty:
        return empty_figure("Pick segments to compare.")
    theta = [feature_label(f) for f in features] + [feature_label(features[0])]
    fig = go.Figure()
    fig.add_trace(
        go.Scatterpolar(
            r=[0.0] * len(theta),
            theta=theta,
            mode="lines",
            name="Everyone (0)",
            line={"color": POPULATION_COLOR, "dash": "dash", "width": 1.5},
            hoverinfo="skip",
        )
    )
    biggest = 1.0
    colors = id_colors(names, scores["segment_id"])
    for segment_id, part in scores.groupby("segment_id", sort=True):
        part = part.set_index("feature").reindex(features)
        raw = part["score"].astype(float)
        shown = raw.clip(-3, 3)
        biggest = max(biggest, float(shown.abs().max(skipna=True) or 0))
        custom = np.column_stack([raw.round(2), part["median"], part["population_median"]])
        fig.add_trace(
            go.Scatterpolar(
                r=[*shown.fillna(0), float(shown.fillna(0).iloc[0])],
                theta=theta,
                customdata=np.vstack([custom, custom[:1]]),
                mode="lines+markers",
                fill="toself",
                opacity=0.75,
                name=plain(segment_label(names, segment_id)),
                line={"color": colors[int(segment_id)], "width": 2},
                hovertemplate="%{theta}: %{customdata[0]} IQR from everyone<br>median %{customdata[1]:,.4~g}"
                " vs %{customdata[2]:,.4~g}<extra></extra>",
            )
        )
    span = float(np.ceil(biggest * 2) / 2)
    fig.update_layout(
        polar={
            "radialaxis": {
                "range": [-span, span],
                "dtick": 1,
                "gridcolor": "#dee2e6",
                "tickfont": {"size": 10, "color": "#6c757d"},
            },
            "angularaxis": {"gridcolor": "#dee2e6"},
            "bgcolor": "rgba(0,0,0,0)",
        },
        legend={"orientation": "h", "yanchor": "top", "y": -0.08, "xanchor": "center", "x": 0.5},
        margin={"l": 60, "r": 60, "t": 30, "b": 40},
    )
    return styled(fig, height=460)


SWEEP_PANELS: tuple[tuple[str, str], ...] = (
    ("inertia", "Inertia (look for the elbow)"),
    ("silhouette", "Silhouette (higher is better)"),
    ("davies_bouldin", "Davies-Bouldin (lower is better)"),
    ("calinski_harabasz", "Calinski-Harabasz (higher is better)"),
)


def k_sweep(df: pd.DataFrame, chosen_k: int | None) -> go.Figure:
    """Four small line charts of the sweep's scores by k, the chosen k marked on each (star and line)."""
    from plotly.subplots import make_subplots

    if df.empty:
        return empty_figure("This run stores no k sweep.")
    fig = make_subplots(
        rows=2,
        cols=2,
        subplot_titles=[t for _, t in SWEEP_PANELS],
        vertical_spacing=0.2,
        horizontal_spacing=0.1,
    )
    for i, (column, _) in enumerate(SWEEP_PANELS):
        row, col = i // 2 + 1, i % 2 + 1
        fig.add_trace(
            go.Scatter(
                x=df["k"],
                y=df[column],
                mode="lines+markers",
                name=column,
                line={"color": PALETTE[0], "width": 2},
                marker={"size": 7},
                showlegend=False,
                hovertemplate="k = %{x}: %{y:,.4~g}<extra></extra>",
            ),
            row=row,
            col=col,
        )
        chosen = df[df["k"] == chosen_k]
        if not chosen.empty:
            fig.add_trace(
                go.Scatter(
                    x=chosen["k"],
                    y=chosen[column],
                    mode="markers",
                    name=f"chosen k = {chosen_k}",
                    marker={"color": PALETTE[3], "size": 15, "symbol": "star"},
                    showlegend=i == 0,
                    hovertemplate="chosen k = %{x}: %{y:,.4~g}<extra></extra>",
                ),
                row=row,
                col=col,
            )
            fig.add_vline(x=chosen_k, line={"color": PALETTE[3], "dash": "dot", "width": 1}, row=row, col=col)
    fig.update_xaxes(dtick=1, title_text="k")
    fig.update_annotations(font={"size": 13})
    fig.update_layout(margin={"t": 70})
    return styled(fig, height=560)


def pca_scatter(df: pd.DataFrame, dims: int = 2, names: Mapping[int, str] | None = None) -> go.Figure:
    """Sampled customers on the first 2 (or 3) principal components, one colour per segment name (resolved
    among names, the run's, when given); outliers are drawn on top as black-edged crosses (2-D) or
    diamonds (3-D) in their segment's colour."""
    if df.empty or df["pc1"].isna().all():
        return empty_figure("No PCA coordinates stored for this run.")
    three = dims == 3 and not df["pc3"].isna().all()
    palette = segment_colors([*df["segment_name"].astype(str), *(names or {}).values()])
    fig = go.Figure()
    outlier = df["is_outlier"].fillna(False).astype(bool)
    for segment_id, part in df[~outlier].groupby("segment_id", sort=True):
        name = plain(part["segment_name"].iloc[0])
        common = {
            "mode": "markers",
            "name": name,
            "legendgroup": str(segment_id),
            "customdata": part[["customer_id"]].to_numpy(),
            "hovertemplate": name + ": customer %{customdata[0]}<extra></extra>",
        }
        color = palette[str(part["segment_name"].iloc[0])]
        if three:
            fig.add_trace(
                go.Scatter3d(
                    x=part["pc1"],
                    y=part["pc2"],
                    z=part["pc3"],
                    marker={"size": 2.5, "color": color},
                    **common,
                )
            )
        else:
            fig.add_trace(
                go.Scatter(
                    x=part["pc1"], y=part["pc2"], marker={"size": 5, "color": color, "opacity": 0.6}, **common
                )
            )
    out = df[outlier]
    if not out.empty:
        colors = [palette[str(n)] for n in out["segment_name"]]
        common = {
            "mode": "markers",
            "name": f"Outliers ({len(out):,})",
            "customdata": out[["customer_id", "segment_name"]].to_numpy(),
            "hovertemplate": "outlier %{customdata[0]} (%{customdata[1]})<extra></extra>",
        }
        if three:
            fig.add_trace(
                go.Scatter3d(
                    x=out["pc1"],
                    y=out["pc2"],
                    z=out["pc3"],
                    marker={
                        "size": 5,
                        "color": colors,
                        "symbol": "diamond",
                        "line": {"color": "#000", "width": 1},
                    },
                    **common,
                )
            )
        else:
            fig.add_trace(
                go.Scatter(
                    x=out["pc1"],
                    y=out["pc2"],
                    marker={
                        "size": 11,
                        "color": colors,
                        "symbol": "x",
                        "line": {"color": "#000", "width": 1},
                    },
                    **common,
                )
            )
    if three:
        axes = {"gridcolor": "#dee2e6", "backgroundcolor": "rgba(0,0,0,0)", "nticks": 5}
        fig.update_layout(
            scene={
                "xaxis": {**axes, "title": {"text": "PC1"}},
                "yaxis": {**axes, "title": {"text": "PC2"}},
                "zaxis": {**axes, "title": {"text": "PC3"}},
                "aspectmode": "cube",
                "camera": {"eye": {"x": 1.5, "y": 1.5, "z": 0.9}},
            },
            margin={"l": 0, "r": 0, "t": 30, "b": 0},
        )
    else:
        fig.update_layout(xaxis={"title": {"text": "PC1"}}, yaxis={"title": {"text": "PC2"}})
    fig.update_layout(legend={"itemsizing": "constant"})
    return styled(fig, height=480)


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


def simulator_scatter(
    sample: pd.DataFrame, names: dict[int, str], point: tuple[float, float], color: str
) -> go.Figure:
    """Sampled customers on PC1/PC2 coloured by segment, with the simulated customer as a big star.

    Trace 0 holds every sampled point, trace SIMULATOR_POINT_TRACE the star (so a callback can move it with
    a Patch), and the traces after it are legend entries only (one per segment).
    """
    fig = go.Figure()
    ids = [int(s) for s in sample["segment_id"]] if not sample.empty else []
    labels = [plain(segment_label(names, s)) for s in ids]
    colors = id_colors(names, ids)
    fig.add_trace(
        go.Scatter(
            x=sample["pc1"] if not sample.empty else [],
            y=sample["pc2"] if not sample.empty else [],
            mode="markers",
            marker={"size": 5, "color": [colors[s] for s in ids], "opacity": 0.45},
            text=labels,
            hovertemplate="%{text}<extra></extra>",
            showlegend=False,
            name="Customers",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=[point[0]],
            y=[point[1]],
            mode="markers",
            marker={"size": 24, "color": color, "symbol": "star", "line": {"color": "#212529", "width": 2}},
            name="Simulated customer",
            hovertemplate="Simulated customer<extra></extra>",
        )
    )
    for segment_id in sorted(set(ids) | set(names)):
        fig.add_trace(
            go.Scatter(
                x=[None],
                y=[None],
                mode="markers",
                marker={"size": 9, "color": colors[segment_id]},
                name=plain(segment_label(names, segment_id)),
                hoverinfo="skip",
            )
        )
    fig.update_layout(
        xaxis={"title": {"text": "PC1"}, "zeroline": False},
        yaxis={"title": {"text": "PC2"}, "zeroline": False},
        margin={"t": 30, "l": 10, "r": 10, "b": 10},
    )
    return styled(fig, height=460)
