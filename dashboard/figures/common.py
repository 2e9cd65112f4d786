"""The figures' shared look: the palette, the colour of each segment, the plot template and small helpers.

No dash imports here (nor anywhere in dashboard.figures): figures are values, so tests and pages can build
them without an app.
"""

from __future__ import annotations

from collections.abc import Iterable

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

POPULATION_COLOR = "#343a40"
ABSENT_COLOR = "#adb5bd"  # "not in this run" nodes of the migration Sankey
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


def tint(hex_color: str, alpha: float) -> str:
    """A hex colour as rgba with the given opacity (light end of a one-hue colour scale)."""
    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def plain(text: object) -> str:
    """Stored text (segment names, user column names) made inert for plotly's HTML-like labels."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def feature_label(feature: str) -> str:
    """A readable, plain-text label for a feature name."""
    return FEATURE_LABELS.get(feature, plain(feature))


def series_color(segment_id: int) -> str:
    """A segment's colour; the population (id -1) is dark grey."""
    return POPULATION_COLOR if int(segment_id) < 0 else segment_color(int(segment_id))
