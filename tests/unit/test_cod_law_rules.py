"""COD's cluster law, its filter and the subset-to-full mapping, on small exact inputs.

Every expected number is derived apart from the code under test: closed forms of the law, the
paper's filter thresholds read by hand, and scipy (UnivariateSpline, PchipInterpolator,
least_squares) or sklearn (IsotonicRegression) as reference implementations.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from scipy.interpolate import PchipInterpolator, UnivariateSpline
from scipy.optimize import least_squares as scipy_least_squares
from sklearn.isotonic import IsotonicRegression

import predictors.cod_law as cod_law
from predictors.cod_law import (
    LawFit,
    SubsetMapping,
    _is_monotone,
    _loglinear_start,
    _merge_ties,
    cod_curve,
    filter_reasons,
    fit_cod_law,
    fit_mapping,
    identity_mapping,
)

FLOPS = np.array([1e19, 1e20, 1e21])  # geometric mean 1e20: the fit's own unit
LADDER = np.geomspace(1e19, 3e21, 8)


def _law(**kw: Any) -> LawFit:
    base: dict[str, Any] = {
        "a": 5.0, "b": 0.5, "c": 0.2, "g": 0.0, "unit": 1e18, "rmse": 0.0, "converged": True
    }  # fmt: skip
    return LawFit(**{**base, **kw})


# --- the law ----------------------------------------------------------------------------------


def test_cod_curve_closed_form_with_a_guessing_floor() -> None:
    # g + (1 - g) exp(-a C^-b - c): C = 4, a = 2, b = 0.5, c = 0.1, g = 0.25
    expected = 0.25 + 0.75 * math.exp(-2.0 * 4**-0.5 - 0.1)
    assert float(cod_curve(4.0, a=2.0, b=0.5, c=0.1, g=0.25)) == pytest.approx(expected, rel=1e-14)
    # integer compute and an integer exponent: numpy refuses int ** negative int, so the compute
    # must become float first; 1 / C for b = 1
    got = cod_curve(np.array([1, 2, 4]), a=1.0, b=1, c=0.0)
    np.testing.assert_allclose(got, np.exp(-1.0 / np.array([1.0, 2.0, 4.0])), rtol=1e-14)


def test_law_fit_reads_flops_in_its_unit_and_serialises() -> None:
    law = _law(a=3.0, b=0.5, c=0.1, g=0.2, unit=1e18, rmse=0.01, converged=False)
    # 4e18 FLOPs are C = 4 units: 0.2 + 0.8 exp(-3 / 2 - 0.1)
    assert float(law(4e18)) == pytest.approx(0.2 + 0.8 * math.exp(-1.6), rel=1e-14)
    assert law.to_dict() == {
        "a": 3.0, "b": 0.5, "c": 0.1, "g": 0.2, "unit": 1e18, "rmse": 0.01, "converged": False
    }  # fmt: skip


# --- the log-linear start ---------------------------------------------------------------------


def test_loglinear_start_is_exact_for_c_zero_data() -> None:
    """log(-log q) = log a - b log z is a line: exact points give a and b back, c = 0."""
    z = np.array([0.5, 1.0, 2.0, 4.0])
    g = 0.25
    y = g + (1 - g) * np.exp(-2.0 * z**-0.5)
    a, b, c = _loglinear_start(z, y, g)
    assert a == pytest.approx(2.0, rel=1e-10) and b == pytest.approx(0.5, rel=1e-10)
    assert c == 0.0


def test_loglinear_start_needs_two_points_strictly_inside_the_range() -> None:
    z = np.array([0.5, 1.0, 2.0, 4.0])
    q = np.exp(-3.0 * z**-1.0)
    # two usable points (0 and 1 are the ends: log(-log q) is infinite there) are enough
    two = np.array([0.0, q[1], q[2], 1.0])
    a, b, _ = _loglinear_start(z, two, 0.0)
    assert a == pytest.approx(3.0, rel=1e-10) and b == pytest.approx(1.0, rel=1e-10)
    assert _loglinear_start(z, np.array([0.0, q[1], 1.0, 1.0]), 0.0) is None  # one is not
    # the margins 1e-9 and 1 - 1e-9 are themselves outside: one point left, no start
    edge = np.array([1e-9, q[1], 1 - 1e-9, 0.0])
    assert _loglinear_start(z, edge, 0.0) is None
    # with g, q = (y - g) / (1 - g): y = g is q = 0 (out), y = 1 is q = 1 (out)
    g = 0.5
    yg = g + (1 - g) * np.array([0.0, q[1], q[2], 1.0])
    a, b, _ = _loglinear_start(z, yg, g)
    assert a == pytest.approx(3.0, rel=1e-10) and b == pytest.approx(1.0, rel=1e-10)


def test_loglinear_start_is_clipped_into_its_box() -> None:
    """Starts are clipped to a in [1e-6, 1e6] and b in [0.01, 4]: each bound bites once."""
    # log(-log q) = 16 - 6 log z: a = e^16 > 1e6 and b = 6 > 4, at z = e^2.5 and e^3
    z = np.exp(np.array([2.5, 3.0]))
    q = np.exp(-np.exp(16.0 - 6.0 * np.log(z)))
    assert _loglinear_start(z, q, 0.0) == pytest.approx((1e6, 4.0, 0.0), rel=1e-12)
    # log(-log q) = -15 + 0.5 log z: a = e^-15 < 1e-6 and b = -0.5 < 0.01, at z = 1 and e^2
    z = np.exp(np.array([0.0, 2.0]))
    q = np.exp(-np.exp(-15.0 + 0.5 * np.log(z)))
    assert _loglinear_start(z, q, 0.0) == pytest.approx((1e-6, 0.01, 0.0), rel=1e-12)


# --- the fit ----------------------------------------------------------------------------------


def test_fit_recovers_an_exact_law_and_converts_a_to_the_unit() -> None:
    """Noise-free points of a = 30, b = 0.5, c = 0.2 (C in 1e18): the optimum is the truth;
    in units of 1e15 the same law has a = 30 * 1000**0.5 (a' = a (u / u')**b)."""
    y = cod_curve(LADDER / 1e18, 30.0, 0.5, 0.2)
    law = fit_cod_law(LADDER, y, unit=1e18)
    assert (law.a, law.b, law.c, law.g) == pytest.approx((30.0, 0.5, 0.2, 0.0), rel=1e-6)
    assert law.unit == 1e18 and law.converged and law.rmse < 1e-9 and law.message == ""
    law15 = fit_cod_law(LADDER, y, unit=1e15)
    assert law15.a == pytest.approx(30.0 * 1000**0.5, rel=1e-6)
    assert law15.unit == 1e15


def test_fit_with_a_fixed_guess_and_with_a_fitted_floor() -> None:
    """g = 0.25 (4-way multiple choice): fixed, it stays 0.25 exactly; fitted, it is recovered."""
    y = cod_curve(LADDER / 1e18, 3.0, 0.6, 0.1, g=0.25)
    fixed = fit_cod_law(LADDER, y, guess=0.25)
    assert fixed.g == 0.25
    assert (fixed.a, fixed.b, fixed.c) == pytest.approx((3.0, 0.6, 0.1), rel=1e-6)
    free = fit_cod_law(LADDER, y, guess=None)
    assert (free.a, free.b, free.c, free.g) == pytest.approx((3.0, 0.6, 0.1, 0.25), rel=1e-5)
    assert free.converged and free.rmse < 1e-8


def test_noisy_fit_matches_scipy_from_the_truth_and_reports_its_rmse() -> None:
    """With noise, the multi-start optimum is the one scipy reaches from the true parameters
    (numerical Jacobian, fitted in 1e20 units), and rmse is that of the fitted curve."""
    rng = np.random.default_rng(3)
    y = cod_curve(LADDER / 1e18, 8.0, 0.4, 0.3) + rng.normal(0, 0.01, LADDER.size)
    law = fit_cod_law(LADDER, y, unit=1e18)
    u = float(np.exp(np.mean(np.log(LADDER))))

    def resid(p: np.ndarray) -> np.ndarray:
        return np.asarray(cod_curve(LADDER / u, *p) - y)

    a_u = 8.0 * (1e18 / u) ** 0.4
    ref = scipy_least_squares(
        resid, [a_u, 0.4, 0.3], bounds=([1e-12, 1e-6, 0.0], [1e8, 5.0, 60.0]), xtol=1e-14,
        ftol=1e-14, gtol=1e-14,
    )  # fmt: skip
    a_ref = ref.x[0] * (u / 1e18) ** ref.x[1]
    assert (law.a, law.b, law.c) == pytest.approx((a_ref, ref.x[1], ref.x[2]), rel=1e-4)
    expected_rmse = float(np.sqrt(np.mean((cod_curve(LADDER / 1e18, 8.0, 0.4, 0.3) - y) ** 2)))
    assert law.rmse == pytest.approx(float(np.sqrt(np.mean((law(LADDER) - y) ** 2))), rel=1e-9)
    assert law.rmse < expected_rmse  # the optimum beats the truth on its own data


def test_fixed_floor_fit_on_noisy_data_matches_scipy() -> None:
    """g = 0.5 fixed (2-way choice) scales every column of the Jacobian by 1 - g; on noisy data
    the optimum must still be scipy's (numerical Jacobian, tight tolerances, from the truth)."""
    rng = np.random.default_rng(5)
    y = cod_curve(LADDER / 1e18, 10.0, 0.5, 0.2, g=0.5) + rng.normal(0, 0.01, LADDER.size)
    law = fit_cod_law(LADDER, y, guess=0.5)
    u = float(np.exp(np.mean(np.log(LADDER))))

    def resid(p: np.ndarray) -> np.ndarray:
        return np.asarray(cod_curve(LADDER / u, *p, g=0.5) - y)

    ref = scipy_least_squares(
        resid, [10.0 * (1e18 / u) ** 0.5, 0.5, 0.2], bounds=([1e-12, 1e-6, 0.0], [1e8, 5.0, 60.0]),
        xtol=1e-15, ftol=1e-15, gtol=1e-15,
    )  # fmt: skip
    a_ref = ref.x[0] * (u / 1e18) ** ref.x[1]
    assert (law.a, law.b, law.c) == pytest.approx((a_ref, ref.x[1], ref.x[2]), rel=1e-5)
    assert law.g == 0.5


def test_fit_stays_inside_the_bounds() -> None:
    """Points above exp(-a z^-b) need c = -0.3 < 0: the bounded optimum has c = 0 exactly."""
    y = np.exp(-2.0 * (LADDER / 1e18) ** -0.5 + 0.3)
    law = fit_cod_law(LADDER, y)
    assert law.c == pytest.approx(0.0, abs=1e-9) and law.converged
    free = scipy_least_squares(
        lambda p: np.exp(-p[0] * (LADDER / 1e18) ** -p[1] - p[2]) - y, [2.0, 0.5, 0.0]
    )
    assert free.x[2] == pytest.approx(-0.3, abs=1e-6)  # what an unbounded fit would give


def test_flat_data_without_a_loglinear_start_still_fits() -> None:
    """A cluster never solved (all zeros) gives no log-linear start; the grid alone fits it."""
    law = fit_cod_law(FLOPS, np.zeros(3))
    assert law.converged and law.rmse < 1e-6
    assert float(law(1e22)) < 1e-3  # still near 0 a decade past the ladder


def test_flop_counts_as_python_ints_beyond_int64() -> None:
    """10**19 does not fit in int64: numpy would make an object array that log refuses."""
    ints = [int(f) for f in LADDER]  # 1e19 .. 3e21 FLOPs
    assert np.asarray(ints).dtype == object
    law = fit_cod_law(ints, cod_curve(LADDER / 1e18, 30.0, 0.5, 0.2))
    assert (law.a, law.b, law.c) == pytest.approx((30.0, 0.5, 0.2), rel=1e-6)


def test_a_start_scipy_refuses_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def refuse_first(fun: Any, x0: np.ndarray, **kw: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise FloatingPointError("overflow")
        return scipy_least_squares(fun, x0, **kw)

    monkeypatch.setattr(cod_law, "least_squares", refuse_first)
    law = fit_cod_law(LADDER, cod_curve(LADDER / 1e18, 30.0, 0.5, 0.2))
    assert len(calls) == 5 and law.converged and law.message == ""
    assert (law.a, law.b, law.c) == pytest.approx((30.0, 0.5, 0.2), rel=1e-6)


class _Recorder:
    """Wraps scipy's least_squares, keeping each start point (x0) and each result."""

    def __init__(self) -> None:
        self.x0: list[np.ndarray] = []
        self.results: list[Any] = []

    def __call__(self, fun: Any, x0: np.ndarray, **kw: Any) -> Any:
        self.x0.append(np.array(x0, dtype=float))
        res = scipy_least_squares(fun, x0, **kw)
        self.results.append(res)
        return res


def test_warm_start_is_converted_into_the_fit_unit(monkeypatch: pytest.MonkeyPatch) -> None:
    """A start in units of 1e18 FLOPs becomes a = a (1e18 / 1e20)**b in the fit's unit, the
    ladder's geometric mean (1e20 here); only that one start is tried."""
    rec = _Recorder()
    monkeypatch.setattr(cod_law, "least_squares", rec)
    y = cod_curve(FLOPS / 1e18, 30.0, 0.5, 0.2, g=0.1)
    start = _law(a=30.0, b=0.5, c=0.2, g=0.1, unit=1e18)
    law = fit_cod_law(FLOPS, y, guess=None, start=start)
    assert len(rec.x0) == 1
    np.testing.assert_allclose(rec.x0[0], [30.0 * 0.01**0.5, 0.5, 0.2, 0.1], rtol=1e-8)
    assert (law.a, law.b, law.c, law.g) == pytest.approx((30.0, 0.5, 0.2, 0.1), rel=1e-6)
    # g is not a parameter when it is fixed: three start values
    fit_cod_law(FLOPS, y, guess=0.1, start=start)
    np.testing.assert_allclose(rec.x0[1], [3.0, 0.5, 0.2], rtol=1e-8)


def test_starts_outside_the_box_are_moved_inside() -> None:
    """scipy refuses a start outside the bounds; the fit clips it in, on every side."""
    y = cod_curve(FLOPS / 1e18, 30.0, 0.5, 0.2)
    for start in (
        _law(a=1e-20, b=0.5, c=-1.0),  # a and c below their lower bounds
        _law(a=1e12, b=9.0, c=100.0),  # a, b and c above their upper bounds
    ):
        law = fit_cod_law(FLOPS, y, start=start)
        assert law.converged and law.message == ""
        assert all(map(math.isfinite, (law.a, law.b, law.c)))
    low_g = fit_cod_law(FLOPS, y, guess=None, start=_law(g=-0.5))
    high_g = fit_cod_law(FLOPS, y, guess=None, start=_law(g=2.0))
    assert low_g.converged and high_g.converged and 0.0 <= low_g.g <= high_g.g <= 0.999


def test_the_first_start_is_the_loglinear_one_and_the_best_start_wins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """c = 0 data: the log-linear start is exact and tried first; the fit keeps the start with
    the lowest cost, whichever it was."""
    rec = _Recorder()
    monkeypatch.setattr(cod_law, "least_squares", rec)
    y = cod_curve(FLOPS / 1e18, 30.0, 0.5, 0.0)
    law = fit_cod_law(FLOPS, y)
    np.testing.assert_allclose(rec.x0[0], [30.0 * 0.01**0.5, 0.5, 0.0 + 1e-15], rtol=1e-8)
    assert len(rec.x0) == 5  # the log-linear start and four grid points, g fixed
    best = min(rec.results, key=lambda r: r.cost)
    assert law.rmse == pytest.approx(float(np.sqrt(np.mean(best.fun**2))), rel=1e-12)
    # a fitted floor doubles the grid (g from 0 and from 0.2), each start four values long
    rec.x0.clear()
    fit_cod_law(FLOPS, y, guess=None)
    assert len(rec.x0) == 10 and all(len(x) == 4 for x in rec.x0)


def test_no_usable_start_is_a_nan_law_that_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kw: Any) -> Any:
        raise ValueError("x0 is infeasible")

    monkeypatch.setattr(cod_law, "least_squares", refuse)
    law = fit_cod_law(FLOPS, np.array([0.1, 0.3, 0.6]), unit=1e15)
    assert law.unit == 1e15 and law.converged is False and law.message == "x0 is infeasible"
    assert all(math.isnan(v) for v in (law.a, law.b, law.c, law.g, law.rmse))
    assert filter_reasons(law) == ["law fit did not converge"]


def test_an_unconverged_fit_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    """converged is scipy's success flag of the best start (max_nfev=1 stops every start)."""

    def one_step(fun: Any, x0: np.ndarray, **kw: Any) -> Any:
        return scipy_least_squares(fun, x0, **{**kw, "max_nfev": 1})

    monkeypatch.setattr(cod_law, "least_squares", one_step)
    law = fit_cod_law(LADDER, cod_curve(LADDER / 1e18, 30.0, 0.5, 0.2))
    assert not law.converged


# --- the filter -------------------------------------------------------------------------------


def test_filter_keeps_a_law_past_every_threshold() -> None:
    assert filter_reasons(_law(a=1.01, b=0.11, c=0.0)) == []
    assert filter_reasons(_law(a=1.01, b=0.11, c=0.99)) == []


def test_filter_thresholds_are_strict_and_messages_name_the_values() -> None:
    """a > 1, b > 0.1 and 0 <= c < 1: equality fails the first three rules."""
    law = _law(a=1.0, b=0.1, c=1.0)
    assert filter_reasons(law) == [
        "a=1 <= 1 (C in units of 1e+18 FLOPs)",
        "b=0.1 <= 0.1",
        "c=1 not in [0, 1)",
    ]
    assert filter_reasons(_law(c=-0.01)) == ["c=-0.01 not in [0, 1)"]
    assert filter_reasons(_law(a=2.0, b=0.3, c=0.5), a_min=2.0, b_min=0.3, c_max=0.5) == [
        "a=2 <= 2 (C in units of 1e+18 FLOPs)",
        "b=0.3 <= 0.3",
        "c=0.5 not in [0, 0.5)",
    ]
    assert filter_reasons(_law(a=2.1, b=0.31, c=0.49), a_min=2.0, b_min=0.3, c_max=0.5) == []


def test_filter_reads_a_at_the_reference_compute() -> None:
    """a (C_ref / unit)**(-b): a = 8, b = 0.5 at 4e18 FLOPs is 8 / 2 = 4; at 64e18 it is 1."""
    law = _law(a=8.0, b=0.5, c=0.2)
    assert filter_reasons(law, reference_flops=4e18) == []
    assert filter_reasons(law, reference_flops=4e18, a_min=4.0) == [
        "a*C^-b=4 <= 4 at the reference 4e+18 FLOPs"
    ]
    assert filter_reasons(law, reference_flops=64e18) == [
        "a*C^-b=1 <= 1 at the reference 6.4e+19 FLOPs"
    ]


def test_filter_refuses_unconverged_or_non_finite_laws() -> None:
    stop = ["law fit did not converge"]
    assert filter_reasons(_law(converged=False)) == stop
    assert filter_reasons(_law(a=math.nan)) == stop
    assert filter_reasons(_law(b=math.inf)) == stop
    assert filter_reasons(_law(c=math.nan)) == stop
    assert filter_reasons(_law(g=math.nan)) == []  # g is not read by the filter


# --- the mapping ------------------------------------------------------------------------------


def _square_map(x: list[float], tail: str) -> SubsetMapping:
    """A mapping whose curve is s**2 (a stand-in for the spline), on the points x."""
    xs = np.array(x)
    return SubsetMapping("spline", xs, xs**2, _fn=lambda s: np.asarray(s) ** 2, tail=tail)


def test_linear_tail_is_the_last_secant_capped_at_one() -> None:
    """Points 0, 0.2, 0.5 (and the (1, 1) pin) on s**2: the secant of the last two observed
    points has slope (0.25 - 0.04) / 0.3 = 0.7, used beyond s = 0.5 (inputs clipped to 1)."""
    m = _square_map([0.0, 0.2, 0.5, 1.0], tail="linear")
    got = m(np.array([-0.5, 0.3, 0.5, 0.8, 1.0, 1.5]))
    np.testing.assert_allclose(got, [0.0, 0.09, 0.25, 0.46, 0.6, 0.6], rtol=1e-12)
    steep = _square_map([0.0, 0.8, 0.9, 1.0], tail="linear")  # slope 1.7: 0.81 + 1.7 * 0.1 < 1
    np.testing.assert_allclose(steep(np.array([0.95, 1.0])), [0.895, 0.98], rtol=1e-12)
    curve = _square_map([0.0, 0.2, 0.5, 1.0], tail="curve")
    np.testing.assert_allclose(curve(np.array([0.8, 2.0])), [0.64, 1.0], rtol=1e-12)
    # the curve's own values are clipped to [0, 1] too: 2s - 0.5 is -0.3 at 0.1, 1.3 at 0.9
    wide = SubsetMapping("spline", np.array([0.0, 1.0]), np.array([0.0, 1.0]), _fn=_wide)
    np.testing.assert_allclose(wide(np.array([0.1, 0.5, 0.9])), [0.0, 0.5, 1.0], rtol=1e-12)


def _wide(s: np.ndarray) -> np.ndarray:
    return 2.0 * np.asarray(s) - 0.5


def test_linear_tail_never_slopes_down_and_needs_two_observed_points() -> None:
    down = SubsetMapping(
        "pchip", np.array([0.0, 0.4, 0.6, 1.0]), np.zeros(4), _fn=lambda s: 0.5 - s, tail="linear"
    )
    # the curve falls (0.1 to -0.1, clipped to 0): slope max(-0.5, 0) = 0, the tail stays at 0
    np.testing.assert_allclose(down(np.array([0.5, 0.9])), [0.0, 0.0], atol=0)
    rising = SubsetMapping(
        "pchip", np.array([0.0, 0.4, 0.6, 1.0]), np.zeros(4), _fn=lambda s: 0.5 * s + 0.6,
        tail="linear",
    )  # fmt: skip
    # values clipped to 1 before the secant: 0.8 and 0.9 give slope 0.5 from 0.9 at s = 0.6
    np.testing.assert_allclose(rising(np.array([0.8, 1.0])), [1.0, 1.0], rtol=1e-12)
    over = SubsetMapping(
        "pchip", np.array([0.0, 0.7, 0.8, 1.0]), np.zeros(4), _fn=lambda s: 2.0 * s - 0.6,
        tail="linear",
    )  # fmt: skip
    # 0.8 at 0.7, clip(1.0) = 1.0 at 0.8: slope 2, capped at 1 beyond; and 1.0 clipped at 0.8
    np.testing.assert_allclose(over(np.array([0.75, 0.9])), [0.9, 1.0], rtol=1e-12)
    # two observed points, (0, 0) and (0.5, 0.25), are enough: slope 0.5 beyond 0.5
    assert float(_square_map([0.0, 0.5, 1.0], tail="linear")(0.8)) == pytest.approx(0.4)
    one = _square_map([0.0, 1.0], tail="linear")  # only (0, 0) observed: no secant, the curve
    assert float(one(0.5)) == pytest.approx(0.25, rel=1e-12)


def test_mapping_to_dict_lists_points_and_the_curve_on_a_grid() -> None:
    m = _square_map([0.0, 0.5, 1.0], tail="curve")
    m.notes.append("a note")
    d = m.to_dict()
    assert d["kind"] == "spline" and d["smoothing"] is None and d["rmse"] == 0.0
    assert d["points"] == [[0.0, 0.0], [0.5, 0.25], [1.0, 1.0]]
    assert d["notes"] == ["a note"] and d["tail"] == "curve"
    curve = np.array(d["curve"])
    assert curve.shape == (21, 2)
    np.testing.assert_allclose(curve[:, 0], np.arange(21) / 20, rtol=1e-12)
    np.testing.assert_allclose(curve[:, 1], (np.arange(21) / 20) ** 2, rtol=1e-12)


def test_identity_mapping_passes_accuracies_through_clipped() -> None:
    m = identity_mapping()
    assert m.kind == "identity" and m.x.tolist() == [0.0, 1.0] and m.y.tolist() == [0.0, 1.0]
    np.testing.assert_allclose(m(np.array([-0.2, 0.37, 1.4])), [0.0, 0.37, 1.0], atol=0)
    # even with a linear tail requested, an identity mapping maps nothing
    lin = SubsetMapping(
        "identity", np.array([0.0, 0.2, 0.5, 1.0]), np.zeros(4), _fn=_wide, tail="linear"
    )
    assert float(lin(0.8)) == 0.8 and float(lin(0.1)) == 0.1  # its curve is not read


def test_merge_ties_averages_points_equal_to_twelve_decimals() -> None:
    x = np.array([0.3, 0.3 + 1e-13, 0.5, 0.5 + 1e-11])
    xs, ys = _merge_ties(x, np.array([0.1, 0.3, 0.6, 0.7]))
    np.testing.assert_allclose(xs, [0.3, 0.5, 0.5 + 1e-11], rtol=1e-15)
    np.testing.assert_allclose(ys, [0.2, 0.6, 0.7], rtol=1e-12)


def test_is_monotone_on_the_unit_interval_only() -> None:
    assert _is_monotone(lambda g: -((g - 1.0) ** 2))  # rises on [0, 1], falls beyond
    assert not _is_monotone(lambda g: (g - 0.5) ** 2)  # falls on [0, 0.5]
    # a step down of 2e-9 between two grid points is not monotone; one of 5e-10 passes
    assert not _is_monotone(lambda g: np.where(g > 0.5, -2e-9, 0.0))
    assert _is_monotone(lambda g: np.where(g > 0.5, -5e-10, 0.0))
    assert not _is_monotone(lambda g: np.where(g > 0.99, -1.0, 0.0))  # the last step counts
    assert _is_monotone(lambda g: np.where(g > 0.5, -1e-9, 0.0))  # -1e-9 is the tolerance
    # a dip 0.001 wide at 0.5 is caught: the grid steps by 0.001 (50 points would miss it)
    assert not _is_monotone(lambda g: -np.exp(-(((g - 0.5) / 0.001) ** 2)))


def _reference_spline(x: np.ndarray, y: np.ndarray, target: float) -> tuple[float, float, Any]:
    """The documented schedule: s from the total sum of squares, halved until RMSE < target."""
    w = np.ones_like(x)
    w[0] = w[-1] = 100.0
    s = float(np.sum((y - y.mean()) ** 2))
    while True:
        spl = UnivariateSpline(x, y, w=w, k=3, s=s)
        rmse = float(np.sqrt(np.mean((spl(x) - y) ** 2)))
        if rmse < target:
            return s, rmse, spl
        s /= 2


def test_spline_mapping_matches_scipy_with_the_halving_schedule() -> None:
    sub = np.array([0.1, 0.25, 0.4, 0.55, 0.7])
    full = np.array([0.05, 0.15, 0.3, 0.5, 0.68])
    m = fit_mapping(sub, full)
    x = np.concatenate([[0.0], sub, [1.0]])
    y = np.concatenate([[0.0], full, [1.0]])
    s, rmse, spl = _reference_spline(x, y, 0.005)
    assert m.kind == "spline" and m.notes == [] and m.tail == "curve"
    assert m.smoothing == pytest.approx(s, rel=1e-12) and m.rmse == pytest.approx(rmse, rel=1e-9)
    grid = np.linspace(0, 1, 11)
    np.testing.assert_allclose(m(grid), np.clip(spl(grid), 0, 1), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(m.x, x, rtol=1e-15)
    np.testing.assert_allclose(m.y, y, rtol=1e-15)
    loose = fit_mapping(sub, full, rmse_target=0.05, tail="linear")
    s_loose, rmse_loose, _ = _reference_spline(x, y, 0.05)
    assert loose.smoothing == pytest.approx(s_loose, rel=1e-12) and loose.tail == "linear"
    assert loose.rmse == pytest.approx(rmse_loose, rel=1e-9)


def test_four_points_are_enough_for_the_spline() -> None:
    """Two observed pairs plus the pins make four points: a cubic spline (through them)."""
    m = fit_mapping([0.3, 0.6], [0.25, 0.55])
    assert m.kind == "spline" and m.notes == []
    np.testing.assert_allclose(m(np.array([0.3, 0.6])), [0.25, 0.55], atol=1e-9)


def test_the_rmse_target_is_strict() -> None:
    """A target equal to the first spline's RMSE is not met: s is halved further."""
    sub = np.array([0.1, 0.25, 0.4, 0.55, 0.7])
    full = np.array([0.05, 0.15, 0.3, 0.5, 0.68])
    x = np.concatenate([[0.0], sub, [1.0]])
    y = np.concatenate([[0.0], full, [1.0]])
    s0 = float(np.sum((y - y.mean()) ** 2))
    w = np.array([100.0, 1, 1, 1, 1, 1, 100.0])
    first = UnivariateSpline(x, y, w=w, k=3, s=s0)
    rmse0 = float(np.sqrt(np.mean((first(x) - y) ** 2)))
    assert fit_mapping(sub, full, rmse_target=rmse0 * 1.001).smoothing == pytest.approx(s0)
    # the RMSE stays at rmse0 while s is halved a few times (the knots bind, not s)
    s_ref, rmse_ref, _ = _reference_spline(x, y, rmse0)
    assert s_ref < s0 / 2 and rmse_ref < rmse0
    assert fit_mapping(sub, full, rmse_target=rmse0).smoothing == pytest.approx(s_ref, rel=1e-12)


def test_spline_stops_halving_at_a_tiny_smoothing() -> None:
    """An unreachable target (0) stops at the first s below 1e-14 (or after 60 halvings)."""
    sub = np.array([0.1, 0.25, 0.4, 0.55, 0.7])
    full = np.array([0.05, 0.15, 0.3, 0.5, 0.68])
    m = fit_mapping(sub, full, rmse_target=0.0)
    y = np.concatenate([[0.0], full, [1.0]])
    s = float(np.sum((y - y.mean()) ** 2))
    halvings = math.ceil(math.log2(s / 1e-14))  # s0 / 2**k < 1e-14 first at this k
    assert halvings < 60
    assert m.smoothing == pytest.approx(s / 2**halvings, rel=1e-12)


def test_pchip_fallbacks_fit_the_isotonic_points() -> None:
    """Three distinct points: PCHIP through the isotonic fit, clipped to [0, 1]."""
    m = fit_mapping([0.5], [0.7], tail="linear")
    assert m.kind == "pchip" and m.smoothing is None and m.rmse == 0.0 and m.tail == "linear"
    assert m.x.tolist() == [0.0, 0.5, 1.0] and m.y.tolist() == [0.0, 0.7, 1.0]
    assert m.notes == ["only 3 distinct points; PCHIP instead of a cubic spline"]
    ref = PchipInterpolator([0.0, 0.5, 1.0], [0.0, 0.7, 1.0])
    np.testing.assert_allclose(m(np.array([0.2, 0.4])), ref([0.2, 0.4]), rtol=1e-12)
    # beyond 0.5 the linear tail: the secant of (0, 0) and (0.5, 0.7), slope 1.4, capped at 1
    np.testing.assert_allclose(m(np.array([0.6, 0.8])), [0.84, 1.0], rtol=1e-12)
    # (0, 0), (0.5, -0.2), (1, 1): pooled to -0.1 then floored at 0; RMSE of the change
    low = fit_mapping([0.5], [-0.2])
    assert low.rmse == pytest.approx(math.sqrt(0.04 / 3), rel=1e-12)
    np.testing.assert_allclose(low(np.array([0.25, 0.5])), [0.0, 0.0], atol=1e-15)
    # (0, 0), (0.5, 1.3), (1, 1): pooled to 1.15 then capped at 1
    high = fit_mapping([0.5], [1.3])
    assert high.rmse == pytest.approx(math.sqrt(0.09 / 3), rel=1e-12)
    assert float(high(0.75)) == pytest.approx(1.0, rel=1e-12)
    # a subset accuracy of 0 ties with the (0, 0) pin: two points, PCHIP is their line
    two = fit_mapping([0.0], [0.4])
    assert two.notes == ["only 2 distinct points; PCHIP instead of a cubic spline"]
    assert float(two(0.5)) == pytest.approx(0.6, rel=1e-12)


def test_non_monotone_spline_falls_back_with_a_note() -> None:
    sub = np.array([0.3, 0.31, 0.32, 0.6])
    full = np.array([0.1, 0.5, 0.12, 0.4])
    m = fit_mapping(sub, full)
    assert m.kind == "pchip"
    assert m.notes == ["smoothing spline not monotone on [0, 1]; fell back to PCHIP"]
    x = np.concatenate([[0.0], sub, [1.0]])
    y = np.concatenate([[0.0], full, [1.0]])
    y_iso = IsotonicRegression(y_min=0.0, y_max=1.0).fit_transform(x, y)
    assert m.rmse == pytest.approx(float(np.sqrt(np.mean((y_iso - y) ** 2))), rel=1e-12)
    grid = np.linspace(0, 1, 11)
    np.testing.assert_allclose(m(grid), np.clip(PchipInterpolator(x, y_iso)(grid), 0, 1))
