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
from typing import Any, cast

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import OptimizeWarning, curve_fit, minimize

from predictors.batch_fit import batch_refit, batch_rows

Array = np.ndarray
LawFunc = Callable[..., Array]
#: A two-input law's ``x``: ``(N, M)`` or ``(N, D)``, each a scalar or an array (or a 2 x n array).
Pair = tuple[ArrayLike, ArrayLike] | Array


def _f(v: ArrayLike) -> np.ndarray[Any, np.dtype[np.float64]]:
    """``v`` as a float array, so that the arithmetic below is typed (scalars stay 0-d)."""
    return np.asarray(v, dtype=float)


# --------------------------------------------------------------------------------------------
# Functional forms (the casts: numpy's ufunc stubs type np.exp/np.log results as Any)
# --------------------------------------------------------------------------------------------


def gadre_loss(x: Pair, alpha: float, beta: float, b: float, E: float) -> Array:
    """Gadre et al. loss in (N, M): ``alpha*N^b + beta*6^(b/2)*(M*N)^b + E`` (b < 0).

    Equivalent to ``E + (a*M^eta + b*M^-eta)*C^-eta`` with C = 6ND. ``x`` is ``(N, M)``.

    >>> # 50 * 1e8^-0.2 + 80 * 6^-0.1 * (2e9)^-0.2 + 1.8 = 1.25594 + 0.92272 + 1.8
    >>> round(float(gadre_loss((1e8, 20.0), 50.0, 80.0, -0.2, 1.8)), 5)
    3.97866
    """
    n, m = _f(x[0]), _f(x[1])
    # b is a float, or one column per bootstrap resample (predictors.batch_fit)
    return cast(Array, alpha * n**b + beta * 6.0 ** (b / 2) * (m * n) ** b + E)


def gadre_error(loss: ArrayLike, k: float, gamma: float, eps: float) -> Array:
    """Gadre et al. error from loss: ``eps - k*exp(-gamma*L)``."""
    return eps - k * np.exp(-gamma * _f(loss))


def chinchilla_loss(x: Pair, a: float, b: float, alpha: float, beta: float, E: float) -> Array:
    """Bhagia et al. step 1: ``exp(a)/N^alpha + exp(b)/D^beta + E``. ``x`` is ``(N, D)``."""
    n, d = _f(x[0]), _f(x[1])
    return cast(Array, np.exp(a - alpha * np.log(n)) + np.exp(b - beta * np.log(d)) + E)


def compute_loss(c: ArrayLike, a: float, alpha: float, E: float) -> Array:
    """FLOPs variant of step 1: ``exp(a)/C^alpha + E``."""
    return cast(Array, np.exp(a - alpha * np.log(_f(c))) + E)


def sigmoid_accuracy(loss: ArrayLike, a: float, b: float, k: float, L0: float) -> Array:
    """Bhagia et al. step 2: ``a/(1+exp(-k(L-L0))) + b`` with a in [-1, 0] (falls with loss)."""
    z = np.clip(-k * (_f(loss) - L0), -500, 500)
    return a / (1.0 + np.exp(z)) + b


def invert_sigmoid_accuracy(score: ArrayLike, a: float, b: float, k: float, L0: float) -> Array:
    """Loss at which :func:`sigmoid_accuracy` reaches ``score``; NaN outside its range."""
    s = np.asarray(score, dtype=float)
    frac = (s - b) / a
    with np.errstate(divide="ignore", invalid="ignore"):
        out = L0 - np.log(1.0 / frac - 1.0) / k
    return np.where((frac > 0) & (frac < 1), out, np.nan)


def exponential_compute(c: ArrayLike, g: float, a: float, b: float) -> Array:
    """End-to-end baseline: ``g + (1-g)*exp(-a*C^-b)``: chance g at small C, 1 at large C.

    ``C`` is measured in units of 1e18 FLOPs so that ``a`` stays of order one.
    """
    cc = _f(c) / 1e18
    return g + (1.0 - g) * np.exp(-a * cc ** (-b))


def sigmoid_log_compute(c: ArrayLike, lo: float, hi: float, k: float, x0: float) -> Array:
    """End-to-end baseline: a logistic curve in log10 compute from ``lo`` to ``hi``."""
    z = np.clip(-k * (np.log10(_f(c)) - x0), -500, 500)
    return cast(Array, lo + (hi - lo) / (1.0 + np.exp(z)))


def single_step_accuracy(
    x: Pair, a: float, b: float, A: float, alpha: float, B: float, beta: float, c: float
) -> Array:
    """Bhagia et al. single step: accuracy directly from (N, D).

    ``a/(1+exp(-(exp(A)/N^alpha + exp(B)/D^beta + c))) + b``: the two steps composed, with the
    sigmoid's scale k absorbed into A, B and ``c = k(E - L0)`` (not separately identifiable).
    """
    n, d = _f(x[0]), _f(x[1])
    inner = np.exp(A - alpha * np.log(n)) + np.exp(B - beta * np.log(d)) + c
    return cast(Array, a / (1.0 + np.exp(np.clip(-inner, -500, 500))) + b)


def densing_loss(x: Pair, a: float, alpha: float, b: float, beta: float) -> Array:
    """Xiao et al. step 1 (no irreducible term): ``a*N^-alpha + b*D^-beta``; ``x`` is (N, D)."""
    n, d = _f(x[0]), _f(x[1])
    return a * n ** (-alpha) + b * d ** (-beta)


# --------------------------------------------------------------------------------------------
# Fitting
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LawFit:
    """Result of fitting one law. ``status`` is ``ok``, ``ill_conditioned`` or ``failed``.

    Only an ``ok`` fit predicts numbers; the others raise via :meth:`require_ok` with ``message``.
    ``n_starts`` counts the local fits that actually ran (the given starts, plus one polish of the
    batched run's best optimum for a Huber loss) and ``n_converged`` those that ended at finite
    parameters with a finite objective, so a report can tell a 128-start fit from one whose loop
    stopped after one.
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
    n_converged: int = 1
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
            "n_converged": self.n_converged,
        }

    def summary(self) -> str:
        lines = [f"{self.law}: {self.status} ({self.n_obs} points, rss {self.rss:.4g})"]
        lines += [f"  {k} = {v:.6g}" for k, v in self.as_dict().items()]
        if self.message:
            lines.append(f"  note: {self.message}")
        return "\n".join(lines)


#: The objective's value where the law cannot be scored (not finite, or not positive in log loss).
_UNUSABLE = 1e300


def _residual_fn(
    func: LawFunc, x: Any, y: Array, loss: str, sw: Array | None
) -> Callable[[Array], float]:
    if loss == "l2":

        def obj(p: Array) -> float:
            r = func(x, *p) - y
            if sw is not None:
                r = r * sw
            v = float(np.dot(r, r))
            return v if math.isfinite(v) else _UNUSABLE

        return obj
    delta = float(loss.split(":")[1]) if ":" in loss else 1e-3
    logy = np.log(y)

    def huber(p: Array) -> float:
        pred = func(x, *p)
        if np.any(pred <= 0) or not np.all(np.isfinite(pred)):
            return _UNUSABLE
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


def fit_one_start(
    func: LawFunc,
    x: Any,
    y: Array,
    *,
    p0: ArrayLike,
    bounds: tuple[Array, Array] | None = None,
    loss: str = "l2",
    sigma_weights: Array | None = None,
    maxfev: int = 10000,
) -> Array | None:
    """One local fit of ``y ≈ func(x, *p)`` from ``p0``; None if it fails or leaves the reals.

    A law that is not finite at the optimum found is a failure too: an optimiser that meets NaN
    everywhere hands back its start unchanged, which must not pass for a fit.

    The per-start building block of :func:`fit_law` (it polishes the best batched optima, and
    runs every start of a small least-squares fit). ``sigma_weights`` are the square roots of
    the residual weights.

    >>> x = np.array([1.0, 2.0, 4.0, 8.0])
    >>> p = fit_one_start(compute_loss, x, compute_loss(x, 0.5, 0.7, 1.2), p0=[1.0, 1.0, 1.0])
    >>> [round(float(v), 6) for v in p]
    [0.5, 0.7, 1.2]
    """
    start = np.asarray(p0, dtype=float)
    sw = sigma_weights
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
                    p0=start,
                    sigma=sigma,
                    bounds=bounds if bounds is not None else (-np.inf, np.inf),
                    **kw,
                )
            else:
                objective = _residual_fn(func, x, y, loss, sw)
                res = minimize(
                    objective,
                    start,
                    method="L-BFGS-B",
                    bounds=None if bounds is None else list(zip(*bounds, strict=True)),
                    options={"maxiter": maxfev, "ftol": 1e-13, "gtol": 1e-10},
                )
                p = res.x
                if objective(p) >= _UNUSABLE:  # the law is unusable at every point it tried
                    return None
        except (RuntimeError, ValueError, FloatingPointError):
            return None
        out = np.asarray(p, dtype=float)
        if not np.all(np.isfinite(out)):
            return None
        fitted = np.asarray(func(x, *out), dtype=float)
    return out if np.all(np.isfinite(fitted)) else None


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
    A Huber loss, or at least :data:`MIN_BATCHED_STARTS` unweighted starts, runs every start at
    once and polishes the best :data:`N_POLISH` with those solvers (:func:`_multi_start`).
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
    candidates = [np.asarray(p0, dtype=float) for p0 in starts]
    if b is not None:
        candidates = [np.clip(p0, b[0], b[1]) for p0 in candidates]
    if sw is None and (loss != "l2" or len(candidates) >= MIN_BATCHED_STARTS):
        best, best_val, n_run, n_converged = _multi_start(func, x, y, candidates, b, loss, maxfev)
    else:
        best, best_val, n_run, n_converged = None, math.inf, 0, 0
        for p0a in candidates:
            n_run += 1
            p = fit_one_start(
                func, x, y, p0=p0a, bounds=b, loss=loss, sigma_weights=sw, maxfev=maxfev
            )
            v = obj(p) if p is not None else math.inf
            if not v < _UNUSABLE:  # the law is not finite (or not positive) at p
                continue
            n_converged += 1
            if v < best_val:
                best, best_val = p, v
    if best is None or not math.isfinite(best_val) or best_val >= _UNUSABLE:
        return _replace(
            empty,
            message=f"no start of {n_run} converged",
            n_starts=n_run,
            n_converged=n_converged,
        )
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
        n_run,
        n_converged,
    )


#: Multi-start optima (best first) that the per-start scipy solver polishes after the batched run.
N_POLISH = 3
#: Least-squares fits with fewer starts run scipy from each: the batched solver's plain damped
#: Gauss-Newton can stall on a saturated plateau that trust-region reflective escapes (SingleStep's
#: 16 starts on 12 points), and a few scipy calls cost little. Gadre's 128-start grid is batched.
MIN_BATCHED_STARTS = 64


def _multi_start(
    func: LawFunc,
    x: Any,
    y: Array,
    candidates: list[Array],
    b: tuple[Array, Array] | None,
    loss: str,
    maxfev: int,
) -> tuple[Array | None, float, int, int]:
    """Every start at once (:func:`predictors.batch_fit.batch_refit`), then the best few
    polished by :func:`fit_one_start`; returns (best, objective, starts run, starts converged).

    The batched run replaces one scipy call per start (Gadre's 128-start grid took seconds on
    Pythia's checkpoints); the polish makes the answer the scipy optimum of the best basin, as
    before. A Huber fit counts its polish as one more start, as when a fast per-start solver
    screened its starts.
    """
    obj = _residual_fn(func, x, y, loss, None)
    shared = tuple(x) if isinstance(x, np.ndarray) and x.ndim == 2 else x  # a 2 x n pair
    P, ok = batch_refit(
        func,
        shared,
        np.broadcast_to(y, (len(candidates), len(y))),
        np.array(candidates),
        bounds=b,
        loss=loss,
        max_iter=100,  # a screening run: the polish below converges the best few fully
        ftol=1e-9,
        require_converged=False,
    )
    vals = np.array([obj(p) if good else math.inf for p, good in zip(P, ok, strict=True)])
    converged = vals < _UNUSABLE
    n_run, n_converged = len(candidates), int(converged.sum())
    best, best_val = None, math.inf
    polished_ok = False
    for i in np.argsort(vals)[: min(N_POLISH, n_converged)]:
        p = fit_one_start(func, x, y, p0=P[i], bounds=b, loss=loss, maxfev=maxfev)
        v = obj(p) if p is not None else math.inf
        polished_ok |= v < _UNUSABLE
        for q, qv in ((p, v), (P[i], float(vals[i]))):
            if q is not None and qv < best_val:
                best, best_val = q, qv
    if loss != "l2" and n_run:
        n_run += 1
        n_converged += int(polished_ok)
    return best, best_val, n_run, n_converged


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
    max_iter: int = 1000,
) -> BootstrapLaw:
    """Refit on ``n_boot`` resamples of the fit points, warm-started from ``fit``'s optimum.

    All refits run together (:func:`predictors.batch_fit.batch_refit`). A resample with fewer
    distinct points than parameters cannot identify them and counts as failed, like one whose
    refit leaves the reals.
    """
    y = np.asarray(y, dtype=float)
    n = len(y)
    p0 = np.asarray(fit.params)
    idx = np.array([rng.integers(0, n, n) for _ in range(n_boot)], dtype=int).reshape(n_boot, n)
    usable = np.array([len(np.unique(i)) >= len(p0) for i in idx], dtype=bool)
    params, ok = batch_refit(
        func,
        batch_rows(x, idx[usable]),
        y[idx[usable]],
        p0,
        bounds=bounds,
        loss=loss,
        max_iter=max_iter,
    )
    return BootstrapLaw(params[ok].reshape(-1, len(p0)), n_boot - int(ok.sum()))


def percentile_interval(samples: Array, alpha: float) -> tuple[float, float]:
    """Equal-tailed ``1 - alpha`` interval of finite samples (NaN, NaN if none)."""
    s = np.asarray(samples, dtype=float)
    s = s[np.isfinite(s)]
    if s.size == 0:
        return math.nan, math.nan
    lo, hi = np.quantile(s, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)
