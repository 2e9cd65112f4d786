"""One segmentation run: ingest -> clean -> features -> model -> name -> store, as one atomic write."""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import numpy as np
from threadpoolctl import threadpool_limits

from segmentation import currency, faults, ingest, scratch, store
from segmentation import features as feat
from segmentation.clean import CleaningStep, clean_customer_rows, clean_sales
from segmentation.config import TRANSACTION_FEATURES, RunConfig
from segmentation.errors import InputError
from segmentation.phases import Phase, PhaseClock
from segmentation.run_checks import validate

if TYPE_CHECKING:  # imported when the run gets to them (see _prefetch_model_libraries)
    import pandas as pd

    from segmentation import carry_over
    from segmentation.model import KScore
    from segmentation.value import run as value_run

# The model's libraries, imported on a background thread while DuckDB reads and cleans (DuckDB releases
# the GIL while a query runs): scikit-learn alone takes about 1.8 s to import on a 2-core laptop, more than
# the whole run of the bundled sample.
_MODEL_LIBRARIES = (
    "scipy.special",
    "scipy.optimize",
    "scipy.spatial",
    "scipy.stats",
    "sklearn.cluster",
    "sklearn.decomposition",
    "sklearn.metrics",
    "sklearn.preprocessing",
)

Progress = Callable[[str], None]


@dataclass(frozen=True)
class RunSummary:
    """What a run stored, for the printed report and for tests."""

    run_id: int
    db_path: Path
    sources: tuple[str, ...]
    rows_in: int
    steps: list[CleaningStep]
    customers: int
    snapshot: date | None
    date_format: str | None
    k: int
    k_reason: str
    scores: list[KScore]
    rfm_cuts: dict[str, tuple[float, ...]]
    segments: pd.DataFrame  # segment_id, name, description, action, size, share, revenue_share, means
    outliers: int
    stability_ari: float
    silhouette: float | None
    seconds: float
    timings: dict[str, float]
    mode: str = "transactions"
    profile_features: tuple[str, ...] = ()  # the features the segment table shows (customer tables: theirs)
    money_in: Decimal | None = None  # signed money of every input line (sales runs)
    warnings: tuple[str, ...] = ()
    value: value_run.ValueResult | None = None  # None for customer tables (no purchases to model)
    currency: str | None = None  # ISO 4217 code of the money, None: unknown
    currency_reason: str = ""  # how the currency was known ("set by --currency", the layout's, unknown)
    phases: tuple[Phase, ...] = ()  # wall time and peak memory of each phase, in order
    ingest_notes: tuple[str, ...] = ()  # how the input was read (no invoice column, a title row, ...)
    name_choices: tuple[carry_over.NameChoice, ...] = ()  # each segment's name and where it came from
    names_line: str = ""  # what the names were matched with, one line


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run(cfg: RunConfig, progress: Progress | None = None) -> RunSummary:
    """Segment cfg.inputs and store the run in cfg.db_path; on any error the stored file is unchanged.

    The run works in its own scratch directory (spill and ingest's temp files; removed by the next run if
    this one is killed). A full disk, a read-only or forbidden directory or a full spill is one sentence
    (InputError); other errors keep their traceback.
    """
    validate(cfg)
    _prefetch_model_libraries()
    try:
        with scratch.run_scratch() as work:
            return _run(cfg, progress, work)
    except (OSError, duckdb.Error) as exc:
        sentence = faults.describe(exc, cfg.db_path)
        if sentence is None:
            raise
        raise InputError(sentence) from exc


def _prefetch_model_libraries() -> None:
    """Start importing the model's third-party libraries on a daemon thread; the run's own imports of
    them later wait for it (Python's import locks) instead of importing twice. A failed import here is
    ignored: the run's own import raises it where it is needed."""

    def work() -> None:
        for name in _MODEL_LIBRARIES:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001 - reported by the run's own import
                return

    threading.Thread(target=work, name="segments-import", daemon=True).start()


def _run(cfg: RunConfig, progress: Progress | None, work: Path) -> RunSummary:
    """The run itself, inside its scratch directory `work`."""
    say = progress or (_stderr if cfg.progress else (lambda message: None))
    started = time.perf_counter()
    clock = PhaseClock()
    source = ", ".join(str(p) for p in cfg.inputs)
    spill = work / "spill"
    # a database file in the scratch folder, not memory: past the memory limit DuckDB then evicts the read
    # lines' compressed blocks instead of spilling them (25M lines: cleaning 29 s instead of 44 s, peak about
    # the same); the folder goes with the run
    con = duckdb.connect(str(work / "work.duckdb"), config=_duckdb_config(cfg, str(spill)))
    # DuckDB's bar on long queries, only on a terminal (a redirected log would fill with bar redraws)
    con.execute("SET enable_progress_bar = ?", [cfg.progress and sys.stderr.isatty()])
    engine = contextlib.ExitStack()  # --engine spark: its session, ended with the run
    try:
        say(f"reading {source} ...")
        if cfg.mode == "customers":
            with clock.phase("read"):
                loaded = ingest.load_customer_table(con, cfg)
            with clock.phase("clean"):
                steps = clean_customer_rows(con, source, cfg.id_column or "id")
            money_in = None
            with clock.phase("features"):
                frame = feat.customer_table_features(con, loaded.feature_names)
            model_features = tuple(loaded.feature_names)
            profile_features = model_features
            snapshot = None
            value = None
        else:
            # where reading, cleaning, features and value inputs run: this DuckDB connection, or Spark SQL
            # through a DuckDB-shaped connection running the same statements (segmentation/spark_engine)
            sales, load_sales = con, ingest.load_sales
            if cfg.engine == "spark":
                from segmentation import spark_engine

                sales = engine.enter_context(spark_engine.connect(cfg, work))
                load_sales = spark_engine.load_sales
            with clock.phase("read"):
                loaded = load_sales(sales, cfg)
            say(f"read {loaded.rows_in:,} lines in {time.perf_counter() - started:.1f}s; cleaning ...")
            with clock.phase("clean"):
                cleaning = clean_sales(
                    sales, source, cfg.snapshot_date, cfg.line_outlier_factor, cfg.non_product_codes
                )
                sales.execute("DROP TABLE lines")  # cleaning read them into dedup; free their memory
            steps, money_in = cleaning.steps, cleaning.money_in
            with clock.phase("features"):
                result = feat.sales_features(sales, cfg.snapshot_date, source)
            frame, snapshot = result.frame, result.snapshot
            model_features = cfg.model_features
            profile_features = TRANSACTION_FEATURES
            _check_holdout(cfg, result, source)
            say("fitting customer value (BG/NBD, Gamma-Gamma) ...")
            with clock.phase("value fit"):
                from segmentation.value import run as value_run

                value = value_run.fit(sales, snapshot, cfg.horizon_days, cfg.discount_rate, cfg.holdout_days)
                if value.predictions is not None:
                    frame = frame.merge(value.predictions, on="customer_id", how="left", validate="1:1")
        from segmentation import attributes, carry_over, derived_sales, persist, run_warnings

        # a phase of its own only when there is something to do (--attributes, or --feature on sales lines)
        extra = cfg.attributes is not None or (cfg.mode == "transactions" and bool(cfg.derived_features))
        with clock.phase("attributes") if extra else contextlib.nullcontext():
            joined = attributes.attach(con, cfg, frame)  # None without --attributes
            derived = derived_sales.add(con, cfg, frame, joined, snapshot)  # --feature of a sales run
        model_features = (*model_features, *cfg.attributes_use, *derived.names)
        if cfg.mode == "customers":  # a customer table's profiles follow its stored features list
            profile_features = model_features
        say(
            f"{len(frame):,} customers as of {snapshot or 'the table'} "
            f"({time.perf_counter() - started:.1f}s); modelling ..."
        )
        from segmentation.model import fit_model

        k_range = _k_range(cfg, len(frame), source)
        rfm_cuts = _rfm(frame, cfg) if cfg.mode == "transactions" else {}
        x = frame[list(model_features)].to_numpy(dtype=float)
        with threadpool_limits(limits=_model_threads(cfg, len(frame))):
            model = fit_model(
                x,
                model_features,
                scaler=cfg.scaler,
                log_features=cfg.log_features,
                algorithm=cfg.algorithm,
                k=cfg.k,
                k_range=k_range,
                n_init=cfg.n_init,
                seed=cfg.seed,
                silhouette_sample=cfg.silhouette_sample,
                sample_size=cfg.sample_size,
                min_samples=cfg.min_samples,
                noise_quantile=cfg.noise_quantile,
                stability_rounds=cfg.stability_rounds,
                progress=lambda m: say("  " + m),
                clock=clock,
                final_kmeans=_final_kmeans(cfg, sales if cfg.engine == "spark" else None, len(frame)),
            )
        say(f"k = {model.k}; naming segments and storing ...")
        with clock.phase("naming"):
            levels = _levels(frame, model.labels, profile_features)
            sizes = {
                int(s): int(c) for s, c in zip(*np.unique(model.labels, return_counts=True), strict=True)
            }
        with clock.phase("store"):
            customers = persist.customer_table(frame, model, model_features, cfg.mode, joined)
            con.register("new_customers", customers)
            warnings = run_warnings.collect(cfg, frame, steps, model, value) + attributes.warnings(joined)
            warnings += derived.warnings
            money_unit, money_unit_reason = currency.resolve(cfg.currency, loaded.headers)
            with store.run_lock(cfg.db_path), store.staged_copy(con, cfg.db_path):
                run_id = store.next_run_id(con)
                # names: matched segments keep the previous run's (under the lock: that run is the newest)
                choices, names_line = carry_over.choose_names(
                    carry_over.previous_run(con), model.transform, model.centroids, levels, sizes
                )
                names = {c.segment_id: c.name for c in choices}
                persist.store_run(
                    con,
                    run_id,
                    cfg,
                    loaded,
                    steps,
                    frame,
                    snapshot,
                    model,
                    names,
                    rfm_cuts,
                    profile_features,
                    time.perf_counter() - started,
                    money_in,
                    warnings,
                    value,
                    money_unit,
                )
                attributes.store(con, run_id, joined)
                derived_sales.store_profiles(con, run_id, derived, model_features)
                carry_over.store(con, run_id, choices)
                segments = persist.segment_report(con, run_id, profile_features[:3])
    finally:
        engine.close()
        con.close()
    chosen = next(s for s in model.scores if s.chosen)
    return RunSummary(
        run_id=run_id,
        db_path=cfg.db_path,
        sources=loaded.sources,
        rows_in=loaded.rows_in,
        steps=steps,
        customers=len(frame),
        snapshot=snapshot,
        date_format=loaded.date_format,
        ingest_notes=loaded.notes + attributes.notes(joined),
        k=model.k,
        k_reason=model.k_reason,
        scores=model.scores,
        rfm_cuts=rfm_cuts,
        segments=segments,
        outliers=int(model.is_outlier.sum()),
        stability_ari=model.stability_ari,
        silhouette=chosen.silhouette,
        seconds=time.perf_counter() - started,
        timings=clock.seconds(),
        phases=tuple(clock.phases),
        mode=cfg.mode,
        profile_features=profile_features[:3],
        money_in=money_in,
        warnings=tuple(warnings),
        value=value,
        currency=money_unit,
        currency_reason=money_unit_reason,
        name_choices=tuple(choices),
        names_line=names_line,
    )


def _final_kmeans(cfg: RunConfig, spark: object, customers: int) -> Callable | None:
    """The Spark engine's MLlib final fit past --spark-kmeans-above customers, else None (scikit-learn)."""
    if spark is None or cfg.algorithm != "kmeans" or customers <= cfg.spark_kmeans_above:
        return None
    from segmentation.spark_engine import mllib

    return mllib.final_fit(spark.spark)  # type: ignore[attr-defined]


def _check_holdout(cfg: RunConfig, result: feat.FeatureResult, source: str) -> None:
    """--holdout-days must leave purchases to fit on before the holdout."""
    if cfg.holdout_days is None or result.first_sale is None:
        return
    span = (result.snapshot - result.first_sale.date()).days
    if cfg.holdout_days >= span:
        raise InputError(
            f"{source}: --holdout-days {cfg.holdout_days} leaves nothing to fit on: the purchases span "
            f"{span} days ({result.first_sale.date()} to {result.snapshot}); expected fewer than {span}."
        )


def _duckdb_config(cfg: RunConfig, spill: str) -> dict[str, str | int | bool]:
    """The work connection: spills to the run's scratch folder, never loads or installs extensions; memory
    from --memory-limit, else scratch.run_memory_limit() (a share of the machine's, within the cgroup's)."""
    config: dict[str, str | int | bool] = {
        "temp_directory": spill,
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
    }
    if cfg.threads:
        config["threads"] = cfg.threads
    memory_limit = cfg.memory_limit or scratch.run_memory_limit()
    if memory_limit:
        config["memory_limit"] = memory_limit
    return config


def _model_threads(cfg: RunConfig, customers: int) -> int:
    """Threads for scikit-learn's OpenMP/BLAS pools: one below 100,000 customers, else all (or --threads).

    Measured on 2 cores: k-means on 40,000 x 6 takes 0.16 s on one thread and 0.29 s on two, and 2.7 s
    on two when another process keeps a core busy (OpenMP threads spin waiting for each other), which is
    the normal state of a laptop serving the dashboard. Large inputs gain from every core.
    """
    if cfg.threads:
        return cfg.threads
    return 1 if customers < 100_000 else (os.cpu_count() or 1)


def _k_range(cfg: RunConfig, customers: int, source: str) -> tuple[int, int]:
    """The k values to try, limited by the number of customers (silhouette needs k < customers)."""
    needed = (cfg.k if cfg.k is not None else cfg.k_min) + 1
    if customers < needed:
        k_text = f"k = {cfg.k}" if cfg.k is not None else f"the smallest k of the sweep ({cfg.k_min})"
        raise InputError(
            f"{source}: {customers:,} customers left after cleaning, too few for {k_text}; "
            f"expected at least {needed}."
        )
    return cfg.k_min, min(cfg.k_max, customers - 1)


def _rfm(frame: pd.DataFrame, cfg: RunConfig) -> dict[str, tuple[float, ...]]:
    """R, F and M scores 1-5 added to `frame`; returns the cut points used (custom or quintile)."""
    cuts: dict[str, tuple[float, ...]] = {}
    for column, score, higher_is_better in (
        ("recency_days", "r_score", False),
        ("frequency", "f_score", True),
        ("monetary", "m_score", True),
    ):
        values = frame[column].to_numpy(dtype=float)
        cuts[column] = tuple(cfg.rfm_cuts.get(column) or feat.quintile_cuts(values))
        frame[score] = feat.scores(values, cuts[column], higher_is_better)
    return cuts


def _levels(frame: pd.DataFrame, labels: np.ndarray, columns: tuple[str, ...]) -> dict[int, dict[str, float]]:
    """Per segment and feature: the population percentile of the segment's median (naming's input)."""
    levels: dict[int, dict[str, float]] = {}
    for column in columns:
        values = frame[column].to_numpy(dtype=float)
        population = np.sort(values)
        for segment in np.unique(labels):
            median = float(np.median(values[labels == segment]))
            below = np.searchsorted(population, median, side="left") / len(population)
            at_or_below = np.searchsorted(population, median, side="right") / len(population)
            # a median equal to the population's median value is at the middle, however many ties it has
            level = 0.5 if below <= 0.5 <= at_or_below else (below + at_or_below) / 2
            levels.setdefault(int(segment), {})[column] = float(level)
    return levels
