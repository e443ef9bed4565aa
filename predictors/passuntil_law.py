"""The PassUntil task law and its emergence-shape test (METHODS.md P2, E2).

PU(x) = exp(-c * x**(-alpha)), so F = log(-log PU) = log c - alpha * log x is linear in z = log x
(x = parameters or compute). Pass rates of 0 are never logged: an item with s = 0 after n draws
is right-censored (p < 1 - 0.05**(1/n), about 3/n), and the fits below use likelihoods that treat
it so: a Tobit likelihood on F for task-level points, a binomial likelihood on (n, s) per item.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.stats import norm

#: Bounds on F = log(-log p): p from about 1 - 1e-13 down to exp(-e^30); keeps fits finite.
F_BOUNDS = (-30.0, 30.0)


def upper_bound_zero(n: np.ndarray | float, level: float = 0.95) -> np.ndarray:
    """One-sided upper confidence bound on p after ``n`` draws and no success (~3/n at 95%)."""
    n = np.asarray(n, dtype=float)
    return 1.0 - np.power(1.0 - level, 1.0 / np.maximum(n, 1.0))


def F_of(p: np.ndarray | float) -> np.ndarray:
    """log(-log p) for 0 < p < 1 (callers keep 0 and 1 out)."""
    return np.log(-np.log(np.asarray(p, dtype=float)))


def pu_of_F(F: np.ndarray | float) -> np.ndarray:
    return np.exp(-np.exp(np.clip(np.asarray(F, dtype=float), *F_BOUNDS)))


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


def tobit_line(z: np.ndarray, F: np.ndarray, censored: np.ndarray) -> LineFit:
    """Fit F = b0 + b1 z with Gaussian errors; censored points only say F_true > F (PU < bound).

    Plain least squares when nothing is censored; the censored terms are log(1 - Phi).
    """
    z, F, cens = (np.asarray(v) for v in (z, F, censored))
    obs = ~cens
    if obs.sum() < 2:
        raise ValueError(
            f"need at least 2 uncensored points for the PassUntil line; got {obs.sum()}"
        )
    A = np.column_stack([np.ones(obs.sum()), z[obs]])
    beta, *_ = np.linalg.lstsq(A, F[obs], rcond=None)
    resid = F[obs] - A @ beta
    sigma = max(float(np.sqrt(np.mean(resid**2))), 1e-3)
    mu_c = beta[0] + beta[1] * z[cens]
    if not cens.any() or np.all(mu_c > F[cens] + 4 * sigma):  # bounds not binding: OLS is the MLE
        return LineFit(float(beta[0]), float(beta[1]), sigma, len(F), int(cens.sum()), True)

    def nll(p: np.ndarray) -> float:
        b0, b1, ls = p
        s = math.exp(ls)
        mu = b0 + b1 * z
        ll = norm.logpdf(F[obs], mu[obs], s).sum() + norm.logsf(F[cens], mu[cens], s).sum()
        return -float(ll)

    res = minimize(nll, [beta[0], beta[1], math.log(sigma)], method="Nelder-Mead",
                   options={"xatol": 1e-8, "fatol": 1e-10, "maxiter": 4000})  # fmt: skip
    b0, b1, ls = res.x
    return LineFit(float(b0), float(b1), math.exp(ls), len(F), int(cens.sum()), bool(res.success))


def binomial_line(
    z: np.ndarray, n: np.ndarray, s: np.ndarray, *, prior_slope: float, ridge: float = 0.5
) -> tuple[float, float]:
    """Per-item law from raw (n, s) across models: maximise the binomial log-likelihood of
    p = exp(-exp(b0 + b1 z)), with a small ridge pulling b1 towards ``prior_slope``.

    Censored draws (s = 0) enter as n * log(1 - p): no log(0) anywhere. The ridge keeps items
    that no model ever passed (or always passed) from running off to infinite parameters.
    """
    z, n, s = (np.asarray(v, dtype=float) for v in (z, n, s))
    zc = z - z.mean()

    def nll(p: np.ndarray) -> tuple[float, np.ndarray]:
        F = np.clip(p[0] + p[1] * zc, *F_BOUNDS)
        eF = np.exp(F)
        log_p = -eF
        one_minus_p = np.maximum(-np.expm1(log_p), 1e-300)
        ll = np.sum(s * log_p + (n - s) * np.log(one_minus_p))
        dF = -s * eF + (n - s) * np.exp(log_p) * eF / one_minus_p  # d ll / d F
        pen = ridge * (p[1] - prior_slope) ** 2 + 1e-4 * p[0] ** 2
        grad = -np.array([dF.sum(), (dF * zc).sum()])
        grad += np.array([2e-4 * p[0], 2 * ridge * (p[1] - prior_slope)])
        return -float(ll) + pen, grad

    p_hat = np.clip((s + 0.5) / (n + 1.0), 1e-12, 1 - 1e-12)
    start = [float(np.mean(F_of(p_hat))), prior_slope]
    res = minimize(nll, start, jac=True, method="L-BFGS-B", bounds=[F_BOUNDS, (-20.0, 20.0)])
    b0, b1 = res.x
    return float(b0 - b1 * z.mean()), float(b1)


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
