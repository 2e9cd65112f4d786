"""Customer data reaches hover labels as escaped text: plotly renders <a>, <b>, <br> in hover text as live
markup, so an id like <a href=...> became a clickable link on the Model page."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from dashboard import figures

EVIL = "<a href='javascript:alert(1)'>x</a>"


def _no_markup(values: object) -> None:
    text = str(values)
    assert "<a" not in text and "<b>" not in text, text


def test_pca_hover_shows_ids_and_names_as_text() -> None:
    df = pd.DataFrame(
        {
            "customer_id": [EVIL, "12346", "12347"],
            "country": ["UK"] * 3,
            "segment_id": [0, 0, 1],
            "segment_name": ["<b>Loyal</b>", "<b>Loyal</b>", "Promising"],
            "is_outlier": [False, True, False],
            "pc1": [0.1, 0.2, 0.3],
            "pc2": [0.1, 0.2, 0.3],
            "pc3": [0.1, 0.2, 0.3],
            "monetary": [1.0, 2.0, 3.0],
        }
    )
    for dims in (2, 3):
        fig = go.Figure(figures.pca_scatter(df, dims=dims, names={0: "<b>Loyal</b>", 1: "Promising"}))
        for trace in fig.data:
            _no_markup(trace.customdata)
            _no_markup(trace.hovertemplate)
        assert any("&lt;a href=" in str(t.customdata) for t in fig.data)


def test_country_hovers_escape_the_name_but_clicks_keep_it() -> None:
    df = pd.DataFrame({"country": [EVIL, "Germany"], "customers": [3, 2], "revenue": [10.0, 5.0]})
    df["value"] = df["customers"]
    for fig in map(go.Figure, (figures.country_map(df, "customers"), figures.country_bars(df, "customers"))):
        for row in fig.data[0].customdata:
            _no_markup(row[3])  # what the hover label shows
        assert (
            "customdata[3]" in fig.data[0].hovertemplate
            and "customdata[0]}<" not in fig.data[0].hovertemplate
        )
    bars = go.Figure(figures.country_bars(df, "customers")).data[0]
    assert EVIL in [row[0] for row in bars.customdata]  # a click still filters on the stored value
    _no_markup(list(bars.y))


def test_segment_bar_labels_are_text() -> None:
    df = pd.DataFrame(
        {
            "segment_id": [0, 1],
            "name": [EVIL, "Loyal"],
            "customers": [1, 2],
            "revenue": [1.0, 2.0],
            "share": [0.3, 0.7],
            "revenue_share": [0.3, 0.7],
        }
    )
    for trace in go.Figure(figures.segment_shares(df)).data:
        _no_markup(list(trace.y))
