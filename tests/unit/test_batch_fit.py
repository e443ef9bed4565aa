"""The batched refit lands where scipy's per-resample solvers land, only all at once."""

from __future__ import annotations

import numpy as np
import pytest

from predictors.batch_fit import batch_refit, batch_rows
from predictors.laws import (
    chinchilla_loss,
    compute_loss,
    exponential_compute,
    fit_law,
    fit_one_start,
)

C = np.geomspace(1e18, 1e21, 12)


def test_every_row_recovers_its_own_parameters() -> None:
    """Noiseless rows of two different laws on shared inputs: each row's truth comes back."""
    truths = np.array([[0.5, 0.7, 1.2], [0.4, 0.6, 1.0]])
    x = np.geomspace(1.0, 64.0, 8)
    y = np.vstack([compute_loss(x, *t) for t in truths])
    p, ok = batch_refit(compute_loss, x, y, [1.0, 1.0, 1.0])
    assert ok.all()
    # zero residuals: Gauss-Newton converges quadratically, far below the 1e-6 asked here
    np.testing.assert_allclose(p, truths, rtol=1e-6)


def _resamples(n_boot: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    y = exponential_compute(C, 0.25, 2.0, 0.3) + rng.normal(0, 0.01, C.size)
    idx = np.array([rng.integers(0, C.size, C.size) for _ in range(n_boot)])
    return y, idx, np.array([0.25, 2.0, 0.3])


def test_bootstrap_refits_agree_with_scipy_per_resample() -> None:
    """Warm-started refits of 60 resamples: the forecast at 30x the largest compute agrees with
    bounded scipy refits to 1e-3 of the draws' 90% spread. Both stop at a relative objective
    change of ~1.5e-8, so they differ by far less than the Monte-Carlo error of a percentile
    endpoint from 200 draws (~5e-2 of the spread); 1e-3 leaves that margin 50 times over."""
    y, idx, p0 = _resamples(60)
    bounds = ([0.0, 0.0, 0.0], [1.0, 1e6, 5.0])
    p, ok = batch_refit(exponential_compute, batch_rows(C, idx), y[idx], p0, bounds=bounds)
    b = (np.asarray(bounds[0]), np.asarray(bounds[1]))
    ref = [
        fit_one_start(exponential_compute, C[i], y[i], p0=p0, bounds=b, maxfev=2000) for i in idx
    ]
    both = {k: q for k, q in enumerate(ref) if q is not None and ok[k]}
    assert len(both) >= 55  # a few awkward resamples may fail on either side, not many
    target = 3e22
    ours = np.array([exponential_compute(target, *p[k]) for k in both])
    theirs = np.array([exponential_compute(target, *q) for q in both.values()])
    spread = np.subtract(*np.quantile(theirs, [0.95, 0.05]))
    assert spread > 0.01  # the resamples do move the forecast: the comparison means something
    assert np.max(np.abs(ours - theirs)) <= 1e-3 * spread


def test_a_bound_holds_like_the_bounded_scipy_fit() -> None:
    """Data from g = -0.1, below the lower bound 0: the fit stops on the bound, where trust-region
    reflective (scipy) stops too, and the free parameters agree with it."""
    y = exponential_compute(C, -0.1, 2.0, 0.3)
    bounds = ([0.0, 0.0, 0.0], [1.0, 1e6, 5.0])
    p, ok = batch_refit(exponential_compute, C, y[None, :], [0.2, 1.0, 0.2], bounds=bounds)
    b = (np.asarray(bounds[0]), np.asarray(bounds[1]))
    ref = fit_one_start(exponential_compute, C, y, p0=[0.2, 1.0, 0.2], bounds=b, maxfev=5000)
    assert ok[0] and ref is not None
    assert p[0, 0] == 0.0
    np.testing.assert_allclose(p[0], ref, rtol=1e-4, atol=1e-9)


def test_huber_in_log_space_matches_the_polished_fit() -> None:
    """The ladder's step-1 loss (Huber on log residuals, one broken run): the batched fit from the
    paper's start reaches fit_law's optimum (the objective is minimised to ~1e-10 relative, so
    forecasts agree to 1e-5 relative)."""
    rng = np.random.default_rng(1)
    x = (10 ** rng.uniform(7, 9.5, 40), 10 ** rng.uniform(9, 11.5, 40))
    y = chinchilla_loss(x, 4.0, 7.0, 0.3, 0.35, 1.2) * np.exp(rng.normal(0, 0.002, 40))
    y[0] *= 1.5
    b = ([0.0] * 5, [50.0, 50.0, 3.0, 3.0, 10.0])
    start = (3, 6, 0.1, 0.2, 1)
    ref = fit_law(chinchilla_loss, x, y, starts=[start], bounds=b, loss="huber_log:1e-3")
    p, ok = batch_refit(
        chinchilla_loss,
        x,
        y[None, :],
        np.asarray(ref.params) * 1.05,
        bounds=b,
        loss="huber_log:1e-3",
        max_iter=1000,
    )
    assert ok[0]
    xt = (np.array([1e11]), np.array([1e13]))
    ours, theirs = chinchilla_loss(xt, *p[0])[0], chinchilla_loss(xt, *ref.params)[0]
    assert abs(ours / theirs - 1) < 1e-5


def test_rows_that_do_not_fit_are_not_ok() -> None:
    """A law with no finite value fails every row; a refit stopped early fails only when
    convergence is required (a bootstrap draw), not in a screening run."""

    def nowhere(x: np.ndarray, a: float) -> np.ndarray:
        return np.full(np.shape(x), np.nan) * a

    _, ok = batch_refit(nowhere, np.arange(5.0), np.ones((3, 5)), [1.0])
    assert not ok.any()
    y = compute_loss(C / 1e18, 0.5, 0.7, 1.2)[None, :]
    _, strict = batch_refit(compute_loss, C / 1e18, y, [3.0, 0.1, 3.0], max_iter=1)
    _, loose = batch_refit(
        compute_loss, C / 1e18, y, [3.0, 0.1, 3.0], max_iter=1, require_converged=False
    )
    assert (strict[0], loose[0]) == (False, True)


def _line(x: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a * x + b


X = np.array([0.0, 1.0, 2.0, 3.0, 4.0])


def test_batch_rows_resamples_arrays_and_tuples_as_floats() -> None:
    idx = np.array([[2, 0], [1, 1]])
    got = batch_rows([10, 20, 30], idx)
    assert got.dtype == float and got.tolist() == [[30.0, 10.0], [20.0, 20.0]]
    pair = batch_rows((np.array([1, 2, 3]), np.array([4, 5, 6])), idx)
    assert isinstance(pair, tuple) and all(v.dtype == float for v in pair)
    assert [v.tolist() for v in pair] == [[[3.0, 1.0], [2.0, 2.0]], [[6.0, 4.0], [5.0, 5.0]]]


def test_a_bound_that_binds_gives_the_constrained_least_squares_optimum() -> None:
    """y = 2x + 1 fitted with slope bounded to [-5, 1] (upper binds) or [3, 5] (lower binds):
    the slope sits on the bound and the intercept is the least-squares one given it,
    mean(y - a x) = 1 + (2 - a) mean(x) = 1 + 2 (2 - a), closed form."""
    y = (2 * X + 1)[None, :]
    for bounds, a in ((([-5, -10], [1, 10]), 1.0), (([3, -10], [5, 10]), 3.0)):
        for start in ([0.0, 0.0], [4.0, 0.0], [9.0, 0.0]):  # inside, and outside (clipped first)
            p, ok = batch_refit(_line, X, y, start, bounds=bounds)
            assert ok[0] and p[0, 0] == a, (bounds, start, p)
            # a linear law: Gauss-Newton with forward differences is exact to ~1e-7
            assert p[0, 1] == pytest.approx(1 + 2 * (2 - a), abs=1e-6)
    # the upper bound is honoured by every step, not only at the start
    p, _ = batch_refit(_line, X, y, [0.0, 0.0], bounds=([-5, -10], [1.5, 10]))
    assert p[0, 0] == 1.5


def test_batched_tuple_inputs_fit_each_row_on_its_own_rows() -> None:
    """x a tuple of (B, n) arrays (a two-input law resampled per row): each row its own truth."""

    def plane(x: tuple[np.ndarray, np.ndarray], a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a * x[0] + b * x[1]

    u, v = np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, -1.0, 2.0, 0.5])
    idx = np.array([[0, 1, 2, 3], [3, 2, 1, 0]])
    xb = batch_rows((u, v), idx)
    y = np.vstack(
        [plane((xb[0][i], xb[1][i]), *t) for i, t in enumerate([(1.0, 2.0), (-1.0, 0.5)])]
    )
    p, ok = batch_refit(plane, xb, y, [0.0, 0.0])
    assert ok.all()
    np.testing.assert_allclose(p, [[1.0, 2.0], [-1.0, 0.5]], atol=1e-6)


def test_huber_delta_is_read_from_the_loss_name() -> None:
    """log y = a + b x exactly, but one point 1.5x too high. A large delta (0.5, every |log
    residual| below it) is least squares on logs: the closed-form OLS fit. The default delta
    1e-3 ignores the outlier: back to the truth (a shift of ~1e-3 at most)."""

    def expo(x: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.exp(a + b * x)

    x = np.linspace(0.0, 2.0, 21)
    y = np.exp(-2.0 + 0.5 * x)  # values 0.14-0.37, below 1
    y[10] *= 1.5
    ols = np.polyfit(x, np.log(y), 1)  # slope, intercept
    p_ls, ok = batch_refit(expo, x, y[None, :], [-1.0, 0.0], loss="huber_log:0.5")
    assert ok[0]
    np.testing.assert_allclose(p_ls[0], [ols[1], ols[0]], atol=1e-6)
    p_rob, ok = batch_refit(expo, x, y[None, :], [-1.0, 0.0], loss="huber_log", max_iter=1000)
    assert ok[0]
    np.testing.assert_allclose(p_rob[0], [-2.0, 0.5], atol=2e-3)
    assert abs(ols[1] + 2.0) > 0.015  # the outlier does move least squares: the test can tell


def _root(x: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Defined for a <= 1 only."""
    return np.sqrt(1.0 - a) * x + b


def test_at_an_upper_bound_the_difference_step_points_inward() -> None:
    """Starting on the bound a = 1, beyond which the law is undefined: the forward difference
    is taken inside, so the fit leaves the bound for the truth a = 0.75, b = 0.25."""
    y = (np.sqrt(1.0 - 0.75) * X + 0.25)[None, :]
    p, ok = batch_refit(_root, X, y, [1.0, 0.0], bounds=([-1.0, -5.0], [1.0, 5.0]))
    assert ok[0]
    np.testing.assert_allclose(p[0], [0.75, 0.25], atol=1e-6)


def test_one_bad_row_does_not_stop_the_others() -> None:
    """Unbounded, row 0 starts at a = 1 where the difference step leaves the law's domain (a
    NaN Jacobian): it stays where it started. Row 2 starts at NaN: not ok. Row 1 converges."""
    y = np.vstack([np.full(X.size, 0.5), np.sqrt(1.0 - 0.75) * X + 0.25, np.zeros(X.size)])
    p0 = np.array([[1.0, 0.0], [0.0, 0.0], [np.nan, 0.0]])
    p, ok = batch_refit(_root, X, y, p0)
    assert ok.tolist() == [True, True, False]
    np.testing.assert_allclose(p[1], [0.75, 0.25], atol=1e-6)
    assert p[0].tolist() == [1.0, 0.0]


def test_an_integer_start_is_read_as_floats() -> None:
    """A start given as ints (a plain list) must not truncate the iterates."""
    y = (2 * X + 1)[None, :]
    p, ok = batch_refit(_line, X, y, [0, 0])
    assert ok[0]
    np.testing.assert_allclose(p[0], [2.0, 1.0], atol=1e-6)
    p, ok = batch_refit(_line, X, (0.5 * X + 0.25)[None, :], [0, 0])
    np.testing.assert_allclose(p[0], [0.5, 0.25], atol=1e-6)


def test_overflowing_rows_raise_no_floating_point_warnings() -> None:
    """A resample can push a law to overflow; that row fails quietly (no RuntimeWarning)."""
    import warnings

    def blow(x: np.ndarray, a: np.ndarray) -> np.ndarray:
        return np.exp(a * x)

    x = np.array([100.0, 200.0, 300.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, ok = batch_refit(blow, x, np.ones((1, 3)), [3.0])  # exp(900) overflows
        assert not ok[0]
        # finite predictions whose squares overflow in the cost (exp(230)^2 > 1e308)
        batch_refit(blow, x, np.ones((1, 3)), [0.77])
        batch_refit(blow, x, np.full((1, 3), 0.5), [0.77], loss="huber_log")
        # least squares on data with zeros takes no logarithm of them
        batch_refit(_line, X, np.zeros((1, X.size)), [1.0, 1.0])
