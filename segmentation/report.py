"""Plain-text tables printed at the end of a run and by `segments runs`."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

from segmentation.pipeline import RunSummary


def table(
    headers: Sequence[str], rows: Sequence[Sequence[object]], right: Sequence[bool] | None = None
) -> str:
    """A fixed-width text table; numbers right-aligned by default."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    align = right or [
        all(isinstance(row[i], (int, float)) or row[i] is None for row in rows) if rows else False
        for i in range(len(headers))
    ]

    def line(values: Sequence[str]) -> str:
        padded = (v.rjust(w) if a else v.ljust(w) for v, w, a in zip(values, widths, align, strict=True))
        return "  ".join(padded).rstrip()

    rule = line(["-" * w if h else "" for w, h in zip(widths, headers, strict=True)])
    return "\n".join([line(list(headers)), rule] + [line(r) for r in cells])


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if value != value:  # NaN
            return ""
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def format_run(s: RunSummary) -> str:
    """The end-of-run report: cleaning, R/F/M cut points, the k sweep and why, the segments."""
    out = [f"Run {s.run_id} stored in {s.db_path} ({s.seconds:.1f}s)"]
    out.append(
        f"Input: {', '.join(s.sources)}; {s.rows_in:,} rows"
        + (f"; dates read as {s.date_format}" if s.date_format else "")
    )
    # how the input was read when not as a plain table (ingest: IngestResult.notes; the pipeline passes
    # them as ingest_notes): "no invoice column: one purchase per customer and day", a detected layout
    for note in s.ingest_notes:
        out.append(f"Read: {note}")
    if s.currency_reason:
        out.append(f"Money: {s.currency or 'currency unknown'} ({s.currency_reason})")
    out.append("")
    out.append("Cleaning")
    money = s.money_in is not None
    out.append(
        table(
            ["step", "rule", "lines", "left", "customers", "lost", "money"]
            if money
            else ["step", "rule", "lines", "left", "customers", "lost"],
            [
                [c.step, c.rule, c.removed, c.rows_left, c.customers, c.customers_lost]
                + ([_money(c.money)] if money else [])
                for c in s.steps
            ],
            [True, False, True, True, True, True, True][: 7 if money else 6],
        )
    )
    for c in s.steps:
        out.append(f"  {c.step}. {c.rule}: {c.description}")
    removed = sum(c.removed for c in s.steps)
    out.append(
        f"{s.rows_in:,} lines in = {removed:,} removed + {s.steps[-1].rows_left:,} kept; "
        f"{s.customers:,} customers" + (f" as of {s.snapshot}" if s.snapshot else "")
    )
    if s.money_in is not None:
        gone = sum((c.money or Decimal(0)) for c in s.steps)
        out.append(
            f"money: {_money(s.money_in)} in = {_money(gone)} removed + {_money(s.money_in - gone)} kept "
            "(net revenue of the customers)"
        )
    if s.rfm_cuts:
        out.append("")
        out.append(
            "R/F/M cut points (score 1|2|3|4|5 boundaries; a value equal to a cut takes the lower bin)"
        )
        for name, cuts in s.rfm_cuts.items():
            out.append(f"  {name:<13} " + " | ".join(f"{c:,.2f}".rstrip("0").rstrip(".") for c in cuts))
    out.append("")
    out.append("Model sweep")
    out.append(
        table(
            ["algorithm", "k", "inertia", "silhouette", "davies-bouldin", "calinski-harabasz", "noise", ""],
            [
                [
                    m.algorithm,
                    m.k,
                    m.inertia,
                    m.silhouette,
                    m.davies_bouldin,
                    m.calinski_harabasz,
                    None if m.noise_share is None else f"{m.noise_share:.1%}",
                    "<- chosen" if m.chosen else "",
                ]
                for m in s.scores
            ],
            [False, True, True, True, True, True, True, False],
        )
    )
    out.append(f"Chosen: {s.k_reason}")
    stability = "n/a" if s.stability_ari != s.stability_ari else f"{s.stability_ari:.3f}"
    out.append(
        f"Stability (adjusted Rand index of refits on subsamples): {stability}; "
        f"outliers (density noise): {s.outliers:,}"
    )
    out.extend(_value_lines(s))
    if s.warnings:
        out.append("")
        out.extend(f"WARNING: {w}" for w in s.warnings)
    out.append("")
    out.append("Segments")
    seg = s.segments
    shown = list(s.profile_features)
    revenue = s.mode == "transactions"
    out.append(
        table(
            ["id", "name", "customers", "share"]
            + (["revenue"] if revenue else [])
            + [_short(f) for f in shown]
            + ["action"],
            [
                [int(r["segment_id"]), r["name"], int(r["size"]), f"{r['share']:.1%}"]
                + ([_share(r["revenue_share"])] if revenue else [])
                + [_number(r["mean_" + f]) for f in shown]
                + [r["action"]]
                for _, r in seg.iterrows()
            ],
            [True, False, True, True] + [True] * (len(shown) + revenue) + [False],
        )
    )
    if s.names_line:  # which names were kept from the previous run, and why (segmentation/carry_over.py)
        out.append(s.names_line)
        if "matched" in s.names_line:
            out.extend(f"  {c.segment_id} {c.name.name}: {c.note}" for c in s.name_choices)
    return "\n".join(out)


def _money(value: Decimal | None) -> str:
    """Money to the cent with thousands separators (exact: Decimal quantize, half away from zero)."""
    if value is None:
        return ""
    return f"{Decimal(value).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,}"


def _share(value: object) -> str:
    return "" if value is None or value != value else f"{float(value):.1%}"


def _number(value: object) -> float | None:
    return None if value is None or value != value else float(value)


def _short(feature: str) -> str:
    """A column header: the sales features by their short names, a user's column as it is."""
    return {"recency_days": "recency", "frequency": "frequency", "monetary": "monetary"}.get(feature, feature)


def _value_lines(s: RunSummary) -> list[str]:
    """The customer-value models: status, parameters, totals and the backtest."""
    v = s.value
    out = ["", "Customer value (BG/NBD purchase model x Gamma-Gamma spend model; time unit: days)"]
    if v is None:
        return out + ["  not applicable: a customer table has no purchases to model"]
    if v.status == "failed":
        return out + [f"  unavailable: {v.reason}"]
    c = v.counts
    assert c is not None and v.predictions is not None
    out.append(
        f"  BG/NBD: r = {c.r:.4g}, alpha = {c.alpha:.4g}, a = {c.a:.4g}, b = {c.b:.4g}; "
        f"log-likelihood {c.log_likelihood:,.1f}; chance of dropping out after a purchase a/(a+b) = "
        f"{c.a / (c.a + c.b):.2%}"
    )
    if v.spend is not None:
        g = v.spend
        out.append(
            f"  Gamma-Gamma on {v.spend_customers:,} repeat buyers: p = {g.p:.4g}, q = {g.q:.4g}, "
            f"gamma = {g.gamma:.4g}; log-likelihood {g.log_likelihood:,.1f}; mean spend per purchase day "
            f"{g.mean_spend:,.2f}"
        )
    else:
        out.append(f"  no spend model: {v.reason}")
    if v.correlation == v.correlation:
        verdict = "fine" if abs(v.correlation) < 0.3 else "high: spend and frequency are not independent"
        out.append(f"  correlation of repeat purchases and average spend: {v.correlation:.3f} ({verdict})")
    p = v.predictions
    out.append(
        f"  probability alive: median {p['p_alive'].median():.3f}, 10th percentile "
        f"{p['p_alive'].quantile(0.1):.3f}; expected purchase days over the horizon: "
        f"{p['expected_purchases'].sum():,.0f}"
    )
    if v.spend is not None:
        out.append(
            f"  predicted value of the next 12 months: {p['predicted_value'].sum():,.2f}; value at risk: "
            f"{p['value_at_risk'].sum():,.2f}"
        )
    b = v.backtest
    if b is not None:
        out.append(
            f"  backtest: fitted on purchases before {b.cutoff}, predicted {b.predicted_total:,.0f} purchase "
            f"days of {b.customers:,} customers in the {b.holdout_days} days after, actual "
            f"{b.actual_total:,.0f} "
            f"({(b.predicted_total - b.actual_total) / b.actual_total:+.1%}); mean absolute error per "
            f"customer {b.mae:.3f}"
            if b.actual_total
            else f"  backtest: no purchases in the {b.holdout_days} holdout days"
        )
        out.append(
            "    by repeat purchases before the holdout: "
            + "; ".join(
                f"{'7+' if r.bucket == 7 else r.bucket}: {r.predicted:,.0f} vs {r.actual:,.0f}"
                for r in b.by_calibration.itertuples()
            )
        )
    elif v.backtest_error:
        out.append(f"  backtest unavailable: {v.backtest_error}")
    return out
