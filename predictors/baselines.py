"""End-to-end baselines that every smarter predictor must beat in the same backtest.

Each maps a model's size or compute straight to its score on one benchmark, with no
intermediate loss: the exponential in compute ``g + (1-g)·exp(-a·C^-b)``, a sigmoid in
log-compute, and Bhagia et al.'s single-step accuracy(N, D) (METHODS P1b: it fails by up to 41%,
which is why it is kept). Intervals: bootstrap over fit points plus resampled residuals.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd

from predictors.base import MAX_BOOTSTRAP, Forecast, Forecaster, check_is_fitted, validate_params
from predictors.contracts import conform_targets, resolve_inputs, with_notes
from predictors.intervals import BootstrapDraws, ForecastSpec, bootstrap_forecasts
from predictors.laws import (
    LawFit,
    LawFunc,
    bootstrap_law,
    exponential_compute,
    fit_law,
    grid,
    sigmoid_log_compute,
    single_step_accuracy,
)
from predictors.selection import (
    as_score,
    compute_of,
    failed_forecast,
    final_checkpoint,
    select,
    target_rows,
)


class CurveEstimator(Forecaster):
    """One law from model inputs to a benchmark score, fitted per benchmark.

    Subclasses set ``law``, ``method`` and implement ``_inputs``, ``_starts``, ``_bounds``.

    Parameters
    ----------
    benchmark : str
    metric : str, default="acc"
        ``err`` is fitted as ``1 - err``.
    checkpoints : {"final", "all"}, default="final"
        Fit on each model's final checkpoint only, or on every checkpoint.
    alpha : float, default=0.1
    n_bootstrap : int, default=200
    random_state : int, default=0
    """

    law: ClassVar[LawFunc]
    method: ClassVar[str]
    needs: ClassVar[list[str]] = ["n_params", "n_tokens", "flops"]
    _param_ranges: ClassVar[dict[str, Any]] = {
        "alpha": (float, 0.0, 1.0),
        "n_bootstrap": (int, 0, MAX_BOOTSTRAP),
        "checkpoints": ("final", "all"),
    }

    def __init__(
        self,
        *,
        benchmark: str,
        metric: str = "acc",
        checkpoints: str = "final",
        alpha: float = 0.1,
        n_bootstrap: int = 200,
        random_state: int = 0,
    ) -> None:
        self.benchmark, self.metric, self.checkpoints = benchmark, metric, checkpoints
        self.alpha, self.n_bootstrap, self.random_state = alpha, n_bootstrap, random_state

    def _inputs(self, df: pd.DataFrame) -> Any:
        raise NotImplementedError

    def _starts(self, y: np.ndarray) -> list[tuple[float, ...]]:
        raise NotImplementedError

    def _bounds(self, y: np.ndarray) -> tuple[list[float], list[float]]:
        raise NotImplementedError

    def fit(self, observations: pd.DataFrame) -> CurveEstimator:
        validate_params(self)
        observations, self.inputs_ = resolve_inputs(
            observations, self.input_contract(), f"{type(self).__name__}.fit"
        )
        rows = select(observations, self.benchmark, self.metric, f"{type(self).__name__}.fit")
        if self.checkpoints == "final":
            rows = final_checkpoint(rows)
        self._x = self._inputs(rows)
        self._y = as_score(rows["value"].to_numpy(), self.metric)
        self.bounds_ = self._bounds(self._y)
        self.fit_: LawFit = fit_law(
            type(self).law, self._x, self._y, starts=self._starts(self._y), bounds=self.bounds_
        )
        fm = final_checkpoint(rows)
        self.fit_flops_ = float(np.nansum(compute_of(fm)))
        self.boot_ = None
        if self.fit_.ok and self.n_bootstrap:
            self.boot_ = bootstrap_law(
                type(self).law,
                self._x,
                self._y,
                self.fit_,
                n_boot=self.n_bootstrap,
                rng=np.random.default_rng(self.random_state),
                bounds=self.bounds_,
            )
        return self

    def predict(self, targets: pd.DataFrame) -> list[Forecast]:
        check_is_fitted(self)
        where = f"{type(self).__name__}.predict"
        targets = conform_targets(targets, self.inputs_, self.needs_columns, where)
        t = target_rows(targets, self.needs, where)
        diag = {"fit": self.fit_.to_dict(), "fit_flops": self.fit_flops_}
        if not self.fit_.ok:
            why = f"{self.fit_.law} {self.fit_.status}: {self.fit_.message}"
            failed = [
                failed_forecast(
                    target=str(m),
                    benchmark=self.benchmark,
                    metric=self.metric,
                    alpha=self.alpha,
                    method=self.method,
                    why=why,
                    diag=diag,
                )
                for m in t["model"]
            ]
            return with_notes(failed, self.inputs_.notes)
        x = self._inputs(t)
        boot = (
            self.boot_.predict(type(self).law, x)
            if self.boot_ is not None and len(self.boot_.params)
            else np.empty((0, len(t)))
        )
        draws = BootstrapDraws(
            points=np.atleast_1d(type(self).law(x, *self.fit_.params)),
            boot=boot,
            residuals=self.fit_.residuals,
            n_params=len(self.fit_.params),
            n_resamples=self.n_bootstrap if self.boot_ is not None else None,
        )
        notes = [*self.inputs_.notes, f"{self.fit_.n_obs} fit points"] + (
            [self.fit_.message] if self.fit_.message else []
        )
        if self.boot_ is not None and self.boot_.n_failed:
            notes.append(f"{self.boot_.n_failed} of {self.n_bootstrap} resamples failed to fit")
        compute = compute_of(t)
        spec = ForecastSpec(
            self.benchmark, self.metric, self.alpha, self.method, self.fit_.as_dict()
        )
        return bootstrap_forecasts(
            spec,
            [str(m) for m in t["model"]],
            draws,
            np.random.default_rng(self.random_state + 1),
            diagnostics=[
                {**diag, "fit_flops_fraction": self.fit_flops_ / c if c else None} for c in compute
            ],
            notes=notes,
        )


class ExponentialCompute(CurveEstimator):
    """``g + (1-g)·exp(-a·C^-b)`` per benchmark (C in 1e18 FLOPs): chance g, ceiling 1.

    Examples
    --------
    Six noiseless models on the law g=0.25, a=2, b=0.3; at C = 1e21 FLOPs (1000 units) the law
    gives 0.25 + 0.75 * exp(-2 * 1000^-0.3) = 0.25 + 0.75 * exp(-0.25179) = 0.8331:

    >>> import numpy as np, pandas as pd
    >>> c = np.array([1e18, 3e18, 1e19, 3e19, 1e20, 3e20])
    >>> obs = pd.DataFrame({"model": [f"m{i}" for i in range(6)], "flops": c, "n_params": np.nan,
    ...     "n_tokens": np.nan, "benchmark": "b", "metric": "acc",
    ...     "value": 0.25 + 0.75 * np.exp(-2.0 * (c / 1e18) ** -0.3)})
    >>> est = ExponentialCompute(benchmark="b", n_bootstrap=20).fit(obs)
    >>> {k: round(v, 4) for k, v in est.fit_.as_dict().items()}
    {'g': 0.25, 'a': 2.0, 'b': 0.3}
    >>> big = pd.DataFrame({"model": ["big"], "flops": [1e21], "n_params": [np.nan], "n_tokens": [np.nan]})
    >>> round(est.predict(big)[0].point, 4)
    0.8331
    """

    law = staticmethod(exponential_compute)
    method = "exponential"

    def _inputs(self, df: pd.DataFrame) -> np.ndarray:
        return compute_of(df)

    def _starts(self, y: np.ndarray) -> list[tuple[float, ...]]:
        return grid([float(np.clip(y.min(), 0, 0.99)), 0.25], [0.3, 3.0, 30.0], [0.05, 0.2, 0.5])

    def _bounds(self, y: np.ndarray) -> tuple[list[float], list[float]]:
        return [0.0, 0.0, 0.0], [1.0, 1e6, 5.0]


class SigmoidLogCompute(CurveEstimator):
    """A logistic curve in log10 compute, from a floor ``lo`` to a ceiling ``hi`` (both in [0, 1]).

    Examples
    --------
    Noiseless models on lo=0.25, hi=0.9, k=1.5, x0=19.5; at C = 1e21 the curve gives
    0.25 + 0.65 / (1 + exp(-1.5 * (21 - 19.5))) = 0.25 + 0.65 / 1.10540 = 0.8380:

    >>> import numpy as np, pandas as pd
    >>> c = np.array([1e18, 3e18, 1e19, 3e19, 1e20, 3e20])
    >>> obs = pd.DataFrame({"model": [f"m{i}" for i in range(6)], "flops": c, "n_params": np.nan,
    ...     "n_tokens": np.nan, "benchmark": "b", "metric": "acc",
    ...     "value": 0.25 + 0.65 / (1 + np.exp(-1.5 * (np.log10(c) - 19.5)))})
    >>> est = SigmoidLogCompute(benchmark="b", n_bootstrap=20).fit(obs)
    >>> big = pd.DataFrame({"model": ["big"], "flops": [1e21], "n_params": [np.nan], "n_tokens": [np.nan]})
    >>> round(est.predict(big)[0].point, 4)
    0.838
    """

    law = staticmethod(sigmoid_log_compute)
    method = "sigmoid"

    def _inputs(self, df: pd.DataFrame) -> np.ndarray:
        return compute_of(df)

    def _starts(self, y: np.ndarray) -> list[tuple[float, ...]]:
        lo = float(np.clip(y.min(), 0, 0.99))
        return grid([lo], [min(1.0, y.max() + 0.1), 1.0], [0.5, 1.5], [20.0, 22.0, 24.0])

    def _bounds(self, y: np.ndarray) -> tuple[list[float], list[float]]:
        return [0.0, 0.0, 0.0, 5.0], [1.0, 1.0, 20.0, 40.0]


class SingleStep(CurveEstimator):
    """Bhagia et al.'s single-step accuracy(N, D) (:func:`predictors.laws.single_step_accuracy`).

    Examples
    --------
    Twelve noiseless (N, D) models on known parameters: the fit returns them, and the forecast
    at (1e10, 2e11) is the law's own value there (computed independently below):

    >>> import numpy as np, pandas as pd
    >>> N, D = (g.ravel() for g in np.meshgrid([1e8, 3e8, 1e9, 3e9], [2e9, 2e10, 2e11]))
    >>> def acc(n, d):  # a=-0.7, b=0.95, A=5, alpha=0.3, B=6, beta=0.3, c=-2
    ...     inner = np.exp(5.0) / n**0.3 + np.exp(6.0) / d**0.3 - 2.0
    ...     return -0.7 / (1 + np.exp(-inner)) + 0.95
    >>> obs = pd.DataFrame({"model": [f"m{i}" for i in range(12)], "n_params": N,
    ...     "n_tokens": D, "benchmark": "b", "metric": "acc", "value": acc(N, D)})
    >>> est = SingleStep(benchmark="b", n_bootstrap=10).fit(obs)
    >>> [round(v, 3) for v in est.fit_.params]
    [-0.7, 0.95, 5.0, 0.3, 6.0, 0.3, -2.0]
    >>> f = est.predict(pd.DataFrame({"model": ["big"], "n_params": [1e10], "n_tokens": [2e11]}))[0]
    >>> round(f.point, 4), round(float(acc(1e10, 2e11)), 4)
    (0.8407, 0.8407)
    """

    law = staticmethod(single_step_accuracy)
    method = "single_step"
    needs: ClassVar[list[str]] = ["n_params", "n_tokens"]
    size_measures: ClassVar[tuple[str, ...]] = ("n_params", "n_params_nonembed")
    needs_columns: ClassVar[tuple[str, ...]] = ("n_tokens",)

    def _inputs(self, df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        return df["n_params"].to_numpy(float), df["n_tokens"].to_numpy(float)

    def _starts(self, y: np.ndarray) -> list[tuple[float, ...]]:
        chance = float(np.clip(y.min(), 0.0, 1.0))
        return grid([chance - 1.0], [1.0], [3.0, 6.0], [0.2, 0.5], [3.0, 6.0], [0.2], [-3.0, 0.0])

    def _bounds(self, y: np.ndarray) -> tuple[list[float], list[float]]:
        lo = [-1.0, 0.0, -20.0, 0.0, -20.0, 0.0, -50.0]
        return lo, [0.0, 1.0, 40.0, 3.0, 40.0, 3.0, 50.0]
