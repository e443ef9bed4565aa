"""Many small least-squares fits at once: the bootstrap's refits as one vectorised solve.

A bootstrap refits the same law on hundreds of resamples of a few dozen points. One
``scipy.optimize`` call per resample spends almost all its time in Python overhead, so
:func:`batch_refit` runs a damped Gauss-Newton (Levenberg-Marquardt) iteration on every resample
together: each iteration evaluates the law once per parameter on a (resamples x points) array
and solves all the small normal equations with one batched ``np.linalg.solve``. Bounds are kept
by projection with an active set (a parameter at a bound whose gradient pushes outwards is held
there); a Huber loss on log residuals (the ladder's step 1) is minimised by iteratively
reweighted least squares. Warm-started from the full-data optimum, it lands on the same local
optima as the per-resample solvers it replaces (checked in tests/unit/test_laws.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

Array = np.ndarray
LawFunc = Callable[..., Array]
#: Forward-difference step relative to max(1, |p|) (scipy's ``2-point`` default).
_FD_STEP = float(np.sqrt(np.finfo(float).eps))


def batch_rows(x: Any, idx: Array) -> Any:
    """``x`` resampled per row: ``x[idx]`` (shape (B, n)) for an array or each array of a tuple."""
    if isinstance(x, tuple):
        return tuple(np.asarray(v, dtype=float)[idx] for v in x)
    return np.asarray(x, dtype=float)[idx]


def _select(x: Any, rows: Array) -> Any:
    """Rows ``rows`` of a batched input; a shared (1-D) input is left to broadcast."""
    if isinstance(x, tuple):
        return tuple(_select(v, rows) for v in x)
    a = np.asarray(x)
    return a[rows] if a.ndim == 2 else a


def batch_refit(
    func: LawFunc,
    x: Any,
    y: Array,
    p0: Sequence[float] | Array,
    *,
    bounds: tuple[Sequence[float] | Array, Sequence[float] | Array] | None = None,
    loss: str = "l2",
    max_iter: int = 200,
    ftol: float = 1.49e-8,
    require_converged: bool = True,
) -> tuple[Array, Array]:
    """Fit ``y[b] ≈ func(x[b], *p[b])`` for every row ``b``; return (params (B, k), ok (B,)).

    ``x`` is a (B, n) array, a tuple of them, or 1-D arrays shared by every row; ``y`` is (B, n).
    ``p0`` is one start (k,) for all rows or one per row (B, k). ``loss`` is ``"l2"`` or
    ``"huber_log[:delta]"`` (Huber on log residuals, as in :func:`predictors.laws.fit_law`).
    A row whose objective is not finite at its start or end is not ``ok``, nor (with
    ``require_converged``) one still improving after ``max_iter`` iterations. ``ftol`` is the
    relative decrease of the objective below which a row stops (scipy's curve_fit default).

    >>> from predictors.laws import compute_loss
    >>> x = np.array([1.0, 2.0, 4.0, 8.0])
    >>> y = np.vstack([compute_loss(x, 0.5, 0.7, 1.2), compute_loss(x, 0.4, 0.6, 1.0)])
    >>> p, ok = batch_refit(compute_loss, x, y, [1.0, 1.0, 1.0])
    >>> np.round(p, 6).tolist(), ok.tolist()
    ([[0.5, 0.7, 1.2], [0.4, 0.6, 1.0]], [True, True])
    """
    y = np.atleast_2d(np.asarray(y, dtype=float))
    n_rows = y.shape[0]
    P = np.array(np.broadcast_to(np.asarray(p0, dtype=float), (n_rows, np.shape(p0)[-1])))
    k = P.shape[1]
    lo = np.full(k, -np.inf) if bounds is None else np.asarray(bounds[0], dtype=float)
    hi = np.full(k, np.inf) if bounds is None else np.asarray(bounds[1], dtype=float)
    P = np.clip(P, lo, hi)
    huber = loss != "l2"
    delta = float(loss.split(":")[1]) if ":" in loss else 1e-3
    logy = np.log(y) if huber else y

    def resid(p: Array, rows: Array) -> Array:
        with np.errstate(all="ignore"):
            pred = np.broadcast_to(
                func(_select(x, rows), *(p[:, [j]] for j in range(k))), (len(rows), y.shape[1])
            )
            out = np.log(np.where(pred > 0, pred, np.nan)) - logy[rows] if huber else pred - y[rows]
        return np.asarray(out, dtype=float)

    def cost(r: Array) -> Array:
        with np.errstate(all="ignore"):
            return _cost(r)

    def _cost(r: Array) -> Array:
        if huber:
            a = np.abs(r)
            h = np.where(a <= delta, 0.5 * r * r, delta * (a - 0.5 * delta))
        else:
            h = r * r
        c = h.sum(axis=1)
        return np.where(np.isfinite(c), c, np.inf)

    every = np.arange(n_rows)
    r = resid(P, every)
    c = cost(r)
    active = np.isfinite(c)
    lam = np.full(n_rows, 1e-3)
    for _ in range(max_iter):
        rows = np.flatnonzero(active)
        if not rows.size:
            break
        Pa, ra = P[rows], r[rows]
        J = np.empty((rows.size, y.shape[1], k))
        for j in range(k):
            h = _FD_STEP * np.maximum(1.0, np.abs(Pa[:, j]))
            h = np.where(Pa[:, j] + h > hi[j], -h, h)
            Pj = Pa.copy()
            Pj[:, j] += h
            J[:, :, j] = (resid(Pj, rows) - ra) / h[:, None]
        w = np.minimum(1.0, delta / np.maximum(np.abs(ra), 1e-300)) if huber else np.ones_like(ra)
        JW = J * w[:, :, None]
        JWt = JW.transpose(0, 2, 1)
        A = JWt @ J
        g = (JWt @ ra[:, :, None])[:, :, 0]
        bad = ~(np.isfinite(A).all(axis=(1, 2)) & np.isfinite(g).all(axis=1))
        A[bad], g[bad] = np.eye(k), 0.0
        held = ((Pa <= lo) & (g > 0)) | ((Pa >= hi) & (g < 0))
        A = np.where(held[:, :, None] | held[:, None, :], 0.0, A)
        g = np.where(held, 0.0, g)
        d = np.einsum("bkk->bk", A)
        d = np.maximum(d, 1e-12 * np.maximum(d.max(axis=1, keepdims=True), 1e-300))
        eye = np.eye(k)[None]
        M = A + eye * (lam[rows, None] * d)[:, :, None] + eye * held[:, :, None]
        step = -np.linalg.solve(M, g[:, :, None])[:, :, 0]
        Pn = np.clip(Pa + step, lo, hi)
        rn = resid(Pn, rows)
        cn = cost(rn)
        better = cn < c[rows]
        gain = c[rows] - cn
        small = np.abs(Pn - Pa).max(axis=1) <= 1e-12 * (1e-12 + np.abs(Pa).max(axis=1))
        upd = rows[better]
        P[upd], r[upd], c[upd] = Pn[better], rn[better], cn[better]
        lam[upd] = np.maximum(lam[upd] / 3.0, 1e-12)
        lam[rows[~better]] *= 4.0
        done = (better & (gain <= ftol * (c[rows] + gain))) | small | (lam[rows] > 1e12) | bad
        active[rows[done]] = False
    ok = np.isfinite(c) & np.isfinite(P).all(axis=1)
    if require_converged:  # like scipy's maxfev: a refit still moving is no draw
        ok &= ~active
    return P, ok
