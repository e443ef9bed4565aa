"""The fitting core: known parameters come back, intervals cover, failures say so."""

from __future__ import annotations

import numpy as np
import pytest

from predictors.base import FitError
from predictors.laws import (
    GADRE_LOSS_STARTS,
    bootstrap_law,
    chinchilla_loss,
    compute_loss,
    fit_law,
    gadre_loss,
    invert_sigmoid_accuracy,
    percentile_interval,
    sigmoid_accuracy,
)


def test_gadre_loss_grid_recovers_parameters() -> None:
    n = np.repeat([1e7, 3e7, 1e8, 3e8, 1e9], 3)
    m = np.tile([10.0, 40.0, 160.0], 5)
    truth = (60.0, 90.0, -0.25, 1.9)
    y = gadre_loss((n, m), *truth)
    fit = fit_law(gadre_loss, (n, m), y, starts=GADRE_LOSS_STARTS)
    assert fit.ok, fit.message
    assert np.allclose(fit.params, truth, rtol=1e-3)
    assert fit.n_starts == len(GADRE_LOSS_STARTS) == 128  # every start ran (the count is kept)
    assert 1 <= fit.n_converged <= 128
    assert fit.to_dict()["n_starts"] == 128


def test_huber_log_recovers_chinchilla_despite_an_outlier() -> None:
    rng = np.random.default_rng(1)
    n = rng.uniform(7, 9.5, 40)
    d = rng.uniform(9, 11.5, 40)
    x = (10**n, 10**d)
    truth = (4.0, 7.0, 0.3, 0.35, 1.2)
    y = chinchilla_loss(x, *truth) * np.exp(rng.normal(0, 0.002, 40))
    y[0] *= 1.5  # one broken run
    b = ([0.0] * 5, [50.0, 50.0, 3.0, 3.0, 10.0])
    fit = fit_law(
        chinchilla_loss, x, y, starts=[(3, 6, 0.1, 0.2, 1)], bounds=b, loss="huber_log:1e-3"
    )
    l2 = fit_law(chinchilla_loss, x, y, starts=[(3, 6, 0.1, 0.2, 1)], bounds=b)
    # L2 runs the one start; the Huber loss also polishes the fast solver's best optimum
    assert (l2.n_starts, fit.n_starts) == (1, 2)
    assert l2.n_converged == 1 and fit.n_converged == 2
    xt = (np.array([1e11]), np.array([1e13]))
    true_t = chinchilla_loss(xt, *truth)[0]
    assert abs(chinchilla_loss(xt, *fit.params)[0] / true_t - 1) < 0.01
    # the robust loss is what protects the extrapolation from the outlier
    assert abs(chinchilla_loss(xt, *fit.params)[0] - true_t) < abs(
        chinchilla_loss(xt, *l2.params)[0] - true_t
    )


def test_sigmoid_roundtrip_through_inversion() -> None:
    p = (-0.7, 0.95, 4.0, 2.5)
    L = np.linspace(1.5, 4.0, 7)
    s = sigmoid_accuracy(L, *p)
    assert np.allclose(invert_sigmoid_accuracy(s, *p), L)
    assert np.isnan(invert_sigmoid_accuracy(np.array([0.99, 0.1]), *p)).all()  # outside the range


def test_too_few_points_is_failed_not_numbers() -> None:
    fit = fit_law(compute_loss, np.array([1e18, 1e19]), np.array([3.0, 2.8]), starts=[(3, 0.1, 1)])
    assert fit.status == "failed" and "2 points for 3 parameters" in fit.message
    with pytest.raises(FitError, match="failed"):
        fit.require_ok()


def test_degenerate_inputs_are_ill_conditioned() -> None:
    x = np.full(10, 1e20)  # every run at the same compute: alpha and E cannot be told apart
    y = 3.0 + np.random.default_rng(0).normal(0, 0.01, 10)
    fit = fit_law(compute_loss, x, y, starts=[(3, 0.1, 1)], bounds=([0, 0, 0], [100, 3, 10]))
    assert fit.status == "ill_conditioned"
    assert "condition number" in fit.message
    with pytest.raises(FitError):
        fit.require_ok()


def test_no_converged_start_reports_how_many_ran() -> None:
    def nowhere(x: np.ndarray, a: float) -> np.ndarray:
        return np.full(np.shape(x), np.nan)

    fit = fit_law(nowhere, np.arange(5.0), np.ones(5), starts=[(1.0,), (2.0,), (3.0,)])
    assert fit.status == "failed" and fit.message == "no start of 3 converged"
    assert (fit.n_starts, fit.n_converged) == (3, 0)


def test_non_finite_targets_fail() -> None:
    fit = fit_law(
        compute_loss,
        np.logspace(18, 21, 5),
        np.array([3, 2.9, np.nan, 2.7, 2.6]),
        starts=[(3, 0.1, 1)],
    )
    assert fit.status == "failed" and "non-finite" in fit.message


def test_percentile_interval_is_equal_tailed_on_an_exact_grid() -> None:
    """On 0..100 the linear-interpolation quantiles are the grid values: alpha/2 in each tail."""
    s = np.arange(101.0)
    assert percentile_interval(s, 0.1) == (5.0, 95.0)
    assert percentile_interval(s, 0.02) == (1.0, 99.0)
    assert percentile_interval(np.r_[s, np.nan, np.inf], 0.1) == (5.0, 95.0)  # non-finite dropped
    lo, hi = percentile_interval(np.array([np.nan]), 0.1)
    assert np.isnan(lo) and np.isnan(hi)


def straight_line(x: np.ndarray, a: float, b: float) -> np.ndarray:
    """The cheapest law: the coverage test refits it 25,000 times."""
    return a + b * x


def test_bootstrap_prediction_interval_covers_at_the_promised_rate() -> None:
    """90% intervals (parameter bootstrap + resampled residuals) contain a new draw ~90% of the time.

    250 replications: the binomial s.e. of the hit rate at 0.9 is sqrt(0.9*0.1/250) = 0.019, and
    the test accepts 0.9 +- 3 s.e. = [0.843, 0.957]. An 80% interval (s.e. 0.025 there) lies 1.7
    s.e. below the band and a 99% one (s.e. 0.006) 5 s.e. above it. The percentile interval of
    m = 100 draws covers about (m-1)/(m+1) * 0.9 = 0.88 of new draws (order statistics), inside
    the band; fewer draws would not be (m = 40 gives 0.8). A straight line through fit_law and
    bootstrap_law keeps the 25,000 refits to seconds.
    """
    rng = np.random.default_rng(42)
    truth, sigma = (1.0, 0.5), 0.1
    x = np.linspace(0.0, 1.0, 25)
    xt = np.array([1.2])  # a small extrapolation, as forecasts are
    hits, reps = 0, 250
    for _ in range(reps):
        y = straight_line(x, *truth) + rng.normal(0, sigma, x.size)
        fit = fit_law(straight_line, x, y, starts=[(0.0, 0.0)])
        assert fit.ok
        boot = bootstrap_law(straight_line, x, y, fit, n_boot=100, rng=rng)
        r = np.asarray(fit.residuals) * np.sqrt(x.size / (x.size - 2))
        draws = boot.predict(straight_line, xt)[:, 0] + rng.choice(r, len(boot.params))
        lo, hi = percentile_interval(draws, 0.1)
        new = straight_line(xt, *truth)[0] + rng.normal(0, sigma)
        hits += lo <= new <= hi
    se = np.sqrt(0.9 * 0.1 / reps)
    assert abs(hits / reps - 0.9) <= 3 * se, hits / reps
