"""The final k-means fit in Spark MLlib, for runs past --spark-kmeans-above customers.

The k sweep still runs on the driver (on a seeded sample past model.SWEEP_ROWS customers, as for DuckDB);
only the fit on every customer at the chosen k, the step whose cost grows with the customers, moves to
the cluster: the scaled matrix goes to Spark as Arrow, MLlib's KMeans (k-means|| start, the run's seed)
fits it, and its centroids come back; every customer is then assigned to its nearest centroid on the
driver exactly as in a local run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

MAX_ITER = 300  # scikit-learn's default
TOLERANCE = 1e-4


def final_fit(spark: SparkSession) -> Callable[[np.ndarray, int, int], np.ndarray]:
    """fit(z, k, seed) -> k x features centroids, fitted by MLlib on every row of z."""

    def fit(z: np.ndarray, k: int, seed: int) -> np.ndarray:
        from pyspark.ml.clustering import KMeans
        from pyspark.ml.feature import VectorAssembler

        names = [f"f{i}" for i in range(z.shape[1])]
        table = pa.table(
            {name: np.ascontiguousarray(z[:, i], dtype=np.float64) for i, name in enumerate(names)}
        )
        frame = spark.createDataFrame(table)
        vectors = VectorAssembler(inputCols=names, outputCol="features").transform(frame).select("features")
        vectors = vectors.cache()
        try:
            model = KMeans(k=k, seed=seed, maxIter=MAX_ITER, tol=TOLERANCE, initMode="k-means||").fit(vectors)
            return np.array([np.asarray(c, dtype=float) for c in model.clusterCenters()])
        finally:
            vectors.unpersist()

    return fit
