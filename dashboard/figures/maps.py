"""The country map of the Overview and Explore pages, in one segment's hue, and the ranked country bar
beside it (every country, the ones the map cannot show or place included; clicks filter the same way).

Maps need the app's topojson URL in their Graph config (components.map_config()), never the CDN default.
The view is fitted to where the customers are (map_view.fit), not the whole world.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard.figures import map_view
from dashboard.figures.common import corner_annotation, empty_figure, plain, plain_figure, tint
from segmentation import currency as money


def country_map(
    df: pd.DataFrame, metric: str, color: str | None = None, currency: str | None = None
) -> dict[str, Any] | go.Figure:
    """A world choropleth of `value` per country (queries.filtered.country_summary) in one hue: color (a
    segment's, from segment_color, when the map shows one segment), else the app's blue.

    customdata holds the country as stored (click-through); names that cannot be placed are left off (the
    ranked bar lists them). The view fits the countries with customers (map_view.fit), far small ones aside.
    A plain figure dict (common.plain_figure): every filter change redraws it.
    """
    df = df[df["country"].notna()].copy()
    df["code"] = [map_view.country_code(c) for c in df["country"]]
    view = map_view.fit(dict(zip(df["country"], df["value"].astype(float), strict=True)))
    df = df[df["code"].notna()]
    if df.empty or float(df["value"].abs().sum()) == 0:
        return empty_figure("No customers match these filters.")
    color = color or "#0d6efd"
    values = df["value"].astype(float)
    positive = values[values > 0]
    # One country often dwarfs the rest (the UK in Online Retail): a log scale keeps the others visible.
    log = len(positive) > 1 and positive.max() / positive.min() > 50
    if log:
        z = np.log10(values.clip(lower=1.0))
        zmin, zmax = 0.0, max(float(z.max()), 1.0)
    else:
        z = values
        zmin, zmax = min(0.0, float(values.min())), max(float(values.max()), 1e-9)  # from zero: honest shades
    trace = {
        "type": "choropleth",
        "locations": list(df["code"]),
        "locationmode": "ISO-3",
        "z": z.tolist(),
        "customdata": _custom(df),
        "colorscale": [[0, tint(color, 0.12)], [1, color]],
        "zmin": zmin,
        "zmax": zmax,
        "marker": {"line": {"color": "white", "width": 0.5}},
        "showscale": False,  # the ranked country bar beside the map gives the numbers
        "hovertemplate": _hover(currency),
    }
    geo = {
        "showframe": False,
        "showcoastlines": False,
        "showland": True,
        "landcolor": "#f1f3f5",
        "showcountries": True,
        "countrycolor": "#ced4da",
        "projection": {"type": "natural earth"},
        "fitbounds": False,  # plotly.js fits whole countries (France would reach to French Guiana)
        "lataxis": {"range": list(view.lat_range) if view else [-58, 85]},  # no Antarctica
        "lonaxis": {"range": list(view.lon_range) if view else [-180, 180]},
    }
    layout: dict[str, Any] = {"geo": geo, "margin": {"l": 0, "r": 0, "t": 10, "b": 0}}
    if view and view.outside:
        more = f" and {len(view.outside) - 4} more" if len(view.outside) > 4 else ""
        note = "Outside this view: " + ", ".join(view.outside[:4]) + more
        layout["annotations"] = [corner_annotation(note, bgcolor="rgba(255,255,255,0.8)")]
    return plain_figure([trace], layout, height=420)


BAR_COUNTRIES = 20  # countries listed in the ranked bar; the rest are summed in its footer


def country_bars(
    df: pd.DataFrame, metric: str, color: str | None = None, currency: str | None = None
) -> dict[str, Any] | go.Figure:
    """The countries ranked by the map's metric as horizontal bars, largest on top, with value labels;
    customdata holds the country as stored, so a click filters exactly like a click on the map.
    A plain figure dict (common.plain_figure): every filter change redraws it."""
    df = df.copy()
    df["country"] = df["country"].where(df["country"].notna(), None)
    if df.empty or float(df["value"].abs().sum()) == 0:
        return empty_figure("No customers match these filters.")
    color = color or "#0d6efd"
    top = df.head(BAR_COUNTRIES).iloc[::-1]
    labels = [plain(c) if isinstance(c, str) else "Unknown" for c in top["country"]]
    money_metric = metric == "revenue"
    before, after = money.affixes(currency) if money_metric else ("", "")
    values = top["value"].astype(float).tolist()
    text = [f"{before}{v:,.0f}{after}" for v in values]
    trace = {
        "type": "bar",
        "x": values,
        "y": labels,
        "orientation": "h",
        "marker": {"color": color},
        "text": text,
        "textposition": "outside",
        "cliponaxis": False,
        "customdata": _custom(top),
        "hovertemplate": _hover(currency),
    }
    skewed = _skewed(top["value"])
    title = (f"Revenue ({money.unit(currency)})" if money_metric else "Customers") + (
        " (log)" if skewed else ""
    )
    longest = max((len(label) for label in labels), default=8)
    layout: dict[str, Any] = {
        "xaxis": {
            "type": "log" if skewed else "linear",
            "title": {"text": title, "font": {"size": 11}},
            "showgrid": True,
        },
        "yaxis": {"automargin": True, "tickfont": {"size": 12}},
        "margin": {"l": min(7 * longest + 10, 160), "r": 40, "t": 30, "b": 0},  # t: room for the mode bar
        "bargap": 0.25,
        "showlegend": False,
    }
    rest = len(df) - len(top)
    if rest > 0:
        layout["annotations"] = [corner_annotation(f"+ {rest} more countries", right=True)]
    return plain_figure([trace], layout, height=max(220, 22 * len(top) + 70))


def _custom(df: pd.DataFrame) -> list[list[Any]]:
    """[country as stored (click-through), customers, revenue, country as inert text for the hover label]."""
    return [
        [c, int(n), float(r), plain(c if isinstance(c, str) else "Unknown")]
        for c, n, r in zip(df["country"], df["customers"], df["revenue"], strict=True)
    ]


def _hover(currency: str | None) -> str:
    """Country hover text: customers and revenue with the run's currency."""
    before, after = money.affixes(currency)
    return (
        "%{customdata[3]}<br>%{customdata[1]:,} customers<br>"
        f"revenue {before}%{{customdata[2]:,.0f}}{after}<extra></extra>"
    )


def _skewed(values: pd.Series) -> bool:
    """True when the largest value is over 50 times the smallest positive one (a log axis reads better)."""
    positive = values[values > 0].astype(float)
    return len(positive) > 1 and positive.max() / positive.min() > 50
