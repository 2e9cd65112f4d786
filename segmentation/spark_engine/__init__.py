"""The Spark engine (`segments run --engine spark`): reading, cleaning, per-customer features and the value
model's inputs in Spark SQL, for sales lines that live on a cluster.

The pipeline runs the same code on it as on DuckDB: `connect` gives a DuckDB-shaped connection over a
SparkSession (connection.py) on which clean.py, features.py and value/ run their own DuckDB statements,
transpiled by sqlglot (dialect.py); `load_sales` fills its `lines` (read.py). The per-customer matrix
comes to the driver as Arrow and is clustered there as a DuckDB run's is; past --spark-kmeans-above
customers the final k-means fit runs in Spark MLlib (mllib.py). The run is stored in the DuckDB file like
any other, so the dashboard, exports and history need nothing else.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from segmentation import scratch
from segmentation.config import RunConfig
from segmentation.spark_engine.connection import SparkConnection
from segmentation.spark_engine.session import INSTALL_HINT, pyspark_module, spark_session

__all__ = ["INSTALL_HINT", "SparkConnection", "connect", "load_sales"]


@contextlib.contextmanager
def connect(cfg: RunConfig, work: Path) -> Iterator[SparkConnection]:
    """A SparkConnection for one run: on the active session if there is one, else on a new session at
    --spark-master (local dirs in the run's scratch directory `work`), stopped when the block ends."""
    pyspark_module()  # the one-sentence install hint before anything else
    master = getattr(cfg, "spark_master", None) or "local[*]"
    memory = getattr(cfg, "memory_limit", None) or scratch.default_memory_limit()
    with spark_session(master, work, memory) as spark:
        con = SparkConnection(spark)
        try:
            yield con
        finally:
            con.close()


def input_checksum(cfg: RunConfig) -> str:
    """The checksum a Spark run of cfg stores (--if-changed): a file's sha256, else its listing's."""
    import hashlib

    from segmentation.spark_engine import read

    with scratch.run_scratch() as work, connect(cfg, work) as con:
        digests = [read.checksum(con.spark, str(source)) for source in cfg.inputs]
    return hashlib.sha256("".join(digests).encode("ascii")).hexdigest()


def load_sales(con: SparkConnection, cfg: RunConfig):  # noqa: ANN201 - IngestResult, imported lazily
    """Read the sales inputs into the connection's `lines` (spark_engine/read.py)."""
    from segmentation.spark_engine import read

    return read.load_sales(con, cfg)
