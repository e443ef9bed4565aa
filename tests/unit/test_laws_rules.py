"""laws.py rule by rule: every functional form at hand-worked values (``math`` on scalars, not
the numpy code under test), the Huber objective's two branches, the scaled Jacobian's condition
number against analytic derivatives, the fitter's exact messages, counts and start selection
(closed-form least squares, a quartic's roots), and the bootstrap's identifiability rule.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from predictors import laws
from predictors.base import FitError
from predictors.laws import (
    BootstrapLaw,
    LawFit,
    bootstrap_law,
    chinchilla_loss,
    compute_loss,
    densing_loss,
    exponential_compute,
    fit_law,
    fit_one_start,
    gadre_error,
    gadre_loss,
    invert_sigmoid_accuracy,
    sigmoid_accuracy,
    sigmoid_log_compute,
    single_step_accuracy,
    take,
)

# -- functional forms ----------------------------------------------------------------------


def test_gadre_loss_at_hand_worked_values() -> None:
    want = 50 * 1e8**-0.2 + 80 * 6**-0.1 * (1e8 * 20) ** -0.2 + 1.8
    assert float(gadre_loss((1e8, 20.0), 50.0, 80.0, -0.2, 1.8)) == pytest.approx(want, rel=1e-12)
    got = gadre_loss((np.array([1e7, 1e9]), np.array([40.0, 5.0])), 3.0, 7.0, -0.3, 0.5)
    want2 = [3 * n**-0.3 + 7 * 6**-0.15 * (n * m) ** -0.3 + 0.5 for n, m in ((1e7, 40), (1e9, 5))]
    assert got.tolist() == pytest.approx(want2, rel=1e-12)


def test_gadre_error_at_hand_worked_values() -> None:
    assert float(gadre_error(2.0, 1.5, 0.5, 0.9)) == pytest.approx(0.9 - 1.5 * math.exp(-1.0))
    got = gadre_error(np.array([1.0, 3.0]), 2.0, 0.7, 0.8)
    assert got.tolist() == pytest.approx([0.8 - 2 * math.exp(-0.7), 0.8 - 2 * math.exp(-2.1)])


def test_chinchilla_and_compute_loss_at_hand_worked_values() -> None:
    want = math.exp(4) / 1e8**0.3 + math.exp(7) / 1e10**0.35 + 1.2
    got = chinchilla_loss((1e8, 1e10), 4.0, 7.0, 0.3, 0.35, 1.2)
    assert float(got) == pytest.approx(want, rel=1e-12)
    got_c = compute_loss(np.array([1e20, 1e22]), 5.0, 0.1, 1.5)
    assert got_c.tolist() == pytest.approx(
        [math.exp(5) * 1e20**-0.1 + 1.5, math.exp(5) * 1e22**-0.1 + 1.5], rel=1e-12
    )


def test_sigmoid_accuracy_and_its_clip() -> None:
    # z = -k (L - L0) = -4 (2 - 2.5) = 2
    assert float(sigmoid_accuracy(2.0, -0.7, 0.95, 4.0, 2.5)) == pytest.approx(
        -0.7 / (1 + math.exp(2)) + 0.95, rel=1e-12
    )
    # z = 1000 is clipped to 500: a tiny but nonzero share of a (exp(1000) would give 0)
    tail = float(sigmoid_accuracy(-1000.0, -0.7, 0.0, 1.0, 0.0))
    assert tail == pytest.approx(-0.7 / (1 + math.exp(500)), rel=1e-9, abs=0.0)


def test_invert_sigmoid_accuracy_at_hand_worked_values_and_its_open_range() -> None:
    a, b, k, L0 = -0.5, 0.9, 2.0, 1.0
    # s = 0.65: frac = (0.65 - 0.9) / -0.5 = 0.5, log(1/0.5 - 1) = 0, so L = L0
    assert float(invert_sigmoid_accuracy(0.65, a, b, k, L0)) == pytest.approx(1.0)
    # s = 0.7: frac = 0.4, L = 1 - log(1.5) / 2
    assert float(invert_sigmoid_accuracy(0.7, a, b, k, L0)) == pytest.approx(1 - math.log(1.5) / 2)
    # the range is open: s = b (frac 0) and s = a + b (frac 1) are reached only at infinite loss
    edges = invert_sigmoid_accuracy(np.array([0.9, 0.4, 0.95, 0.3]), a, b, k, L0)
    assert np.isnan(edges).all()
    # a rising curve (a > 0): s = b gives frac = +0.0 exactly, still outside the open range
    assert np.isnan(invert_sigmoid_accuracy(np.array([0.1, 0.6]), 0.5, 0.1, k, L0)).all()


def test_exponential_compute_measures_compute_in_1e18_flops() -> None:
    # C = 1e18 is one unit: g + (1 - g) exp(-a)
    assert float(exponential_compute(1e18, 0.25, 1.3, 0.5)) == pytest.approx(
        0.25 + 0.75 * math.exp(-1.3)
    )
    assert float(exponential_compute(4e18, 0.25, 1.0, 0.5)) == pytest.approx(
        0.25 + 0.75 * math.exp(-(4**-0.5))
    )


def test_sigmoid_log_compute_and_its_clip() -> None:
    # z = -2 (log10(1e21) - 20) = -2
    assert float(sigmoid_log_compute(1e21, 0.2, 0.9, 2.0, 20.0)) == pytest.approx(
        0.2 + 0.7 / (1 + math.exp(-2))
    )
    # z = -2 (-300 - 20) = 640 is clipped to 500: a nonzero tail above lo = 0
    tail = float(sigmoid_log_compute(1e-300, 0.0, 0.9, 2.0, 20.0))
    assert tail == pytest.approx(0.9 / (1 + math.exp(500)), rel=1e-9, abs=0.0)


def test_single_step_accuracy_and_its_clip() -> None:
    inner = math.exp(4) / 1e8**0.3 + math.exp(7) / 1e10**0.35 - 1.0
    got = single_step_accuracy((1e8, 1e10), -0.7, 0.95, 4.0, 0.3, 7.0, 0.35, -1.0)
    assert float(got) == pytest.approx(-0.7 / (1 + math.exp(-inner)) + 0.95, rel=1e-12)
    # c = -1000: -inner is about 1000, clipped to 500
    tail = float(single_step_accuracy((1e8, 1e10), -0.7, 0.0, 4.0, 0.3, 7.0, 0.35, -1000.0))
    assert tail == pytest.approx(-0.7 / (1 + math.exp(500)), rel=1e-9, abs=0.0)


def test_integer_inputs_and_exponents_are_read_as_floats() -> None:
    """Integer arrays to negative integer powers are an error in numpy: the laws cast first."""
    assert float(densing_loss((100, 1000), 2, 1, 3, 1)) == pytest.approx(2 / 100 + 3 / 1000)
    want = 1 / 100 + 1 * 6**-0.5 / (100 * 20) + 0
    assert float(gadre_loss((100, 20), 1, 1, -1, 0)) == pytest.approx(want)


def test_densing_loss_at_hand_worked_values() -> None:
    want = 300 * 1e8**-0.3 + 500 * 1e10**-0.28
    assert float(densing_loss((1e8, 1e10), 300.0, 0.3, 500.0, 0.28)) == pytest.approx(want)


# -- LawFit ----------------------------------------------------------------------------------


def _fit(status: str = "ok", message: str = "") -> LawFit:
    return LawFit(
        "compute_loss", ("a", "alpha", "E"), (1.0, 0.5, 2.0), status, message, 5, 0.00123456, 10.0
    )


def test_lawfit_defaults_dict_and_summary() -> None:
    fit = _fit()
    assert fit.ok and fit.require_ok() is fit
    assert fit.as_dict() == {"a": 1.0, "alpha": 0.5, "E": 2.0}
    assert (fit.residuals, fit.n_starts, fit.n_converged, fit.extra) == ((), 1, 1, {})
    assert fit.to_dict() == {
        "law": "compute_loss",
        "params": {"a": 1.0, "alpha": 0.5, "E": 2.0},
        "status": "ok",
        "message": "",
        "n_obs": 5,
        "rss": 0.00123456,
        "condition": 10.0,
        "n_starts": 1,
        "n_converged": 1,
    }
    assert fit.summary() == (
        "compute_loss: ok (5 points, rss 0.001235)\n  a = 1\n  alpha = 0.5\n  E = 2"
    )
    noted = _fit("ill_conditioned", "too flat")
    assert not noted.ok
    assert noted.summary().endswith("  E = 2\n  note: too flat")
    with pytest.raises(FitError) as info:
        noted.require_ok()
    assert str(info.value) == "compute_loss: ill_conditioned: too flat"


# -- objectives ------------------------------------------------------------------------------


def level(x: np.ndarray, c: float) -> np.ndarray:
    """A constant law: its log residuals are chosen exactly through ``y``."""
    return np.full(np.shape(x), c)


def test_l2_objective_with_and_without_weights() -> None:
    x, y = np.arange(3.0), np.array([1.0, 2.0, 4.0])
    obj = laws._residual_fn(level, x, y, "l2", None)
    assert obj(np.array([2.0])) == pytest.approx(1 + 0 + 4)
    w = laws._residual_fn(level, x, y, "l2", np.array([1.0, 2.0, 3.0]))
    assert w(np.array([2.0])) == pytest.approx(1 + 0 + 9 * 4)
    assert obj(np.array([np.nan])) == laws._UNUSABLE


def test_huber_log_objective_branches_and_delta() -> None:
    x = np.arange(2.0)
    r = np.array([0.0005, 0.01])  # log residuals: one inside delta = 1e-3, one beyond
    y = 0.5 * np.exp(-r)  # a prediction of 0.5: positive, below 1
    obj = laws._residual_fn(level, x, y, "huber_log", None)
    want = 0.5 * 0.0005**2 + 1e-3 * (0.01 - 0.5e-3)
    assert obj(np.array([0.5])) == pytest.approx(want, rel=1e-9)
    # delta = 0.005 from the loss name: both still split, the second at the new delta
    wide = laws._residual_fn(level, x, y, "huber_log:0.005", None)
    assert wide(np.array([0.5])) == pytest.approx(0.5 * 0.0005**2 + 0.005 * (0.01 - 0.0025))
    weighted = laws._residual_fn(level, x, y, "huber_log", np.array([2.0, 3.0]))
    assert weighted(np.array([0.5])) == pytest.approx(
        4 * 0.5 * 0.0005**2 + 9 * 1e-3 * (0.01 - 0.5e-3), rel=1e-9
    )
    # a prediction of exactly 0 (or below, or not finite) has no log: unusable, not inf
    assert obj(np.array([0.0])) == laws._UNUSABLE
    assert obj(np.array([-1.0])) == laws._UNUSABLE
    assert obj(np.array([np.inf])) == laws._UNUSABLE


# -- condition number ----------------------------------------------------------------------


def growth(x: np.ndarray, a: float, b: float) -> np.ndarray:
    return a * np.exp(b * x)


def _analytic_condition(a: float, b: float, x: np.ndarray) -> float:
    """Columns d/da and d/db of a e^(bx), each times max(|p|, 1e-3), as _jacobian scales them."""
    j = np.column_stack(
        [np.exp(b * x) * max(abs(a), 1e-3), a * x * np.exp(b * x) * max(abs(b), 1e-3)]
    )
    s = np.linalg.svd(j, compute_uv=False)
    return float(s[0] / s[-1])


@pytest.mark.parametrize(("a", "b"), [(2.0, 0.5), (-0.3, 0.0), (0.0005, 0.4)])
def test_condition_matches_the_analytic_scaled_jacobian(a: float, b: float) -> None:
    x = np.array([0.0, 0.5, 1.0, 2.0])
    got = laws._condition(growth, x, np.array([a, b]))
    assert got == pytest.approx(_analytic_condition(a, b, x), rel=1e-4)


def test_condition_of_a_degenerate_or_broken_law_is_infinite() -> None:
    def flat(x: np.ndarray, a: float, b: float) -> np.ndarray:
        return a * x + 0.0 * b  # b never matters: an exactly zero column

    def broken(x: np.ndarray, a: float) -> np.ndarray:
        return np.full(np.shape(x), np.nan)

    x = np.arange(1.0, 4.0)
    assert laws._condition(flat, x, np.array([1.0, 1.0])) == math.inf
    assert laws._condition(broken, x, np.array([1.0])) == math.inf
    # the smallest singular value here is 0.35 (< 1): still a finite condition
    assert _analytic_condition(0.3, 0.2, x) < math.inf
    assert laws._condition(growth, x, np.array([0.3, 0.2])) == pytest.approx(
        _analytic_condition(0.3, 0.2, x), rel=1e-4
    )


# -- one start -------------------------------------------------------------------------------


def straight_line(x: np.ndarray, a: float, b: float) -> np.ndarray:
    return a + b * x


X4, Y4, W4 = (
    np.array([0.0, 1.0, 2.0, 3.0]),
    np.array([0.0, 1.0, 1.0, 3.0]),
    np.array([1.0, 4.0, 1.0, 9.0]),
)


def _wls(w: np.ndarray) -> np.ndarray:
    """Weighted least squares for the straight line by the normal equations."""
    A = np.column_stack([np.ones_like(X4), X4])
    return np.linalg.solve(A.T @ (w[:, None] * A), A.T @ (w * Y4))


def test_one_start_weighted_least_squares_matches_the_normal_equations() -> None:
    for bounds in (None, (np.array([-10.0, -10.0]), np.array([10.0, 10.0]))):
        p = fit_one_start(
            straight_line, X4, Y4, p0=[0.0, 0.0], bounds=bounds, sigma_weights=np.sqrt(W4)
        )
        assert p is not None and p.tolist() == pytest.approx(_wls(W4).tolist(), rel=1e-6)
    plain = fit_one_start(straight_line, X4, Y4, p0=[0.0, 0.0])
    assert plain is not None and plain.tolist() == pytest.approx(_wls(np.ones(4)).tolist())


def test_one_start_evaluation_caps_apply_with_and_without_bounds() -> None:
    x = np.array([1.0, 2.0, 4.0, 8.0])
    y = compute_loss(x, 0.5, 0.7, 1.2)
    b = (np.array([-5.0, 0.0, 0.0]), np.array([5.0, 3.0, 5.0]))
    assert fit_one_start(compute_loss, x, y, p0=[1.0, 1.0, 1.0], maxfev=3) is None
    assert fit_one_start(compute_loss, x, y, p0=[1.0, 1.0, 1.0], bounds=b, maxfev=3) is None
    p = fit_one_start(compute_loss, x, y, p0=[1.0, 1.0, 1.0], bounds=b)
    assert p is not None and p.tolist() == pytest.approx([0.5, 0.7, 1.2], rel=1e-6)


def test_one_start_huber_recovers_with_and_without_bounds() -> None:
    x = np.array([1.0, 2.0, 4.0, 8.0, 16.0])
    y = compute_loss(x, 0.5, 0.7, 1.2)
    b = (np.array([-5.0, 0.0, 0.0]), np.array([5.0, 3.0, 5.0]))
    for bounds in (None, b):
        p = fit_one_start(compute_loss, x, y, p0=[1.0, 1.0, 1.0], bounds=bounds, loss="huber_log")
        # L-BFGS-B's tolerances are set tight (scipy's defaults stop about 1e-4 away)
        assert p is not None and p.tolist() == pytest.approx([0.5, 0.7, 1.2], abs=2e-6)
        # the evaluation cap reaches the optimiser: two iterations end far from the optimum
        q = fit_one_start(
            compute_loss, x, y, p0=[1.0, 1.0, 1.0], bounds=bounds, loss="huber_log", maxfev=2
        )
        assert q is not None and np.abs(q - [0.5, 0.7, 1.2]).max() > 0.05
    # a binding bound holds: all three points at 2, the level capped at 1.5
    capped = fit_one_start(
        level, np.arange(3.0), np.full(3, 2.0), p0=[1.0], bounds=b1, loss="huber_log"
    )
    assert capped is not None and capped.tolist() == [1.5]


b1 = (np.array([0.0]), np.array([1.5]))


def test_one_start_of_a_law_that_is_nowhere_finite_is_none() -> None:
    def nowhere(x: np.ndarray, a: float) -> np.ndarray:
        return np.full(np.shape(x), np.nan)

    assert fit_one_start(nowhere, np.arange(5.0), np.ones(5), p0=[1.0]) is None


def test_weighted_huber_follows_the_heavy_point() -> None:
    """Near-L1 in log space: unweighted the level is the median (1), weighted the heavy 2."""
    x, y = np.arange(3.0), [1.0, 1.0, 2.0]
    plain = fit_law(level, x, y, starts=[(1.5,)], loss="huber_log")
    heavy = fit_law(level, x, y, starts=[(1.5,)], loss="huber_log", weights=np.array([1, 1, 100.0]))
    assert plain.params[0] == pytest.approx(1.0, abs=1e-3)
    assert heavy.params[0] == pytest.approx(2.0, abs=1e-3)


def test_one_start_refuses_a_law_that_is_never_positive_in_log_loss() -> None:
    def negative(x: np.ndarray, a: float) -> np.ndarray:
        return np.full(np.shape(x), -1.0 - a * a)  # finite, but log(pred) never exists

    assert fit_one_start(negative, np.arange(3.0), np.ones(3), p0=[1.0], loss="huber_log") is None


# -- fit_law ---------------------------------------------------------------------------------


def test_fit_law_exact_refusals() -> None:
    x = np.logspace(18, 21, 4)
    few = fit_law(compute_loss, x[:2], [3.0, 2.8], starts=[(3, 0.1, 1)])
    assert few.message == "2 points for 3 parameters" and few.status == "failed"
    assert (few.law, few.n_obs, few.param_names) == ("compute_loss", 2, ("a", "alpha", "E"))
    assert all(math.isnan(p) for p in few.params) and math.isnan(few.rss)
    assert few.condition == math.inf
    bad = fit_law(compute_loss, x, [3.0, np.inf, 2.9, 2.8], starts=[(3, 0.1, 1)])
    assert bad.message == "non-finite target values"
    zero = fit_law(compute_loss, x, [3.0, 0.0, 2.9, 2.8], starts=[(3, 0.1, 1)], loss="huber_log")
    assert zero.status == "failed" and zero.message == "log-space loss needs positive targets"
    small = np.array([1.0, 2.0, 4.0, 8.0])
    y_small = [0.9, 0.6, 0.5, 0.45]
    below_one = fit_law(compute_loss, small, y_small, starts=[(1, 1, 0.1)], loss="huber_log")
    assert below_one.ok  # positive targets under 1 are fine
    capped = fit_law(compute_loss, small, y_small, starts=[(1, 1, 0.1)], maxfev=3)
    assert capped.message == "no start of 1 converged"  # the cap reaches each start's solver


def test_as_many_points_as_parameters_interpolates_with_a_note() -> None:
    x = np.array([1.0, 2.0, 4.0])
    fit = fit_law(compute_loss, x, compute_loss(x, 0.5, 0.7, 1.2), starts=[(1.0, 1.0, 1.0)])
    assert fit.status == "ok" and fit.n_obs == 3
    assert fit.message == (
        "as many points as parameters: the fit interpolates, residuals carry no information"
    )
    assert list(fit.params) == pytest.approx([0.5, 0.7, 1.2], rel=1e-6)


def test_fit_law_residuals_rss_and_condition_of_a_least_squares_line() -> None:
    fit = fit_law(straight_line, X4, Y4, starts=[(0.0, 0.0)])
    a, b = _wls(np.ones(4))  # 0.1, 0.9 by the normal equations
    assert (fit.law, fit.status, fit.message, fit.n_obs) == ("straight_line", "ok", "", 4)
    resid = a + b * X4 - Y4  # prediction minus target
    assert list(fit.residuals) == pytest.approx(resid.tolist(), abs=1e-9)
    assert fit.rss == pytest.approx(float(resid @ resid), rel=1e-9)
    j = np.column_stack([np.full(4, max(abs(a), 1e-3)), X4 * max(abs(b), 1e-3)])
    assert fit.condition == pytest.approx(float(np.linalg.cond(j)), rel=1e-5)
    # the threshold is strict: a condition equal to it is still ok; just below, ill-conditioned
    same = fit_law(straight_line, X4, Y4, starts=[(0.0, 0.0)], max_condition=fit.condition)
    assert same.status == "ok"
    tight = fit_law(straight_line, X4, Y4, starts=[(0.0, 0.0)], max_condition=fit.condition / 2)
    assert tight.status == "ill_conditioned"
    assert tight.message == (
        f"scaled Jacobian condition number {fit.condition:.3g} > {fit.condition / 2:.3g}"
    )


def test_fit_law_weights_give_weighted_least_squares() -> None:
    fit = fit_law(straight_line, X4, Y4, starts=[(0.0, 0.0)], weights=W4)
    assert list(fit.params) == pytest.approx(_wls(W4).tolist(), rel=1e-6)


@pytest.mark.parametrize("n_starts", [1, 64])  # one by one, and batched then polished
def test_a_binding_bound_holds(n_starts: int) -> None:
    """Slope capped at 0.5 (least squares wants 0.9): the intercept is then mean(y - 0.5 x)."""
    b = ([-10.0, -10.0], [10.0, 0.5])
    fit = fit_law(straight_line, X4, Y4, starts=[(0.0, 0.0)] * n_starts, bounds=b)
    assert list(fit.params) == pytest.approx([float(np.mean(Y4 - 0.5 * X4)), 0.5], abs=1e-6)


def test_fit_law_clips_starts_into_the_bounds() -> None:
    b = ([-1.0, -1.0], [1.0, 1.0])
    fit = fit_law(straight_line, X4, Y4, starts=[(5.0, -5.0)], bounds=b)
    assert fit.ok and list(fit.params) == pytest.approx(_wls(np.ones(4)).tolist(), rel=1e-6)


def quartic(x: np.ndarray, a: float) -> np.ndarray:
    """The same value at every point: g(a) = a^4 - 2a^2 + 0.5a, two local minima."""
    return np.zeros(np.shape(x)) + (a**4 - 2 * a**2 + 0.5 * a)  # a may be a column


def _quartic_minima() -> tuple[float, float]:
    """Roots of g'(a) = 4a^3 - 4a + 0.5: the outer two are the minima (deeper one negative)."""
    r = np.sort(np.roots([4.0, 0.0, -4.0, 0.5]).real)
    return float(r[0]), float(r[-1])


@pytest.mark.parametrize("copies", [1, 32])  # 2 starts run one by one; 64 are batched
def test_fit_law_keeps_the_deeper_of_two_local_minima(copies: int) -> None:
    deep, shallow = _quartic_minima()  # -1.06 (g = -1.51) and 0.93 (g = -0.52)
    y = np.full(4, -5.0)  # below g's minimum: the fit sits at a minimum of g
    fit = fit_law(quartic, np.arange(4.0), y, starts=[(1.0,), (-1.0,)] * copies)
    assert fit.params[0] == pytest.approx(deep, abs=1e-5)
    assert (fit.n_starts, fit.n_converged) == (2 * copies, 2 * copies)
    if copies == 1:  # one by one, the start at 1 alone stays in the shallow basin
        only = fit_law(quartic, np.arange(4.0), y, starts=[(1.0,)])
        assert only.params[0] == pytest.approx(shallow, abs=1e-5)


def root_law(x: np.ndarray, a: float) -> np.ndarray:
    """NaN for a < 0: a start there never converges."""
    return np.sqrt(a) * np.ones(np.shape(x))


def test_a_failed_start_does_not_stop_the_others() -> None:
    fit = fit_law(root_law, np.arange(3.0), np.full(3, 2.0), starts=[(-1.0,), (1.0,)])
    assert fit.ok and fit.params[0] == pytest.approx(4.0, rel=1e-6)
    assert (fit.n_starts, fit.n_converged) == (2, 1)


def test_batched_from_64_unweighted_starts_and_three_polished(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = {"batch": 0, "one": 0}
    seen: list[dict[str, Any]] = []
    batch, one = laws.batch_refit, laws.fit_one_start

    def spy_batch(*a: Any, **k: Any) -> tuple[np.ndarray, np.ndarray]:
        calls["batch"] += 1
        return batch(*a, **k)

    def spy_one(*a: Any, **k: Any) -> np.ndarray | None:
        calls["one"] += 1
        seen.append(k)
        return one(*a, **k)

    monkeypatch.setattr(laws, "batch_refit", spy_batch)
    monkeypatch.setattr(laws, "fit_one_start", spy_one)
    starts = [(0.0, float(s)) for s in np.linspace(-1, 1, 64)]
    fit_law(straight_line, X4, Y4, starts=starts[:63])
    assert calls == {"batch": 0, "one": 63}
    calls.update(batch=0, one=0)
    fit = fit_law(straight_line, X4, Y4, starts=starts)
    assert calls == {"batch": 1, "one": 3}  # the best three batched optima are polished
    assert (fit.n_starts, fit.n_converged) == (64, 64)
    # only two starts converge (a < 0 is NaN): only those two are polished
    calls.update(batch=0, one=0)
    mixed = [(-1.0,)] * 62 + [(1.0,), (9.0,)]
    rf = fit_law(root_law, np.arange(3.0), np.full(3, 2.0), starts=mixed)
    assert calls == {"batch": 1, "one": 2}
    assert (rf.n_starts, rf.n_converged) == (64, 2) and rf.params[0] == pytest.approx(4.0)
    # the polish runs with the fit's own loss, bounds and evaluation cap
    seen.clear()
    fit_law(
        level,
        np.arange(3.0),
        [1.0, 1.0, 2.0],
        starts=[(1.2,)],
        bounds=b1,
        loss="huber_log:0.01",
        maxfev=500,
    )
    assert len(seen) == 1
    assert (seen[0]["loss"], seen[0]["maxfev"]) == ("huber_log:0.01", 500)
    assert [v.tolist() for v in seen[0]["bounds"]] == [[0.0], [1.5]]


def test_a_polish_capped_at_one_evaluation_still_ends_at_the_optimum() -> None:
    """The batched screen has converged the line already: a one-evaluation polish keeps it."""
    fit = fit_law(straight_line, X4, Y4, starts=[(0.0, 0.0)] * 64, maxfev=1)
    assert fit.ok and list(fit.params) == pytest.approx(_wls(np.ones(4)).tolist(), abs=1e-6)


def test_a_two_row_array_input_is_a_pair() -> None:
    """(N, M) given as one 2 x n array fits as the tuple does: every start ends finite."""
    n = np.repeat([1e7, 3e7, 1e8, 3e8, 1e9], 3)
    m = np.tile([10.0, 40.0, 160.0], 5)
    truth = (60.0, 90.0, -0.25, 1.9)
    y = gadre_loss((n, m), *truth)
    fit = fit_law(gadre_loss, np.vstack([n, m]), y, starts=laws.GADRE_LOSS_STARTS)
    assert list(fit.params) == pytest.approx(truth, rel=1e-6)
    assert (fit.n_starts, fit.n_converged) == (128, 128)


def test_grid_is_the_cartesian_product() -> None:
    assert laws.grid([1.0, 2.0], [3.0], [4.0, 5.0]) == [
        (1.0, 3.0, 4.0),
        (1.0, 3.0, 5.0),
        (2.0, 3.0, 4.0),
        (2.0, 3.0, 5.0),
    ]


# -- resampling ------------------------------------------------------------------------------


def test_take_rows_of_an_array_or_a_pair() -> None:
    idx = np.array([2, 0])
    assert take(np.array([10.0, 11.0, 12.0]), idx).tolist() == [12.0, 10.0]
    n, d = take((np.array([1.0, 2.0, 3.0]), [4.0, 5.0, 6.0]), idx)
    assert (n.tolist(), d.tolist()) == ([3.0, 1.0], [6.0, 4.0])


def test_bootstrap_law_predict_stacks_one_row_per_draw() -> None:
    boot = BootstrapLaw(np.array([[1.0, 2.0], [0.0, -1.0]]), n_failed=3)
    got = boot.predict(straight_line, np.array([0.0, 1.0, 2.0]))
    assert got.tolist() == [[1.0, 3.0, 5.0], [0.0, -1.0, -2.0]]


def test_bootstrap_refuses_resamples_with_fewer_distinct_points_than_parameters() -> None:
    """Two points, two parameters: a resample identifies the line iff it draws both points.

    That happens with probability 1/2, so of 400 resamples the failures are Binomial(400, 1/2):
    mean 200, s.d. 10; the test accepts 200 +- 4 s.d. Every usable resample is the two points
    themselves, so its refit is the line through them exactly.
    """
    x, y = np.array([0.0, 1.0]), np.array([1.0, 3.0])
    fit = fit_law(straight_line, x, y, starts=[(0.0, 0.0)])
    boot = bootstrap_law(straight_line, x, y, fit, n_boot=400, rng=np.random.default_rng(3))
    assert abs(boot.n_failed - 200) <= 40, boot.n_failed
    assert len(boot.params) == 400 - boot.n_failed
    assert np.allclose(boot.params, [1.0, 2.0], atol=1e-6)
    three = fit_law(
        compute_loss, np.array([1.0, 2.0, 4.0]), [2.0, 1.8, 1.7], starts=[(0.5, 0.7, 1.2)]
    )
    none = bootstrap_law(
        compute_loss,
        np.array([1.0, 2.0]),
        np.array([2.0, 1.8]),
        three,
        n_boot=5,
        rng=np.random.default_rng(0),
    )
    assert none.n_failed == 5 and none.params.shape == (0, 3)
    zero = bootstrap_law(straight_line, x, y, fit, n_boot=0, rng=np.random.default_rng(0))
    assert zero.n_failed == 0 and zero.params.shape == (0, 2)


def test_bootstrap_passes_bounds_loss_and_iteration_cap() -> None:
    b = ([-10.0, -10.0], [10.0, 0.5])
    fit = fit_law(straight_line, X4, Y4, starts=[(0.0, 0.0)], bounds=b)
    boot = bootstrap_law(
        straight_line, X4, Y4, fit, n_boot=50, rng=np.random.default_rng(2), bounds=b
    )
    assert boot.params[:, 1].max() <= 0.5  # most resamples' own slope is steeper
    # near-L1 in log space: one outlier of nine moves a resample's level little; in L2, to
    # 1 + 99 k / 9 for k draws of it (a median resample has one: 12)
    xx, yy = np.arange(9.0), np.array([1.0] * 8 + [100.0])
    hub = fit_law(level, xx, yy, starts=[(1.0,)], loss="huber_log")
    rb = bootstrap_law(
        level, xx, yy, hub, n_boot=30, rng=np.random.default_rng(4), loss="huber_log"
    )
    assert np.median(rb.params) < 1.5
    # two iterations do not converge a refit of noisy points: every resample is refused
    xs = np.linspace(0, 1, 10)
    ys = 1 + 0.5 * xs + np.random.default_rng(0).normal(0, 0.1, 10)
    line = fit_law(straight_line, xs, ys, starts=[(0.0, 0.0)])
    short = bootstrap_law(
        straight_line, xs, ys, line, n_boot=20, rng=np.random.default_rng(1), max_iter=2
    )
    assert short.n_failed == 20
