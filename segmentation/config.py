"""Run parameters: one frozen dataclass, stored whole with every run."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

DEFAULT_DB = Path("data") / "segments.duckdb"

# Per-customer features computed from sales lines, in the order they are stored.
TRANSACTION_FEATURES: tuple[str, ...] = (
    "recency_days",
    "frequency",
    "monetary",
    "quantity",
    "avg_basket_value",
    "tenure_days",
    "distinct_products",
    "return_rate",
)
# The features the model clusters on unless --features says otherwise.
DEFAULT_MODEL_FEATURES: tuple[str, ...] = (
    "recency_days",
    "frequency",
    "monetary",
    "quantity",
    "avg_basket_value",
    "tenure_days",
)
# Stock codes of lines that are not products (docs/cleaning.md): postage, dotcom postage, carriage, manual
# adjustments, bank charges, marketplace fees, charity commission, bad-debt adjustments, samples, discounts.
NON_PRODUCT_CODES: tuple[str, ...] = (
    "POST", "DOT", "C2", "M", "BANK CHARGES", "AMAZONFEE", "CRUK", "B", "S", "D"
)  # fmt: skip
# A chosen k whose stability (adjusted Rand index of refits) is below this is warned about.
STABILITY_WARNING = 0.6
LOG_FEATURES = ("skewed", "all", "none")
SCALERS = ("standard", "robust", "minmax")
ALGORITHMS = ("kmeans", "agglomerative")


@dataclass(frozen=True)
class RunConfig:
    """Everything that decides a run's result; stored in runs.params so a run can be repeated."""

    inputs: tuple[Path, ...]
    db_path: Path = DEFAULT_DB
    mode: str = "transactions"  # or "customers": one row per customer
    column_map: dict[str, str] = field(default_factory=dict)  # canonical name -> name in the file
    # PostgreSQL inputs: the table or the read-only query to read; s3:// inputs: an S3-compatible endpoint
    table: str | None = None
    query: str | None = None
    s3_endpoint: str | None = None
    # customer-table mode
    id_column: str | None = None
    feature_columns: tuple[str, ...] = ()
    derived_features: tuple[str, ...] = ()  # --feature "NAME = EXPRESSION" (segmentation/derived.py)
    country_column: str | None = None
    tenure_column: str | None = None
    # customer attributes beside the run's customers (segmentation/attributes.py)
    attributes: Path | str | None = None  # a file, or a PostgreSQL / s3:// address
    attributes_key: str | None = None  # its customer id column
    attributes_use: tuple[str, ...] = ()  # its numeric columns that join the model's features
    # transactions mode
    date_format: str | None = None  # strptime format; detected when None
    dayfirst: bool | None = None  # --dayfirst/--monthfirst: d/m vs m/d when no date tells; None: stop
    # text files' layout (docs/cleaning.md, "File shapes"); None: detected
    no_header: bool = False  # columns named by position, 1, 2, ...
    delimiter: str | None = None  # one character or "whitespace"
    decimal: str | None = None  # "." or ","
    skip_rows: int | None = None  # lines above the header
    snapshot_date: date | None = None  # default: day after the last sale
    line_outlier_factor: float = 20.0  # a line is an extreme outlier above factor x the 99th percentile
    non_product_codes: tuple[str, ...] = NON_PRODUCT_CODES  # lines with these stock codes are not products
    currency: str | None = None  # ISO 4217 code of the input's money; None: from the layout, else unknown
    rfm_cuts: dict[str, tuple[float, ...]] = field(default_factory=dict)  # custom R/F/M cut points
    model_features: tuple[str, ...] = DEFAULT_MODEL_FEATURES
    # customer value (sales runs)
    horizon_days: int = 90  # expected purchases are over this many days
    discount_rate: float = 0.10  # annual, for the 12 months of predicted value
    holdout_days: int | None = None  # backtest: fit before the last N days, compare on them
    # model
    k: int | None = None  # None: choose by the sweep
    k_min: int = 2
    k_max: int = 10
    scaler: str = "standard"
    log_features: str = "skewed"  # which features are log-scaled before the scaler: skewed, all or none
    algorithm: str = "kmeans"
    n_init: int = 3
    seed: int = 0
    silhouette_sample: int = 6000
    sample_size: int = 5000  # agglomerative / DBSCAN comparison sample
    min_samples: int = 10  # density-based outliers
    noise_quantile: float = 0.99  # eps = this quantile of the min_samples-NN distance
    stability_rounds: int = 5
    threads: int | None = None
    memory_limit: str | None = None
    progress: bool = True
    # --engine spark: reading, cleaning and features in Spark SQL (segmentation/spark_engine) at
    # --spark-master; past spark_kmeans_above customers the final k-means fit runs in Spark MLlib
    engine: str = "duckdb"
    spark_master: str = "local[*]"
    spark_kmeans_above: int = 10_000_000

    def __post_init__(self) -> None:
        """Database and object-storage addresses become ingest Addresses: a password leaves the text
        (which is shown and stored) and travels beside it, for the connection only."""
        remote = any(isinstance(p, str) and "://" in p for p in self.inputs)
        if (remote or self.table or self.query or self.s3_endpoint) and self.engine != "spark":
            from segmentation.ingest.addresses import resolve_inputs

            resolved = resolve_inputs(self.inputs, self.table, self.query, self.s3_endpoint)
            object.__setattr__(self, "inputs", resolved)
        if isinstance(self.attributes, str) and "://" in self.attributes:
            from segmentation.ingest.addresses import resolve_inputs

            (attributes,) = resolve_inputs((self.attributes,), None, None, self.s3_endpoint)
            object.__setattr__(self, "attributes", attributes)

    def to_params(self) -> dict[str, Any]:
        """The parameters as JSON-ready values (paths and dates as strings)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in ("progress", "db_path"):
                continue
            if isinstance(value, Path):
                value = str(value)
            elif isinstance(value, tuple):
                value = [str(v) if isinstance(v, Path) else v for v in value]
            elif isinstance(value, date):
                value = value.isoformat()
            elif isinstance(value, dict):
                value = {k: list(v) if isinstance(v, tuple) else v for k, v in value.items()}
            out[f.name] = value
        return out
