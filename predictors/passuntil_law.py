"""The PassUntil task law and its emergence-shape test (METHODS.md P2, E2).

PU(x) = exp(-c * x**(-alpha)), so F = log(-log PU) = log c - alpha * log x is linear in z = log x
(x = parameters or compute). Pass rates of 0 are never logged: an item with s = 0 after n draws
is right-censored (p < 1 - 0.05**(1/n), about 3/n), and the fits below use likelihoods that treat
it so: a Tobit likelihood on F for task-level points, a binomial likelihood on (n, s) per item.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import cast

import numpy as np
from scipy.optimize import minimize
from scipy.stats import norm

#: Bounds on F = log(-log p): p from about 1 - 1e-13 down to exp(-e^30); keeps fits finite.
F_BOUNDS = (-30.0, 30.0)
#: |slope| of a per-item law in :func:`binomial_lines` (F per unit of z) stops here.
SLOPE_BOUND = 20.0


def upper_bound_zero(n: np.ndarray | float, level: float = 0.95) -> np.ndarray:
    """One-sided upper confidence bound on p after ``n`` draws and no success (~3/n at 95%)."""
    k = np.asarray(n, dtype=float)
    return cast(np.ndarray, 1.0 - (1.0 - level) ** (1.0 / np.maximum(k, 1.0)))  # stubs: Any


def F_of(p: np.ndarray | float) -> np.ndarray:
    """log(-log p) for 0 < p < 1 (callers keep 0 and 1 out)."""
    return cast(np.ndarray, np.log(-np.log(np.asarray(p, dtype=float))))  # ufunc stubs: Any


def pu_of_F(F: np.ndarray | float) -> np.ndarray:
    return cast(np.ndarray, np.exp(-np.exp(np.clip(np.asarray(F, dtype=float), *F_BOUNDS))))


@dataclass(frozen=True)
class LineFit:
    """F = intercept + slope * z; ``alpha = -slope``, ``c = exp(intercept)`` (x in its own unit)."""

    intercept: float
    slope: float
    sigma: float
    n_points: int
    n_censored: int
    converged: bool

    @property
    def alpha(self) -> float:
        return -self.slope

    @property
    def c(self) -> float:
        return math.exp(self.intercept)

    def predict(self, z: np.ndarray | float) -> np.ndarray:
        return pu_of_F(self.intercept + self.slope * np.asarray(z, dtype=float))


def tobit_line(
    z: np.ndarray, F: np.ndarray, censored: np.ndarray, weights: np.ndarray | None = None
) -> LineFit:
    """Fit F = b0 + b1 z with Gaussian errors; censored points only say F_true > F (PU < bound).

    Plain (weighted) least squares when nothing is censored; the censored terms are
    log(1 - Phi). ``weights`` are relative precisions (1 / variance) of the points: point j's
    error sd is sigma / sqrt(w_j) with w normalised to mean 1, and ``sigma`` is reported on
    that scale. None weighs every point alike.
    """
    z, F, cens = (np.asarray(v) for v in (z, F, censored))
    w = np.ones(len(F)) if weights is None else np.asarray(weights, dtype=float)
    if w.shape != F.shape or not np.all(np.isfinite(w)) or np.any(w <= 0):
        raise ValueError("weights must be positive and finite, one per point")
    w = w / w.mean()
    obs = ~cens
    if obs.sum() < 2:
        raise ValueError(
            f"need at least 2 uncensored points for the PassUntil line; got {obs.sum()}"
        )
    sw = np.sqrt(w[obs])
    A = np.column_stack([np.ones(obs.sum()), z[obs]])
    beta, *_ = np.linalg.lstsq(A * sw[:, None], F[obs] * sw, rcond=None)
    resid = (F[obs] - A @ beta) * sw
    sigma = max(float(np.sqrt(np.mean(resid**2))), 1e-3)
    mu_c = beta[0] + beta[1] * z[cens]
    sd_c = sigma / np.sqrt(w[cens])
    if not cens.any() or np.all(mu_c > F[cens] + 4 * sd_c):  # bounds not binding: OLS is the MLE
        return LineFit(float(beta[0]), float(beta[1]), sigma, len(F), int(cens.sum()), True)
    scale = 1.0 / np.sqrt(w)

    def nll(p: np.ndarray) -> float:
        b0, b1, ls = p
        sd = math.exp(ls) * scale
        mu = b0 + b1 * z
        ll = (
            norm.logpdf(F[obs], mu[obs], sd[obs]).sum()
            + norm.logsf(F[cens], mu[cens], sd[cens]).sum()
        )
        return -float(ll)

    res = minimize(nll, [beta[0], beta[1], math.log(sigma)], method="Nelder-Mead",
                   options={"xatol": 1e-8, "fatol": 1e-10, "maxiter": 4000})  # fmt: skip
    b0, b1, ls = res.x
    return LineFit(float(b0), float(b1), math.exp(ls), len(F), int(cens.sum()), bool(res.success))


def sampling_var_F(n: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Per model (columns of items x models ``n``, ``s``): the binomial sampling variance of
    F = log(-log PU) for the task PU (mean of the items' s / n), by the delta method.

    Var(PU) = sum_i p_i (1 - p_i) / n_i / m**2 with p_i = (s + 0.5) / (n + 1) (so an item with
    no success still counts), and dF/dPU = 1 / (PU log PU). More draws, smaller variance: this
    is how per-item sample counts weigh a model's point.

    >>> v = sampling_var_F(np.array([[100.0, 10000.0]]), np.array([[10.0, 1000.0]]))
    >>> round(float(v[0] / v[1]), 1)  # 100x the draws, about 100x less variance
    99.1
    """
    n, s = np.asarray(n, dtype=float), np.asarray(s, dtype=float)
    p = (s + 0.5) / (n + 1.0)
    m = n.shape[0]
    var_pu = np.sum(p * (1.0 - p) / np.maximum(n, 1.0), axis=0) / m**2
    pu = np.clip(np.mean(p, axis=0), 1e-12, 1.0 - 1e-12)
    return cast(np.ndarray, var_pu / (pu * np.log(pu)) ** 2)  # ndarray / ndarray: Any


def _binomial_terms(
    b0: np.ndarray, b1: np.ndarray, zc: np.ndarray, n: np.ndarray, s: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per item: log-likelihood, and its first and second derivatives in F (items x models)."""
    F = np.clip(b0[:, None] + b1[:, None] * zc[None, :], *F_BOUNDS)
    u = np.exp(F)  # -log p
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        log_q = np.log(np.maximum(-np.expm1(-u), 1e-300))  # log(1 - p)
        r = u / np.expm1(u)
        r2 = np.nan_to_num((u / (2.0 * np.sinh(u / 2.0))) ** 2)  # u^2 e^u / (e^u - 1)^2
    ll = np.sum(-s * u + (n - s) * log_q, axis=1)
    d1 = -s * u + (n - s) * r
    d2 = -s * u + (n - s) * (r - r2)
    return ll, d1, d2


def binomial_lines(
    z: np.ndarray, n: np.ndarray, s: np.ndarray, *, prior_slope: float, ridge: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """Per-item laws from raw (n, s) (items x models): maximise each item's binomial
    log-likelihood of p = exp(-exp(b0 + b1 z)), with a ridge pulling b1 towards ``prior_slope``.

    Censored draws (s = 0) enter as n * log(1 - p): no log(0) anywhere. The ridge keeps items
    that no model ever passed (or always passed) from running off to infinite parameters. The
    likelihood is concave in (b0, b1) (a complementary log-log model), so a damped Newton
    iteration, vectorised over items, finds each maximum; returns intercepts (at z = 0), slopes.
    A slope held at +-:data:`SLOPE_BOUND` (separated items without a ridge) gets the best
    intercept for that slope.
    """
    z = np.asarray(z, dtype=float)
    n, s = np.atleast_2d(np.asarray(n, dtype=float)), np.atleast_2d(np.asarray(s, dtype=float))
    zc = z - z.mean()
    p_hat = np.clip((s + 0.5) / (n + 1.0), 1e-12, 1 - 1e-12)
    b0 = np.mean(F_of(p_hat), axis=1)
    b1 = np.full(len(b0), float(prior_slope))

    def objective(b0: np.ndarray, b1: np.ndarray) -> np.ndarray:
        ll = _binomial_terms(b0, b1, zc, n, s)[0]
        return -ll + ridge * (b1 - prior_slope) ** 2 + 1e-4 * b0**2

    obj = objective(b0, b1)
    for _ in range(100):
        _, d1, d2 = _binomial_terms(b0, b1, zc, n, s)
        g0 = -d1.sum(axis=1) + 2e-4 * b0
        g1 = -(d1 * zc).sum(axis=1) + 2 * ridge * (b1 - prior_slope)
        h00 = -d2.sum(axis=1) + 2e-4
        h01 = -(d2 * zc).sum(axis=1)
        h11 = -(d2 * zc**2).sum(axis=1) + 2 * ridge
        det = np.maximum(h00 * h11 - h01**2, 1e-12)
        step0, step1 = (h11 * g0 - h01 * g1) / det, (h00 * g1 - h01 * g0) / det
        # a slope held at its bound by a step that points out of the box: Newton in the
        # intercept alone (the joint step assumed the slope would move)
        held = ((b1 <= -SLOPE_BOUND) & (step1 > 0)) | ((b1 >= SLOPE_BOUND) & (step1 < 0))
        step0, step1 = np.where(held, g0 / h00, step0), np.where(held, 0.0, step1)
        t = np.ones_like(b0)
        for _ in range(40):  # halve each item's step until its objective does not increase
            c0 = np.clip(b0 - t * step0, *F_BOUNDS)
            c1 = np.clip(b1 - t * step1, -SLOPE_BOUND, SLOPE_BOUND)
            new = objective(c0, c1)
            bad = ~(new <= obj + 1e-12)
            if not bad.any():
                break
            t = np.where(bad, t / 2, t)
        done = bad  # no improving step: at the optimum (to rounding)
        b0, b1 = np.where(done, b0, c0), np.where(done, b1, c1)
        obj = np.where(done, obj, new)
        if np.max(np.abs(t * step0) + np.abs(t * step1)) < 1e-9:
            break
    return b0 - b1 * z.mean(), b1


def binomial_line(
    z: np.ndarray, n: np.ndarray, s: np.ndarray, *, prior_slope: float, ridge: float = 0.5
) -> tuple[float, float]:
    """:func:`binomial_lines` for one item: (intercept at z = 0, slope)."""
    b0, b1 = binomial_lines(z, n, s, prior_slope=prior_slope, ridge=ridge)
    return float(b0[0]), float(b1[0])


@dataclass(frozen=True)
class CurvatureResult:
    """Emergence shape of F(z): the label and the evidence behind it."""

    label: str  # "scaling" | "sub-scaling" | "accelerated emergence" | "undetermined"
    quadratic: float  # coefficient of z^2 (> 0 convex, < 0 concave)
    quadratic_ci: tuple[float, float]
    frac_convex: float  # share of bootstrap replicates with a convex fit
    aic_linear: float
    aic_quadratic: float
    bic_linear: float
    bic_quadratic: float
    n_points: int
    n_bootstrap: int

    def to_dict(self) -> dict[str, object]:
        d = dict(self.__dict__)
        d["quadratic_ci"] = list(self.quadratic_ci)
        return d


def _wfit(zc: np.ndarray, F: np.ndarray, w: np.ndarray, deg: int) -> tuple[np.ndarray, float]:
    """Weighted polynomial fit (w = 1/sd); returns coefficients and chi-square."""
    coef = np.polyfit(zc, F, deg, w=w)
    return coef, float(np.sum((w * (F - np.polyval(coef, zc))) ** 2))


def curvature_test(
    z: np.ndarray,
    F: np.ndarray,
    boot_F: np.ndarray,
    *,
    alpha: float = 0.1,
    min_delta_aic: float = 2.0,
) -> CurvatureResult:
    """Linear versus quadratic F(z) by AIC/BIC, confirmed by a bootstrap over items.

    ``boot_F`` holds F recomputed from item resamples (replicates x points); its spread gives
    each point's standard deviation, so the fits are weighted least squares and AIC/BIC are
    chi-square based (known variances). The quadratic coefficient is on standardised z. Label: a curved shape needs the quadratic model to win by
    ``min_delta_aic`` AND the bootstrap interval of its coefficient to exclude 0; convex F is
    sub-scaling, concave F accelerated emergence; otherwise "scaling".
    """
    z, F = np.asarray(z, float), np.asarray(F, float)
    if len(F) < 4:
        nan = math.nan
        return CurvatureResult("undetermined", nan, (nan, nan), nan, nan, nan, nan, nan, len(F), 0)
    zc = (z - z.mean()) / max(float(z.std()), 1e-12)
    ok = np.all(np.isfinite(boot_F), axis=1) if len(boot_F) else np.zeros(0, bool)
    sd = np.std(boot_F[ok], axis=0) if ok.sum() > 2 else np.full(len(F), 0.1)
    w = 1.0 / np.maximum(sd, 0.02)  # bootstrap sd of each point; floor so no point dominates
    _, chi_l = _wfit(zc, F, w, 1)
    quad_c, chi_q = _wfit(zc, F, w, 2)
    n = len(F)
    aic_l, aic_q = chi_l + 4.0, chi_q + 6.0
    bic_l, bic_q = chi_l + 2 * math.log(n), chi_q + 3 * math.log(n)
    reps = np.array([_wfit(zc, row, w, 2)[0][0] for row in boot_F[ok]]) if ok.any() else np.zeros(0)
    lo, hi = np.quantile(reps, [alpha / 2, 1 - alpha / 2]) if len(reps) else (math.nan, math.nan)
    frac = float(np.mean(reps > 0)) if len(reps) else math.nan
    label = "scaling"
    if aic_l - aic_q >= min_delta_aic and (lo > 0 or hi < 0):
        label = "sub-scaling" if quad_c[0] > 0 else "accelerated emergence"
    return CurvatureResult(
        label, float(quad_c[0]), (float(lo), float(hi)), frac, aic_l, aic_q, bic_l, bic_q,
        len(F), len(reps),
    )  # fmt: skip
