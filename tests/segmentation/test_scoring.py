"""The simulator's scoring reproduces the run's own assignments and coordinates for stored customers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from segmentation import store
from segmentation.scoring import ModelParams, score


def test_scoring_stored_customers_gives_their_stored_segment(small_run: tuple[Path, object]) -> None:
    con = store.open_read_only(small_run[0])
    cols = ["features", "log_transform", "center", "scale", "centroids", "pca_mean", "pca_components"]
    row = con.execute("SELECT " + ", ".join(cols) + " FROM models WHERE run_id = 1").fetchone()  # noqa: S608
    params = ModelParams.from_row(dict(zip(cols, row, strict=True)))
    customers = con.execute(
        "SELECT features, segment_id, next_segment_id, dist_own, dist_next, pc1, pc2, pc3 FROM customers"
    ).fetchall()
    for values, segment, runner_up, own, nxt, *pcs in customers:
        s = score(params, values)
        assert s.segment_id == segment
        assert s.next_segment_id == runner_up
        assert s.distance == pytest.approx(own) and s.next_distance == pytest.approx(nxt)
        assert np.allclose(s.pcs, pcs)


def test_wrong_number_of_values_is_refused(small_run: tuple[Path, object]) -> None:
    con = store.open_read_only(small_run[0])
    cols = ["features", "log_transform", "center", "scale", "centroids", "pca_mean", "pca_components"]
    row = con.execute("SELECT " + ", ".join(cols) + " FROM models").fetchone()  # noqa: S608
    with pytest.raises(ValueError, match="expected 6 values"):
        score(ModelParams.from_row(dict(zip(cols, row, strict=True))), [1.0, 2.0])
