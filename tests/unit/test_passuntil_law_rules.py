"""The PassUntil law's helpers one by one, on small exact inputs (predictors/passuntil_law.py).

Expected numbers come from closed forms (the bound after no success, F = log(-log p), an exactly
quadratic F), from hand loops over the formulas in the docstrings, or from an independent
optimiser (scipy's BFGS on a likelihood written out here) where the module iterates.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy.optimize import minimize, minimize_scalar
from scipy.stats import norm

import predictors.passuntil_law as law
from predictors.passuntil_law import (
    F_of,
    LineFit,
    binomial_line,
    binomial_lines,
    curvature_test,
    pu_of_F,
    sampling_var_F,
    tobit_line,
    upper_bound_zero,
)

# -- closed forms ------------------------------------------------------------------------------


def test_upper_bound_after_no_success() -> None:
    """1 - (1 - level)**(1/n); fewer than one draw counts as one (the bound is then the level)."""
    got = upper_bound_zero(np.array([20.0, 0.0, 0.5]))  # default level 0.95
    assert got[0] == pytest.approx(1 - 0.05 ** (1 / 20), rel=1e-14)
    assert got[1] == pytest.approx(0.95, rel=1e-14)
    assert got[2] == pytest.approx(0.95, rel=1e-14)
    assert float(upper_bound_zero(10.0, level=0.8)) == pytest.approx(1 - 0.2**0.1, rel=1e-14)


def test_F_and_pass_rate_are_inverse_and_clipped() -> None:
    """F_of(exp(-exp(F))) = F; pu_of_F clips F to [-30, 30] first, so 1 - PU(-40) = 1 - PU(-30)
    (about e^-30 = 9.4e-14, where the unclipped value would round to exactly 1)."""
    assert float(F_of(math.exp(-math.exp(1.5)))) == pytest.approx(1.5, rel=1e-12)
    assert float(F_of(0.5)) == pytest.approx(math.log(math.log(2.0)), rel=1e-12)
    assert float(pu_of_F(0.7)) == pytest.approx(math.exp(-math.exp(0.7)), rel=1e-14)
    assert 1.0 - float(pu_of_F(-40.0)) == pytest.approx(math.exp(-30.0), rel=1e-3, abs=0)
    assert 1.0 - float(pu_of_F(-29.0)) == pytest.approx(math.exp(-29.0), rel=1e-3, abs=0)


def test_line_fit_parameters_and_prediction() -> None:
    fit = LineFit(intercept=1.2, slope=-0.4, sigma=0.1, n_points=5, n_censored=1, converged=True)
    assert fit.alpha == 0.4
    assert fit.c == pytest.approx(math.exp(1.2), rel=1e-14)
    got = fit.predict(np.array([0.0, 2.5]))
    assert got == pytest.approx([math.exp(-math.exp(1.2)), math.exp(-math.exp(0.2))], rel=1e-12)


# -- tobit_line --------------------------------------------------------------------------------

Z = np.linspace(-2.0, 2.0, 9)
F_LINE = 1.0 - 0.8 * Z + np.array([0.03, -0.02, 0.05, -0.04, 0.01, 0.02, -0.05, 0.04, -0.01])


def test_no_censoring_is_least_squares() -> None:
    """Nothing censored: polyfit's line; sigma is the root mean squared residual."""
    fit = tobit_line(Z, F_LINE, np.zeros(9, bool))
    slope, intercept = np.polyfit(Z, F_LINE, 1)
    assert (fit.intercept, fit.slope) == pytest.approx((intercept, slope), rel=1e-10)
    resid = F_LINE - (intercept + slope * Z)
    assert fit.sigma == pytest.approx(math.sqrt(np.mean(resid**2)), rel=1e-10)
    assert (fit.n_points, fit.n_censored, fit.converged) == (9, 0, True)


def test_weighted_least_squares_and_sigma_on_the_normalised_scale() -> None:
    """Weights are precisions: polyfit with w = sqrt(weights); sigma^2 = mean(w_j r_j^2) with w
    normalised to mean 1, so weights 10x larger give the same fit and sigma."""
    weights = np.array([1.0, 2.0, 4.0, 1.0, 3.0, 1.0, 2.0, 5.0, 1.0])
    fit = tobit_line(Z, F_LINE, np.zeros(9, bool), weights)
    slope, intercept = np.polyfit(Z, F_LINE, 1, w=np.sqrt(weights))
    assert (fit.intercept, fit.slope) == pytest.approx((intercept, slope), rel=1e-10)
    w = weights / weights.mean()
    resid = F_LINE - (intercept + slope * Z)
    assert fit.sigma == pytest.approx(math.sqrt(np.mean(w * resid**2)), rel=1e-10)
    assert tobit_line(Z, F_LINE, np.zeros(9, bool), 10 * weights) == fit


def test_sigma_has_a_floor() -> None:
    """Points exactly on a line: sigma is floored at 1e-3, not 0."""
    fit = tobit_line(Z, 2.0 - 0.5 * Z, np.zeros(9, bool))
    assert fit.sigma == 1e-3
    assert (fit.intercept, fit.slope) == pytest.approx((2.0, -0.5), abs=1e-12)


@pytest.mark.parametrize(
    "weights",
    [
        np.ones(8),
        np.r_[np.ones(8), np.nan],
        np.r_[np.ones(8), np.inf],
        np.r_[np.ones(8), 0.0],
        np.r_[np.ones(8), -1.0],
    ],
)
def test_bad_weights_are_refused(weights: np.ndarray) -> None:
    with pytest.raises(ValueError, match=r"^weights must be positive and finite, one per point$"):
        tobit_line(Z, F_LINE, np.zeros(9, bool), weights)


def test_needs_two_uncensored_points() -> None:
    """One uncensored point is refused; two give the line through them (the bounds, 100 below
    it, do not bind)."""
    cens = np.ones(9, bool)
    cens[4] = False
    F = np.where(cens, F_LINE - 100.0, F_LINE)
    with pytest.raises(
        ValueError, match="need at least 2 uncensored points for the PassUntil line; got 1"
    ):
        tobit_line(Z, F, cens)
    cens[5] = False
    fit = tobit_line(Z, np.where(cens, F_LINE - 100.0, F_LINE), cens)
    assert fit.slope == pytest.approx((F_LINE[5] - F_LINE[4]) / (Z[5] - Z[4]), rel=1e-9)
    assert (fit.n_censored, fit.sigma) == (7, 1e-3)


def _calls_to_minimize(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = law.minimize

    def spy(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(law, "minimize", spy)
    return calls


@pytest.mark.parametrize(("gap", "optimised"), [(4.5, False), (3.5, True), (-1.0, True)])
def test_bounds_far_below_the_line_skip_the_likelihood(
    monkeypatch: pytest.MonkeyPatch, gap: float, optimised: bool
) -> None:
    """A censored point only says F_true > F_bound: a bound more than 4 sd below the least
    squares line cannot move the MLE (the OLS line is returned as is); within 4 sd it can."""
    calls = _calls_to_minimize(monkeypatch)
    ols = tobit_line(Z, F_LINE, np.zeros(9, bool))
    z = np.r_[Z, 3.0]
    F = np.r_[F_LINE, ols.intercept + ols.slope * 3.0 - gap * ols.sigma]
    cens = np.r_[np.zeros(9, bool), True]
    calls.clear()
    fit = tobit_line(z, F, cens)
    assert (len(calls) == 1) == optimised
    assert (fit.n_points, fit.n_censored) == (10, 1)
    if not optimised:
        assert (fit.intercept, fit.slope, fit.sigma) == (ols.intercept, ols.slope, ols.sigma)


@pytest.mark.parametrize(("weight", "optimised"), [(0.2, True), (1.0, False)])
def test_bound_gap_is_measured_in_the_censored_points_own_sd(
    monkeypatch: pytest.MonkeyPatch, weight: float, optimised: bool
) -> None:
    """The censored point's sd is sigma / sqrt(w) (w normalised to mean 1): a bound 4.5 sigma
    below the line is within 4 sd of a point weighed 0.2 of the others (sd ~ 2.2 sigma)."""
    calls = _calls_to_minimize(monkeypatch)
    ols = tobit_line(Z, F_LINE, np.zeros(9, bool))
    z = np.r_[Z, 3.0]
    F = np.r_[F_LINE, ols.intercept + ols.slope * 3.0 - 4.5 * ols.sigma]
    cens = np.r_[np.zeros(9, bool), True]
    weights = np.r_[np.ones(9), weight]
    calls.clear()
    tobit_line(z, F, cens, weights)
    assert (len(calls) == 1) == optimised


def _tobit_reference(
    z: np.ndarray, F: np.ndarray, cens: np.ndarray, w: np.ndarray
) -> tuple[float, float, float]:
    """The censored-normal MLE by BFGS from a start away from OLS; sd_j = sigma/sqrt(w_j)."""
    w = w / w.mean()

    def nll(p: np.ndarray) -> float:
        b0, b1, log_s = p
        sd = math.exp(log_s) / np.sqrt(w)
        mu = b0 + b1 * z
        return -float(
            np.sum(norm.logpdf(F[~cens], mu[~cens], sd[~cens]))
            + np.sum(norm.logsf(F[cens], mu[cens], sd[cens]))
        )

    res = minimize(nll, [0.0, 0.0, 0.0], method="BFGS", options={"gtol": 1e-9})
    b0, b1, log_s = res.x
    return float(b0), float(b1), math.exp(log_s)


@pytest.mark.parametrize("weighted", [False, True])
def test_binding_bounds_give_the_censored_normal_mle(weighted: bool) -> None:
    """The smallest models censored at F = 1.8 (true F above): the module's Nelder-Mead lands on
    the censored-normal maximum that an independent optimiser finds (to 1e-5)."""
    cens = F_LINE > 1.8
    F = np.where(cens, 1.8, F_LINE)
    w = np.array([1.0, 3.0, 1.0, 2.0, 1.0, 4.0, 1.0, 2.0, 1.0]) if weighted else np.ones(9)
    fit = tobit_line(Z, F, cens, w if weighted else None)
    b0, b1, sigma = _tobit_reference(Z, F, cens, w)
    # the two optimisers agree to ~5e-9 here; Nelder-Mead at its default tolerances (1e-4) or
    # BFGS at its default gtol would not reach 1e-7
    assert (fit.intercept, fit.slope, fit.sigma) == pytest.approx((b0, b1, sigma), abs=1e-7)
    assert (fit.n_points, fit.n_censored, fit.converged) == (9, int(cens.sum()), True)


# -- sampling_var_F ----------------------------------------------------------------------------


def test_sampling_variance_by_hand() -> None:
    """Delta method by loops: p_i = (s+.5)/(n+1), Var PU = sum p(1-p)/max(n,1) / m^2, PU clipped
    to [1e-12, 1 - 1e-12], Var F = Var PU / (PU log PU)^2. Columns 3 and 4 hit the clips."""
    n = np.array([[10.0, 100.0, 0.0, 1e13, 1e13], [20.0, 50.0, 4.0, 1e13, 1e13]])
    s = np.array([[2.0, 0.0, 0.0, 0.0, 1e13], [5.0, 10.0, 1.0, 0.0, 1e13]])
    got = sampling_var_F(n, s)
    m = 2
    for j in range(5):
        ps = [(s[i, j] + 0.5) / (n[i, j] + 1.0) for i in range(m)]
        var_pu = sum(p * (1 - p) / max(n[i, j], 1.0) for i, p in enumerate(ps)) / m**2
        pu = min(max(sum(ps) / m, 1e-12), 1 - 1e-12)
        assert got[j] == pytest.approx(var_pu / (pu * math.log(pu)) ** 2, rel=1e-9), j


# -- _binomial_terms and binomial_lines --------------------------------------------------------


def _ll(F: float, n: float, s: float) -> float:
    p = math.exp(-math.exp(F))
    return s * math.log(p) + (n - s) * math.log(1.0 - p)


def test_binomial_terms_are_the_likelihood_and_its_F_derivatives() -> None:
    """ll summed over models; d1, d2 per cell against central differences of the log-likelihood
    written out (step 1e-4: truncation ~1e-8 relative)."""
    b0, b1 = np.array([0.5, -1.0]), np.array([-0.3, 0.2])
    zc = np.array([-1.0, 0.0, 1.5])
    n = np.array([[10.0, 20.0, 5.0], [8.0, 3.0, 40.0]])
    s = np.array([[1.0, 0.0, 5.0], [2.0, 3.0, 30.0]])
    ll, d1, d2 = law._binomial_terms(b0, b1, zc, n, s)
    h = 1e-4
    for i in range(2):
        cells = [b0[i] + b1[i] * zc[j] for j in range(3)]
        assert ll[i] == pytest.approx(
            sum(_ll(F, n[i, j], s[i, j]) for j, F in enumerate(cells)), rel=1e-12
        )
        for j, F in enumerate(cells):
            f = [_ll(F + k * h, n[i, j], s[i, j]) for k in (-1, 0, 1)]
            assert d1[i, j] == pytest.approx((f[2] - f[0]) / (2 * h), rel=1e-7, abs=1e-9)
            assert d2[i, j] == pytest.approx((f[2] - 2 * f[1] + f[0]) / h**2, rel=1e-5, abs=1e-6)


def test_binomial_terms_clip_F() -> None:
    """F beyond the bounds is evaluated at the bound: F = -35 counts as F = -30."""
    n, s = np.array([[10.0]]), np.array([[10.0]])
    ll = law._binomial_terms(np.array([-35.0]), np.array([0.0]), np.array([0.0]), n, s)[0]
    assert ll[0] == pytest.approx(-10.0 * math.exp(-30.0), rel=1e-9, abs=0)


def _penalised_reference(
    z: np.ndarray, n: np.ndarray, s: np.ndarray, prior: float, ridge: float
) -> tuple[float, float]:
    """One item's penalised binomial MLE by BFGS (gradient from dll/dF = -s u + (n-s) u/(e^u-1),
    u = e^F, checked above by differences); returns (intercept at z = 0, slope)."""
    zc = z - z.mean()

    def obj(p: np.ndarray) -> tuple[float, np.ndarray]:
        a, b = p
        u = np.exp(a + b * zc)
        with np.errstate(over="ignore"):
            ll = np.sum(-s * u + (n - s) * np.log(-np.expm1(-u)))
            dll = -s * u + (n - s) * u / np.expm1(u)
        grad = np.array([-dll.sum() + 2e-4 * a, -(dll * zc).sum() + 2 * ridge * (b - prior)])
        return float(-ll + ridge * (b - prior) ** 2 + 1e-4 * a**2), grad

    res = minimize(obj, [0.0, prior], jac=True, method="BFGS", options={"gtol": 1e-10})
    a, b = res.x
    return float(a - b * z.mean()), float(b)


Z6 = np.array([0.0, 0.7, 1.4, 2.1, 2.8, 3.5]) + 17.0
N6 = np.array(
    [
        [50.0, 50.0, 50.0, 50.0, 50.0, 50.0],
        [200.0, 100.0, 80.0, 60.0, 40.0, 30.0],
        [30.0, 30.0, 30.0, 30.0, 30.0, 30.0],
    ]
)
S6 = np.array(
    [
        [0.0, 1.0, 2.0, 6.0, 12.0, 25.0],
        [1.0, 1.0, 3.0, 5.0, 9.0, 11.0],
        [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],  # never passed: the ridge keeps it finite
    ]
)


@pytest.mark.parametrize(("prior", "ridge"), [(-0.6, 0.5), (-1.5, 0.5), (-0.6, 3.0)])
def test_binomial_lines_maximise_the_penalised_likelihood(prior: float, ridge: float) -> None:
    """Each item's (intercept at z = 0, slope) matches an independent optimiser of
    -ll + ridge (b1 - prior)^2 + 1e-4 b0^2 (b0 at the mean z), to 2e-7: the Newton iteration
    converges quadratically, so it stops at the optimum, not on the way (the two agree to
    ~2e-8; a Newton step with a wrong cross term converges linearly and stops ~1e-6 short)."""
    kwargs = {} if ridge == 0.5 else {"ridge": ridge}  # 0.5 is the default
    b0, b1 = binomial_lines(Z6, N6, S6, prior_slope=prior, **kwargs)
    for i in range(3):
        ref = _penalised_reference(Z6, N6[i], S6[i], prior, ridge)
        assert (b0[i], b1[i]) == pytest.approx(ref, abs=2e-7), i


def test_separated_items_stop_at_the_slope_bounds() -> None:
    """Without a ridge, an item passed in every draw below some size and never above it (or the
    reverse) has a likelihood that keeps rising with |b1| until F is clipped at +-30 at every
    model; over z in [0, 0.5] that takes |b1| near 120, so the box b1 in [-20, 20] binds: the
    slopes are exactly +20 and -20."""
    z = np.array([0.0, 0.1, 0.2, 0.3, 0.4, 0.5])
    n = np.full((2, 6), 50.0)
    s = np.array([[50.0, 50.0, 50.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 50.0, 50.0, 50.0]])
    b0, b1 = binomial_lines(z, n, s, prior_slope=-0.6, ridge=0.0)
    assert b1.tolist() == [20.0, -20.0]
    zc = z - z.mean()
    centre = b0 + b1 * z.mean()
    for i, slope in enumerate((20.0, -20.0)):
        # the likelihood still rises beyond the bound: the box, not an optimum, stops the slope
        ll = [
            sum(_ll(centre[i] + k * zc[j], n[i, j], s[i, j]) for j in range(6))
            for k in (slope, 1.1 * slope)
        ]
        assert ll[1] > ll[0], i


def _best_intercept_for(slope: float, z: np.ndarray, n: np.ndarray, s: np.ndarray) -> float:
    """The penalised binomial optimum of the intercept (at the mean z) for a fixed slope, by a
    bounded scalar search on the log-likelihood written out."""
    zc = z - z.mean()

    def objective(c: float) -> float:
        u = np.exp(c + slope * zc)  # -log p; a cell with no failures adds no log(1 - p)
        fail = np.where(n > s, (n - s) * np.log(-np.expm1(-u)), 0.0)
        return float(-np.sum(-s * u + fail) + 1e-4 * c**2)

    best = minimize_scalar(objective, bounds=(-30.0, 30.0), method="bounded",
                           options={"xatol": 1e-12})  # fmt: skip
    return float(best.x)


def test_an_intercept_is_optimal_for_a_slope_held_at_its_bound() -> None:
    """Without a ridge, items whose pass rates jump from 0 to 0.6-1 within 0.3 of z want a slope
    beyond -20 (rising pass rates) or +20 (falling); the box holds it there, and the intercept
    must then be the best one *for that slope*. A joint Newton step that still moves the
    intercept as if the slope were free stopped 0.09-0.22 short in F (0.3-1.8 nats below the
    optimum) on these items, and 0.006 short on noiseless items of slope -+20.3, whose outward
    Newton steps are small (under 1)."""
    z = np.array([0.0, 0.1, 0.2, 0.3])
    n = np.array([[100.0, 100.0, 100.0, 100.0], [50.0, 80.0, 100.0, 100.0]])
    s = np.array([[0.0, 0.0, 60.0, 100.0], [0.0, 1.0, 79.0, 100.0]])
    n, s = np.vstack([n, n[:, ::-1]]), np.vstack([s, s[:, ::-1]])  # the same, falling with z
    b0, b1 = binomial_lines(z, n, s, prior_slope=-1.0, ridge=0.0)
    assert b1.tolist() == [-20.0, -20.0, 20.0, 20.0]
    for i in range(4):
        best = _best_intercept_for(b1[i], z, n[i], s[i])
        assert b0[i] + b1[i] * z.mean() == pytest.approx(best, abs=5e-8), i
    z5 = np.array([0.0, 0.1, 0.2, 0.3, 0.4])
    n5 = np.full((2, 5), 1e4)
    s5 = np.round(n5 * np.exp(-np.exp(0.2 + np.outer([-20.3, 20.3], z5 - 0.2))))
    b0, b1 = binomial_lines(z5, n5, s5, prior_slope=-1.0, ridge=0.0)
    assert b1.tolist() == [-20.0, 20.0]
    for i in range(2):
        best = _best_intercept_for(b1[i], z5, n5[i], s5[i])
        assert b0[i] + b1[i] * z5.mean() == pytest.approx(best, abs=5e-8), i


def test_binomial_line_is_the_first_row() -> None:
    a, b = binomial_line(Z6, N6[1], S6[1], prior_slope=-0.6)
    ref = _penalised_reference(Z6, N6[1], S6[1], -0.6, 0.5)
    assert isinstance(a, float) and (a, b) == pytest.approx(ref, abs=1e-5)


# -- curvature_test ----------------------------------------------------------------------------

ZC6 = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])


def _quadratic(q: float) -> np.ndarray:
    return 1.0 - 0.5 * ZC6 + q * ZC6**2


def _boot(F: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Rows F + c_r (1 + zs^2), zs the standardised z: each row's quadratic coefficient on zs is
    that of F plus c_r, and column j's sd is sd(c) (1 + zs_j^2)."""
    zs = (ZC6 - ZC6.mean()) / ZC6.std()
    return F[None, :] + c[:, None] * (1.0 + zs**2)[None, :]


def _chi_linear(F: np.ndarray, sd: np.ndarray) -> float:
    w = 1.0 / np.maximum(sd, 0.02)
    A = np.column_stack([np.ones(6), ZC6]) * w[:, None]
    coef, *_ = np.linalg.lstsq(A, F * w, rcond=None)
    return float(np.sum((F * w - A @ coef) ** 2))


C = np.linspace(-0.05, 0.05, 11)


def test_exact_quadratic_statistics() -> None:
    """F = 1 - 0.5 z + 0.05 z^2: the coefficient on standardised z is 0.05 var(z); the quadratic
    fit is exact (chi 0), the linear one's chi is a weighted least squares by hand; AIC adds 2k,
    BIC k log n; the interval is the quantiles of coefficient + c_r; a NaN row is dropped."""
    F = _quadratic(0.05)
    boot = np.vstack([_boot(F, C), np.full(6, np.nan)])
    res = curvature_test(ZC6, F, boot)
    q = 0.05 * ZC6.var()
    assert res.quadratic == pytest.approx(q, rel=1e-9)
    zs = (ZC6 - ZC6.mean()) / ZC6.std()
    chi_l = _chi_linear(F, C.std() * (1 + zs**2))
    assert res.aic_linear == pytest.approx(chi_l + 4.0, rel=1e-9)
    assert res.aic_quadratic == pytest.approx(6.0, abs=1e-9)
    assert res.bic_linear == pytest.approx(chi_l + 2 * math.log(6), rel=1e-9)
    assert res.bic_quadratic == pytest.approx(3 * math.log(6), abs=1e-9)
    lo, hi = np.quantile(q + C, [0.05, 0.95])
    assert res.quadratic_ci == pytest.approx((lo, hi), rel=1e-9)
    assert res.frac_convex == 1.0 and res.n_bootstrap == 11 and res.n_points == 6
    assert res.label == "sub-scaling"
    d = res.to_dict()
    assert d["quadratic_ci"] == [res.quadratic_ci[0], res.quadratic_ci[1]]
    assert d["label"] == "sub-scaling" and d["n_bootstrap"] == 11


def test_an_interval_ending_at_zero_does_not_exclude_it() -> None:
    """Five replicates exactly straight (all-zero rows: quadratic coefficient exactly 0.0) and six
    convex ones: the 5% quantile is 0.0, so the interval touches 0 and the label stays
    "scaling"; a straight replicate is not convex (6 of 11). The concave mirror: the 95%
    quantile is 0.0, "scaling", none convex (min_delta_aic = -2 there: its AIC gain is -1.7).
    Without the straight rows both are curved."""
    c = np.linspace(0.0, 0.05, 6)
    F = _quadratic(0.05)
    res = curvature_test(ZC6, F, np.vstack([np.zeros((5, 6)), _boot(F, c)]))
    assert res.quadratic_ci[0] == 0.0 and res.quadratic_ci[1] > 0.0
    assert res.aic_linear - res.aic_quadratic >= 2.0
    assert res.label == "scaling" and res.frac_convex == pytest.approx(6 / 11, abs=1e-15)
    assert curvature_test(ZC6, F, _boot(F, c)).label == "sub-scaling"
    F = _quadratic(-0.05)
    boot = np.vstack([np.zeros((5, 6)), _boot(F, -c)])
    res = curvature_test(ZC6, F, boot, min_delta_aic=-2.0)
    assert res.quadratic_ci[1] == 0.0 and res.quadratic_ci[0] < 0.0
    assert res.aic_linear - res.aic_quadratic >= -2.0
    assert res.label == "scaling" and res.frac_convex == 0.0
    res = curvature_test(ZC6, F, _boot(F, -c), min_delta_aic=-2.0)
    assert res.label == "accelerated emergence"


def test_interval_level_and_share_convex() -> None:
    """alpha = 0.5: the quartiles; coefficient + c_r > 0 for the share of c_r above -q."""
    F = _quadratic(0.004)
    q = 0.004 * ZC6.var()
    res = curvature_test(ZC6, F, _boot(F, C), alpha=0.5)
    assert res.quadratic_ci == pytest.approx(tuple(np.quantile(q + C, [0.25, 0.75])), rel=1e-9)
    assert res.frac_convex == pytest.approx(np.mean(q + C > 0), abs=1e-12)
    assert 0 < res.frac_convex < 1


def test_concave_is_accelerated_and_straddling_zero_is_scaling() -> None:
    """Concave F with a tight interval: accelerated emergence. Then an AIC gain above 2 whose
    interval still straddles 0 (one outlying replicate, alpha = 0.02): scaling."""
    F = _quadratic(-0.05)
    assert curvature_test(ZC6, F, _boot(F, C)).label == "accelerated emergence"
    F = _quadratic(0.025)
    res = curvature_test(ZC6, F, _boot(F, np.r_[-0.1, np.zeros(10)]), alpha=0.02)
    assert res.quadratic_ci[0] < 0 < res.quadratic_ci[1]
    assert res.aic_linear - res.aic_quadratic >= 2.0 and res.label == "scaling"


def test_the_aic_margin_decides() -> None:
    """Curved only when AIC_lin - AIC_quad >= min_delta_aic: at exactly the margin it counts."""
    F = _quadratic(0.05)
    boot = _boot(F, C)
    delta = curvature_test(ZC6, F, boot).aic_linear - 6.0
    res = curvature_test(ZC6, F, boot, min_delta_aic=delta)
    exact = res.aic_linear - res.aic_quadratic
    assert curvature_test(ZC6, F, boot, min_delta_aic=exact).label == "sub-scaling"
    assert curvature_test(ZC6, F, boot, min_delta_aic=exact + 1e-6).label == "scaling"


def test_default_margin_is_two() -> None:
    """A case with AIC gain between 2 and 3: curved by default, straight at a margin of 3."""
    F = _quadratic(0.007)
    c = np.linspace(-0.01, 0.01, 11)
    boot = _boot(F, c)
    res = curvature_test(ZC6, F, boot)
    gain = res.aic_linear - res.aic_quadratic
    assert 2.0 <= gain < 3.0, gain
    assert res.label == "sub-scaling"
    assert curvature_test(ZC6, F, boot, min_delta_aic=3.0).label == "scaling"


def test_few_bootstrap_rows_fall_back_to_a_fixed_sd() -> None:
    """Two usable rows give no sd (fixed 0.1 for every point); three do. No rows: no interval,
    so no curved label however large the AIC gain."""
    F = _quadratic(0.05)
    two = _boot(F, np.array([-0.01, 0.01]))
    res = curvature_test(ZC6, F, two)
    assert res.aic_linear == pytest.approx(_chi_linear(F, np.full(6, 0.1)) + 4.0, rel=1e-9)
    assert res.n_bootstrap == 2
    c3 = np.array([-0.01, 0.0, 0.01])
    zs = (ZC6 - ZC6.mean()) / ZC6.std()
    res = curvature_test(ZC6, F, _boot(F, c3))
    assert res.aic_linear == pytest.approx(_chi_linear(F, c3.std() * (1 + zs**2)) + 4.0, rel=1e-9)
    none = curvature_test(ZC6, F, np.zeros((0, 6)))
    assert none.aic_linear == pytest.approx(_chi_linear(F, np.full(6, 0.1)) + 4.0, rel=1e-9)
    assert none.aic_linear - none.aic_quadratic > 2.0
    assert math.isnan(none.quadratic_ci[0]) and math.isnan(none.quadratic_ci[1])
    assert math.isnan(none.frac_convex) and none.n_bootstrap == 0 and none.label == "scaling"
    all_nan = curvature_test(ZC6, F, np.full((3, 6), np.nan))
    assert all_nan.n_bootstrap == 0 and math.isnan(all_nan.frac_convex)


def test_fewer_than_four_points_are_undetermined() -> None:
    res = curvature_test(ZC6[:3], _quadratic(0.05)[:3], np.zeros((0, 3)))
    assert res.label == "undetermined" and res.n_points == 3 and res.n_bootstrap == 0
    nan_fields = (res.quadratic, *res.quadratic_ci, res.frac_convex, res.aic_linear)
    assert np.isnan([*nan_fields, res.aic_quadratic, res.bic_linear, res.bic_quadratic]).all()
    four = curvature_test(ZC6[:4], _quadratic(0.05)[:4], np.zeros((0, 4)))
    assert four.n_points == 4 and four.quadratic == pytest.approx(0.05 * ZC6[:4].var(), rel=1e-9)


def test_curvature_coefficient_is_on_standardised_z() -> None:
    """z with sd below 1 (0.17): the coefficient is still 0.05 var(z), on z / sd(z)."""
    z = ZC6 / 10.0
    F = 1.0 - 0.5 * z + 0.05 * z**2
    res = curvature_test(z, F, np.zeros((0, 6)))
    assert res.quadratic == pytest.approx(0.05 * z.var(), rel=1e-9)


def test_binomial_line_passes_its_ridge() -> None:
    a, b = binomial_line(Z6, N6[0], S6[0], prior_slope=-0.6, ridge=3.0)
    assert (a, b) == pytest.approx(_penalised_reference(Z6, N6[0], S6[0], -0.6, 3.0), abs=1e-5)


def test_always_passed_item_stops_at_the_F_bound() -> None:
    """An item passed in all 1e13 draws of every model: its law at the centre of z is held at
    F = -30 (p = 1 - 9e-14), the bound, where the tiny intercept penalty would take it lower."""
    b0, b1 = binomial_lines(Z6, np.full((1, 6), 1e13), np.full((1, 6), 1e13), prior_slope=-0.6)
    assert float(b0[0] + b1[0] * Z6.mean()) == pytest.approx(-30.0, abs=1e-9)


def test_binomial_terms_silence_overflow() -> None:
    """At F = 8 (u = 2981) e^u overflows; the terms are still exact (r = r2 = 0) and no
    RuntimeWarning leaks to the caller."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ll, d1, d2 = law._binomial_terms(
            np.array([8.0]), np.array([0.0]), np.array([0.0]), np.array([[10.0]]), np.array([[3.0]])
        )
    u = math.exp(8.0)
    assert (ll[0], d1[0, 0], d2[0, 0]) == pytest.approx((-3 * u, -3 * u, -3 * u), rel=1e-12)


def test_float32_inputs_are_computed_in_double_precision() -> None:
    """Every helper converts its inputs to float64 first: float32 arrays give exactly what the
    same values as float64 give (float32 arithmetic would differ from ~1e-7 on)."""
    rng = np.random.default_rng(3)
    p32 = rng.uniform(0.05, 0.95, 6).astype(np.float32)
    p64 = p32.astype(np.float64)
    assert F_of(p32) == pytest.approx(F_of(p64), rel=1e-13, abs=0)
    assert pu_of_F(p32) == pytest.approx(pu_of_F(p64), rel=1e-13, abs=0)
    n32 = np.array([3.0, 7.0, 20.0], np.float32)
    assert upper_bound_zero(n32) == pytest.approx(upper_bound_zero(n32.astype(float)), rel=1e-13)
    fit = LineFit(intercept=0.3, slope=-0.7, sigma=0.1, n_points=5, n_censored=0, converged=True)
    assert fit.predict(p32) == pytest.approx(fit.predict(p64), rel=1e-13, abs=0)
    n = np.array([[30.0, 70.0, 11.0], [13.0, 9.0, 50.0]])
    s = np.array([[3.0, 1.0, 0.0], [7.0, 2.0, 9.0]])
    got = sampling_var_F(n.astype(np.float32), s.astype(np.float32))
    assert got == pytest.approx(sampling_var_F(n, s), rel=1e-13, abs=0)
    w32 = rng.uniform(0.5, 2.0, 9).astype(np.float32)
    fit32 = tobit_line(Z, F_LINE, np.zeros(9, bool), w32)
    fit64 = tobit_line(Z, F_LINE, np.zeros(9, bool), w32.astype(np.float64))
    assert (fit32.intercept, fit32.slope, fit32.sigma) == pytest.approx(
        (fit64.intercept, fit64.slope, fit64.sigma), rel=1e-13, abs=0
    )
    z32 = (ZC6 * 1.1).astype(np.float32)
    F32 = _quadratic(0.05).astype(np.float32) + p32
    boot = _boot(F32.astype(float), C)
    c32 = curvature_test(z32, F32, boot)
    c64 = curvature_test(z32.astype(float), F32.astype(float), boot)
    assert (c32.quadratic, c32.aic_linear) == pytest.approx(
        (c64.quadratic, c64.aic_linear), rel=1e-12, abs=0
    )
    zb = (Z6 * 1.01).astype(np.float32)
    b32 = binomial_lines(zb, N6.astype(np.float32), S6.astype(np.float32), prior_slope=-0.6)
    b64 = binomial_lines(zb.astype(float), N6, S6, prior_slope=-0.6)
    assert np.concatenate(b32) == pytest.approx(np.concatenate(b64), rel=1e-12, abs=0)
