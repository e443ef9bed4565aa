"""The one way a bootstrap estimator turns its draws into interval forecasts.

Every curve estimator (baselines, ladder, Gadre chain) ends the same way: the point law at each
target, the bootstrap refits' predictions there, plus resampled fit residuals so that the interval
is a *prediction* interval (a new model scatters around the law like the fit points did), then a
percentile interval mapped back to the metric's sense. Doing it here once keeps the random stream,
the failed-refit rule and the notes identical across methods.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from predictors.base import Forecast
from predictors.selection import interval_forecast, residual_noise


@dataclass(frozen=True)
class ForecastSpec:
    """What every forecast of one fitted estimator shares (labels, level, fitted parameters)."""

    benchmark: str
    metric: str
    alpha: float
    method: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BootstrapDraws:
    """Point forecasts and bootstrap predictions at each target, all in the fitted score's sense.

    ``boot`` has one row per successful refit and one column per target. ``residuals`` are the
    fit residuals (prediction minus data, score sense) resampled into each draw, inflated for the
    ``n_params`` fitted parameters. ``n_resamples`` is how many refits were asked for (None: no
    failed-refit check, e.g. when no bootstrap ran).
    """

    points: np.ndarray
    boot: np.ndarray
    residuals: tuple[float, ...]
    n_params: int
    n_resamples: int | None = None

    @property
    def n_ok(self) -> int:
        return int(self.boot.shape[0])


def bootstrap_forecasts(
    spec: ForecastSpec,
    targets: Sequence[str],
    draws: BootstrapDraws,
    rng: np.random.Generator,
    *,
    diagnostics: Sequence[dict[str, Any]],
    notes: Sequence[str],
) -> list[Forecast]:
    """One :class:`Forecast` per target: percentile interval of refit draws plus residual noise.

    The residual noise is drawn target by target in order from ``rng`` (one ``n_ok``-sized draw
    each), so a given ``random_state`` gives the same intervals whichever estimator calls this.

    >>> spec = ForecastSpec("b", "acc", 0.5, "demo")
    >>> d = BootstrapDraws(np.array([0.5]), np.array([[0.4], [0.5], [0.6], [0.7]]), (), 1)
    >>> f = bootstrap_forecasts(spec, ["t"], d, np.random.default_rng(0), diagnostics=[{}], notes=[])
    >>> f[0].point, f[0].lower, f[0].upper  # no residual information: the refits' quartiles
    (0.5, 0.475, 0.625)
    """
    if len(targets) != len(diagnostics) or draws.boot.shape[1:] != (len(targets),):
        raise ValueError(
            f"bootstrap_forecasts: {len(targets)} targets, {len(diagnostics)} diagnostics, "
            f"draws of shape {draws.boot.shape}"
        )
    out = []
    for i, target in enumerate(targets):
        # a new model's score is the refit's prediction plus a deviation drawn like the data's
        # from the fit: data minus prediction, minus the residual (a skewed residual spread
        # would otherwise put the interval on the wrong side)
        d = draws.boot[:, i] - residual_noise(draws.residuals, draws.n_params, draws.n_ok, rng)
        out.append(
            interval_forecast(
                target=str(target),
                benchmark=spec.benchmark,
                metric=spec.metric,
                point=float(draws.points[i]),
                draws=d,
                alpha=spec.alpha,
                method=spec.method,
                params=dict(spec.params),
                diagnostics=diagnostics[i],
                notes=list(notes),
                n_resamples=draws.n_resamples,
            )
        )
    return out
