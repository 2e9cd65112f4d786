"""The map's view fits where the customers are, from the vendored topojson's mainland boxes."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from dashboard.figures import map_view
from dashboard.figures.maps import country_bars, country_map


def test_mainland_boxes_leave_overseas_territories_out() -> None:
    boxes = map_view.mainland_boxes()
    lat0, lat1, lon0, lon1 = boxes["FRA"]
    assert 41 < lat0 < 43 and 50 < lat1 < 52 and -6 < lon0 < -4 and 7 < lon1 < 10  # no French Guiana
    assert boxes["DEU"][0] > 46 and boxes["GBR"][3] < 2.5
    assert len(boxes) > 150


def test_country_codes_cover_online_retail_spellings() -> None:
    for name, code in {
        "EIRE": "IRL",
        "RSA": "ZAF",
        "USA": "USA",
        "United Kingdom": "GBR",
        "Germany": "DEU",
    }.items():
        assert map_view.country_code(name) == code
    assert map_view.country_code("Channel Islands") is None and map_view.country_code(None) is None


def test_a_european_base_is_shown_as_europe_with_far_small_markets_named() -> None:
    values = {"United Kingdom": 900, "Germany": 30, "France": 25, "EIRE": 5, "Australia": 5, "Japan": 2}
    view = map_view.fit(values)
    assert view is not None
    assert 30 < view.lat_range[0] < 45 and 55 < view.lat_range[1] < 75
    assert -25 < view.lon_range[0] < -5 and 10 < view.lon_range[1] < 40
    assert view.outside == ("Australia", "Japan")


def test_a_big_far_market_stays_in_view_and_nothing_placeable_keeps_the_world() -> None:
    view = map_view.fit({"United Kingdom": 60, "USA": 40})
    assert view is not None and view.lon_range[0] < -120 and view.outside == ()
    assert map_view.fit({"Channel Islands": 5, "Unspecified": 3}) is None
    assert map_view.fit({}) is None


def _summary() -> pd.DataFrame:
    rows = [("United Kingdom", 900, 9e5), ("Germany", 30, 4e4), ("Channel Islands", 4, 3e3), (None, 2, 10.0)]
    df = pd.DataFrame(rows, columns=["country", "customers", "revenue"])
    df["value"] = df["customers"]
    return df


def test_the_map_places_iso_codes_and_the_bar_ranks_every_country() -> None:
    fig = go.Figure(country_map(_summary(), "customers"))  # a plain dict; go.Figure validates it
    trace = fig.data[0]
    assert list(trace.locations) == ["GBR", "DEU"] and trace.locationmode == "ISO-3"
    assert fig.layout.geo.lataxis.range[0] > 30  # fitted, not the world
    bars = go.Figure(country_bars(_summary(), "customers")).data[0]
    assert list(bars.y) == ["Unknown", "Channel Islands", "Germany", "United Kingdom"]  # largest on top
    assert pd.isna(bars.customdata[0][0])  # Unknown: a click on it adds no country
    assert [row[0] for row in bars.customdata[1:]] == ["Channel Islands", "Germany", "United Kingdom"]
    assert list(bars.text) == ["2", "4", "30", "900"]
