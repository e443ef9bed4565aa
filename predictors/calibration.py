"""Interval widths measured, not assumed: split-conformal calibration over leave-largest-out folds.

A method's own interval (bootstrap over fit points, plus residual noise) describes how well the
law is pinned down by the points it saw; it says nothing about whether the law is the right one
beyond them, which is the error that dominates an extrapolation. So widths are learned from the
method's record on the fit data itself: nested folds hold out the k-th largest compute model(s)
(final checkpoint) and fit on the strictly smaller ones, exactly as the real forecast extrapolates
from everything to something larger.

The rule (documented here because the numbers depend on it)
-----------------------------------------------------------
* Extrapolation distance ``d = log10(C_target) - log10(C_max_fit)``: how far beyond the largest
  fitted compute a target lies. Extrapolation error grows with it, so residuals are compared per
  unit distance, ``r_i = |y_i - yhat_i| / max(d_i, d0)``. The floor ``d0`` (:data:`D0` = 0.1,
  i.e. x1.26 compute) keeps near-interpolation folds, whose error is measurement noise rather
  than extrapolation, from producing huge ratios.
* Half width at a target at distance ``d``: ``q * max(d, d0)`` where ``q`` is the finite-sample
  conformal quantile of the ``r_i``: the ``ceil((n + 1)(1 - alpha))``-th smallest of ``n``. Under
  exchangeability of the scaled residuals this covers with probability at least ``1 - alpha``.
* When ``ceil((n + 1)(1 - alpha)) > n`` (a 90% interval needs n >= 9 fold residuals) no finite
  quantile exists; the caller falls back to the method's own interval and says so, or (``auto``)
  to a Student-t bound on the same scaled residuals (:func:`t_quantile`).
* Families with checkpoints add :func:`checkpoint_folds` (each model's final checkpoint from
  the first 60% of its training), so a 5-8 model family yields 9+ residuals.

Folds are built from the rows given to ``fit`` only, never from a target.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from predictors.backtest import TARGET_COLUMNS  # what a fold target carries into predict
from predictors.base import FitError, Forecast, Forecaster, clone
from predictors.selection import compute_of, final_checkpoint, select

#: Floor of the extrapolation distance, in log10 compute (x1.26): see the module docstring.
D0 = 0.1
#: Folds whose fit set would hold fewer distinct models than this are not built: no law with
#: two or three parameters is identified by fewer points.
MIN_FIT_MODELS = 3
#: Errors a fold fit may raise because the data cannot support the method (information, not bugs).
FOLD_ERRORS: tuple[type[Exception], ...] = (FitError, ValueError, ArithmeticError)


@dataclass(frozen=True)
class FoldSplit:
    """Fold ``k``: the k-th largest compute model(s) as targets, strictly smaller ones to fit."""

    k: int
    fit: pd.DataFrame
    targets: pd.DataFrame
    actual: tuple[float, ...]
    distance: tuple[float, ...]


@dataclass(frozen=True)
class FoldForecast:
    """One held-out target of one fold: what was forecast there and what was measured."""

    fold: int
    target: str
    distance: float
    actual: float
    point: float
    lower: float = math.nan
    upper: float = math.nan

    @property
    def error(self) -> float:
        """Signed error ``actual - point``."""
        return self.actual - self.point

    @property
    def covered(self) -> bool | None:
        """Whether the fold's own interval held the actual value (None: no interval)."""
        if not (math.isfinite(self.lower) and math.isfinite(self.upper)):
            return None
        return self.lower <= self.actual <= self.upper


def model_compute(obs: pd.DataFrame, benchmark: str, metric: str) -> pd.DataFrame:
    """Each model's final-checkpoint row of ``benchmark/metric`` with its training compute."""
    rows = final_checkpoint(select(obs, benchmark, metric, "calibration"))
    return rows.assign(_compute=compute_of(rows)).reset_index(drop=True)


def distance(target_compute: float, fit_compute_max: float) -> float:
    """``log10(C_target) - log10(C_max_fit)``; NaN when either is unknown or not positive."""
    if not (target_compute > 0 and fit_compute_max > 0):
        return math.nan
    return math.log10(target_compute) - math.log10(fit_compute_max)


def nested_folds(
    obs: pd.DataFrame,
    benchmark: str,
    metric: str,
    n_folds: int,
    *,
    min_fit_models: int = MIN_FIT_MODELS,
) -> list[FoldSplit]:
    """Folds k = 1..n_folds: hold out the k-th largest distinct compute, fit on smaller models.

    Models tied at one compute (e.g. a standard and a deduplicated run) are held out together, so
    that no fold fits on a twin of its target. Models of unknown compute are never targets and
    stay in every fit set (they cannot be ranked). Every row of a held-out or larger model, of any
    benchmark or metric (loss rows, per-item rows), leaves the fit set with it.
    """
    models = model_compute(obs, benchmark, metric)
    known = models[np.isfinite(models["_compute"]) & (models["_compute"] > 0)]
    levels = np.unique(np.round(np.log10(known["_compute"].to_numpy(float)), 6))[::-1]
    log_c = np.round(np.log10(known["_compute"].to_numpy(float)), 6)
    folds: list[FoldSplit] = []
    for k, level in enumerate(levels[:n_folds], start=1):
        held = known[log_c == level]
        dropped = set(known.loc[log_c >= level, "model"])
        fit = obs[~obs["model"].isin(dropped)]
        fit_known = known[log_c < level]
        if fit["model"].nunique() < min_fit_models or fit_known.empty:
            break
        c_max = float(fit_known["_compute"].max())
        cols = [c for c in TARGET_COLUMNS if c in held.columns]
        folds.append(
            FoldSplit(
                k=k,
                fit=fit,
                targets=held[cols].reset_index(drop=True),
                actual=tuple(float(v) for v in held["value"]),
                distance=tuple(distance(float(c), c_max) for c in held["_compute"]),
            )
        )
    return folds


#: Checkpoint folds: the share of each model's training (by tokens, else step) they fit on, and
#: their fold numbers start here (after any leave-largest-out fold).
CHECKPOINT_FOLD_FRACTIONS: tuple[float, ...] = (0.6,)
CHECKPOINT_FOLD_BASE = 100


def _progress(rows: pd.DataFrame) -> pd.Series | None:
    """Training progress per row: ``n_tokens`` where every row has it, else ``checkpoint_step``."""
    for col in ("n_tokens", "checkpoint_step"):
        if col in rows.columns:
            v = pd.to_numeric(rows[col], errors="coerce")
            if v.notna().all():
                return v.astype(float)
    return None


def checkpoint_folds(
    obs: pd.DataFrame,
    benchmark: str,
    metric: str,
    fractions: Sequence[float] = CHECKPOINT_FOLD_FRACTIONS,
    *,
    min_fit_models: int = MIN_FIT_MODELS,
) -> list[FoldSplit]:
    """More evidence where a family has checkpoints: per fraction ``f``, fit on every row in the
    first ``f`` of its model's training and predict each model's final checkpoint.

    Leave-largest-out gives one residual per distinct size, too few to tell laws apart or to
    calibrate a 90% interval on a 5-8 model family; checkpoints are extra held-out targets of the
    same family, cut from the fit rows only (never a forecast's target). A model without a
    checkpoint of the cell in its early part gives no target. Distances are to the largest
    compute of the fold's fit set, as for the real forecast (negative: interpolation, floored).
    """
    progress = _progress(obs)
    if progress is None or "checkpoint_step" not in obs.columns:
        return []
    cell = obs[(obs["benchmark"] == benchmark) & (obs["metric"] == metric)]
    steps = cell.dropna(subset=["checkpoint_step"]).groupby("model")["checkpoint_step"].nunique()
    if steps.empty or steps.max() < 2:
        return []
    end = progress.groupby(obs["model"]).transform("max")
    finals = model_compute(obs, benchmark, metric)
    folds: list[FoldSplit] = []
    for i, frac in enumerate(fractions):
        fit = obs[(progress <= frac * end) & (end > 0)]
        if fit["model"].nunique() < min_fit_models:
            continue
        try:
            fit_models = model_compute(fit, benchmark, metric)
        except ValueError:  # no early row of the cell at all
            continue
        c_fit = fit_models["_compute"].to_numpy(float)
        c_fit = c_fit[np.isfinite(c_fit) & (c_fit > 0)]
        held = finals[finals["model"].isin(fit_models["model"])]
        held = held[np.isfinite(held["_compute"]) & (held["_compute"] > 0)]
        if held.empty or c_fit.size == 0:
            continue
        c_max = float(c_fit.max())
        cols = [c for c in TARGET_COLUMNS if c in held.columns]
        folds.append(
            FoldSplit(
                k=CHECKPOINT_FOLD_BASE + i,
                fit=fit,
                targets=held[cols].reset_index(drop=True),
                actual=tuple(float(v) for v in held["value"]),
                distance=tuple(distance(float(c), c_max) for c in held["_compute"]),
            )
        )
    return folds


def fold_forecasts(
    estimator: Forecaster, folds: Sequence[FoldSplit]
) -> tuple[list[FoldForecast], dict[int, str]]:
    """Fit a clone of ``estimator`` on each fold and forecast its targets.

    Returns the forecasts (NaN points included: the method answered "no forecast") and, per fold
    the method refused, the reason (FitError/ValueError message): a refusal is evidence too.
    """
    out: list[FoldForecast] = []
    refused: dict[int, str] = {}
    for fold in folds:
        try:
            forecasts: list[Forecast] = clone(estimator).fit(fold.fit).predict(fold.targets)
        except FOLD_ERRORS as exc:
            refused[fold.k] = f"{type(exc).__name__}: {exc}"
            continue
        for f, y, d in zip(forecasts, fold.actual, fold.distance, strict=True):
            out.append(FoldForecast(fold.k, f.target, d, y, f.point, f.lower, f.upper))
            if not math.isfinite(f.point) and fold.k not in refused:
                refused[fold.k] = "; ".join(f.notes) or "no finite forecast"
    return out, refused


def conformal_quantile(scores: Sequence[float] | np.ndarray, alpha: float) -> float:
    """The ``ceil((n+1)(1-alpha))``-th smallest score; NaN when that rank exceeds ``n``.

    >>> conformal_quantile([0.1 * i for i in range(1, 10)], 0.1)  # n=9: rank 9, the largest
    0.9
    >>> conformal_quantile([0.1 * i for i in range(1, 9)], 0.1)  # n=8: rank 9 > 8, no quantile
    nan
    """
    s = np.sort(np.asarray(scores, dtype=float)[np.isfinite(np.asarray(scores, dtype=float))])
    rank = math.ceil((s.size + 1) * (1 - alpha) - 1e-9)
    if s.size == 0 or rank > s.size:
        return math.nan
    return float(s[max(rank, 1) - 1])


def min_folds_for(alpha: float) -> int:
    """The fewest residuals for which a ``1 - alpha`` conformal quantile exists (9 for 90%)."""
    n = 1
    while math.ceil((n + 1) * (1 - alpha) - 1e-9) > n:
        n += 1
    return n


@dataclass(frozen=True)
class Calibration:
    """Scaled fold residuals and the conformal quantile they give, with their evidence.

    ``quantile`` is NaN when too few residuals exist for the level (``fallback`` then says why).
    ``own_coverage`` is the share of fold targets inside the method's own interval.
    """

    alpha: float
    d0: float
    scores: tuple[float, ...]
    quantile: float
    folds: tuple[FoldForecast, ...] = field(repr=False)
    fallback: str = ""

    @property
    def ok(self) -> bool:
        return math.isfinite(self.quantile)

    @property
    def own_coverage(self) -> float:
        flags = [f.covered for f in self.folds if f.covered is not None]
        return float(np.mean(flags)) if flags else math.nan

    def half_width(self, d: float) -> float:
        """``q * max(d, d0)``; NaN when there is no quantile or no distance."""
        if not (self.ok and math.isfinite(d)):
            return math.nan
        return self.quantile * max(d, self.d0)

    def to_dict(self) -> dict[str, Any]:
        """The evidence a forecast carries: folds, residuals, own coverage, the quantile."""
        return {
            "rule": "split conformal on |error| / max(d, d0) over leave-largest-out folds",
            "alpha": self.alpha,
            "d0": self.d0,
            "n_residuals": len(self.scores),
            "quantile_per_unit_distance": self.quantile,
            "fallback": self.fallback or None,
            "own_interval_coverage": self.own_coverage,
            "folds": [
                {
                    "fold": f.fold,
                    "target": f.target,
                    "distance": f.distance,
                    "actual": f.actual,
                    "point": f.point,
                    "residual": f.error,
                    "own_covered": f.covered,
                }
                for f in self.folds
            ],
        }


def t_quantile(scores: Sequence[float] | np.ndarray, alpha: float) -> float:
    """``t_(1-alpha/2, n) * sqrt(mean(r^2))`` of ``n`` scaled residuals; NaN when ``n = 0``.

    The small-sample bound: if the residuals and the next one are zero-mean normal with one
    scale, the next divided by the root mean square of the ``n`` seen follows Student's t with
    ``n`` degrees of freedom exactly, so the bound covers ``1 - alpha`` for any ``n >= 1``
    (wide when ``n`` is small: t(0.95, 1) = 6.3).

    >>> round(t_quantile([0.1, -0.1, 0.1, -0.1], 0.1), 4)  # t(0.95, 4) = 2.1318
    0.2132
    """
    from scipy.stats import t as student_t

    r = np.asarray(scores, dtype=float)
    r = r[np.isfinite(r)]
    if r.size == 0:
        return math.nan
    return float(student_t.ppf(1 - alpha / 2, r.size) * math.sqrt(float(np.mean(r**2))))


def calibrate(
    folds: Sequence[FoldForecast], alpha: float, *, d0: float = D0, small_sample: str = "own"
) -> Calibration:
    """Conformal calibration from fold forecasts (those with a finite point and distance).

    With fewer residuals than a conformal quantile needs, ``small_sample="own"`` leaves the
    quantile NaN (the caller keeps the method's own interval); ``"t"`` uses
    :func:`t_quantile` of the same scaled residuals, and says so in ``fallback``.
    """
    usable = tuple(f for f in folds if math.isfinite(f.point) and math.isfinite(f.distance))
    scores = tuple(abs(f.error) / max(f.distance, d0) for f in usable)
    q = conformal_quantile(scores, alpha)
    fallback = ""
    if not math.isfinite(q):
        need = min_folds_for(alpha)
        if small_sample == "t" and scores:
            q = t_quantile(scores, alpha)
            fallback = (
                f"only {len(scores)} fold residual(s), fewer than the {need} a "
                f"{1 - alpha:.0%} conformal quantile needs: Student-t bound "
                f"t({1 - alpha / 2:g}, {len(scores)}) x RMS of the scaled residuals"
            )
        else:
            fallback = (
                f"only {len(scores)} fold residual(s); a {1 - alpha:.0%} conformal interval "
                f"needs at least {need}: the method's own interval is used instead"
            )
    return Calibration(alpha, d0, scores, q, usable, fallback)


def calibrated(forecast: Forecast, calibration: Calibration, d: float) -> Forecast:
    """``forecast`` with the calibrated interval ``point +- q * max(d, d0)`` and its evidence.

    Falls back to the forecast's own interval (with a note saying so) when there is no quantile
    or the target's compute is unknown.
    """
    half = calibration.half_width(d)
    evidence = {**calibration.to_dict(), "extrapolation_distance": d}
    diagnostics = {**forecast.diagnostics, "calibration": evidence}
    if math.isfinite(half) and math.isfinite(forecast.point):
        note = (
            f"calibrated {1 - calibration.alpha:.0%} interval: +-{half:.4g} = "
            f"{calibration.quantile:.4g} per log10 compute x max({d:.3g}, {calibration.d0:g}) "
            f"from {len(calibration.scores)} leave-largest-out fold residuals"
        )
        if calibration.fallback:
            note += f"; {calibration.fallback}"
        if math.isfinite(calibration.own_coverage):
            note += f" (the own interval covered {calibration.own_coverage:.0%} of them)"
        lower, upper = forecast.point - half, forecast.point + half
    else:
        why = calibration.fallback or "the target's compute is unknown (no extrapolation distance)"
        note = f"no calibrated interval: {why}"
        lower, upper = forecast.lower, forecast.upper
    return Forecast(
        target=forecast.target,
        benchmark=forecast.benchmark,
        metric=forecast.metric,
        point=forecast.point,
        lower=lower,
        upper=upper,
        alpha=calibration.alpha,
        method=forecast.method,
        params=forecast.params,
        diagnostics=diagnostics,
        notes=(*forecast.notes, note),
    )
