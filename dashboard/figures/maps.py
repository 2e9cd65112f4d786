"""The world choropleth of the Overview and Explore pages, in one segment's hue.

Maps need the app's topojson URL in their Graph config (components.map_config()), never the CDN default.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard.figures.common import empty_figure, styled, tint

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


def _short(number: float) -> str:
    """10 -> '10', 1000 -> '1k', 1e6 -> '1M' (colour bar ticks)."""
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if number >= size:
            return f"{number / size:g}{suffix}"
    return f"{number:g}"


def country_map(df: pd.DataFrame, metric: str, color: str | None = None) -> go.Figure:
    """A world choropleth of `value` per country (queries.filtered.country_summary) in one hue: color (a
    segment's, from segment_color, when the map shows one segment), else the app's blue.

    customdata holds the country as stored (click-through); names plotly cannot place are left off.
    """
    df = df[df["country"].notna()]
    if df.empty or float(df["value"].abs().sum()) == 0:
        return empty_figure("No customers match these filters.")
    color = color or "#0d6efd"
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
            colorscale=[[0, tint(color, 0.12)], [1, color]],
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
