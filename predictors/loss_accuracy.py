"""Gadre et al. 2024 chain (METHODS P1a): loss from (N, M), then task-average error from loss.

Two laws fitted separately and chained: ``L(N, M)`` (:func:`predictors.laws.gadre_loss`, the
128-start grid, plain least squares) and ``Err(L)`` (:func:`predictors.laws.gadre_error`). Any
loss column (``loss_benchmark``/``loss_metric``; perplexities are fitted as log-perplexity) and
any task average or single task (``benchmark``/``metric``; ``acc`` is fitted as ``1 - acc``) work.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from predictors.base import MAX_BOOTSTRAP, Forecast, Forecaster, check_is_fitted, validate_params
from predictors.batch_fit import batch_refit, batch_rows
from predictors.contracts import InputContract, conform_targets, resolve_inputs, with_notes
from predictors.filters import Filter, FilterError
from predictors.intervals import BootstrapDraws, ForecastSpec, bootstrap_forecasts
from predictors.laws import (
    GADRE_LOSS_STARTS,
    LawFit,
    LawFunc,
    fit_law,
    gadre_error,
    gadre_loss,
)
from predictors.selection import (
    as_score,
    compute_of,
    failed_forecast,
    final_checkpoint,
    select,
    target_rows,
)


class GadreChain(Forecaster):
    """Loss law in (N, M) chained with an exponential error law.

    Parameters
    ----------
    benchmark : str, default="avg17"
        The predicted task or task average.
    metric : str, default="err"
        ``err`` (fitted directly) or ``acc``/``acc_norm`` (fitted as 1 - acc).
    loss_benchmark, loss_metric : str, default="c4_val", "loss"
        The intermediate loss column (``ppl`` is fitted as log-perplexity).
    loss_fit, error_fit : Filter or None
        Row filters (:func:`predictors.filters.parse_filter`) choosing each law's fit points among
        the rows given to ``fit`` (None: all of them). The paper's recipe uses different sets for
        the two laws.
    error_on_predicted_loss : bool, default=False
        Fit ``Err`` against the loss law's *predicted* losses at the fit points instead of the
        measured ones, so that the chain's two errors are fitted consistently.
    checkpoints : {"final", "all"}, default="final"
        Use only each model's final checkpoint, or every checkpoint as a point.
    alpha : float, default=0.1
        Interval miss rate (0.1: a 90% interval).
    n_bootstrap : int, default=200
        Resamples of both laws' fit points; intervals add resampled error-law residuals.
    bootstrap : {"pairs", "residuals"}, default="pairs"
        Resample fit points (pairs), or keep the inputs and resample the fit's residuals
        (steadier when a law has few more points than parameters).
    random_state : int, default=0

    Attributes
    ----------
    loss_fit_, error_fit_ : LawFit
    fit_flops_ : float
        Total training compute of the distinct models used by either law (each at its most
        trained checkpoint among the rows used).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> n = np.repeat([1e7, 3e7, 1e8, 3e8], 2); m = np.tile([20.0, 80.0], 4)
    >>> loss = gadre_loss((n, m), 50.0, 80.0, -0.2, 1.8); err = gadre_error(loss, 1.5, 0.5, 0.9)
    >>> rows = [dict(model=f"m{i}", n_params=n[i], n_tokens=n[i] * m[i], benchmark=b, metric=k,
    ...              value=v) for i in range(8) for b, k, v in
    ...         (("c4_val", "loss", loss[i]), ("avg17", "err", err[i]))]
    >>> est = GadreChain(n_bootstrap=20).fit(pd.DataFrame(rows))
    >>> f = est.predict(pd.DataFrame([dict(model="big", n_params=1e9, n_tokens=2e10)]))[0]
    >>> truth = gadre_error(gadre_loss((1e9, 20.0), 50.0, 80.0, -0.2, 1.8), 1.5, 0.5, 0.9)
    >>> round(float(truth), 4), bool(abs(f.point - truth) < 1e-3)  # noiseless: the chain recovers it
    (0.5933, True)
    """

    _filter_params: ClassVar[tuple[str, ...]] = ("loss_fit", "error_fit")
    _param_ranges: ClassVar[dict[str, Any]] = {
        "alpha": (float, 0.0, 1.0),
        "n_bootstrap": (int, 0, MAX_BOOTSTRAP),
        "bootstrap": ("pairs", "residuals"),
        "checkpoints": ("final", "all"),
    }

    def __init__(
        self,
        *,
        benchmark: str = "avg17",
        metric: str = "err",
        loss_benchmark: str = "c4_val",
        loss_metric: str = "loss",
        loss_fit: Filter | None = None,
        error_fit: Filter | None = None,
        error_on_predicted_loss: bool = False,
        checkpoints: str = "final",
        alpha: float = 0.1,
        n_bootstrap: int = 200,
        bootstrap: str = "pairs",
        random_state: int = 0,
    ) -> None:
        self.bootstrap = bootstrap
        self.benchmark, self.metric = benchmark, metric
        self.loss_benchmark, self.loss_metric = loss_benchmark, loss_metric
        self.loss_fit, self.error_fit = loss_fit, error_fit
        self.error_on_predicted_loss = error_on_predicted_loss
        self.checkpoints = checkpoints
        self.alpha, self.n_bootstrap, self.random_state = alpha, n_bootstrap, random_state

    # -- data --------------------------------------------------------------------------------
    def _rows(self, obs: pd.DataFrame, benchmark: str, metric: str, name: str) -> pd.DataFrame:
        rows_filter: Filter | None = getattr(self, name)
        rows = select(obs, benchmark, metric, f"{type(self).__name__}.fit")
        if self.checkpoints == "final":
            rows = final_checkpoint(rows)
        if rows_filter is not None:
            try:
                rows = rows_filter.apply(rows)
            except FilterError as exc:
                raise FilterError(f"{type(self).__name__}.{name}: {exc}") from None
        if rows.empty:
            raise ValueError(
                f"{type(self).__name__}.fit: filter {str(rows_filter)!r} keeps no "
                f"{benchmark}/{metric} rows"
            )
        return rows

    def input_contract(self) -> InputContract:
        """Total parameters and tokens (Gadre et al. count embeddings); non-embedding accepted."""
        return InputContract(
            size=("n_params", "n_params_nonembed"),
            columns=("n_tokens",),
            series=((self.loss_benchmark, self.loss_metric), (self.benchmark, self.metric)),
        )

    def fit(self, observations: pd.DataFrame) -> GadreChain:
        validate_params(self)
        observations, self.inputs_ = resolve_inputs(
            observations, self.input_contract(), f"{type(self).__name__}.fit"
        )
        lrows = self._rows(observations, self.loss_benchmark, self.loss_metric, "loss_fit")
        erows = self._rows(observations, self.benchmark, self.metric, "error_fit")
        key = ["model", "checkpoint_step"] if "checkpoint_step" in erows.columns else ["model"]
        all_loss = select(observations, self.loss_benchmark, self.loss_metric, "fit")[
            [*key, "value"]
        ]
        erows = erows.merge(all_loss.rename(columns={"value": "_loss"}), on=key, how="inner")
        self._lx = (
            lrows["n_params"].to_numpy(float),
            (lrows["n_tokens"] / lrows["n_params"]).to_numpy(float),
        )
        self._ly = as_score(lrows["value"].to_numpy(), self.loss_metric)
        self._ex = (
            erows["n_params"].to_numpy(float),
            (erows["n_tokens"] / erows["n_params"]).to_numpy(float),
        )
        self._el = as_score(erows["_loss"].to_numpy(), self.loss_metric)
        self._ey = 1.0 - as_score(erows["value"].to_numpy(), self.metric)  # error sense
        self.loss_fit_ = fit_law(gadre_loss, self._lx, self._ly, starts=GADRE_LOSS_STARTS)
        self.error_fit_ = self._fit_error(self.loss_fit_.params, self._el)
        # a model's training compute is its last checkpoint's, whatever order its rows came in
        models = (
            pd.concat([lrows, erows])[["model", "n_params", "n_tokens"]]
            .sort_values("n_tokens", kind="stable")
            .drop_duplicates("model", keep="last")
        )
        models = models.assign(flops=np.nan)
        self.fit_flops_ = float(np.nansum(compute_of(models)))
        self.n_fit_points_ = (len(self._ly), len(self._ey))
        self._draws = self._bootstrap() if self.loss_fit_.ok and self.error_fit_.ok else None
        return self

    def _error_inputs(
        self, loss_params: tuple[float, ...] | np.ndarray, measured: np.ndarray
    ) -> np.ndarray:
        if self.error_on_predicted_loss:
            return gadre_loss(self._ex, *loss_params)
        return measured

    def _fit_error(self, loss_params: Any, measured: np.ndarray) -> LawFit:
        if not all(math.isfinite(p) for p in loss_params):
            return fit_law(gadre_error, np.array([]), np.array([]), starts=[(1, 1, 1)])
        x = self._error_inputs(loss_params, measured)
        return fit_law(gadre_error, x, self._ey, starts=[(1.0, 1.0, 1.0)])

    def _draw(self, n: int, fit: LawFit, rng: np.random.Generator) -> np.ndarray:
        """One resample's random part: point indices (pairs) or resampled scaled residuals."""
        if self.bootstrap == "pairs":
            return rng.integers(0, n, n)
        r = np.asarray(fit.residuals)  # prediction - y
        scaled = r * np.sqrt(n / max(n - len(fit.params), 1))
        return rng.choice(scaled, n, replace=True)

    def _resampled(
        self, x: Any, y: np.ndarray, fit: LawFit, draws: np.ndarray
    ) -> tuple[Any, np.ndarray]:
        """Every resample at once: (x, y) pairs at the drawn indices, or the fitted values plus the
        drawn residuals at the same x. A 2-D ``x`` already has one row per resample."""
        if self.bootstrap == "residuals":
            return x, (y + np.asarray(fit.residuals))[None, :] + draws
        if isinstance(x, np.ndarray) and x.ndim == 2:
            return np.take_along_axis(x, draws, axis=1), y[draws]
        return batch_rows(x, draws), y[draws]

    def _bootstrap(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Both laws refitted on every resample at once, warm-started from the full fits."""
        rng = np.random.default_rng(self.random_state)
        nl, ne = len(self._ly), len(self._ey)
        draws_l, draws_e = [], []
        for _ in range(self.n_bootstrap):  # the draw order of one refit after the other
            draws_l.append(self._draw(nl, self.loss_fit_, rng))
            draws_e.append(self._draw(ne, self.error_fit_, rng))
        kind = int if self.bootstrap == "pairs" else float  # indices or residuals
        dl = np.array(draws_l, dtype=kind).reshape(self.n_bootstrap, nl)
        de = np.array(draws_e, dtype=kind).reshape(self.n_bootstrap, ne)
        lx, ly = self._resampled(self._lx, self._ly, self.loss_fit_, dl)
        # 400 iterations: the 2000 function evaluations the per-resample solver was allowed
        pl, okl = batch_refit(gadre_loss, lx, ly, self.loss_fit_.params, max_iter=400)
        # with predicted losses as inputs, the loss law's uncertainty moves the error law's x
        loss_law: LawFunc = gadre_loss  # called with one column of parameters per resample
        el = (
            loss_law((self._ex[0][None, :], self._ex[1][None, :]), *(pl[:, [j]] for j in range(4)))
            if self.error_on_predicted_loss
            else self._el
        )
        ex, ey = self._resampled(el, self._ey, self.error_fit_, de)
        pe, oke = batch_refit(gadre_error, ex, ey, self.error_fit_.params, max_iter=400)
        return [(pl[b], pe[b]) for b in np.flatnonzero(okl & oke)]

    # -- prediction ----------------------------------------------------------------------------
    def predict(self, targets: pd.DataFrame) -> list[Forecast]:
        check_is_fitted(self)
        where = f"{type(self).__name__}.predict"
        targets = conform_targets(targets, self.inputs_, ("n_tokens",), where)
        t = target_rows(targets, ["n_params", "n_tokens"], where)
        method = "gadre"
        diag_base = {
            "loss_fit": self.loss_fit_.to_dict(),
            "error_fit": self.error_fit_.to_dict(),
            "fit_flops": self.fit_flops_,
            "n_fit_points": list(self.n_fit_points_),
            "loss_column": f"{self.loss_benchmark}/{self.loss_metric}",
        }
        if not (self.loss_fit_.ok and self.error_fit_.ok):
            bad = self.loss_fit_ if not self.loss_fit_.ok else self.error_fit_
            failed = [
                failed_forecast(
                    target=str(model),
                    benchmark=self.benchmark,
                    metric=self.metric,
                    alpha=self.alpha,
                    method=method,
                    why=f"{bad.law} {bad.status}: {bad.message}",
                    diag=diag_base,
                )
                for model in t["model"]
            ]
            return with_notes(failed, self.inputs_.notes)
        n = t["n_params"].to_numpy(float)
        m = t["n_tokens"].to_numpy(float) / n
        loss = np.atleast_1d(gadre_loss((n, m), *self.loss_fit_.params))
        err = gadre_error(loss, *self.error_fit_.params)
        pairs = self._draws or []
        boot = np.array([gadre_error(gadre_loss((n, m), *pl), *pe) for pl, pe in pairs])
        # fitted in the error sense; the score (accuracy) sense flips the residuals' sign
        draws = BootstrapDraws(
            points=1.0 - err,
            boot=1.0 - boot.reshape(len(pairs), len(t)),
            residuals=tuple(-r for r in self.error_fit_.residuals),
            n_params=len(self.error_fit_.params),
            n_resamples=self.n_bootstrap,
        )
        notes = [
            *self.inputs_.notes,
            f"{self.n_fit_points_[0]} loss-law and {self.n_fit_points_[1]} error-law points",
        ]
        notes += [f.message for f in (self.loss_fit_, self.error_fit_) if f.message]
        spec = ForecastSpec(
            self.benchmark,
            self.metric,
            self.alpha,
            method,
            {
                **self.loss_fit_.as_dict(),
                **{f"err_{k}": v for k, v in self.error_fit_.as_dict().items()},
            },
        )
        return bootstrap_forecasts(
            spec,
            [str(model) for model in t["model"]],
            draws,
            np.random.default_rng(self.random_state + 1),
            diagnostics=[
                {
                    **diag_base,
                    "predicted_loss": float(loss[i]),
                    "n_bootstrap_ok": len(pairs),
                    "fit_flops_fraction": self.fit_flops_ / (6 * n[i] * n[i] * m[i]),
                }
                for i in range(len(t))
            ],
            notes=notes,
        )
