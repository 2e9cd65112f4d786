"""Run-to-run figures: customers moving between two runs' segments (the History page's Sankey)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from dashboard.figures.common import ABSENT_COLOR, empty_figure, plain, segment_colors, styled, tint


def migration_sankey(
    flows: pd.DataFrame, left: pd.DataFrame, new: pd.DataFrame, label_a: str, label_b: str
) -> go.Figure:
    """Customers moving from run A's segments (left column) to run B's (right column).

    flows: segment_a, name_a, segment_b, name_b, customers (in both runs); left: segment_a, name_a,
    customers (only in A); new: segment_b, name_b, customers (only in B). Those in one run only flow to
    or from a grey "not in run ..." node. Segments are coloured by name, resolved over both runs' names, so
    a name has one colour on both sides whatever its ids.
    """
    if flows.empty and left.empty and new.empty:
        return empty_figure("Neither run has customers.")
    palette = segment_colors(
        [*flows["name_a"], *flows["name_b"], *left["name_a"], *new["name_b"]]  # str()ed by segment_colors
    )
    nodes: list[tuple[str, str]] = []  # (label, colour)
    index: dict[tuple[str, int], int] = {}

    def node(side: str, segment_id: int, label: str, color: str) -> int:
        key = (side, int(segment_id))
        if key not in index:
            index[key] = len(nodes)
            nodes.append((label, color))
        return index[key]

    def seg_node(side: str, segment_id: int, name: object) -> int:
        return node(side, segment_id, plain(name), palette[str(name)])

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
        colors.append(tint(palette[str(r.name_a)], 0.35))
    for r in left.itertuples(index=False):
        sources.append(index[("a", int(r.segment_a))])
        targets.append(index[("b", -1)])
        values.append(int(r.customers))
        colors.append(tint(ABSENT_COLOR, 0.35))
    for r in new.itertuples(index=False):
        sources.append(index[("a", -1)])
        targets.append(index[("b", int(r.segment_b))])
        values.append(int(r.customers))
        colors.append(tint(ABSENT_COLOR, 0.35))
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
