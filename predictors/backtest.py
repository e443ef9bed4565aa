"""The backtest harness every predictor is judged by: fit on one split, predict another.

Splits are parsed row filters (:mod:`predictors.filters`) over the observations' columns, e.g.
``fit=parse_filter("n_params < 2e9")``, ``predict=parse_filter("model == 'pythia-12b'")``; the
text is parsed where it arrives (service, CLI), never evaluated as code. Predicted models are predicted at
their final checkpoint and compared with their measured value there. Same harness from Python,
the CLI (``capcast backtest``) and REST.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from predictors.base import Forecast, Forecaster, clone, require_columns
from predictors.filters import Filter, FilterError, as_filter
from predictors.selection import final_checkpoint, task_level

ROW_COLUMNS = (
    "model",
    "benchmark",
    "metric",
    "predicted",
    "lower",
    "upper",
    "actual",
    "abs_error",
    "rel_error",
)
TARGET_COLUMNS = (
    "model",
    "family",
    "n_params",
    "n_params_nonembed",
    "n_tokens",
    "flops",
    "release_date",
)


@dataclass(frozen=True)
class BacktestResult:
    """Rows (one per predicted model) and a summary: n, mean/max abs error, mean rel error, coverage."""

    method: str
    fit: str
    predict: str
    rows: pd.DataFrame
    forecasts: tuple[Forecast, ...] = field(repr=False, default=())

    @property
    def summary(self) -> dict[str, Any]:
        r = self.rows
        ok = r[np.isfinite(r["predicted"].astype(float))]
        has_iv = ok[np.isfinite(ok["lower"].astype(float)) & np.isfinite(ok["upper"].astype(float))]
        inside = (has_iv["actual"] >= has_iv["lower"]) & (has_iv["actual"] <= has_iv["upper"])
        alpha = self.forecasts[0].alpha if self.forecasts else math.nan
        return {
            "n": len(r),
            "n_predicted": len(ok),
            "mean_abs_error": float(ok["abs_error"].mean()) if len(ok) else math.nan,
            "max_abs_error": float(ok["abs_error"].max()) if len(ok) else math.nan,
            "mean_rel_error": float(ok["rel_error"].mean()) if len(ok) else math.nan,
            "coverage": float(inside.mean()) if len(has_iv) else math.nan,
            "nominal_coverage": 1 - alpha,
        }

    def to_dict(self) -> dict[str, Any]:
        rows = self.rows.astype(object).where(pd.notna(self.rows), None).to_dict("records")
        for row, f in zip(rows, self.forecasts, strict=False):
            row["notes"] = list(f.notes)
        return {
            "method": self.method,
            "fit": self.fit,
            "predict": self.predict,
            "rows": rows,
            "summary": self.summary,
        }

    def summary_text(self) -> str:
        s = self.summary
        return (
            f"{self.method}: {s['n_predicted']}/{s['n']} predicted, mean abs error {s['mean_abs_error']:.4g}, "
            f"max {s['max_abs_error']:.4g}, mean rel error {s['mean_rel_error']:.2%}, coverage {s['coverage']:.0%}"
        )


def _split(obs: pd.DataFrame, split: Filter, what: str) -> pd.DataFrame:
    checked = as_filter(split, what)
    if checked is None:
        raise TypeError(f"backtest: {what} must be a Filter, not None")
    try:
        return checked.apply(obs)
    except FilterError as exc:
        raise ValueError(f"backtest: the {what} split: {exc}") from None


def backtest(
    estimator: Forecaster, observations: pd.DataFrame, *, fit: Filter, predict: Filter
) -> BacktestResult:
    """Fit a clone of ``estimator`` on ``fit`` rows and score it on ``predict`` models' final values."""
    require_columns(observations, ["model", "benchmark", "metric", "value"], "backtest")
    train = _split(observations, fit, "fit")
    test = _split(observations, predict, "predict")
    if train.empty:
        raise ValueError(f"backtest: the fit split {str(fit)!r} selects no rows")
    bench, metric = estimator.benchmark, estimator.metric
    actual = test[(test["benchmark"] == bench) & (test["metric"] == metric)]
    if actual.empty:
        raise ValueError(
            f"backtest: the predict split {str(predict)!r} has no {bench}/{metric} rows"
        )
    overlap = set(actual["model"]) & set(train["model"])
    if overlap:
        raise ValueError(f"backtest: models in both splits: {sorted(overlap)[:5]}")
    actual = final_checkpoint(task_level(actual))
    est = clone(estimator).fit(train)
    targets = actual[[c for c in TARGET_COLUMNS if c in actual.columns]].reset_index(drop=True)
    forecasts = est.predict(targets)
    rows = []
    for f, (_, a) in zip(forecasts, actual.iterrows(), strict=True):
        y = float(a["value"])
        err = abs(f.point - y)
        rows.append(
            (
                str(a["model"]),
                bench,
                metric,
                f.point,
                f.lower,
                f.upper,
                y,
                err,
                err / abs(y) if y else math.nan,
            )
        )
    df = pd.DataFrame(rows, columns=list(ROW_COLUMNS))
    return BacktestResult(type(estimator).__name__, str(fit), str(predict), df, tuple(forecasts))
