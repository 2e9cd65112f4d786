"""Pure DataFrame -> go.Figure builders: the one place for the plot template and the colour of each segment.

No dash imports here: figures are values, so tests and other pages can build them without an app. Maps need
the app's topojson URL in their Graph config (components.map_config()), never the CDN default.
"""

from __future__ import annotations

from collections.abc import Iterable

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
        customdata=df[["segment_id", "revenue"]].to_numpy(),
        hovertemplate="%{y}: revenue %{customdata[1]:,.0f} (%{x:.1f}%)<extra></extra>",
    )
    fig.add_bar(
        name="Customers",
        y=labels,
        x=df["share"] * 100,
        orientation="h",
        marker={"color": colors},
        customdata=df[["segment_id", "customers"]].to_numpy(),
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
