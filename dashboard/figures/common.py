"""The figures' shared look: the palette, the colour of each segment name, the plot template and helpers.

Segment colours follow the segment's NAME, never its id, so "At Risk" looks the same in every run, on every
page and in every figure (ids are renumbered by each run). The rule, in three steps:

1. The thirteen names segmentation.naming can give from its vocabulary (Champions ... Frequent Returners)
   have fixed colours (SEGMENT_COLORS), mutually distinct: mostly from Paul Tol's and Okabe-Ito's
   colour-blind-safe sets, picked to stay apart under simulated protanopia and deuteranopia too.
2. Any other name (descriptive names such as "Lapsed · High Tenure", suffixed ones such as "... 2", user
   renames, "Segment 3") gets HASH_COLORS[crc32(name) % 8], eight more colours: a hash of the name's UTF-8
   bytes, the same in every process (unlike Python's salted hash()).
3. Names shown together are resolved so that two different names share a colour only when there are more
   names than colours (21): vocabulary names keep their fixed colours; the other names, in sorted order, each
   take the first colour of their probe sequence (own hash colour, then the rest of HASH_COLORS in order,
   then the vocabulary colours) that no name before them took.

Views resolve against every name of the run(s) they show, not only the rows the filters leave, so all pages
of one run agree. A hashed name's colour can differ between two views only when one of them also shows an
earlier-sorted name with the same hash colour (e.g. a name from the other run on History's Sankey, which
resolves over both runs so that a name has one colour on both sides).

No dash imports here (nor anywhere in dashboard.figures): figures are values, so tests and pages can build
them without an app.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping
from typing import Any

import plotly.graph_objects as go

from dashboard import measures
from segmentation.config import TRANSACTION_FEATURES

# Tableau 10: the template's colourway for series that are not segments (k sweep lines, chosen-k marks).
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
# One fixed colour per name of segmentation.naming's vocabulary: greens for good customers, reds for those
# slipping away, browns for the gone. Chosen so the closest pair stays about 9.6 apart (CIEDE2000) in normal
# vision and under simulated protanopia and deuteranopia (Machado 2009).
SEGMENT_COLORS: dict[str, str] = {
    "Champions": "#009E73",
    "Loyal": "#1F3A5F",
    "Big Spenders": "#CC79A7",
    "Potential Loyalists": "#66CCEE",
    "New": "#EEDD88",
    "Promising": "#44BB99",
    "Need Attention": "#A6761D",
    "About to Sleep": "#AAAA00",
    "At Risk": "#EE6677",
    "Can't Lose": "#661100",
    "Dormant": "#8C564B",
    "Bargain Seekers": "#FFAABB",
    "Frequent Returners": "#7570B3",
}
# Colours for every other name (by hash): at least 15 apart in normal vision from each other and from
# SEGMENT_COLORS, at least 7.5 under simulated colour blindness; never grey (grey means everyone or absent).
HASH_COLORS: tuple[str, ...] = (
    "#0000CC",
    "#125959",
    "#7399E6",
    "#59122A",
    "#BF397C",
    "#595912",
    "#8C0E8C",
    "#0E8C8C",
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
# The sales features' axis titles: the one name per measure (dashboard.measures); money without its
# currency, rates in %.
FEATURE_LABELS: dict[str, str] = {column: measures.label(column) for column in TRANSACTION_FEATURES}
# Value labels on bars (with a texttemplate): the value just past the bar's end in the page's dark grey, so
# it reads on any segment colour and never overlaps (each bar has its own slot), not clipped by the axes.
VALUE_LABELS: dict[str, Any] = {
    "textposition": "outside",
    "cliponaxis": False,
    "textfont": {"size": 11, "color": "#495057"},
}
# Features where lower is better: radars draw them inverted, so outward always means better.
LOWER_IS_BETTER: frozenset[str] = frozenset({"recency_days", "return_rate"})
# Features stored as whole numbers: their axes tick on whole numbers only.
WHOLE_FEATURES: frozenset[str] = frozenset({"recency_days", "frequency", "tenure_days", "distinct_products"})


def own_color(name: str) -> str:
    """A name's colour before any collision: its fixed vocabulary colour, else its hash colour."""
    name = str(name)
    return SEGMENT_COLORS.get(name) or HASH_COLORS[zlib.crc32(name.encode("utf-8")) % len(HASH_COLORS)]


def _probe(name: str) -> list[str]:
    """The colours a hashed name tries in turn: its own, the rest of HASH_COLORS, then the vocabulary's."""
    start = HASH_COLORS.index(own_color(name))
    return [*HASH_COLORS[start:], *HASH_COLORS[:start], *SEGMENT_COLORS.values()]


def segment_colors(names: Iterable[str]) -> dict[str, str]:
    """name -> colour for names shown together, distinct while colours last (the module docstring's rule)."""
    unique = sorted({str(n) for n in names})
    colors = {n: SEGMENT_COLORS[n] for n in unique if n in SEGMENT_COLORS}
    taken = set(colors.values())
    for name in (n for n in unique if n not in SEGMENT_COLORS):
        color = next((c for c in _probe(name) if c not in taken), own_color(name))
        colors[name] = color
        taken.add(color)
    return colors


def segment_color(name: str, among: Iterable[str] = ()) -> str:
    """The colour of a segment name, shown among the names `among` (the run's names: see segment_colors)."""
    return segment_colors([str(name), *among])[str(name)]


def segment_label(names: Mapping[int, str], segment_id: int) -> str:
    """A segment's name from the run's names, "Segment <id>" where the run stored none."""
    return str(names.get(int(segment_id), f"Segment {int(segment_id)}"))


def id_colors(names: Mapping[int, str], ids: Iterable[int] = ()) -> dict[int, str]:
    """segment id -> the colour of its name, the names of all ids in names and ids resolved together (see
    segment_label for ids without a name); ids < 0 (everyone) are dark grey."""
    wanted = {int(i) for i in [*names, *ids]}
    labels = {i: segment_label(names, i) for i in wanted if i >= 0}
    colors = segment_colors(labels.values())
    return {i: colors[labels[i]] if i >= 0 else POPULATION_COLOR for i in wanted}


# The template as the JSON plotly.js takes, for figures built as plain dicts (plain_figure).
TEMPLATE_JSON: dict[str, Any] = TEMPLATE.to_plotly_json()


def plain_figure(
    data: list[dict[str, Any]], layout: dict[str, Any], title: str | None = None, height: int | None = None
) -> dict[str, Any]:
    """A figure as the plain dict plotly.js takes, with the app template (and optional title and height).

    The figures a filter change redraws are built this way: a go.Figure validates every property as it is
    set, which cost about 50 ms per figure on Explore, ten times the query behind it. Tests check these
    dicts by loading them into go.Figure, which validates them.
    """
    layout = {**layout, "template": TEMPLATE_JSON, "title": {"text": title or "", "x": 0, "xanchor": "left"}}
    if height:
        layout["height"] = height
    return {"data": data, "layout": layout}


def panel_title(text: str, x: float, y: float, size: int = 13) -> dict[str, Any]:
    """A small-multiple's title for a plain figure: centred at paper x, sitting on paper y (its top)."""
    return {
        "text": text,
        "x": x,
        "y": y,
        "xref": "paper",
        "yref": "paper",
        "xanchor": "center",
        "yanchor": "bottom",
        "showarrow": False,
        "font": {"size": size},
    }


def grid_domains(
    panels: int, columns: int, h_space: float, v_space: float
) -> list[tuple[list[float], list[float]]]:
    """(x domain, y domain) of each of `panels` small multiples in rows of `columns`, top row first, as
    plotly's make_subplots lays them out (for plain figure dicts)."""
    rows = -(-panels // columns)
    width = (1 - h_space * (columns - 1)) / columns
    height = (1 - v_space * (rows - 1)) / rows
    out = []
    for i in range(panels):
        row, col = divmod(i, columns)
        x0, top = col * (width + h_space), 1 - row * (height + v_space)
        out.append(([x0, x0 + width], [max(top - height, 0.0), top]))
    return out


def json_number(value: Any) -> float | None:
    """A number for a plain figure's JSON: a float, None where missing (NaN is not JSON)."""
    number = float(value) if value is not None else float("nan")
    return None if number != number else number


def styled(fig: go.Figure, title: str | None = None, height: int | None = None) -> go.Figure:
    """Apply the app template (and an optional title and height) to a figure; returns it."""
    fig.update_layout(template=TEMPLATE, title={"text": title or "", "x": 0, "xanchor": "left"})
    if height:
        fig.update_layout(height=height)
    return fig


def corner_note(fig: go.Figure, text: str, right: bool = False, **style: Any) -> None:
    """A small grey note in the plot's bottom-left (or bottom-right) corner: what is off the view, axes."""
    fig.add_annotation(**corner_annotation(text, right, **style))


def corner_annotation(text: str, right: bool = False, **style: Any) -> dict[str, Any]:
    """corner_note's annotation as a plain dict (for plain_figure's layout)."""
    return {
        "text": text,
        "x": 1 if right else 0,
        "y": 0,
        "xref": "paper",
        "yref": "paper",
        "xanchor": "right" if right else "left",
        "yanchor": "bottom",
        "showarrow": False,
        "font": {"size": 11, "color": "#6c757d"},
        **style,
    }


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


def whole_ticks(span: float) -> dict[str, Any]:
    """Axis settings for whole-number values (customer counts, orders, days) spanning `span`: a tick on every
    whole number while the span is small, where plotly would tick every half; plotly's own steps beyond
    (they are whole numbers there)."""
    return {"tick0": 0, "dtick": 1} if 0 <= span < 10 else {}


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


def series_color(segment_id: int, names: Mapping[int, str]) -> str:
    """A series' colour on the Compare page: its segment name's among the run's names; everyone dark grey."""
    return id_colors(names, [segment_id])[int(segment_id)]
