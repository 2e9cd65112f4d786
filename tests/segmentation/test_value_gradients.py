"""The value models' closed-form gradients: equal to finite differences, and the same likelihood."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize

from segmentation.value import bgnbd, gamma_gamma


def _customers(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = 400
    T = rng.uniform(30, 700, n).round()
    x = rng.poisson(rng.gamma(0.5, 2.0, n)).astype(float)
    t_x = np.where(x > 0, (T * rng.uniform(0.05, 1, n)).round(), 0.0)
    return x, t_x, T


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("params", [(0.24, 4.4, 0.79, 2.43), (1.5, 80.0, 0.1, 9.0), (0.05, 0.5, 3.0, 0.3)])
def test_bgnbd_gradient_matches_finite_differences(seed: int, params: tuple[float, ...]) -> None:
    x, t_x, T = _customers(seed)
    w = np.random.default_rng(seed).integers(1, 4, len(x)).astype(float)
    p = np.array(params)
    value, grad = bgnbd.log_likelihood_and_gradient(p, x, t_x, T, w)
    assert value == pytest.approx(bgnbd.log_likelihood(p, x, t_x, T, w), rel=1e-12)
    numeric = optimize.approx_fprime(p, lambda q: bgnbd.log_likelihood(q, x, t_x, T, w), 1e-6 * p)
    assert grad == pytest.approx(numeric, rel=1e-4, abs=1e-3)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("params", [(6.25, 3.74, 15.44), (0.5, 1.2, 300.0), (20.0, 8.0, 2.0)])
def test_gamma_gamma_gradient_matches_finite_differences(seed: int, params: tuple[float, ...]) -> None:
    rng = np.random.default_rng(seed)
    x = rng.integers(1, 30, 300).astype(float)
    m = rng.gamma(3.0, 12.0, 300) + 0.5
    p = np.array(params)
    value, grad = gamma_gamma.log_likelihood_and_gradient(p, x, m)
    assert value == pytest.approx(gamma_gamma.log_likelihood(p, x, m), rel=1e-12)
    numeric = optimize.approx_fprime(p, lambda q: gamma_gamma.log_likelihood(q, x, m), 1e-6 * p)
    assert grad == pytest.approx(numeric, rel=1e-4, abs=1e-3)
