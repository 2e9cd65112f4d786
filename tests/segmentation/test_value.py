"""Customer value models: the closed forms against direct numerical integration, parameters recovered from
simulated customers, and the properties the literature states."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from segmentation.value import bgnbd, gamma_gamma

# Fader, Hardie and Lee (2005), CDNOW, weeks
CDNOW = bgnbd.BgNbd(
    r=0.243, alpha=4.414, a=0.793, b=2.426, log_likelihood=-9582.4, converged=True, message=""
)


def bgnbd_likelihood_by_integration(
    r: float, alpha: float, a: float, b: float, x: int, t_x: float, T: float
) -> float:
    """The BG/NBD likelihood of one customer as the double integral over purchase rate and drop-out."""

    log_gamma_norm = r * math.log(alpha) - math.lgamma(r)
    log_beta_norm = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)

    def individual(lam: float, p: float) -> float:
        if lam <= 0 or p <= 0 or p >= 1:
            return 0.0
        stay = (1 - p) ** x * lam**x * math.exp(-lam * T)
        gone = p * (1 - p) ** (x - 1) * lam**x * math.exp(-lam * t_x) if x > 0 else 0.0
        density = math.exp(
            log_gamma_norm
            + (r - 1) * math.log(lam)
            - alpha * lam
            + log_beta_norm
            + (a - 1) * math.log(p)
            + (b - 1) * math.log(1 - p)
        )  # gamma(r, alpha) purchase rate x beta(a, b) drop-out probability
        return (stay + gone) * density

    value, _ = integrate.dblquad(individual, 0, 1, 0, 15, epsabs=1e-12, epsrel=1e-7)
    return value


@pytest.mark.parametrize(("x", "t_x", "T"), [(0, 0.0, 38.86), (2, 30.43, 38.86), (5, 12.0, 30.0)])
def test_bgnbd_log_likelihood_equals_the_double_integral(x: int, t_x: float, T: float) -> None:
    params = np.array([0.243, 4.414, 0.793, 2.426])
    closed = bgnbd.log_likelihood(params, np.array([x]), np.array([t_x]), np.array([T]))
    assert closed == pytest.approx(math.log(bgnbd_likelihood_by_integration(*params, x, t_x, T)), abs=1e-5)


def test_gamma_gamma_log_likelihood_equals_the_integral_over_spend_rates() -> None:
    p, q, gamma, x, m = 6.25, 3.74, 15.44, 3, 42.0

    def joint(nu: float) -> float:  # the mean of x gamma(p, nu) spends is gamma(p x, x nu)
        return stats.gamma.pdf(m, p * x, scale=1 / (x * nu)) * stats.gamma.pdf(nu, q, scale=1 / gamma)

    density, _ = integrate.quad(joint, 0, np.inf, epsabs=1e-14)
    closed = gamma_gamma.log_likelihood(np.array([p, q, gamma]), np.array([x]), np.array([m]))
    assert closed == pytest.approx(math.log(density), abs=1e-6)


def test_p_alive_by_hand_one_without_repeat_and_falling_with_age() -> None:
    r, alpha, a, b = 0.243, 4.414, 0.793, 2.426
    by_hand = 1 / (1 + (a / (b + 2 - 1)) * ((alpha + 38.86) / (alpha + 30.43)) ** (r + 2))
    assert bgnbd.p_alive(CDNOW, np.array([2]), np.array([30.43]), np.array([38.86]))[0] == pytest.approx(
        by_hand
    )
    assert bgnbd.p_alive(CDNOW, np.array([0.0]), np.array([0.0]), np.array([38.86]))[0] == 1.0
    last = np.array([38.0, 30.0, 20.0, 10.0, 2.0])  # same frequency, the last purchase further back
    alive = bgnbd.p_alive(CDNOW, np.full(5, 3.0), last, np.full(5, 38.86))
    assert np.all(np.diff(alive) < 0)


def test_expected_purchases_of_a_new_customer_match_simulation_and_the_conditional_form() -> None:
    rng = np.random.default_rng(7)
    T = np.full(200_000, 39.0)
    x, _ = bgnbd.simulate((CDNOW.r, CDNOW.alpha, CDNOW.a, CDNOW.b), T, rng)
    assert float(bgnbd.expected_purchases_new(CDNOW, 39.0)) == pytest.approx(x.mean(), rel=0.02)
    # a customer seen for no time at all (x = 0, t_x = T = 0) expects what a new customer does
    zero = np.zeros(1)
    conditional = bgnbd.expected_purchases(CDNOW, 39.0, zero, zero, zero)[0]
    assert conditional == pytest.approx(float(bgnbd.expected_purchases_new(CDNOW, 39.0)), rel=1e-9)


def test_bgnbd_recovers_known_parameters_from_simulated_customers() -> None:
    rng = np.random.default_rng(0)
    T = rng.uniform(30, 40, 20_000)
    truth = (0.243, 4.414, 0.793, 2.426)
    x, t_x = bgnbd.simulate(truth, T, rng)
    fitted = bgnbd.fit(x, t_x, T)
    assert fitted.converged
    for got, want in zip((fitted.r, fitted.alpha, fitted.a, fitted.b), truth, strict=True):
        assert got == pytest.approx(want, rel=0.15)
    assert fitted.log_likelihood == pytest.approx(bgnbd.log_likelihood(np.array(truth), x, t_x, T), rel=1e-3)


def test_gamma_gamma_recovers_known_parameters_and_expected_spend_shrinks_to_the_mean() -> None:
    rng = np.random.default_rng(1)
    x = rng.integers(1, 15, 5000).astype(float)
    m = gamma_gamma.simulate((6.25, 3.74, 15.44), x, rng)
    fitted = gamma_gamma.fit(x, m)
    assert fitted.converged
    for got, want in zip((fitted.p, fitted.q, fitted.gamma), (6.25, 3.74, 15.44), strict=True):
        assert got == pytest.approx(want, rel=0.1)
    assert abs(gamma_gamma.spend_frequency_correlation(x, m)) < 0.05  # independent by construction
    spend = gamma_gamma.expected_spend(fitted, np.array([1.0, 50.0, 0.0]), np.array([100.0, 100.0, 0.0]))
    assert fitted.mean_spend < spend[0] < spend[1] < 100.0  # more purchases, closer to the own mean
    assert spend[2] == pytest.approx(fitted.mean_spend)
