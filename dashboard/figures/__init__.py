"""Pure DataFrame -> go.Figure builders, one module per kind of drawing; this package re-exports them all.

`from dashboard import figures; figures.segment_shares(...)` is how pages use them. common holds the
palette, the segment colours (by name: one colour per name in every run and figure) and the plot template;
segments the shares bars, RFM heatmap and boxes; maps the choropleth; distributions the histograms; model
the radar, k sweep, PCA, simulator and why-this-segment charts; history the migration Sankey. No dash
imports: figures are values, buildable without an app.
"""

from __future__ import annotations

from dashboard.figures.common import (
    ABSENT_COLOR,
    FEATURE_LABELS,
    FONT,
    HASH_COLORS,
    OUTLIER_COLOR,
    PALETTE,
    POPULATION_COLOR,
    SEGMENT_COLORS,
    TEMPLATE,
    empty_figure,
    feature_label,
    id_colors,
    own_color,
    plain,
    segment_color,
    segment_colors,
    segment_label,
    series_color,
    styled,
    tint,
)
from dashboard.figures.distributions import EXPLORE_HISTOGRAM_LABELS, explore_histograms, feature_histogram
from dashboard.figures.history import migration_sankey
from dashboard.figures.maps import EUROPE, MAP_COUNTRY_NAMES, country_map
from dashboard.figures.model import (
    SIMULATOR_POINT_TRACE,
    SWEEP_PANELS,
    k_sweep,
    pca_scatter,
    profile_radar,
    simulator_scatter,
    why_segment,
)
from dashboard.figures.segments import profile_boxes, rfm_heatmap, segment_shares

__all__ = [
    "ABSENT_COLOR",
    "EUROPE",
    "EXPLORE_HISTOGRAM_LABELS",
    "FEATURE_LABELS",
    "FONT",
    "HASH_COLORS",
    "MAP_COUNTRY_NAMES",
    "OUTLIER_COLOR",
    "PALETTE",
    "POPULATION_COLOR",
    "SEGMENT_COLORS",
    "SIMULATOR_POINT_TRACE",
    "SWEEP_PANELS",
    "TEMPLATE",
    "country_map",
    "empty_figure",
    "explore_histograms",
    "feature_histogram",
    "feature_label",
    "id_colors",
    "k_sweep",
    "migration_sankey",
    "own_color",
    "pca_scatter",
    "plain",
    "profile_boxes",
    "profile_radar",
    "rfm_heatmap",
    "segment_color",
    "segment_colors",
    "segment_label",
    "segment_shares",
    "series_color",
    "simulator_scatter",
    "styled",
    "tint",
    "why_segment",
]
