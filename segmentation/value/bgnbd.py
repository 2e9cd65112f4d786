"""The BG/NBD model (Fader, Hardie and Lee 2005, "Counting your customers the easy way"): maximum likelihood
fit, probability alive, and expected purchases, in closed form and vectorised.

Inputs per customer, in one time unit (this product uses days): x = repeat purchases (purchase occasions
after the first), t_x = time from the first to the last purchase, T = time from the first purchase to the
end of observation. Parameters: r, alpha (purchase rate, gamma), a, b (drop-out probability, beta).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize, special


@dataclass(frozen=True)
class BgNbd:
    """Fitted parameters, the log-likelihood at them, and whether the optimiser converged."""

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float
    converged: bool
    message: str


def log_likelihood(
    params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, weights: np.ndarray | None = None
) -> float:
    """The summed log-likelihood of (x, t_x, T) under (r, alpha, a, b) (equation 6 of the paper)."""
    r, alpha, a, b = params
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    a2 = special.gammaln(a + b) + special.gammaln(b + x) - special.gammaln(b) - special.gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore"):
        a4 = np.where(
            x > 0,
            np.log(a) - np.log(b + np.maximum(x, 1) - 1) - (r + x) * np.log(alpha + t_x),
            -np.inf,
        )
    each = a1 + a2 + np.logaddexp(a3, a4)
    return float(np.sum(each if weights is None else each * weights))


def log_likelihood_and_gradient(
    params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, weights: np.ndarray
) -> tuple[float, np.ndarray]:
    """The summed log-likelihood (as log_likelihood) and its gradient in (r, alpha, a, b), in closed form.

    The gamma-function terms depend on the data only through x, which takes few distinct values, so they
    are evaluated once per distinct x and gathered (x must be whole numbers, as repeat purchases are).
    """
    r, alpha, a, b = params
    xs, at = np.unique(x, return_inverse=True)
    lg = (
        special.gammaln(r + xs)
        - special.gammaln(r)
        + special.gammaln(a + b)
        + special.gammaln(b + xs)
        - special.gammaln(b)
        - special.gammaln(a + b + xs)
    )
    dr_x = special.digamma(r + xs) - special.digamma(r)
    da_x = special.digamma(a + b) - special.digamma(a + b + xs)
    db_x = da_x + special.digamma(b + xs) - special.digamma(b)
    log_aT, log_at = np.log(alpha + T), np.log(alpha + t_x)
    rx = r + x
    a3 = -rx * log_aT
    repeat = x > 0
    b_x = b + np.maximum(x, 1) - 1
    with np.errstate(divide="ignore"):
        a4 = np.where(repeat, np.log(a) - np.log(b_x) - rx * log_at, -np.inf)
    both = np.logaddexp(a3, a4)
    w3, w4 = np.exp(a3 - both), np.exp(a4 - both)  # shares of the two terms; w4 = 0 without repeats
    each = lg[at] + r * np.log(alpha) + both
    grad = np.array(
        [
            np.sum(weights * (dr_x[at] + np.log(alpha) - w3 * log_aT - w4 * log_at)),
            np.sum(weights * (r / alpha - w3 * rx / (alpha + T) - w4 * rx / (alpha + t_x))),
            np.sum(weights * (da_x[at] + w4 / a)),
            np.sum(weights * (db_x[at] - w4 / b_x)),
        ]
    )
    return float(np.sum(each * weights)), grad


def _compress(x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> tuple[np.ndarray, ...]:
    """Unique (x, t_x, T) rows and their counts: the likelihood is evaluated once per distinct customer."""
    rows, counts = np.unique(np.column_stack([x, t_x, T]).astype(float), axis=0, return_counts=True)
    return rows[:, 0], rows[:, 1], rows[:, 2], counts.astype(float)


def fit(
    x: np.ndarray, t_x: np.ndarray, T: np.ndarray, start: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0)
) -> BgNbd:
    """Maximum likelihood (L-BFGS-B on the log parameters, so all stay positive, with the exact gradient)."""
    ux, ut, uT, w = _compress(np.asarray(x), np.asarray(t_x), np.asarray(T))
    n = w.sum()
    scale = max(float(np.median(uT[uT > 0])) if np.any(uT > 0) else 1.0, 1.0)
    init = np.log(np.array(start) * np.array([1.0, scale, 1.0, 1.0]))

    def objective(log_params: np.ndarray) -> tuple[float, np.ndarray]:
        params = np.exp(log_params)
        value, grad = log_likelihood_and_gradient(params, ux, ut, uT, w)
        if not np.isfinite(value) or not np.all(np.isfinite(grad)):
            return 1e100, np.zeros(4)
        return -value / n, -grad * params / n  # d/d(log p) = p d/dp

    result = optimize.minimize(objective, init, jac=True, method="L-BFGS-B", bounds=[(-12.0, 12.0)] * 4)
    r, alpha, a, b = (float(v) for v in np.exp(result.x))
    return BgNbd(r, alpha, a, b, float(-result.fun * n), bool(result.success), str(result.message))


def p_alive(m: BgNbd, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """P(still active | x, t_x, T) (equation 11): 1 for a customer with no repeat purchase."""
    x = np.asarray(x, dtype=float)
    with np.errstate(over="ignore"):
        log_ratio = (m.r + x) * (
            np.log(m.alpha + np.asarray(T, float)) - np.log(m.alpha + np.asarray(t_x, float))
        )
        odds = np.where(x > 0, m.a / (m.b + np.maximum(x, 1) - 1) * np.exp(log_ratio), 0.0)
    return 1.0 / (1.0 + odds)


def expected_purchases(
    m: BgNbd, t: float | np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
) -> np.ndarray:
    """E[purchases in (T, T + t] | x, t_x, T] (equation 10), for one horizon t or one per customer."""
    x = np.asarray(x, dtype=float)
    T = np.asarray(T, dtype=float)
    t = np.asarray(t, dtype=float)
    z = t / (m.alpha + T + t)
    hyp = special.hyp2f1(m.r + x, m.b + x, m.a + m.b + x - 1, z)
    first = 1.0 - np.exp((m.r + x) * (np.log(m.alpha + T) - np.log(m.alpha + T + t))) * hyp
    return (m.a + m.b + x - 1) / (m.a - 1) * first * p_alive(m, x, t_x, T)


def expected_purchases_new(m: BgNbd, t: float | np.ndarray) -> np.ndarray:
    """E[X(t)] for a customer observed from their first purchase (equation 7), for simulation checks."""
    t = np.asarray(t, dtype=float)
    hyp = special.hyp2f1(m.r, m.b, m.a + m.b - 1, t / (m.alpha + t))
    return (m.a + m.b - 1) / (m.a - 1) * (1.0 - (m.alpha / (m.alpha + t)) ** m.r * hyp)


def simulate(
    params: tuple[float, float, float, float], T: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Draw (x, t_x) for customers observed for T time units each, from the BG/NBD story (for tests)."""
    r, alpha, a, b = params
    n = len(T)
    rate = rng.gamma(r, 1.0 / alpha, n)
    drop = rng.beta(a, b, n)
    x = np.zeros(n)
    t_x = np.zeros(n)
    now = np.zeros(n)
    active = np.ones(n, dtype=bool)
    while active.any():
        idx = np.flatnonzero(active)
        now[idx] += rng.exponential(1.0 / rate[idx])
        bought = now[idx] <= T[idx]
        done = idx[~bought]
        active[done] = False
        idx = idx[bought]
        x[idx] += 1
        t_x[idx] = now[idx]
        gone = rng.random(len(idx)) < drop[idx]  # after each purchase the customer may drop out
        active[idx[gone]] = False
    return x, t_x
