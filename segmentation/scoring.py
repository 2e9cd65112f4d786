"""Score a new customer with a stored model: NumPy only, the one module the dashboard imports.

The numbers come from the `models` table, so the dashboard predicts exactly as the run assigned.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ModelParams:
    """A run's row of the `models` table."""

    features: tuple[str, ...]
    log_transform: tuple[bool, ...]
    center: np.ndarray
    scale: np.ndarray
    centroids: np.ndarray  # segments x features, scaled space, row i = segment id i
    pca_mean: np.ndarray
    pca_components: np.ndarray  # components x features

    @classmethod
    def from_row(cls, row: Mapping[str, Sequence]) -> ModelParams:
        """Build from a `models` row (lists as DuckDB returns them)."""
        return cls(
            features=tuple(row["features"]),
            log_transform=tuple(bool(v) for v in row["log_transform"]),
            center=np.asarray(row["center"], dtype=float),
            scale=np.asarray(row["scale"], dtype=float),
            centroids=np.asarray(row["centroids"], dtype=float),
            pca_mean=np.asarray(row["pca_mean"], dtype=float),
            pca_components=np.asarray(row["pca_components"], dtype=float),
        )


@dataclass(frozen=True)
class Score:
    """Where a customer lands: its segment, the runner-up, distances, and its PCA coordinates."""

    segment_id: int
    next_segment_id: int | None
    distance: float
    next_distance: float | None
    pcs: tuple[float, ...]


def scaled(params: ModelParams, values: Sequence[float]) -> np.ndarray:
    """Raw feature values (in params.features order) -> the model's scaled space."""
    x = np.asarray(values, dtype=float).copy()
    if x.shape != (len(params.features),):
        raise ValueError(f"expected {len(params.features)} values, got {x.shape}")
    flags = np.asarray(params.log_transform, dtype=bool)
    x[flags] = np.log1p(np.clip(x[flags], 0, None))
    return (x - params.center) / params.scale


def score(params: ModelParams, values: Sequence[float]) -> Score:
    """The nearest centroid wins, as in the run; ties go to the lower segment id."""
    z = scaled(params, values)
    distances = np.sqrt(((params.centroids - z) ** 2).sum(axis=1))
    order = np.argsort(distances, kind="stable")
    pcs = tuple(float(v) for v in (z - params.pca_mean) @ params.pca_components.T)
    runner_up = int(order[1]) if len(order) > 1 else None
    return Score(
        segment_id=int(order[0]),
        next_segment_id=runner_up,
        distance=float(distances[order[0]]),
        next_distance=float(distances[runner_up]) if runner_up is not None else None,
        pcs=pcs,
    )
