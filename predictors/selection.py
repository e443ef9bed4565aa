"""Picking rows out of observations and packing results: what every estimator does the same way.

Observations are the long exchange table (DESIGN.md). A model's final checkpoint is its row with
the largest ``checkpoint_step`` (or its only row). Metrics where lower is better are turned into
"higher is better" scores before an accuracy-shaped law is fitted, and back afterwards.
"""

from __future__ import annotations

import math
from typing import Any, cast

import numpy as np
import pandas as pd

from predictors.base import Forecast, require_columns
from predictors.laws import percentile_interval

#: Metrics that are 1 - accuracy; fitted as accuracy and reported back in their own sense.
ERROR_METRICS = frozenset({"err"})
#: Metrics that are perplexities; fitted in log space (nats).
PERPLEXITY_METRICS = frozenset({"ppl"})


def select(obs: pd.DataFrame, benchmark: str, metric: str, where: str) -> pd.DataFrame:
    """Rows of one benchmark/metric with a finite value; ValueError naming what is missing."""
    require_columns(obs, ["model", "benchmark", "metric", "value"], where)
    rows = obs[(obs["benchmark"] == benchmark) & (obs["metric"] == metric)]
    rows = task_level(rows[np.isfinite(rows["value"].astype(float))])
    if rows.empty:
        have = sorted(set(zip(obs["benchmark"], obs["metric"], strict=True)))[:20]
        raise ValueError(
            f"{where}: no rows with benchmark={benchmark!r} metric={metric!r}; some present: {have}"
        )
    rows = rows.copy()
    rows.attrs = {}  # importers' metadata (arrays) breaks pandas' attrs comparison in merge
    return rows


def task_level(rows: pd.DataFrame) -> pd.DataFrame:
    """Task-level rows: per-item rows (``item`` set, as COD and PassUntil consume) are left out
    when task-level rows exist, else averaged per model and checkpoint into task-level rows."""
    if "item" not in rows.columns or rows["item"].isna().all():
        return rows
    task = rows[rows["item"].isna()]
    if not task.empty:
        return task
    keys = [c for c in ("model", "checkpoint_step", "benchmark", "metric") if c in rows.columns]
    per_item = rows.assign(checkpoint_step=rows.get("checkpoint_step", np.nan))
    mean = per_item.groupby(keys, dropna=False)["value"].mean().rename("value")
    first = per_item.drop(columns=["value", "item"]).groupby(keys, dropna=False).first()
    return first.join(mean).reset_index().assign(item=np.nan)


def final_checkpoint(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per model: the largest ``checkpoint_step`` (the only row if steps are missing)."""
    if "checkpoint_step" not in rows.columns or rows["checkpoint_step"].isna().all():
        return rows.drop_duplicates("model", keep="last")
    r = rows.assign(_s=rows["checkpoint_step"].fillna(-1))
    return r.sort_values(["model", "_s"]).drop_duplicates("model", keep="last").drop(columns="_s")


def as_score(values: np.ndarray, metric: str) -> np.ndarray:
    """Map a metric to the quantity the law is fitted to (accuracy, or log-perplexity)."""
    v = np.asarray(values, dtype=float)
    if metric in ERROR_METRICS:
        return 1.0 - v
    if metric in PERPLEXITY_METRICS:
        return cast(np.ndarray, np.log(v))  # ufunc stubs: Any
    return v


def from_score(values: np.ndarray | float, metric: str) -> np.ndarray:
    """Inverse of :func:`as_score`."""
    v = np.asarray(values, dtype=float)
    if metric in ERROR_METRICS:
        return 1.0 - v
    if metric in PERPLEXITY_METRICS:
        return cast(np.ndarray, np.exp(v))  # ufunc stubs: Any
    return v


def compute_of(df: pd.DataFrame) -> np.ndarray:
    """Training FLOPs: the ``flops`` column where given, else 6·N·D."""
    six_nd = 6.0 * df["n_params"].astype(float).to_numpy() * df["n_tokens"].astype(float).to_numpy()
    if "flops" not in df.columns:
        return six_nd
    f = df["flops"].astype(float).to_numpy()
    return np.where(np.isfinite(f), f, six_nd)


def target_rows(targets: pd.DataFrame, needed: list[str], where: str) -> pd.DataFrame:
    """Targets with every needed column present (NaN allowed only where a forecast can say so)."""
    t = targets.copy()
    if "flops" in needed and "flops" not in t.columns:
        t["flops"] = np.nan
    cols = [c for c in needed if c != "flops"]
    require_columns(t, ["model", *cols], where)
    return t.reset_index(drop=True)


#: Above this share of failed bootstrap refits the survivors are a biased sample (the failures
#: are the awkward resamples), so a forecast reports its point and no interval.
MAX_FAILED_RESAMPLE_SHARE = 0.2


def interval_forecast(
    *,
    target: str,
    benchmark: str,
    metric: str,
    point: float,
    draws: np.ndarray,
    alpha: float,
    method: str,
    params: dict[str, Any],
    diagnostics: dict[str, Any],
    notes: list[str],
    n_resamples: int | None = None,
) -> Forecast:
    """Build a Forecast whose interval is the bootstrap percentile interval of ``draws``.

    ``point``/``draws`` are in the fitted score's sense; they are mapped back to ``metric``.
    ``n_resamples`` is how many refits were asked for; when more than
    :data:`MAX_FAILED_RESAMPLE_SHARE` of them failed there is no interval.
    """
    lo, hi = percentile_interval(draws, alpha)
    n_ok = len(draws)
    if n_resamples and n_ok < (1 - MAX_FAILED_RESAMPLE_SHARE) * n_resamples:
        lo = hi = math.nan
        notes = [
            *notes,
            f"only {n_ok} of {n_resamples} bootstrap resamples could be fitted (more than "
            f"{MAX_FAILED_RESAMPLE_SHARE:.0%} failed): no interval, since the survivors are not a "
            "fair sample",
        ]
    p = float(from_score(point, metric))
    a, b = float(from_score(lo, metric)), float(from_score(hi, metric))
    lo, hi = min(a, b), max(a, b)
    if not math.isfinite(lo) and not n_ok:
        notes = [*notes, "no bootstrap resample could be fitted: no interval"]
    if not math.isfinite(p):
        notes = [*notes, "the fitted law gives no finite value at this target"]
    return Forecast(
        target=target,
        benchmark=benchmark,
        metric=metric,
        point=p,
        lower=lo,
        upper=hi,
        alpha=alpha,
        method=method,
        params=params,
        diagnostics=diagnostics,
        notes=tuple(notes),
    )


def failed_forecast(
    *,
    target: str,
    benchmark: str,
    metric: str,
    alpha: float,
    method: str,
    why: str,
    diag: dict[str, Any],
) -> Forecast:
    """A forecast that carries the reason a fit gave no numbers (never a silent NaN)."""
    return Forecast(
        target=target,
        benchmark=benchmark,
        metric=metric,
        point=math.nan,
        lower=math.nan,
        upper=math.nan,
        alpha=alpha,
        method=method,
        diagnostics=diag,
        notes=(f"no forecast: {why}",),
    )


def residual_noise(
    residuals: tuple[float, ...], n_params: int, size: int, rng: np.random.Generator
) -> np.ndarray:
    """Draws of fit residuals, inflated by sqrt(n/(n-p)), for prediction (not confidence) intervals."""
    r = np.asarray(residuals, dtype=float)
    if r.size <= n_params or r.size == 0:
        return np.zeros(size)
    r = r * math.sqrt(r.size / (r.size - n_params))
    return rng.choice(r, size=size, replace=True)
