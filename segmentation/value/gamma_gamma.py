"""The Gamma-Gamma model of spend per purchase (Fader and Hardie 2013, "The Gamma-Gamma model of monetary
value"): maximum likelihood fit on repeat buyers and the expected spend per purchase of each customer.

Inputs per repeat buyer: x = repeat purchases, m = their average spend (> 0). Parameters: p (shape of each
purchase's spend), q and gamma (shape and scale of the customers' spend rates). The model assumes spend per
purchase is independent of how often a customer buys; `spend_frequency_correlation` checks it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize, special


@dataclass(frozen=True)
class GammaGamma:
    """Fitted parameters, the log-likelihood at them, and whether the optimiser converged."""

    p: float
    q: float
    gamma: float
    log_likelihood: float
    converged: bool
    message: str

    @property
    def mean_spend(self) -> float:
        """The population's expected spend per purchase, p gamma / (q - 1) (infinite when q <= 1)."""
        return self.p * self.gamma / (self.q - 1) if self.q > 1 else float("inf")


def log_likelihood(params: np.ndarray, x: np.ndarray, m: np.ndarray) -> float:
    """The summed log-likelihood of (x, m) under (p, q, gamma) (the note's equation 3, with m_x = m)."""
    return log_likelihood_and_gradient(params, x, m)[0]


def log_likelihood_and_gradient(params: np.ndarray, x: np.ndarray, m: np.ndarray) -> tuple[float, np.ndarray]:
    """The summed log-likelihood of (x, m) and its gradient in (p, q, gamma), in closed form."""
    p, q, gamma = params
    px = p * x
    log_gm = np.log(gamma + m * x)
    each = (
        special.gammaln(px + q)
        - special.gammaln(px)
        - special.gammaln(q)
        + q * np.log(gamma)
        + (px - 1) * np.log(m)
        + px * np.log(x)
        - (px + q) * log_gm
    )
    psi_pxq = special.digamma(px + q)
    grad = np.array(
        [
            np.sum(x * (psi_pxq - special.digamma(px) + np.log(m) + np.log(x) - log_gm)),
            np.sum(psi_pxq - special.digamma(q) + np.log(gamma) - log_gm),
            np.sum(q / gamma - (px + q) / (gamma + m * x)),
        ]
    )
    return float(np.sum(each)), grad


def fit(x: np.ndarray, m: np.ndarray) -> GammaGamma:
    """Maximum likelihood over repeat buyers (x > 0, m > 0), L-BFGS-B on the log parameters with the exact
    gradient."""
    x = np.asarray(x, dtype=float)
    m = np.asarray(m, dtype=float)
    n = len(x)
    init = np.log([1.0, 2.0, float(np.mean(m))])

    def objective(log_params: np.ndarray) -> tuple[float, np.ndarray]:
        params = np.exp(log_params)
        value, grad = log_likelihood_and_gradient(params, x, m)
        if not np.isfinite(value) or not np.all(np.isfinite(grad)):
            return 1e100, np.zeros(3)
        return -value / n, -grad * params / n

    result = optimize.minimize(objective, init, jac=True, method="L-BFGS-B", bounds=[(-12.0, 15.0)] * 3)
    p, q, gamma = (float(v) for v in np.exp(result.x))
    return GammaGamma(p, q, gamma, float(-result.fun * n), bool(result.success), str(result.message))


def expected_spend(model: GammaGamma, x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """E[spend per purchase | x, m]: a weighted mean of the population mean and the customer's own mean;
    customers without repeat purchases (x = 0) or a usable mean (m <= 0) get the population mean."""
    x = np.asarray(x, dtype=float)
    m = np.asarray(m, dtype=float)
    own = (model.gamma + m * x) * model.p / (model.p * x + model.q - 1)
    return np.where((x > 0) & (m > 0), own, model.mean_spend)


def spend_frequency_correlation(x: np.ndarray, m: np.ndarray) -> float:
    """Pearson correlation of repeat purchases and average spend over the repeat buyers (near 0 is good)."""
    if len(x) < 3 or np.std(x) == 0 or np.std(m) == 0:
        return float("nan")
    return float(np.corrcoef(np.asarray(x, float), np.asarray(m, float))[0, 1])


def simulate(params: tuple[float, float, float], x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Average spend of x purchases per customer drawn from the Gamma-Gamma story (for tests)."""
    p, q, gamma = params
    nu = rng.gamma(q, 1.0 / gamma, len(x))  # each customer's spend rate
    total = rng.gamma(p * x, 1.0 / nu)  # the sum of x gamma(p, nu) spends
    return total / x
