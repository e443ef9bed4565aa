"""The scaling-curve view: measured points, each predictor's curve and band, and a trust verdict.

Curves come from the same cached fits the REST forecasts use, evaluated on a grid of model sizes
at the target's token multiplier (or a grid of compute when only FLOPs are given). The verdict
reads the method's own backtest (held-out largest models): its error, its interval coverage, and
how far the target lies beyond the data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from service.dashboard.plots import Curve, ScalingPlot, scaling_chart, scaling_svg
from service.errors import ApiError
from service.forecasting import Fitted, ForecastService, forecast_fields
from service.schemas import ForecastPublic, ForecastQuery, Target

#: Methods drawn by default: auto first, the forecast to use (it picks or combines the others by
#: their backtests), then the methods it combines (single_step is a slow, known-bad baseline: ask for it
#: by name).
CURVE_METHODS = ("auto", "gadre", "ladder", "exponential", "sigmoid")
GRID = 48


@dataclass
class MethodView:
    method: str
    forecast: ForecastPublic | None = None
    error: str | None = None
    verdict: str = "untested"
    level: str = "bad"
    reasons: list[str] = field(default_factory=list)
    extrapolation: float | None = None
    held_out: int = 0


def default_methods() -> list[str]:
    from predictors.registry import METHODS

    return [m for m in CURVE_METHODS if m in METHODS]


def final_rows(obs: pd.DataFrame, benchmark: str, metric: str) -> pd.DataFrame:
    rows = obs[(obs["benchmark"] == benchmark) & (obs["metric"] == metric)].copy()
    if rows.empty:
        return rows
    step = rows["checkpoint_step"].astype("Float64").fillna(-1)
    last = step.groupby(rows["model"]).transform("max")
    return rows[step == last]


def default_target(rows: pd.DataFrame) -> Target:
    """Twice the largest measured model at its token multiplier: 4x its compute.

    The multiplier is the median tokens per parameter of the models at the largest size, not of
    the whole family: an over-training grid (Gadre: 5 to 640 tokens per parameter at the small
    sizes) or a fixed token budget (Pythia: 300B at every size) would otherwise put the default
    8x to 40x beyond the data, where every method is extrapolating.
    """
    sized = rows.dropna(subset=["n_params", "n_tokens"])
    sized = sized[(sized["n_params"] > 0) & (sized["n_tokens"] > 0)]
    if sized.empty:
        return Target(model="2x largest", flops=float(rows["flops"].max()) * 4)
    n_params = sized["n_params"].astype(float)
    top = float(n_params.max())
    largest = sized[n_params == top]
    multiplier = float((largest["n_tokens"].astype(float) / top).median())
    return Target(model="2x largest", n_params=2 * top, n_tokens=2 * top * multiplier)


def grid_targets(rows: pd.DataFrame, target: Target) -> tuple[pd.DataFrame, np.ndarray]:
    """Targets along the curve and their x (compute)."""
    if target.n_params is not None and target.n_tokens is not None:
        multiplier = target.n_tokens / target.n_params
        low = float(np.nanmin(rows["n_params"])) if rows["n_params"].notna().any() else 1e7
        n = np.geomspace(min(low, target.n_params) / 1.5, target.n_params * 1.5, GRID)
        frame = pd.DataFrame({"n_params": n, "n_tokens": n * multiplier})
        frame["flops"] = 6.0 * frame["n_params"] * frame["n_tokens"]
    else:
        top = float(target.flops or np.nanmax(rows["flops"]))
        low = float(np.nanmin(rows["flops"]))
        frame = pd.DataFrame({"flops": np.geomspace(min(low, top) / 1.5, top * 1.5, GRID)})
        frame["n_params"] = np.nan
        frame["n_tokens"] = np.nan
    frame["n_params_nonembed"] = np.nan
    frame["model"] = [f"grid-{i}" for i in range(len(frame))]
    cols = ["model", "n_params", "n_params_nonembed", "n_tokens", "flops"]
    return frame[cols], frame["flops"].to_numpy()


#: A verdict of "trustworthy" needs at least this many held-out models predicted well.
MIN_HELD_OUT = 3


def held_out_count(bt: dict[str, Any]) -> int:
    """How many held-out models the backtest's error rests on (those it predicted)."""
    if bt.get("error"):
        return 0
    n = bt.get("n_predicted", bt.get("n"))
    return int(n) if isinstance(n, int | float) and math.isfinite(n) else 0


def backtest_verdict(bt: dict[str, Any]) -> tuple[str, str, list[str]]:
    """(verdict, level, reasons) from a backtest summary alone; the rule the page states.

    Green ("trustworthy") needs a mean relative error of at most 5%, an interval that covered at
    least half of the held-out models, and at least :data:`MIN_HELD_OUT` of them: one or two
    models cannot show that a method extrapolates. Amber up to 15%, red beyond or untested.
    Every verdict's first reason says how many held-out models it rests on.
    """
    n = held_out_count(bt)
    rests = f"rests on {n} held-out model{'' if n == 1 else 's'}"
    rel, cov = bt.get("mean_rel_error"), bt.get("coverage")
    if bt.get("error") or rel is None or not n:
        why = bt.get("error") or ("no held-out model was predicted" if rel is None else None)
        return "untested", "bad", [rests, f"no backtest: {why or 'not available'}"]
    reasons = [rests]
    if rel <= 0.05 and (cov is None or cov >= 0.5):
        if n >= MIN_HELD_OUT:
            verdict, level = "trustworthy", "good"
        else:
            verdict, level = "use with caution", "warn"
            reasons.append(f"too few held-out models to judge (fewer than {MIN_HELD_OUT})")
    elif rel <= 0.15:
        verdict, level = "use with caution", "warn"
    else:
        verdict, level = "do not trust", "bad"
    reasons.append(
        f"held-out largest models (n={n}): mean relative error {100 * rel:.1f}%"
        + (f", interval coverage {100 * cov:.0f}%" if cov is not None else "")
    )
    if cov is not None and cov < 0.5:
        reasons.append("the interval missed most held-out models: it is too narrow")
    return verdict, level, reasons


def judge(view: MethodView, fit_rows: pd.DataFrame, target_flops: float | None) -> None:
    """A traffic light from the backtest (:func:`backtest_verdict`) and the extrapolation distance."""
    fc = view.forecast
    if fc is None:
        view.verdict, view.level = "no forecast", "bad"
        view.reasons += ["rests on 0 held-out models", view.error or "the method could not fit"]
        return
    bt = fc.backtest or {}
    view.held_out = held_out_count(bt)
    top = float(np.nanmax(fit_rows["flops"])) if fit_rows["flops"].notna().any() else math.nan
    if target_flops and math.isfinite(top) and top > 0:
        view.extrapolation = target_flops / top
    view.verdict, view.level, reasons = backtest_verdict(bt)
    view.reasons += reasons
    if view.extrapolation and view.extrapolation > 10:
        view.reasons.append(f"target is {view.extrapolation:.0f}x the largest fitted compute")
        if view.level == "good":
            view.verdict, view.level = "use with caution", "warn"
    if fc.point is None:
        view.verdict, view.level = "no forecast", "bad"
    view.reasons += list((fc.diagnostics or {}).get("notes", []))


def scaling_view(
    service: ForecastService,
    session: Session,
    *,
    base: ForecastQuery,
    methods: list[str],
) -> dict[str, Any]:
    """Everything the scaling page shows, as a dict for the template."""
    everything = service.observations(session, base.model_copy(update={"fit": None}))
    rows = final_rows(everything, base.benchmark, base.metric)
    fitted_models: set[str] = set()
    views, curves = [], []
    grid, grid_x = grid_targets(rows, base.target)
    target_flops = grid_target_flops(base.target)
    for method in methods:
        query = base.model_copy(update={"method": method})
        view = MethodView(method)
        try:
            entry, hit = service.fitted(session, query)
            view.forecast = page_forecast(query, entry, hit)
            fitted_models |= set(entry.observations["model"])
            preds = entry.estimator.predict(grid)
            curves.append(_curve(method, grid_x, preds, view.forecast, target_flops))
        except ApiError as exc:
            view.error = str(exc.detail)
        except Exception as exc:  # a predictor that fails on the grid still has its forecast
            view.error = f"curve not drawn: {exc}"
        fit_rows = rows[rows["model"].isin(fitted_models)] if fitted_models else rows
        judge(view, fit_rows, target_flops)
        views.append(view)
    points = pd.DataFrame(
        {
            "x": rows["flops"],
            "y": rows["value"],
            "held_out": ~rows["model"].isin(fitted_models),
            "model": rows["model"],  # model and size: the chart's hover says which point is which
            "n_params": rows.get("n_params"),
            "n_tokens": rows.get("n_tokens"),
        }
    ).dropna(subset=["x", "y"])
    if not fitted_models:
        points["held_out"] = False
    title = f"{base.family or 'all families'}: {base.benchmark} / {base.metric}"
    plot = ScalingPlot(title, "training compute 6ND (FLOPs)", base.metric, points, curves)
    return {
        "svg": scaling_svg(plot),
        "chart": scaling_chart(plot),
        "views": views,
        "n_points": len(points),
        "curves": [c.method for c in curves],
        "target": base.target,
        "target_flops": target_flops,
    }


def page_forecast(query: ForecastQuery, entry: Fitted, cache_hit: bool) -> ForecastPublic:
    """The forecast a page shows, computed from the fitted predictor and never stored.

    A page view is a read (any key may make one); storing forecasts is POST /v1/forecasts' job,
    under the ``forecast`` scope. Without a row there is no id nor creation time: both are None.
    """
    fields = forecast_fields(query, entry, "query.target")
    return ForecastPublic.model_construct(id=None, created_at=None, cache_hit=cache_hit, **fields)


def grid_target_flops(target: Target) -> float | None:
    if target.flops is not None:
        return target.flops
    if target.n_params is not None and target.n_tokens is not None:
        return 6.0 * target.n_params * target.n_tokens
    return None


def _curve(
    method: str, x: np.ndarray, preds: list[Any], fc: ForecastPublic, target_x: float | None
) -> Curve:
    def arr(name: str) -> np.ndarray:
        return np.array([float(getattr(p, name)) for p in preds], dtype=float)

    target = None
    if fc.point is not None and fc.lower is not None and fc.upper is not None:
        target = (fc.point, fc.lower, fc.upper)
    return Curve(method, x, arr("point"), arr("lower"), arr("upper"), target_x, target)
