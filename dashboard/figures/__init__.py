"""Pure DataFrame -> go.Figure builders, one module per kind of drawing; this package re-exports them all.

`from dashboard import figures; figures.segment_shares(...)` is how pages use them. common holds the
palette, the segment colours (by name: one colour per name in every run and figure) and the plot template;
segments the shares bars, RFM heatmap and boxes; maps the choropleth; distributions the histograms; model
the radar, k sweep and why-this-segment charts; pca the PCA and simulator scatters; history the migration
Sankey. No dash imports: figures are values, buildable without an app.
"""

from __future__ import annotations

from dashboard.figures.common import (
    ABSENT_COLOR,
    FEATURE_LABELS,
    FONT,
    HASH_COLORS,
    LOWER_IS_BETTER,
    OUTLIER_COLOR,
    PALETTE,
    POPULATION_COLOR,
    SEGMENT_COLORS,
    TEMPLATE,
    VALUE_LABELS,
    WHOLE_FEATURES,
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
    whole_ticks,
)
from dashboard.figures.distributions import EXPLORE_HISTOGRAM_LABELS, explore_histograms, feature_histogram
from dashboard.figures.history import migration_sankey
from dashboard.figures.maps import country_bars, country_map
from dashboard.figures.model import SWEEP_PANELS, k_sweep, profile_radar, radar_label, why_segment
from dashboard.figures.pca import SIMULATOR_POINT_TRACE, pca_axis_titles, pca_scatter, simulator_scatter
from dashboard.figures.segments import profile_boxes, rfm_heatmap, segment_shares

__all__ = [
    "ABSENT_COLOR",
    "EXPLORE_HISTOGRAM_LABELS",
    "FEATURE_LABELS",
    "FONT",
    "HASH_COLORS",
    "LOWER_IS_BETTER",
    "OUTLIER_COLOR",
    "PALETTE",
    "POPULATION_COLOR",
    "SEGMENT_COLORS",
    "SIMULATOR_POINT_TRACE",
    "SWEEP_PANELS",
    "TEMPLATE",
    "VALUE_LABELS",
    "WHOLE_FEATURES",
    "country_bars",
    "country_map",
    "empty_figure",
    "explore_histograms",
    "feature_histogram",
    "feature_label",
    "id_colors",
    "k_sweep",
    "migration_sankey",
    "own_color",
    "pca_axis_titles",
    "pca_scatter",
    "plain",
    "profile_boxes",
    "profile_radar",
    "radar_label",
    "rfm_heatmap",
    "segment_color",
    "segment_colors",
    "segment_label",
    "segment_shares",
    "series_color",
    "simulator_scatter",
    "styled",
    "tint",
    "whole_ticks",
    "why_segment",
]
