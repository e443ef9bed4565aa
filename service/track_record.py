"""The track record: every stored forecast scored against its target's measurement, once one exists.

Nothing is stored: a forecast is scored when the track record is read, so it fills itself as
measurements arrive (REST, imports, the evaluator). A forecast's target is found among the
measurements of the same benchmark and metric in one of two ways, by name first:

- **model**: ``target.model`` names a stored model (any name but the default ``"target"``, which
  names nothing) whose family is the query's family when one was given; its measurement at the
  checkpoint whose tokens match the target's, else at its final checkpoint (largest
  ``checkpoint_step``; a row without a step counts as final).
- **size**: the query names a family and a model of that family has ``n_params`` within
  :data:`REL_TOL` of the target's and a measurement at ``n_tokens`` within :data:`REL_TOL` (a
  target given by compute alone: ``flops`` within :data:`REL_TOL`).

The match's rows (several sources, or checkpoints within the tolerance) are averaged into
``actual``. ``prospective`` says whether the measurement was stored after the forecast: a true
forecast rather than a forecast of a model already measured (whose row the fit may have seen).
:func:`score_forecasts` and :func:`summarise` are pure (DataFrames in and out);
:func:`track_record` reads the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Benchmark, Forecast, Measurement, Model, ModelFamily

#: Relative tolerance on size, tokens and compute: rounding in how a target is written (7e9 for
#: 6.86e9 parameters is 2% off, so a named model is the exact way) but not the next model size.
REL_TOL = 0.01
#: ``target.model``'s default: a target without a name, never matched by name.
UNNAMED = "target"

SCORED_COLUMNS = [
    "forecast_id", "method", "benchmark", "metric", "family", "target", "point", "lower",
    "upper", "alpha", "created_at", "matched_by", "measured_model", "n_measurements", "actual",
    "abs_error", "inside", "prospective",
]  # fmt: skip
SUMMARY_COLUMNS = [
    "method", "n", "n_prospective", "mean_abs_error", "max_abs_error", "n_intervals", "coverage",
    "nominal_coverage",
]  # fmt: skip


def forecast_targets(forecasts: pd.DataFrame) -> pd.DataFrame:
    """One row per stored forecast with its target unpacked from ``query`` (family, model, sizes)."""
    out = forecasts.drop(columns=["query"]).rename(columns={"id": "forecast_id"})
    queries = forecasts["query"].tolist()
    targets = [q.get("target") or {} for q in queries]
    out["family"] = [q.get("family") for q in queries]
    out["target"] = [t.get("model") or UNNAMED for t in targets]
    for col in ("n_params", "n_tokens", "flops"):
        out["t_" + col] = pd.to_numeric(pd.Series([t.get(col) for t in targets]), errors="coerce")
    return out.reset_index(drop=True)


def _close(a: pd.Series, b: float) -> pd.Series:
    return (a - b).abs() <= REL_TOL * abs(b)


def _final(rows: pd.DataFrame) -> pd.DataFrame:
    """Each model's rows at its largest checkpoint_step (rows without a step count as final)."""
    step = rows["checkpoint_step"].astype("Float64").fillna(np.inf).astype(float)
    last = step.groupby(rows["model"]).transform("max")
    return rows[step == last]


def _match(t: Any, meas: pd.DataFrame) -> tuple[str, pd.DataFrame]:
    """(how, rows) of one forecast target among its benchmark and metric's measurements."""
    if t.target != UNNAMED:
        named = meas[meas["model"] == t.target]
        if t.family is not None:
            named = named[named["family"] == t.family]
        if np.isfinite(t.t_n_tokens):  # a checkpoint the target names by its tokens, if measured
            at = named[_close(named["n_tokens"], t.t_n_tokens)]
            named = at if len(at) else named
        if len(named):
            return "model", _final(named)
    if t.family is None:
        return "", meas.iloc[:0]
    rows = meas[meas["family"] == t.family]
    if np.isfinite(t.t_n_params) and np.isfinite(t.t_n_tokens):
        rows = rows[_close(rows["n_params"], t.t_n_params) & _close(rows["n_tokens"], t.t_n_tokens)]
    elif np.isfinite(t.t_flops):
        rows = rows[_close(rows["flops"], t.t_flops)]
    else:  # a target given by loss alone has no size to match
        return "", meas.iloc[:0]
    return ("size", rows) if len(rows) else ("", rows)


def score_forecasts(targets: pd.DataFrame, measurements: pd.DataFrame) -> pd.DataFrame:
    """The forecasts (from :func:`forecast_targets`) whose target has a measurement, scored.

    ``measurements``: model, family, n_params, n_tokens, flops, checkpoint_step, benchmark,
    metric, value, created_at (per checkpoint, as the ``observations`` view has them).
    """
    groups = {key: g for key, g in measurements.groupby(["benchmark", "metric"], sort=False)}
    out: list[dict[str, Any]] = []
    for t in targets.itertuples(index=False):
        meas = groups.get((t.benchmark, t.metric))
        if meas is None or t.point is None or not np.isfinite(t.point):
            continue
        how, rows = _match(t, meas)
        if not how:
            continue
        actual = float(rows["value"].mean())
        has_interval = t.lower is not None and t.upper is not None
        has_interval = has_interval and bool(np.isfinite(t.lower) and np.isfinite(t.upper))
        out.append({
            "forecast_id": int(t.forecast_id), "method": t.method, "benchmark": t.benchmark,
            "metric": t.metric, "family": t.family, "target": t.target, "point": float(t.point),
            "lower": float(t.lower) if has_interval else None,
            "upper": float(t.upper) if has_interval else None,
            "alpha": None if t.alpha is None or pd.isna(t.alpha) else float(t.alpha),
            "created_at": t.created_at, "matched_by": how,
            "measured_model": ", ".join(sorted(rows["model"].unique())),
            "n_measurements": len(rows), "actual": actual,
            "abs_error": abs(float(t.point) - actual),
            "inside": bool(t.lower <= actual <= t.upper) if has_interval else None,
            "prospective": bool((rows["created_at"] > t.created_at).all()),
        })  # fmt: skip
    return pd.DataFrame(out, columns=SCORED_COLUMNS)


def summarise(scored: pd.DataFrame) -> pd.DataFrame:
    """Per method: n scored, how many prospective, mean and max absolute error, and coverage
    (the share of actuals inside the interval, over forecasts with one) beside the nominal
    1 - alpha it should be near."""
    rows = []
    for method, g in scored.groupby("method", sort=True):
        with_interval = g[g["inside"].notna()]
        alphas = pd.to_numeric(with_interval["alpha"], errors="coerce").dropna()
        rows.append({
            "method": method, "n": len(g), "n_prospective": int(g["prospective"].sum()),
            "mean_abs_error": float(g["abs_error"].mean()),
            "max_abs_error": float(g["abs_error"].max()), "n_intervals": len(with_interval),
            "coverage": float(with_interval["inside"].astype(bool).mean())
            if len(with_interval) else None,
            "nominal_coverage": float(1 - alphas.mean()) if len(alphas) else None,
        })  # fmt: skip
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


@dataclass(frozen=True)
class TrackRecord:
    """The scored forecasts, the per-method summary and how many stored forecasts were read."""

    scored: pd.DataFrame
    summary: pd.DataFrame
    n_forecasts: int

    def to_dict(self) -> dict[str, Any]:
        def records(df: pd.DataFrame) -> list[dict[str, Any]]:
            clean = df.astype(object).where(df.notna(), None)
            return [{k: _plain(v) for k, v in r.items()} for r in clean.to_dict("records")]

        return {
            "n_forecasts": self.n_forecasts,
            "n_scored": len(self.scored),
            "methods": records(self.summary),
            "forecasts": records(self.scored),
        }


def _plain(v: Any) -> Any:
    if isinstance(v, pd.Timestamp):
        return v.to_pydatetime()
    return v.item() if isinstance(v, np.generic) else v


def _utc(values: pd.Series) -> pd.Series:
    """Timestamps as UTC (SQLite gives them back naive, in UTC as written)."""
    ts = pd.to_datetime(values)
    return ts.dt.tz_localize("UTC") if ts.dt.tz is None else ts.dt.tz_convert("UTC")


def _measurements(session: Session, pairs: set[tuple[str, str]]) -> pd.DataFrame:
    """Measurements of these (benchmark, metric) pairs, per checkpoint, with size and compute
    as the ``observations`` view computes them, and when each was stored."""
    cols = ["model", "family", "n_params", "model_tokens", "model_flops", "n_tokens",
            "checkpoint_step", "benchmark", "metric", "value", "created_at"]  # fmt: skip
    frames = []
    for bench in sorted({b for b, _ in pairs}):
        metrics = sorted(m for b, m in pairs if b == bench)
        stmt = (
            select(
                Model.name,
                ModelFamily.name,
                Model.n_params,
                Model.n_tokens,
                Model.flops,
                Measurement.n_tokens,
                Measurement.checkpoint_step,
                Benchmark.name,
                Measurement.metric,
                Measurement.value,
                Measurement.created_at,
            )
            .join(Model, Model.id == Measurement.model_id)
            .join(Benchmark, Benchmark.id == Measurement.benchmark_id)
            .outerjoin(ModelFamily, ModelFamily.id == Model.family_id)
            .where(Benchmark.name == bench, Measurement.metric.in_(metrics))
        )
        frames.append(pd.DataFrame(session.execute(stmt).all(), columns=cols))
    df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)
    for col in ("n_params", "model_tokens", "model_flops", "n_tokens", "value"):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype(float)
    own_tokens = df["n_tokens"]
    df["n_tokens"] = own_tokens.fillna(df["model_tokens"])
    scaled = df["model_flops"] * own_tokens / df["model_tokens"].where(df["model_tokens"] > 0)
    six_nd = 6.0 * df["n_params"] * df["n_tokens"]
    df["flops"] = scaled.fillna(df["model_flops"]).fillna(six_nd)
    df["created_at"] = _utc(df["created_at"])
    return df


def track_record(
    session: Session,
    *,
    method: str | None = None,
    benchmark: str | None = None,
    family: str | None = None,
) -> TrackRecord:
    """Every stored forecast (filtered) scored against the measurements in the database now."""
    stmt = select(Forecast.id, Forecast.method, Forecast.benchmark, Forecast.metric,
                  Forecast.query, Forecast.point, Forecast.lower, Forecast.upper,
                  Forecast.alpha, Forecast.created_at).order_by(Forecast.id)  # fmt: skip
    if method is not None:
        stmt = stmt.where(Forecast.method == method)
    if benchmark is not None:
        stmt = stmt.where(Forecast.benchmark == benchmark)
    cols = ["id", "method", "benchmark", "metric", "query", "point", "lower", "upper", "alpha",
            "created_at"]  # fmt: skip
    forecasts = pd.DataFrame(session.execute(stmt).all(), columns=cols)
    targets = forecast_targets(forecasts)
    if family is not None:
        targets = targets[targets["family"] == family]
    if targets.empty:
        return TrackRecord(
            pd.DataFrame(columns=SCORED_COLUMNS), pd.DataFrame(columns=SUMMARY_COLUMNS), 0
        )
    for col in ("point", "lower", "upper", "alpha"):
        targets[col] = pd.to_numeric(targets[col], errors="coerce").astype(float)
    targets["created_at"] = _utc(targets["created_at"])
    pairs = set(zip(targets["benchmark"], targets["metric"], strict=True))
    scored = score_forecasts(targets, _measurements(session, pairs))
    return TrackRecord(scored, summarise(scored), len(targets))
