"""Functional forms of the scaling laws and the one robust fitter they all share.

Every law is a plain, documented function ``f(x, *params)`` so that a fit, a bootstrap and a plot
all evaluate the same formula. :func:`fit_law` does bounded non-linear least squares (or a Huber
loss in log space, Bhagia et al.) from a grid of starting points and keeps the best; the result,
:class:`LawFit`, says whether the fit converged and whether it is ill-conditioned instead of
silently handing back numbers. :func:`bootstrap_law` refits on resampled fit points, warm-started
from the full-data optimum, to give prediction intervals.

References: METHODS.md P1a (Gadre et al. 2024), P1b (Bhagia et al. 2024), P4 (Xiao et al. 2024).
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import OptimizeWarning, curve_fit, minimize

Array = np.ndarray
LawFunc = Callable[..., Array]

# --------------------------------------------------------------------------------------------
# Functional forms
# --------------------------------------------------------------------------------------------


def gadre_loss(x: Array, alpha: float, beta: float, b: float, E: float) -> Array:
    """Gadre et al. loss in (N, M): ``alpha*N^b + beta*6^(b/2)*(M*N)^b + E`` (b < 0).

    Equivalent to ``E + (a*M^eta + b*M^-eta)*C^-eta`` with C = 6ND. ``x`` is ``(N, M)``.
    """
    n, m = x[0], x[1]
    return alpha * np.power(n, b) + beta * np.power(6.0, b / 2) * np.power(m * n, b) + E


def gadre_error(loss: Array, k: float, gamma: float, eps: float) -> Array:
    """Gadre et al. error from loss: ``eps - k*exp(-gamma*L)``."""
    return eps - k * np.exp(-gamma * np.asarray(loss))


def chinchilla_loss(x: Array, a: float, b: float, alpha: float, beta: float, E: float) -> Array:
    """Bhagia et al. step 1: ``exp(a)/N^alpha + exp(b)/D^beta + E``. ``x`` is ``(N, D)``."""
    n, d = x[0], x[1]
    return np.exp(a - alpha * np.log(n)) + np.exp(b - beta * np.log(d)) + E


def compute_loss(c: Array, a: float, alpha: float, E: float) -> Array:
    """FLOPs variant of step 1: ``exp(a)/C^alpha + E``."""
    return np.exp(a - alpha * np.log(c)) + E


def sigmoid_accuracy(loss: Array, a: float, b: float, k: float, L0: float) -> Array:
    """Bhagia et al. step 2: ``a/(1+exp(-k(L-L0))) + b`` with a in [-1, 0] (falls with loss)."""
    z = np.clip(-k * (np.asarray(loss) - L0), -500, 500)
    return a / (1.0 + np.exp(z)) + b


def invert_sigmoid_accuracy(score: Array, a: float, b: float, k: float, L0: float) -> Array:
    """Loss at which :func:`sigmoid_accuracy` reaches ``score``; NaN outside its range."""
    s = np.asarray(score, dtype=float)
    frac = (s - b) / a
    with np.errstate(divide="ignore", invalid="ignore"):
        out = L0 - np.log(1.0 / frac - 1.0) / k
    return np.where((frac > 0) & (frac < 1), out, np.nan)


def exponential_compute(c: Array, g: float, a: float, b: float) -> Array:
    """End-to-end baseline: ``g + (1-g)*exp(-a*C^-b)``: chance g at small C, 1 at large C.

    ``C`` is measured in units of 1e18 FLOPs so that ``a`` stays of order one.
    """
    cc = np.asarray(c) / 1e18
    return g + (1.0 - g) * np.exp(-a * np.power(cc, -b))


def sigmoid_log_compute(c: Array, lo: float, hi: float, k: float, x0: float) -> Array:
    """End-to-end baseline: a logistic curve in log10 compute from ``lo`` to ``hi``."""
    z = np.clip(-k * (np.log10(np.asarray(c)) - x0), -500, 500)
    return lo + (hi - lo) / (1.0 + np.exp(z))


def single_step_accuracy(
    x: Array, a: float, b: float, A: float, alpha: float, B: float, beta: float, c: float
) -> Array:
    """Bhagia et al. single step: accuracy directly from (N, D).

    ``a/(1+exp(-(exp(A)/N^alpha + exp(B)/D^beta + c))) + b``: the two steps composed, with the
    sigmoid's scale k absorbed into A, B and ``c = k(E - L0)`` (not separately identifiable).
    """
    n, d = x[0], x[1]
    inner = np.exp(A - alpha * np.log(n)) + np.exp(B - beta * np.log(d)) + c
    return a / (1.0 + np.exp(np.clip(-inner, -500, 500))) + b


def densing_loss(x: Array, a: float, alpha: float, b: float, beta: float) -> Array:
    """Xiao et al. step 1 (no irreducible term): ``a*N^-alpha + b*D^-beta``; ``x`` is (N, D)."""
    n, d = x[0], x[1]
    return a * np.power(n, -alpha) + b * np.power(d, -beta)


# --------------------------------------------------------------------------------------------
# Fitting
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LawFit:
    """Result of fitting one law. ``status`` is ``ok``, ``ill_conditioned`` or ``failed``.

    Only an ``ok`` fit predicts numbers; the others raise via :meth:`require_ok` with ``message``.
    """

    law: str
    param_names: tuple[str, ...]
    params: tuple[float, ...]
    status: str
    message: str
    n_obs: int
    rss: float
    condition: float
    residuals: tuple[float, ...] = ()
    n_starts: int = 1
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def as_dict(self) -> dict[str, float]:
        return dict(zip(self.param_names, self.params, strict=True))

    def require_ok(self) -> LawFit:
        if not self.ok:
            from predictors.base import FitError

            raise FitError(f"{self.law}: {self.status}: {self.message}")
        return self

    def to_dict(self) -> dict[str, Any]:
        return {
            "law": self.law,
            "params": self.as_dict(),
            "status": self.status,
            "message": self.message,
            "n_obs": self.n_obs,
            "rss": self.rss,
            "condition": self.condition,
            "n_starts": self.n_starts,
        }

    def summary(self) -> str:
        lines = [f"{self.law}: {self.status} ({self.n_obs} points, rss {self.rss:.4g})"]
        lines += [f"  {k} = {v:.6g}" for k, v in self.as_dict().items()]
        if self.message:
            lines.append(f"  note: {self.message}")
        return "\n".join(lines)


def _residual_fn(
    func: LawFunc, x: Any, y: Array, loss: str, sw: Array | None
) -> Callable[[Array], float]:
    if loss == "l2":

        def obj(p: Array) -> float:
            r = func(x, *p) - y
            if sw is not None:
                r = r * sw
            v = float(np.dot(r, r))
            return v if math.isfinite(v) else 1e300

        return obj
    delta = float(loss.split(":")[1]) if ":" in loss else 1e-3
    logy = np.log(y)

    def huber(p: Array) -> float:
        pred = func(x, *p)
        if np.any(pred <= 0) or not np.all(np.isfinite(pred)):
            return 1e300
        r = np.abs(np.log(pred) - logy)
        h = np.where(r <= delta, 0.5 * r * r, delta * (r - 0.5 * delta))
        if sw is not None:
            h = h * sw * sw
        return float(h.sum())

    return huber


def _jacobian(func: LawFunc, x: Any, p: Array) -> Array:
    """Forward-difference Jacobian, scaled by each parameter's magnitude (for conditioning)."""
    f0 = func(x, *p)
    cols = []
    for i in range(len(p)):
        h = 1e-6 * max(abs(p[i]), 1e-3)
        q = p.copy()
        q[i] += h
        cols.append((func(x, *q) - f0) / h * max(abs(p[i]), 1e-3))
    return np.column_stack(cols)


def _condition(func: LawFunc, x: Any, p: Array) -> float:
    try:
        s = np.linalg.svd(_jacobian(func, x, p), compute_uv=False)
    except (np.linalg.LinAlgError, ValueError):
        return math.inf
    if not np.all(np.isfinite(s)) or s[-1] <= 0:
        return math.inf
    return float(s[0] / s[-1])


def _one_start(
    func: LawFunc,
    x: Any,
    y: Array,
    p0: Array,
    bounds: tuple[Array, Array] | None,
    loss: str,
    sw: Array | None,
    maxfev: int,
    solver: str = "auto",
) -> Array | None:
    """One local fit from ``p0``; None if it fails. ``solver="trf"``: see :func:`_huber_trf`."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OptimizeWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            if loss == "l2":
                sigma = None if sw is None else 1.0 / sw
                kw: dict[str, Any] = {"maxfev": maxfev} if bounds is None else {"max_nfev": maxfev}
                p, _ = curve_fit(
                    func,
                    x,
                    y,
                    p0=p0,
                    sigma=sigma,
                    bounds=bounds if bounds is not None else (-np.inf, np.inf),
                    **kw,
                )
            elif solver == "trf":
                p = _huber_trf(func, x, y, p0, bounds, loss, maxfev)
            else:
                res = minimize(
                    _residual_fn(func, x, y, loss, sw),
                    p0,
                    method="L-BFGS-B",
                    bounds=None if bounds is None else list(zip(*bounds, strict=True)),
                    options={"maxiter": maxfev, "ftol": 1e-13, "gtol": 1e-10},
                )
                p = res.x
        except (RuntimeError, ValueError, FloatingPointError):
            return None
    return np.asarray(p, dtype=float) if np.all(np.isfinite(p)) else None


def _huber_trf(
    func: LawFunc,
    x: Any,
    y: Array,
    p0: Array,
    bounds: tuple[Array, Array] | None,
    loss: str,
    nfev: int,
) -> Array:
    """The same Huber-in-log-space objective, minimised by trust-region least squares.

    scipy's ``loss="huber"`` with ``f_scale=delta`` is Huber_delta on the residuals up to a
    constant factor, so the optimum is the same; it is much faster than L-BFGS-B with numerical
    gradients, which is why bootstrap refits (warm-started at the L-BFGS-B optimum) use it.
    """
    from scipy.optimize import least_squares

    delta = float(loss.split(":")[1]) if ":" in loss else 1e-3
    logy = np.log(y)

    def resid(p: Array) -> Array:
        pred = func(x, *p)
        return np.log(np.where(pred > 0, pred, 1e-300)) - logy

    b = (-np.inf, np.inf) if bounds is None else bounds
    return least_squares(resid, p0, bounds=b, loss="huber", f_scale=delta, max_nfev=nfev).x


def fit_law(
    func: LawFunc,
    x: Any,
    y: Sequence[float] | Array,
    *,
    starts: Sequence[Sequence[float]],
    bounds: tuple[Sequence[float], Sequence[float]] | None = None,
    loss: str = "l2",
    weights: Array | None = None,
    maxfev: int = 10000,
    max_condition: float = 1e12,
) -> LawFit:
    """Fit ``y ≈ func(x, *p)`` from every start in ``starts``; keep the lowest residual.

    ``loss``: ``"l2"`` (scipy ``curve_fit``: Levenberg-Marquardt if ``bounds`` is None, else
    trust-region reflective) or ``"huber_log[:delta]"`` (Huber on log residuals, L-BFGS-B; y > 0).
    ``weights`` multiply residuals. The best start is judged by the same objective as the fit.
    A fit with fewer points than parameters, no finite solution, or a scaled Jacobian condition
    number above ``max_condition`` is reported as such (``status`` / ``message``).
    """
    names = tuple(list(_param_names(func)))
    y = np.asarray(y, dtype=float)
    n_par = len(names)
    empty = LawFit(
        func.__name__, names, (math.nan,) * n_par, "failed", "", len(y), math.nan, math.inf
    )
    if len(y) < n_par:
        return _replace(empty, message=f"{len(y)} points for {n_par} parameters")
    if not np.all(np.isfinite(y)):
        return _replace(empty, message="non-finite target values")
    if loss != "l2" and np.any(y <= 0):
        return _replace(empty, message="log-space loss needs positive targets")
    sw = None if weights is None else np.sqrt(np.asarray(weights, dtype=float))
    b = None if bounds is None else (np.asarray(bounds[0], float), np.asarray(bounds[1], float))
    obj = _residual_fn(func, x, y, loss, sw)
    best, best_val = None, math.inf
    candidates = [np.asarray(p0, dtype=float) for p0 in starts]
    if b is not None:
        candidates = [np.clip(p0, b[0], b[1]) for p0 in candidates]
    if loss != "l2" and sw is None:
        # Huber in log space: every start also gets a fast trust-region run of the same
        # objective; its best optimum is then polished by L-BFGS-B like the given starts.
        fast = [_one_start(func, x, y, p0, b, loss, None, 500, "trf") for p0 in candidates]
        fast = [p for p in fast if p is not None]
        if fast:
            candidates.append(min(fast, key=obj))
    for p0a in candidates:
        p = _one_start(func, x, y, p0a, b, loss, sw, maxfev)
        if p is None:
            continue
        v = obj(p)
        if v < best_val:
            best, best_val = p, v
    if best is None or not math.isfinite(best_val) or best_val >= 1e299:
        return _replace(empty, message=f"no start of {len(starts)} converged", n_starts=len(starts))
    resid = np.asarray(func(x, *best), dtype=float) - y
    cond = _condition(func, x, best)
    status, msg = "ok", ""
    if len(y) == n_par:
        msg = "as many points as parameters: the fit interpolates, residuals carry no information"
    if not math.isfinite(cond) or cond > max_condition:
        status = "ill_conditioned"
        msg = f"scaled Jacobian condition number {cond:.3g} > {max_condition:.3g}"
    return LawFit(
        func.__name__,
        names,
        tuple(float(v) for v in best),
        status,
        msg,
        len(y),
        float(np.dot(resid, resid)),
        cond,
        tuple(float(v) for v in resid),
        len(starts),
    )


def _replace(fit: LawFit, **kw: Any) -> LawFit:
    from dataclasses import replace

    return replace(fit, **kw)


def _param_names(func: LawFunc) -> list[str]:
    import inspect

    return list(inspect.signature(func).parameters)[1:]


def grid(*axes: Sequence[float]) -> list[tuple[float, ...]]:
    """Cartesian product of starting values (the multi-start grid)."""
    return list(itertools.product(*axes))


#: Gadre et al.'s 128 starting points for :func:`gadre_loss` (alpha, beta, b, E).
GADRE_LOSS_STARTS = grid([1e2, 3e2, 1e3, 3e3], [1e2, 3e2, 1e3, 3e3], [-0.1, -0.3], [0, 1, 2, 10])


def take(x: Any, idx: Array) -> Any:
    """Rows ``idx`` of a law's input, which is an array or a tuple of arrays."""
    if isinstance(x, tuple):
        return tuple(np.asarray(v)[idx] for v in x)
    return np.asarray(x)[idx]


@dataclass(frozen=True)
class BootstrapLaw:
    """Parameter draws from refits on resampled points; ``n_failed`` resamples did not fit."""

    params: Array  # (n_ok, n_params)
    n_failed: int

    def predict(self, func: LawFunc, x: Any) -> Array:
        """Predictions of every draw at ``x``: shape (n_ok, n_x)."""
        return np.vstack([np.atleast_1d(func(x, *p)) for p in self.params])


def bootstrap_law(
    func: LawFunc,
    x: Any,
    y: Array,
    fit: LawFit,
    *,
    n_boot: int,
    rng: np.random.Generator,
    bounds: tuple[Sequence[float], Sequence[float]] | None = None,
    loss: str = "l2",
    maxfev: int = 400,
    solver: str = "auto",
) -> BootstrapLaw:
    """Refit on ``n_boot`` resamples of the fit points, warm-started from ``fit``'s optimum.

    With bounds, each refit first tries unbounded Levenberg-Marquardt (several times faster than
    the bounded trust-region solver) and falls back to the bounded solver when that leaves them.
    """
    y = np.asarray(y, dtype=float)
    n = len(y)
    draws, failed = [], 0
    p0 = np.asarray(fit.params)
    b = None if bounds is None else (np.asarray(bounds[0], float), np.asarray(bounds[1], float))
    for _ in range(n_boot):
        idx = rng.integers(0, n, n)
        if len(np.unique(idx)) < len(p0):
            failed += 1
            continue
        xi, yi = take(x, idx), y[idx]
        p = None
        if loss == "l2" and b is not None:  # fast path: unbounded LM, kept only if inside bounds
            p = _one_start(func, xi, yi, p0, None, loss, None, maxfev)
            if p is not None and (np.any(p < b[0]) or np.any(p > b[1])):
                p = None
        if p is None:
            p = _one_start(func, xi, yi, p0, b, loss, None, maxfev, solver)
        if p is None:
            failed += 1
        else:
            draws.append(p)
    arr = np.array(draws) if draws else np.empty((0, len(p0)))
    return BootstrapLaw(arr, failed)


def percentile_interval(samples: Array, alpha: float) -> tuple[float, float]:
    """Equal-tailed ``1 - alpha`` interval of finite samples (NaN, NaN if none)."""
    s = np.asarray(samples, dtype=float)
    s = s[np.isfinite(s)]
    if s.size == 0:
        return math.nan, math.nan
    lo, hi = np.quantile(s, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)
