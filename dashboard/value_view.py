"""The customer-value card of the Model page: the models' status and parameters, and the backtest a user
can read (predicted vs actual purchases in the holdout, by purchases before it)."""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
import pandas as pd
import plotly.graph_objects as go
from dash import dcc, html

from dashboard import components, figures
from dashboard.queries import value as value_q
from segmentation import currency as money

STATUS_TEXT = {
    "ok": "Fitted",
    "partial": "Purchase model only (no predicted value)",
    "failed": "Unavailable for this run: the value columns are empty",
    "not_applicable": "Not applicable",
}


def backtest_figure(df: pd.DataFrame) -> go.Figure:
    """Grouped bars: predicted and actual purchase days in the holdout, by repeat purchases before it."""
    if df.empty:
        return figures.empty_figure("No backtest: run with --holdout-days N.")
    labels = ["7+" if int(b) == 7 else str(int(b)) for b in df["calibration_purchases"]]
    fig = go.Figure(
        [
            go.Bar(name="Predicted", x=labels, y=df["predicted"], marker_color="#4c78a8"),
            go.Bar(name="Actual", x=labels, y=df["actual"], marker_color="#f58518"),
        ]
    )
    fig.update_layout(
        barmode="group",
        xaxis={"title": "Repeat purchase days before the holdout", "type": "category"},
        yaxis_title="Purchase days in the holdout",
        legend={"orientation": "h", "y": 1.12},
    )
    return figures.styled(fig, height=340)


def _facts(m: dict[str, Any]) -> list[Any]:
    """Parameters, log-likelihoods, the independence check and the backtest totals, in words."""
    out: list[Any] = []
    if m.get("r") is not None:
        out.append(
            f"BG/NBD (time unit {m['time_unit']}): r = {m['r']:.4g}, alpha = {m['alpha']:.4g}, "
            f"a = {m['a']:.4g}, b = {m['b']:.4g}; log-likelihood {m['bgnbd_log_likelihood']:,.1f}; "
            f"chance of dropping out after a purchase {m['a'] / (m['a'] + m['b']):.2%}."
        )
    if m.get("p") is not None:
        out.append(
            f"Gamma-Gamma on {int(m['spend_customers']):,} repeat buyers: p = {m['p']:.4g}, "
            f"q = {m['q']:.4g}, gamma = {m['gamma']:.4g}; log-likelihood "
            f"{m['gamma_gamma_log_likelihood']:,.1f}."
        )
    if m.get("spend_frequency_corr") is not None:
        out.append(
            f"Correlation of repeat purchases and average spend: {m['spend_frequency_corr']:.3f} "
            "(the spend model assumes it is near 0)."
        )
    out.append(
        f"Expected purchases are over {m['horizon_days']} days; predicted value covers the next 12 months, "
        f"discounted at {m['discount_rate']:.0%} a year; value at risk = predicted value x (1 - chance still "
        "active)."
    )
    if m.get("backtest_actual") is not None:
        error = (
            (m["backtest_predicted"] - m["backtest_actual"]) / m["backtest_actual"]
            if m["backtest_actual"]
            else 0
        )
        out.append(
            f"Backtest: fitted on purchases before {pd.Timestamp(m['backtest_cutoff']):%Y-%m-%d}, the model "
            f"predicted {m['backtest_predicted']:,.0f} purchase days of {int(m['backtest_customers']):,} "
            f"customers in the {m['backtest_holdout_days']} days after; they made "
            f"{m['backtest_actual']:,.0f} ({error:+.1%}). Mean absolute error per customer: "
            f"{m['backtest_mae']:.3f}."
        )
    elif m.get("backtest_error"):
        out.append(f"Backtest unavailable: {m['backtest_error']}.")
    return [html.Li(t) for t in out]


def value_card(run_id: int) -> dbc.Card:
    """The card: status, facts and the backtest chart (or why there is no value model)."""
    m = value_q.value_model(run_id)
    if m is None:
        body: list[Any] = [html.P("This file was written before customer value; re-run to add it.")]
    elif m["status"] in ("failed", "not_applicable"):
        body = [html.P(f"{STATUS_TEXT[m['status']]}: {m['reason']}.", id="model-value-status")]
    else:
        status = STATUS_TEXT[m["status"]] + (f": {m['reason']}." if m.get("reason") else ".")
        backtest = value_q.backtest(run_id)
        body = [
            html.P(status, id="model-value-status", className="mb-2"),
            html.Ul(_facts(m), className="small mb-2"),
            dcc.Graph(id="model-backtest", figure=backtest_figure(backtest), config=components.graph_config())
            if not backtest.empty
            else html.P(  # a sentence, not a chart-sized empty box
                "No backtest: run with --holdout-days N to fit before the last N days and compare the "
                "predicted purchases with what happened.",
                className="small text-muted mb-0",
                id="model-backtest-none",
            ),
        ]
    return dbc.Card(
        [dbc.CardHeader("Customer value and churn risk"), dbc.CardBody(body)],
        className="shadow-sm mb-3",
        id="model-value",
    )


def _money(value: Any, currency: str | None = None) -> str:
    return "–" if value is None or pd.isna(value) else money.money(float(value), currency)


def segment_value_table(segments: pd.DataFrame, currency: str | None = None) -> dbc.Table | html.P:
    """Per segment: total and mean predicted value over the next 12 months, total and mean value at risk."""
    if segments.empty or segments["value"].isna().all():
        return html.P("No value model for this run.", className="text-muted mb-0")
    head = html.Tr(
        [html.Th("Segment"), html.Th("Customers", className="text-end")]
        + [
            html.Th(t, className="text-end")
            for t in ("Predicted value", "per customer", "Value at risk", "per customer")
        ]
    )
    rows = [
        html.Tr(
            [
                html.Td(str(r.name)),
                html.Td(components.fmt_int(r.customers), className="text-end"),
                html.Td(_money(r.value, currency), className="text-end"),
                html.Td(_money(r.mean_value, currency), className="text-end"),
                html.Td(_money(r.value_at_risk, currency), className="text-end"),
                html.Td(_money(r.mean_value_at_risk, currency), className="text-end"),
            ]
        )
        for r in segments.itertuples(index=False)
    ]
    return components.number_table(head, rows)


def segment_value_line(value: pd.DataFrame, sid: int, currency: str | None = None) -> str:
    """'Predicted value 12 months: £81,200 (£420 per customer) · at risk: £3,100 (£16 per customer)'."""
    row = value[value["segment_id"] == sid]
    if row.empty or pd.isna(row["value"].iloc[0]):
        return "No value model for this run."
    r = row.iloc[0]
    return (
        f"Predicted value, next 12 months: {_money(r['value'], currency)} "
        f"({_money(r['mean_value'], currency)} per customer) · "
        f"at risk: {_money(r['at_risk'], currency)} ({_money(r['mean_at_risk'], currency)} per customer)"
    )
