"""Pure DataFrame -> go.Figure builders: the one place for the plot template and the colour of each segment.

No dash imports here: figures are values, so tests and other pages can build them without an app. Maps need
the app's topojson URL in their Graph config (components.map_config()), never the CDN default.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

# Tableau 10: distinct, colour-blind-tolerable; segment id n always gets PALETTE[n % 10] on every page.
PALETTE: tuple[str, ...] = (
    "#4C78A8",
    "#F58518",
    "#54A24B",
    "#E45756",
    "#72B7B2",
    "#EECA3B",
    "#B279A2",
    "#FF9DA6",
    "#9D755D",
    "#BAB0AC",
)
OUTLIER_COLOR = "#6c757d"
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"

TEMPLATE = go.layout.Template(
    layout=go.Layout(
        font={"family": FONT, "size": 13, "color": "#212529"},
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        colorway=list(PALETTE),
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        hoverlabel={"font": {"family": FONT}},
        xaxis={"gridcolor": "#e9ecef", "zerolinecolor": "#dee2e6", "automargin": True},
        yaxis={"gridcolor": "#e9ecef", "zerolinecolor": "#dee2e6", "automargin": True},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0},
    )
)

# Online Retail spellings that plotly's 'country names' lookup does not know.
MAP_COUNTRY_NAMES: dict[str, str] = {
    "EIRE": "Ireland",
    "RSA": "South Africa",
    "USA": "United States",
    "Czech Republic": "Czechia",
}


# Countries (as Online Retail spells them) for which a Europe-only view shows everything.
EUROPE: frozenset[str] = frozenset(
    {
        "Austria",
        "Belgium",
        "Bulgaria",
        "Channel Islands",
        "Croatia",
        "Cyprus",
        "Czech Republic",
        "Czechia",
        "Denmark",
        "EIRE",
        "Estonia",
        "European Community",
        "Finland",
        "France",
        "Germany",
        "Greece",
        "Hungary",
        "Iceland",
        "Ireland",
        "Italy",
        "Latvia",
        "Lithuania",
        "Luxembourg",
        "Malta",
        "Netherlands",
        "Norway",
        "Poland",
        "Portugal",
        "Romania",
        "Slovakia",
        "Slovenia",
        "Spain",
        "Sweden",
        "Switzerland",
        "United Kingdom",
        "Unspecified",
    }
)


def segment_color(segment_id: int) -> str:
    """The fixed colour of a segment id (the same on every page and run)."""
    return PALETTE[int(segment_id) % len(PALETTE)]


def segment_colors(segment_ids: Iterable[int]) -> dict[int, str]:
    """segment id -> colour, for px colour maps and legends."""
    return {int(s): segment_color(int(s)) for s in segment_ids}


def styled(fig: go.Figure, title: str | None = None, height: int | None = None) -> go.Figure:
    """Apply the app template (and an optional title and height) to a figure; returns it."""
    fig.update_layout(template=TEMPLATE, title={"text": title or "", "x": 0, "xanchor": "left"})
    if height:
        fig.update_layout(height=height)
    return fig


def empty_figure(message: str) -> go.Figure:
    """A blank figure that says why it is blank (no data for these filters, ...)."""
    fig = go.Figure()
    fig.add_annotation(
        text=message,
        showarrow=False,
        x=0.5,
        y=0.5,
        xref="paper",
        yref="paper",
        font={"size": 15, "color": "#6c757d"},
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return styled(fig)


def segment_shares(df: pd.DataFrame) -> go.Figure:
    """Horizontal bars per segment: share of customers (solid) and of revenue (hatched), in segment colours.

    df: queries.filtered.segment_summary output. Each bar's customdata is its segment id (click-through).
    """
    if df.empty or int(df["customers"].sum()) == 0:
        return empty_figure("No customers match these filters.")
    df = df.iloc[::-1]  # first segment on top
    colors = [segment_color(s) for s in df["segment_id"]]
    labels = [f"{name}" for name in df["name"]]
    fig = go.Figure()
    # Horizontal groups stack their first trace at the bottom: revenue first puts customers on top.
    fig.add_bar(
        name="Revenue",
        y=labels,
        x=df["revenue_share"] * 100,
        orientation="h",
        marker={"color": colors, "pattern": {"shape": "/", "fgcolor": "white", "solidity": 0.35}},
        customdata=_id_and(df["segment_id"], df["revenue"]),
        hovertemplate="%{y}: revenue %{customdata[1]:,.0f} (%{x:.1f}%)<extra></extra>",
    )
    fig.add_bar(
        name="Customers",
        y=labels,
        x=df["share"] * 100,
        orientation="h",
        marker={"color": colors},
        customdata=_id_and(df["segment_id"], df["customers"]),
        hovertemplate="%{y}: %{customdata[1]:,} customers (%{x:.1f}%)<extra></extra>",
    )
    fig.update_layout(
        barmode="group",
        bargap=0.25,
        showlegend=False,  # both traces share the segment colours; the card says solid = customers
        xaxis={"title": "% of filtered total", "ticksuffix": "%"},
        margin={"t": 10},
    )
    return styled(fig, height=max(420, 60 * len(df) + 80))


def _id_and(ids: pd.Series, values: pd.Series) -> list[list[Any]]:
    """[[segment id, value], ...] as plain lists: plotly sends NumPy arrays as base64 `bdata`, which Dash's
    clickData leaves out, so a click would carry no id."""
    return [[int(i), v.item() if hasattr(v, "item") else v] for i, v in zip(ids, values, strict=True)]


def _short(number: float) -> str:
    """10 -> '10', 1000 -> '1k', 1e6 -> '1M' (colour bar ticks)."""
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if number >= size:
            return f"{number / size:g}{suffix}"
    return f"{number:g}"


def _tint(hex_color: str, alpha: float) -> str:
    """A hex colour as rgba with the given opacity (light end of a one-hue colour scale)."""
    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def country_map(df: pd.DataFrame, metric: str, segment_id: int | None = None) -> go.Figure:
    """A world choropleth of `value` per country (queries.filtered.country_summary), in one segment's hue.

    customdata holds the country as stored (click-through); names plotly cannot place are left off.
    """
    df = df[df["country"].notna()]
    if df.empty or float(df["value"].abs().sum()) == 0:
        return empty_figure("No customers match these filters.")
    color = segment_color(segment_id) if segment_id is not None else "#0d6efd"
    label = "Revenue" if metric == "revenue" else "Customers"
    values = df["value"].astype(float)
    positive = values[values > 0]
    # One country often dwarfs the rest (the UK in Online Retail): a log scale keeps the others visible.
    log = len(positive) > 1 and positive.max() / positive.min() > 50
    ticks: dict[str, object] = {}
    if log:
        z = np.log10(values.clip(lower=1.0))
        zmin, zmax = 0.0, max(float(z.max()), 1.0)
        powers = list(range(0, int(np.floor(zmax)) + 1))
        ticks = {"tickvals": powers, "ticktext": [_short(10**p) for p in powers]}
    else:
        z = values
        zmin, zmax = min(0.0, float(values.min())), max(float(values.max()), 1e-9)  # from zero: honest shades
    fig = go.Figure(
        go.Choropleth(
            locations=[MAP_COUNTRY_NAMES.get(c, c) for c in df["country"]],
            locationmode="country names",
            z=z,
            customdata=df[["country", "customers", "revenue"]].to_numpy(),
            colorscale=[[0, _tint(color, 0.12)], [1, color]],
            zmin=zmin,
            zmax=zmax,
            marker={"line": {"color": "white", "width": 0.5}},
            colorbar={
                "title": {"text": f"{label} (log)" if log else label},
                "thickness": 12,
                "len": 0.8,
                **ticks,
            },
            hovertemplate="%{customdata[0]}<br>%{customdata[1]:,} customers<br>revenue %{customdata[2]:,.0f}"
            "<extra></extra>",
        )
    )
    fig.update_geos(
        showframe=False,
        showcoastlines=False,
        showland=True,
        landcolor="#f1f3f5",
        showcountries=True,
        countrycolor="#ced4da",
        projection_type="natural earth",
        fitbounds=False,  # plotly.js 4 fits to the locations by default, and France includes French Guiana
        lataxis_range=[-58, 85],  # no Antarctica
    )
    if set(df["country"]) <= EUROPE:  # zoom in on Europe
        fig.update_geos(lataxis_range=[35, 66], lonaxis_range=[-22, 35])
    fig.update_layout(margin={"l": 0, "r": 0, "t": 10, "b": 0})
    return styled(fig, height=420)


# ---------------------------------------------------------------------------------------------------------
# Compare and Model pages: profiles, distributions, the RFM cross tab, the k sweep, PCA and histograms.

POPULATION_COLOR = "#343a40"
FEATURE_LABELS: dict[str, str] = {
    "recency_days": "Recency (days)",
    "frequency": "Frequency (orders)",
    "monetary": "Revenue",
    "quantity": "Units",
    "avg_basket_value": "Basket value",
    "tenure_days": "Tenure (days)",
    "distinct_products": "Distinct products",
    "return_rate": "Return rate",
}


def plain(text: object) -> str:
    """Stored text (segment names, user column names) made inert for plotly's HTML-like labels."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def feature_label(feature: str) -> str:
    """A readable, plain-text label for a feature name."""
    return FEATURE_LABELS.get(feature, plain(feature))


def series_color(segment_id: int) -> str:
    """A segment's colour; the population (id -1) is dark grey."""
    return POPULATION_COLOR if int(segment_id) < 0 else segment_color(int(segment_id))


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
                name=plain(names.get(int(segment_id), f"Segment {segment_id}")),
                line={"color": series_color(int(segment_id)), "width": 2},
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


def profile_boxes(
    stats: pd.DataFrame, names: dict[int, str], features: list[str], columns: int = 4
) -> go.Figure:
    """Small multiples, one per feature: a box per series from DuckDB quantiles (profiles.box_stats).

    Boxes are p25-median-p75 with the mean dashed; whiskers reach the 5th and 95th percentiles.
    """
    from plotly.subplots import make_subplots

    if stats.empty or not features:
        return empty_figure("Pick segments to compare.")
    rows = int(np.ceil(len(features) / columns))
    fig = make_subplots(
        rows=rows,
        cols=columns,
        subplot_titles=[feature_label(f) for f in features],
        vertical_spacing=0.16 if rows > 1 else 0.1,
        horizontal_spacing=0.06,
    )
    order = sorted(stats["segment_id"].unique(), key=lambda s: (s < 0, s))
    for i, feature in enumerate(features):
        row, col = i // columns + 1, i % columns + 1
        part = stats[stats["feature"] == feature].set_index("segment_id")
        for segment_id in order:
            if segment_id not in part.index:
                continue
            s = part.loc[segment_id]
            label = plain(names.get(int(segment_id), f"Segment {segment_id}"))
            fig.add_trace(
                go.Box(
                    x=[label],
                    q1=[s["p25"]],
                    median=[s["median"]],
                    q3=[s["p75"]],
                    lowerfence=[s["p05"]],
                    upperfence=[s["p95"]],
                    mean=[s["mean"]],
                    boxmean=True,
                    name=label,
                    legendgroup=str(segment_id),
                    showlegend=i == 0,
                    marker={"color": series_color(int(segment_id))},
                    line={"width": 1.5},
                ),
                row=row,
                col=col,
            )
    fig.update_xaxes(showticklabels=False)
    fig.update_yaxes(tickfont={"size": 10})
    fig.update_annotations(font={"size": 12})
    fig.update_layout(
        boxgap=0.25,
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0 + 40 / (260 * rows), "x": 0},
        margin={"t": 80, "b": 10},
    )
    return styled(fig, height=260 * rows + 80)


def rfm_heatmap(crosstab: pd.DataFrame, groups: list[str | None]) -> go.Figure:
    """Learned segments (rows) x rule-based RFM groups (columns): colour = share of the segment, text = count.

    groups is profiles.rfm_columns(crosstab): the column order (None = customers without a group).
    """
    if crosstab.empty:
        return empty_figure("No customers in this run.")
    segments = crosstab[["segment_id", "segment_name"]].drop_duplicates().sort_values("segment_id")
    key = crosstab.assign(group=crosstab["rfm_group"].fillna("\0none"))
    columns = ["\0none" if g is None else g for g in groups]
    share = key.pivot_table(index="segment_id", columns="group", values="share", aggfunc="sum")
    count = key.pivot_table(index="segment_id", columns="group", values="customers", aggfunc="sum")
    share = share.reindex(index=segments["segment_id"], columns=columns).fillna(0.0)
    count = count.reindex(index=segments["segment_id"], columns=columns).fillna(0).astype(int)
    x = ["(no group)" if c == "\0none" else plain(c) for c in columns]
    y = [plain(n) for n in segments["segment_name"]]
    fig = go.Figure(
        go.Heatmap(
            z=(share.to_numpy() * 100).round(1),
            x=x,
            y=y,
            customdata=count.to_numpy(),
            text=count.to_numpy(),
            texttemplate="%{text:,}",
            colorscale=[[0, "#f8f9fa"], [1, "#084c8d"]],
            zmin=0,
            zmax=100,
            xgap=2,
            ygap=2,
            colorbar={"title": {"text": "% of segment"}, "ticksuffix": "%", "thickness": 12},
            hovertemplate="%{y} x %{x}: %{customdata:,} customers (%{z:.1f}% of the segment)<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(tickangle=-30)
    fig.update_layout(margin={"t": 10})
    return styled(fig, height=max(300, 55 * len(y) + 150))


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


def pca_scatter(df: pd.DataFrame, dims: int = 2) -> go.Figure:
    """Sampled customers on the first 2 (or 3) principal components, one colour per segment; outliers
    are drawn on top as black-edged crosses (2-D) or diamonds (3-D) in their segment's colour."""
    if df.empty or df["pc1"].isna().all():
        return empty_figure("No PCA coordinates stored for this run.")
    three = dims == 3 and not df["pc3"].isna().all()
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
        color = segment_color(int(segment_id))
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
        colors = [segment_color(int(s)) for s in out["segment_id"]]
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


def feature_histogram(
    counts: pd.DataFrame, edges: list[float], names: dict[int, str], feature: str
) -> go.Figure:
    """Stacked bars of customers per bin and segment (queries.model.histogram), in segment colours."""
    if counts.empty or len(edges) < 2:
        return empty_figure("No values for this feature.")
    width = edges[1] - edges[0]
    fig = go.Figure()
    for segment_id, part in counts.groupby("segment_id", sort=True):
        bins = part["bin"].astype(int).to_numpy()
        lo = np.array([edges[b] for b in bins])
        fig.add_bar(
            x=lo + width / 2,
            y=part["customers"],
            width=width,
            name=plain(names.get(int(segment_id), f"Segment {segment_id}")),
            marker={"color": segment_color(int(segment_id)), "line": {"width": 0}},
            customdata=np.column_stack([lo, lo + width]),
            hovertemplate="%{customdata[0]:,.4~g} to %{customdata[1]:,.4~g}: %{y:,} customers<extra></extra>",
        )
    fig.update_layout(
        barmode="stack",
        bargap=0,
        legend={"traceorder": "normal"},
        xaxis={"title": {"text": feature_label(feature)}},
        yaxis={"title": {"text": "Customers"}},
    )
    return styled(fig, height=380)


# ---------------------------------------------------------------------------------------------------------
# Explore and Customers pages: histograms of the filtered customers, and one customer's "why this segment".

EXPLORE_HISTOGRAM_LABELS: dict[str, str] = {
    "tenure": "Tenure (days)",
    "recency": "Recency (days)",
    "frequency": "Frequency (orders)",
    "monetary": "Revenue",
}


def explore_histograms(df: pd.DataFrame, names: dict[int, str]) -> go.Figure:
    """A 2x2 grid of stacked histograms (queries.customer.histograms), one colour per segment.

    The end bins also hold the tails beyond the binned 1st..99th percentile range; their hover says so.
    """
    from plotly.subplots import make_subplots  # only this figure needs subplots

    if df.empty:
        return empty_figure("No customers match these filters.")
    keys = list(EXPLORE_HISTOGRAM_LABELS)
    fig = make_subplots(
        rows=2,
        cols=2,
        subplot_titles=[EXPLORE_HISTOGRAM_LABELS[k] for k in keys],
        horizontal_spacing=0.08,
        vertical_spacing=0.16,
    )
    shown: set[int] = set()
    for i, key in enumerate(keys):
        row, col = i // 2 + 1, i % 2 + 1
        part = df[df["feature"] == key]
        if part.empty:
            fig.add_annotation(
                text="not in this run",
                showarrow=False,
                xref=f"x{i + 1 if i else ''} domain",
                yref=f"y{i + 1 if i else ''} domain",
                x=0.5,
                y=0.5,
                font={"color": "#6c757d"},
            )
            continue
        lo = float(part["lo"].iloc[0])
        width = part["width"].iloc[0]
        width = 1.0 if width is None or width != width else float(width)
        vmin, vmax = float(part["vmin"].iloc[0]), float(part["vmax"].iloc[0])
        last = int(part["bin"].max())
        whole = key != "monetary"
        for segment_id, seg in part.groupby("segment_id", sort=True):
            sid = int(segment_id)
            bins = seg["bin"].astype(int).to_numpy()
            starts = lo + bins * width
            labels = [
                _bin_label(b, s, width, last, vmin, vmax, whole) for b, s in zip(bins, starts, strict=True)
            ]
            fig.add_bar(
                x=starts + (width - 1) / 2 if whole else starts + width / 2,  # whole bins centre on values
                y=seg["customers"],
                width=width,
                name=plain(names.get(sid, f"Segment {sid}")),
                legendgroup=str(sid),
                showlegend=sid not in shown,
                marker={"color": segment_color(sid), "line": {"width": 0}},
                customdata=np.array(labels, dtype=object).reshape(-1, 1),
                hovertemplate="%{customdata[0]}: %{y:,} customers<extra>%{fullData.name}</extra>",
                row=row,
                col=col,
            )
            shown.add(sid)
    fig.update_layout(barmode="stack", bargap=0.05, margin={"t": 70}, legend={"y": 1.1})
    fig.update_annotations(font={"size": 13})
    fig.update_yaxes(title_text="Customers", col=1)
    return styled(fig, height=520)


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


def why_segment(
    features: pd.DataFrame,
    own_id: int | None,
    own_name: str,
    next_id: int | None,
    next_name: str | None,
) -> go.Figure:
    """The customer, its segment's centroid and the next-nearest centroid per feature, in the model's space.

    features: queries.customer.Why.features (z, z_centroid, z_next). The distance the model uses is the
    straight-line distance between these points, so the chart shows which features pull which way.
    """
    if features.empty or features["z"].isna().all():
        return empty_figure("The run stored no model for this customer.")
    labels = [feature_label(f) for f in features["feature"]][::-1]
    rows = features.iloc[::-1]
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
                "color": segment_color(next_id),
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
            marker={"symbol": "diamond", "size": 13, "color": segment_color(own_id)},
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


# --- Simulator and History (appended) ---------------------------------------------------------------

SIMULATOR_POINT_TRACE = 1  # index of the simulated customer's marker in simulator_scatter (Patch target)
ABSENT_COLOR = "#adb5bd"  # "not in this run" nodes of the migration Sankey


def simulator_scatter(
    sample: pd.DataFrame, names: dict[int, str], point: tuple[float, float], color: str
) -> go.Figure:
    """Sampled customers on PC1/PC2 coloured by segment, with the simulated customer as a big star.

    Trace 0 holds every sampled point, trace SIMULATOR_POINT_TRACE the star (so a callback can move it with
    a Patch), and the traces after it are legend entries only (one per segment).
    """
    fig = go.Figure()
    ids = [int(s) for s in sample["segment_id"]] if not sample.empty else []
    labels = [plain(names.get(s, f"Segment {s}")) for s in ids]
    fig.add_trace(
        go.Scatter(
            x=sample["pc1"] if not sample.empty else [],
            y=sample["pc2"] if not sample.empty else [],
            mode="markers",
            marker={"size": 5, "color": [segment_color(s) for s in ids], "opacity": 0.45},
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
                marker={"size": 9, "color": segment_color(segment_id)},
                name=plain(names.get(segment_id, f"Segment {segment_id}")),
                hoverinfo="skip",
            )
        )
    fig.update_layout(
        xaxis={"title": {"text": "PC1"}, "zeroline": False},
        yaxis={"title": {"text": "PC2"}, "zeroline": False},
        margin={"t": 30, "l": 10, "r": 10, "b": 10},
    )
    return styled(fig, height=460)


def migration_sankey(
    flows: pd.DataFrame, left: pd.DataFrame, new: pd.DataFrame, label_a: str, label_b: str
) -> go.Figure:
    """Customers moving from run A's segments (left column) to run B's (right column).

    flows: segment_a, name_a, segment_b, name_b, customers (in both runs); left: segment_a, name_a,
    customers (only in A); new: segment_b, name_b, customers (only in B). Those in one run only flow to
    or from a grey "not in run ..." node.
    """
    if flows.empty and left.empty and new.empty:
        return empty_figure("Neither run has customers.")
    nodes: list[tuple[str, str]] = []  # (label, colour)
    index: dict[tuple[str, int], int] = {}

    def node(side: str, segment_id: int, label: str, color: str) -> int:
        key = (side, int(segment_id))
        if key not in index:
            index[key] = len(nodes)
            nodes.append((label, color))
        return index[key]

    def seg_node(side: str, segment_id: int, name: object) -> int:
        return node(side, segment_id, plain(name), segment_color(segment_id))

    # Nodes in segment order on each side, so the columns read top to bottom like the table.
    for sid, name in sorted(
        set(zip(flows["segment_a"], flows["name_a"], strict=True))
        | set(zip(left["segment_a"], left["name_a"], strict=True))
    ):
        seg_node("a", sid, name)
    if not new.empty:
        node("a", -1, f"Not in {plain(label_a)}", ABSENT_COLOR)
    for sid, name in sorted(
        set(zip(flows["segment_b"], flows["name_b"], strict=True))
        | set(zip(new["segment_b"], new["name_b"], strict=True))
    ):
        seg_node("b", sid, name)
    if not left.empty:
        node("b", -1, f"Not in {plain(label_b)}", ABSENT_COLOR)

    sources: list[int] = []
    targets: list[int] = []
    values: list[int] = []
    colors: list[str] = []
    for r in flows.itertuples(index=False):
        sources.append(index[("a", int(r.segment_a))])
        targets.append(index[("b", int(r.segment_b))])
        values.append(int(r.customers))
        colors.append(_tint(segment_color(int(r.segment_a)), 0.35))
    for r in left.itertuples(index=False):
        sources.append(index[("a", int(r.segment_a))])
        targets.append(index[("b", -1)])
        values.append(int(r.customers))
        colors.append(_tint(ABSENT_COLOR, 0.35))
    for r in new.itertuples(index=False):
        sources.append(index[("a", -1)])
        targets.append(index[("b", int(r.segment_b))])
        values.append(int(r.customers))
        colors.append(_tint(ABSENT_COLOR, 0.35))
    # Place each column's nodes in table order (plotly would reorder them to shorten the links).
    inflow = dict.fromkeys(range(len(nodes)), 0)
    outflow = dict.fromkeys(range(len(nodes)), 0)
    for s, t, v in zip(sources, targets, values, strict=True):
        outflow[s] += v
        inflow[t] += v
    xs, ys = [0.0] * len(nodes), [0.0] * len(nodes)
    for side, x, sizes in (("a", 0.001, outflow), ("b", 0.999, inflow)):
        column = [i for (key_side, _), i in index.items() if key_side == side]  # in insertion order
        total = sum(sizes[i] for i in column) or 1
        done = 0
        for i in column:
            xs[i] = x
            ys[i] = 0.001 + 0.998 * (done + sizes[i] / 2) / total
            done += sizes[i]
    fig = go.Figure(
        go.Sankey(
            arrangement="snap",
            node={
                "x": xs,
                "y": ys,
                "label": [label for label, _ in nodes],
                "color": [color for _, color in nodes],
                "pad": 18,
                "thickness": 18,
                "line": {"color": "white", "width": 0.5},
                "hovertemplate": "%{label}: %{value:,} customers<extra></extra>",
            },
            link={
                "source": sources,
                "target": targets,
                "value": values,
                "color": colors,
                "hovertemplate": "%{source.label} → %{target.label}: %{value:,} customers<extra></extra>",
            },
        )
    )
    for x, anchor, text in ((0, "left", label_a), (1, "right", label_b)):
        fig.add_annotation(
            x=x,
            y=1.06,
            xref="paper",
            yref="paper",
            xanchor=anchor,
            showarrow=False,
            text=plain(text),
            font={"size": 13, "color": "#6c757d"},
        )
    fig.update_layout(margin={"t": 40, "l": 10, "r": 10, "b": 10})
    return styled(fig, height=max(380, 70 * max(len(index), 4)))
