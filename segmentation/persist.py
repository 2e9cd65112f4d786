"""Write one run's rows into the staged copy of the DB file (catalog "out"): the run, its cleaning steps,
customers, segments, profiles, model scores, model and value models."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from segmentation import attributes, ingest, naming, rfm_groups, sql
from segmentation.clean import CleaningStep
from segmentation.config import RunConfig
from segmentation.model import ModelResult
from segmentation.value import run as value_run


def customer_table(
    frame: pd.DataFrame,
    model: ModelResult,
    model_features: tuple[str, ...],
    mode: str,
    joined: attributes.Joined | None = None,
) -> pa.Table:
    """The customers rows of this run as Arrow, in the stored column order (run_id added on insert)."""
    n = len(frame)

    def column(name: str, dtype: str) -> pa.Array:
        if name in frame.columns:
            return pa.array(
                frame[name].to_numpy(), type=pa.from_numpy_dtype(np.dtype(dtype)), from_pandas=True
            )
        return pa.nulls(n, type=pa.from_numpy_dtype(np.dtype(dtype)))

    flat = frame[list(model_features)].to_numpy(dtype=float).ravel()
    offsets = np.arange(0, n * len(model_features) + 1, len(model_features), dtype=np.int32)
    timestamps = {
        c: pa.array(frame[c], type=pa.timestamp("us"))
        if c in frame.columns
        else pa.nulls(n, pa.timestamp("us"))
        for c in ("first_purchase", "last_purchase")
    }
    return pa.table(
        {
            "customer_id": pa.array(frame["customer_id"].astype(str), type=pa.string()),
            "country": pa.array(frame["country"].fillna("Unknown").astype(str), type=pa.string()),
            "first_purchase": timestamps["first_purchase"],
            "last_purchase": timestamps["last_purchase"],
            "recency_days": column("recency_days", "int32"),
            "frequency": column("frequency", "int32"),
            "monetary": column("monetary", "float64"),
            "quantity": column("quantity", "float64"),
            "avg_basket_value": column("avg_basket_value", "float64"),
            "tenure_days": column("tenure_days", "float64"),
            "distinct_products": column("distinct_products", "int32"),
            "return_rate": column("return_rate", "float64"),
            "r_score": column("r_score", "int8"),
            "f_score": column("f_score", "int8"),
            "m_score": column("m_score", "int8"),
            "segment_id": pa.array(model.labels.astype(np.int32)),
            "is_outlier": pa.array(model.is_outlier),
            "pc1": pa.array(model.pcs[:, 0], from_pandas=True),
            "pc2": pa.array(model.pcs[:, 1], from_pandas=True),
            "pc3": pa.array(model.pcs[:, 2], from_pandas=True),
            "dist_own": pa.array(model.dist_own),
            "dist_next": pa.array(model.dist_next, from_pandas=True),
            "next_segment_id": pa.array(model.next_segment.astype(np.int32)),
            "features": pa.ListArray.from_arrays(pa.array(offsets), pa.array(flat)),
            **{c: column(c, "float64") for c in VALUE_COLUMNS},
            "attr_numbers": joined.numbers if joined else pa.nulls(n, pa.list_(pa.float64())),
            "attr_texts": joined.texts if joined else pa.nulls(n, pa.list_(pa.string())),
        }
    )


VALUE_COLUMNS = ("p_alive", "expected_purchases", "predicted_value", "value_at_risk")

INSERT_CUSTOMERS = """
INSERT INTO out.customers
SELECT $run, customer_id, country, first_purchase, last_purchase, recency_days, frequency, monetary,
       quantity, avg_basket_value, tenure_days::INTEGER, distinct_products, return_rate, r_score, f_score,
       m_score, CASE WHEN r_score IS NULL THEN NULL ELSE (@RFM_GROUP) END, segment_id, is_outlier, pc1, pc2,
       pc3, dist_own, dist_next, CASE WHEN next_segment_id < 0 THEN NULL ELSE next_segment_id END, features,
       p_alive, expected_purchases, predicted_value, value_at_risk, attr_numbers, attr_texts,
       dense_rank() OVER (ORDER BY country)::SMALLINT
FROM new_customers
-- stored by segment and country: the dashboard's filters and groups on them read fewer, denser blocks
ORDER BY segment_id, country, customer_id
""".replace("@RFM_GROUP", rfm_groups.rfm_group_sql())


def store_run(
    con: duckdb.DuckDBPyConnection,
    run_id: int,
    cfg: RunConfig,
    loaded: ingest.IngestResult,
    steps: list[CleaningStep],
    frame: pd.DataFrame,
    snapshot: date | None,
    model: ModelResult,
    names: dict[int, naming.SegmentName],
    rfm_cuts: dict[str, tuple[float, ...]],
    profile_features: tuple[str, ...],
    seconds: float,
    money_in: Decimal | None,
    warnings: list[str],
    value: value_run.ValueResult | None,
    currency: str | None = None,
) -> None:
    """Write every table's rows for this run into the staged copy ("out")."""
    chosen = next(s for s in model.scores if s.chosen)
    rows_clean = steps[-1].rows_left
    con.execute(
        """INSERT INTO out.runs VALUES ($id, $created, $mode, $sources, $sha, $snapshot, $rows_in,
           $rows_clean, $customers, $params, $seed, $features, $logged, $scaler, $algorithm, $k, $reason,
           $sil, $dbi, $chi, $inertia, $ari, $outliers, $cuts, $date_format, NULL, 'ok', $seconds,
           $money_in, $warnings, $currency)""",
        {
            "id": run_id,
            "created": datetime.now().replace(microsecond=0),
            "mode": cfg.mode,
            "sources": list(loaded.sources),
            "sha": loaded.sha256,
            "snapshot": snapshot,
            "rows_in": loaded.rows_in,
            "rows_clean": rows_clean,
            "customers": len(frame),
            "params": json.dumps(cfg.to_params()),
            "seed": cfg.seed,
            "features": list(model.transform.features),
            "logged": [
                f
                for f, flag in zip(model.transform.features, model.transform.log_transform, strict=True)
                if flag
            ],
            "scaler": cfg.scaler,
            "algorithm": cfg.algorithm,
            "k": model.k,
            "reason": model.k_reason,
            "sil": chosen.silhouette,
            "dbi": chosen.davies_bouldin,
            "chi": chosen.calinski_harabasz,
            "inertia": chosen.inertia,
            "ari": _finite(model.stability_ari),
            "outliers": int(model.is_outlier.sum()),
            "cuts": json.dumps({k: list(v) for k, v in rfm_cuts.items()}),
            "date_format": loaded.date_format,
            "seconds": round(seconds, 3),
            "money_in": money_in,
            "warnings": warnings,
            "currency": currency,
        },
    )
    con.executemany(
        "INSERT INTO out.cleaning_steps VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            [run_id, s.step, s.rule, s.description, s.removed, s.rows_left]
            + [s.customers, s.customers_lost, s.money]
            for s in steps
        ],
    )
    con.execute(INSERT_CUSTOMERS, {"run": run_id})
    if cfg.mode == "transactions":  # exact: a DECIMAL sum of the stored cents
        con.execute(
            "UPDATE out.runs SET revenue = (SELECT sum(monetary) FROM out.customers WHERE run_id = $run) "
            "WHERE id = $run",
            {"run": run_id},
        )
    totals = con.execute(
        "SELECT segment_id, count(*), coalesce(sum(monetary), 0), count(*) FILTER (WHERE is_outlier) "
        "FROM out.customers WHERE run_id = ? GROUP BY segment_id ORDER BY segment_id",
        [run_id],
    ).fetchall()
    customers = sum(t[1] for t in totals)
    all_revenue = sum(t[2] for t in totals)
    con.executemany(
        "INSERT INTO out.segments VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            [
                run_id,
                seg,
                names[seg].name,
                names[seg].description,
                names[seg].action,
                size,
                size / customers,
                rev,
                rev / all_revenue if all_revenue else None,
                outliers,
            ]
            for seg, size, rev, outliers in totals
        ],
    )
    _store_value(con, run_id, cfg, value)
    if cfg.mode == "customers":
        con.execute(sql.PROFILE_CUSTOMERS, {"run": run_id, "names": list(profile_features)})
    else:
        con.execute(sql.PROFILE_TRANSACTIONS, {"run": run_id})
    con.executemany(
        "INSERT INTO out.model_scores VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            [
                run_id,
                s.algorithm,
                s.k,
                s.inertia,
                s.silhouette,
                s.davies_bouldin,
                s.calinski_harabasz,
                s.noise_share,
                s.n_scored,
                round(s.fit_seconds, 3),
                s.chosen,
            ]
            for s in model.scores
        ],
    )
    x = frame[list(model.transform.features)].to_numpy(dtype=float)
    con.execute(
        "INSERT INTO out.models VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            run_id,
            list(model.transform.features),
            list(model.transform.log_transform),
            model.transform.center.tolist(),
            model.transform.scale.tolist(),
            model.centroids.tolist(),
            model.pca_mean.tolist(),
            model.pca_components.tolist(),
            np.nanmin(x, axis=0).tolist(),
            np.nanmax(x, axis=0).tolist(),
            np.nanmedian(x, axis=0).tolist(),
            model.pca_explained.tolist(),
        ],
    )


INSERT_VALUE_MODEL = "INSERT INTO out.value_models VALUES (?, ?, ?, 'days', @21)".replace(
    "@21", ", ".join(["?"] * 21)
)


def _store_value(
    con: duckdb.DuckDBPyConnection, run_id: int, cfg: RunConfig, value: value_run.ValueResult | None
) -> None:
    """The run's value models (or why there are none) and its backtest."""
    if value is None:
        status, reason = "not_applicable", "a customer table has no purchases to model"
    else:
        status, reason = value.status, value.reason
    counts = value.counts if value is not None else None
    spend = value.spend if value is not None else None
    test = value.backtest if value is not None else None
    con.execute(
        INSERT_VALUE_MODEL,
        [
            run_id,
            status,
            reason,
            cfg.horizon_days,
            cfg.discount_rate,
            *([counts.r, counts.alpha, counts.a, counts.b, counts.log_likelihood] if counts else [None] * 5),
            *([spend.p, spend.q, spend.gamma, spend.log_likelihood] if spend else [None] * 4),
            value.spend_customers if value is not None else None,
            _finite(value.correlation) if value is not None else None,
            *(
                [
                    test.holdout_days,
                    test.cutoff,
                    test.customers,
                    test.predicted_total,
                    test.actual_total,
                    test.mae,
                ]
                if test
                else [cfg.holdout_days if value is not None else None] + [None] * 5
            ),
            value.backtest_error if value is not None else None,
            round(value.seconds, 3) if value is not None else None,
        ],
    )
    if test is not None:
        con.executemany(
            "INSERT INTO out.value_backtest VALUES (?, ?, ?, ?, ?)",
            [
                [run_id, int(r.bucket), int(r.customers), float(r.predicted), float(r.actual)]
                for r in test.by_calibration.itertuples()
            ],
        )


def _finite(value: float) -> float | None:
    return value if np.isfinite(value) else None


def segment_report(con: duckdb.DuckDBPyConnection, run_id: int, shown: tuple[str, ...]) -> pd.DataFrame:
    """The printed segment table: size, shares, name, action, and the segment mean of each `shown` feature
    (recency, frequency and monetary for sales; the user's own first features for a customer table)."""
    frame = con.execute(
        """
        SELECT s.segment_id, s.name, s.size, s.share, s.revenue_share::DOUBLE AS revenue_share, s.outliers,
               s.description, s.action
        FROM out.segments s WHERE s.run_id = ? ORDER BY s.segment_id
        """,
        [run_id],
    ).df()
    means = con.execute(
        "SELECT segment_id, feature, mean FROM out.segment_profiles WHERE run_id = ? AND segment_id >= 0",
        [run_id],
    ).df()
    table = means.pivot(index="segment_id", columns="feature", values="mean")
    for feature in shown:
        frame["mean_" + feature] = frame["segment_id"].map(table[feature]) if feature in table else np.nan
    return frame
