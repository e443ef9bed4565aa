"""Forecasts on request: fetch observations, fingerprint them, fit (or reuse) a predictor, store.

Fitted predictors are cached in-process by (method, parameters, data fingerprint). The
fingerprint is a hash of the observation rows the fit uses, so any new or changed measurement
gives a new fingerprint and the old fit is simply never asked for again. A stored forecast with
the same query and fingerprint is returned as it is: forecasts are reproducible from their inputs.
Each fit comes with the method's own backtest on the same data: fit on all but the largest models,
predict those.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Forecast as ForecastRow
from service import query_expr
from service.errors import ApiError
from service.metrics import Metrics
from service.schemas import ForecastPublic, ForecastQuery, Target

TARGET_COLUMNS = ("model", "n_params", "n_params_nonembed", "n_tokens", "flops")


def jsonable(obj: Any) -> Any:
    """JSON-safe copy: NaN and inf become None, numpy scalars become Python numbers."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return jsonable(obj.item())
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if obj is None or isinstance(obj, str | int | bool):
        return obj
    return str(obj)


def canonical_hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(jsonable(obj), sort_keys=True).encode()).hexdigest()


def fingerprint(frame: pd.DataFrame) -> str:
    """Order-independent hash of the rows (and column names) a fit uses."""
    cols = sorted(frame.columns)
    rows = pd.util.hash_pandas_object(frame[cols].astype(str), index=False).to_numpy()
    digest = hashlib.sha256(",".join(cols).encode())
    digest.update(np.sort(rows).tobytes())
    return digest.hexdigest()


def needed_benchmarks(query: ForecastQuery, estimator: Any) -> list[str]:
    """The benchmark plus any the predictor's parameters name (e.g. gadre's ``loss_benchmark``)."""
    params = {**estimator.get_params(), **query.params}
    extra = [v for k, v in params.items() if k.endswith("benchmark") and isinstance(v, str)]
    return list(dict.fromkeys([query.benchmark, *extra]))


def item_observations(
    session: Session,
    *,
    benchmark: str | list[str] | None = None,
    family: str | list[str] | None = None,
) -> pd.DataFrame:
    """Per-item rows from the ``item_results`` view, in the exchange format (plus ``item``,
    ``n_samples``, ``n_pass``) that ``cod`` and ``passuntil`` fit on."""
    from db.queries import fetch_item_results
    from predictors.item_data import item_results_to_observations

    rows = fetch_item_results(session, benchmark=benchmark, family=family)
    return item_results_to_observations(rows) if len(rows) else rows


def target_frame(target: Target) -> pd.DataFrame:
    row: dict[str, Any] = {c: getattr(target, c) for c in TARGET_COLUMNS}
    if row["flops"] is None and target.n_params is not None and target.n_tokens is not None:
        row["flops"] = 6.0 * target.n_params * target.n_tokens
    if target.loss is not None:
        row["loss"] = target.loss
    frame = pd.DataFrame([row])
    for c in TARGET_COLUMNS[1:]:
        frame[c] = frame[c].astype(float)
    return frame


def largest_split(obs: pd.DataFrame, benchmark: str, metric: str) -> tuple[str, str] | None:
    """(fit, predict) query expressions: all but the largest models, and the largest ones."""
    rows = obs[(obs["benchmark"] == benchmark) & (obs["metric"] == metric)]
    for col in ("n_params", "flops"):
        sizes = pd.to_numeric(rows[col], errors="coerce").dropna().unique()
        if len(sizes) >= 2:
            top = float(np.max(sizes))
            return f"{col} < {top!r}", f"{col} >= {top!r}"
    return None


@dataclass
class Fitted:
    """A fitted predictor with what it was fitted on and how it did in its own backtest."""

    estimator: Any
    fingerprint: str
    observations: pd.DataFrame
    backtest: dict[str, Any] = field(default_factory=dict)


class ForecastService:
    """The composition behind POST /v1/forecasts and the dashboard's curves; one per app."""

    def __init__(self, *, metrics: Metrics, maxsize: int = 128) -> None:
        self.metrics, self.maxsize = metrics, maxsize
        self._cache: OrderedDict[tuple[str, str, str], Fitted] = OrderedDict()
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()

    # -- data ------------------------------------------------------------------------------------
    def observations(self, session: Session, query: ForecastQuery) -> pd.DataFrame:
        from db.queries import fetch_observations

        estimator = self._make(query)
        benchmarks = needed_benchmarks(query, estimator)
        obs = fetch_observations(session, benchmark=benchmarks, family=query.family)
        if estimator.uses_item_rows:
            items = item_observations(session, benchmark=query.benchmark, family=query.family)
            obs = pd.concat([obs, items], ignore_index=True) if len(items) else obs
        try:
            obs = query_expr.apply(obs, query.fit)
        except query_expr.QueryError as exc:
            raise ApiError(422, f"fit filter {query.fit!r}: {exc}", where="body.fit") from None
        mine = obs[(obs["benchmark"] == query.benchmark) & (obs["metric"] == query.metric)]
        if mine.empty:
            scope = f" in family {query.family!r}" if query.family else ""
            raise ApiError(
                422,
                f"no observations of {query.benchmark}/{query.metric}{scope} to fit on",
                where="body.benchmark",
            )
        return obs.reset_index(drop=True)

    # -- fitting ---------------------------------------------------------------------------------
    def _make(self, query: ForecastQuery) -> Any:
        from predictors.registry import METHODS, make_predictor

        params = {**query.params, "benchmark": query.benchmark, "metric": query.metric}
        params["alpha"] = query.alpha
        try:
            return make_predictor(query.method, **params)
        except (ValueError, TypeError, KeyError) as exc:
            where = "body.params" if query.method in METHODS else "body.method"
            raise ApiError(
                422, f"cannot make predictor {query.method!r}: {exc}", where=where
            ) from None

    def fitted(self, session: Session, query: ForecastQuery) -> tuple[Fitted, bool]:
        """The fitted predictor for ``query`` on the current data, and whether it was cached."""
        obs = self.observations(session, query)
        return self._fitted(query, obs, fingerprint(obs))

    def _fitted(self, query: ForecastQuery, obs: pd.DataFrame, fp: str) -> tuple[Fitted, bool]:
        key = (query.method, canonical_hash(self._fit_identity(query)), fp)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
        if hit is not None:
            self.metrics.cache_hits.inc()
            return hit, True
        self.metrics.cache_misses.inc()
        estimator = self._make(query)
        try:
            estimator.fit(obs)
        except ApiError:
            raise
        except Exception as exc:  # FitError, ValueError, numerical failures: the data's fault
            raise ApiError(
                422,
                f"{query.method} could not fit {query.benchmark}/{query.metric}: {exc}",
                where="body",
            ) from None
        entry = Fitted(estimator, fp, obs, self._backtest(query, obs))
        with self._lock:
            self._cache[key] = entry
            while len(self._cache) > self.maxsize:
                self._cache.popitem(last=False)
        return entry, False

    @staticmethod
    def _fit_identity(query: ForecastQuery) -> dict[str, Any]:
        return query.model_dump(exclude={"target"})

    def _backtest(self, query: ForecastQuery, obs: pd.DataFrame) -> dict[str, Any]:
        from predictors.backtest import backtest

        split = largest_split(obs, query.benchmark, query.metric)
        if split is None:
            return {"error": "needs at least two model sizes to hold out the largest"}
        fit, predict = split
        try:
            result = backtest(self._make(query), obs, fit=fit, predict=predict)
        except Exception as exc:  # a failed backtest is information, not an error
            return {"fit": fit, "predict": predict, "error": str(exc)}
        rows = result.rows
        return jsonable(
            {
                "fit": fit,
                "predict": predict,
                **dict(result.summary),
                "rows": rows.to_dict(orient="records") if rows is not None else [],
            }
        )

    # -- forecasting ------------------------------------------------------------------------------
    def forecast(
        self, session: Session, query: ForecastQuery, *, commit: Callable[[], None] | None = None
    ) -> ForecastPublic:
        """The stored forecast for ``query`` on the current data (fitted and stored if new).

        A request passes ``commit=session.commit``: it is called after reading, so the connection
        goes back to the pool for the seconds a fit takes and the write starts a fresh transaction
        (SQLite cannot turn a stale read snapshot into a write while others commit), and again
        right after the write, inside a process-wide lock, so writers queue here rather than
        time out on SQLite's lock while the fits hog the interpreter.
        """
        obs = self.observations(session, query)
        fp = fingerprint(obs)
        params_hash = canonical_hash(query.model_dump())
        stored = session.scalars(
            select(ForecastRow)
            .where(
                ForecastRow.method == query.method,
                ForecastRow.params_hash == params_hash,
                ForecastRow.data_fingerprint == fp,
            )
            .order_by(ForecastRow.id.desc())
            .limit(1)
        ).first()
        if stored is not None:
            self.metrics.cache_hits.inc()
            hit = True
        else:
            if commit is not None:
                commit()
            entry, hit = self._fitted(query, obs, fp)
            with self._write_lock:  # one writer at a time: SQLite would make the others time out
                stored = self._store(session, query, entry, params_hash)
                if commit is not None:
                    commit()
        self.metrics.forecasts.labels(query.method, "hit" if hit else "miss").inc()
        out = ForecastPublic.model_validate(stored)
        out.cache_hit = hit
        return out

    def _store(
        self, session: Session, query: ForecastQuery, entry: Fitted, params_hash: str
    ) -> ForecastRow:
        try:
            result = entry.estimator.predict(target_frame(query.target))[0]
        except Exception as exc:  # the target is outside what the fitted law can say
            raise ApiError(
                422, f"{query.method} could not predict the target: {exc}", where="body.target"
            ) from None
        diagnostics = {
            **dict(result.diagnostics),
            "notes": list(result.notes),
            "n_observations": len(entry.observations),
            "target": result.target,
        }
        row = ForecastRow(
            method=query.method,
            benchmark=query.benchmark,
            metric=query.metric,
            query=jsonable(query.model_dump()),
            params_hash=params_hash,
            data_fingerprint=entry.fingerprint,
            point=jsonable(float(result.point)),
            lower=jsonable(float(result.lower)),
            upper=jsonable(float(result.upper)),
            alpha=float(result.alpha),
            fitted_params=jsonable(dict(result.params)),
            diagnostics=jsonable(diagnostics),
            backtest=entry.backtest,
        )
        session.add(row)
        session.flush()
        return row
