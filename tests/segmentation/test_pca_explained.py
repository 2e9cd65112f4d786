"""The run stores its PCA's explained variance (models.pca_explained, schema v4) so the dashboard can title
the PCA axes without fitting anything; older files gain the column on their next run."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np

from segmentation import pipeline, store
from segmentation.config import RunConfig


def scaled_and_pcs(db: Path, run_id: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The run's customers in the model's scaled space (from the stored transform), their stored PCs, and
    the stored explained variance."""
    with duckdb.connect(str(db), read_only=True) as con:
        log, center, scale, explained = con.execute(
            "SELECT log_transform, center, scale, pca_explained FROM models WHERE run_id = ?", [run_id]
        ).fetchone()
        rows = con.execute(
            "SELECT features, pc1, pc2, pc3 FROM customers WHERE run_id = ? ORDER BY customer_id", [run_id]
        ).fetchall()
    x = np.array([r[0] for r in rows], dtype=float)
    x[:, np.array(log)] = np.log1p(np.clip(x[:, np.array(log)], 0, None))
    z = (x - np.array(center)) / np.array(scale)
    pcs = np.array([r[1:] for r in rows], dtype=float)
    return z, pcs, np.array(explained, dtype=float)


def test_the_run_stores_the_share_of_variance_each_component_explains(small_run) -> None:
    db, _ = small_run
    z, pcs, explained = scaled_and_pcs(db, 1)
    assert explained.shape == (3,)
    assert np.all(np.diff(explained) <= 0) and 0 < explained.sum() <= 1
    # what it means: each PC's variance over the scaled features' total (the small run fits on everyone)
    np.testing.assert_allclose(explained, pcs.var(axis=0) / z.var(axis=0).sum(), rtol=1e-6)


def test_a_version_3_file_gains_the_column_and_keeps_its_runs(db_copy: Path, small_csv: Path) -> None:
    with duckdb.connect(str(db_copy)) as con:
        con.execute("ALTER TABLE models DROP COLUMN pca_explained")
        con.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    pipeline.run(RunConfig(inputs=(small_csv,), db_path=db_copy, progress=False))
    with duckdb.connect(str(db_copy), read_only=True) as con:
        assert con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (
            str(store.SCHEMA_VERSION),
        )
        rows = dict(con.execute("SELECT run_id, pca_explained FROM models ORDER BY run_id").fetchall())
    assert store.SCHEMA_VERSION >= 4
    assert rows[1] is None  # stored before the column existed: the dashboard shows loadings only
    assert rows[2] is not None and len(rows[2]) == 3
