"""Forecasts on request: fetch observations, fingerprint them, fit (or reuse) a predictor, store.

Fitted predictors are cached in-process by (method, parameters, data fingerprint). The
fingerprint is a hash of the observation rows the fit uses, so any new or changed measurement
gives a new fingerprint and the old fit is simply never asked for again. A stored forecast with
the same query and fingerprint is returned as it is: forecasts are reproducible from their inputs.
It is found first by the data version (db/data_version.py: counters every write bumps), read with
one small SELECT, so a cached forecast costs no observation rows; only a miss reads and hashes them.
Each fit comes with the method's own backtest on the same data: fit on all but the largest models,
predict those.

Fits (with their backtest) run in child processes of a :class:`~service.fit_pool.FitPool`, within
a budget (``CAPCAST_FIT_TIMEOUT_S``) and at most ``CAPCAST_MAX_CONCURRENT_FITS`` at once: a fit
past its budget, whose client went away, or running when the server stops is killed. The child
computes :func:`fit_and_backtest`, the same function in the same code as in-process, so the
numbers do not depend on where it ran.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import threading
import traceback
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Forecast as ForecastRow
from predictors.base import FitError
from predictors.filters import Filter, FilterError, parse_filter
from service.answer_cache import AnswerScope
from service.errors import ApiError
from service.fit_pool import PROCESS_DIED, FitCancelled, FitFailed, FitPool, FitTimeout
from service.metrics import Metrics
from service.schemas import ForecastPublic, ForecastQuery, Target

log = logging.getLogger("capcast.service")

TARGET_COLUMNS = ("model", "n_params", "n_params_nonembed", "n_tokens", "flops")
#: Imported once by the fit processes' forkserver, so a fit pays a fork and not these imports.
FIT_PRELOAD = (
    "numpy",
    "pandas",
    "scipy.optimize",
    "predictors.backtest",
    "predictors.baselines",
    "predictors.ladder",
    "predictors.loss_accuracy",
    "predictors.passuntil",
    "predictors.cod",
    "predictors.auto",
    "predictors.leaderboard",
    "service.forecasting",
)


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
    # and what its contract reads (observational: its base benchmarks); a malformed parameter
    # is left for the fit to name
    with contextlib.suppress(ValueError):
        extra += [bench for bench, _ in estimator.input_contract().series]
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
    if target.family is not None:
        frame["family"] = target.family
    return frame


def held_out_sizes(n_sizes: int) -> int:
    """How many of the largest distinct sizes a backtest holds out.

    One held-out model says little, so with at least 5 sizes the largest 2 are held out, and
    with at least 8 the largest 3; fewer than 5 keep all but the largest to fit on.
    """
    if n_sizes < 2:
        return 0
    return 1 if n_sizes < 5 else 2 if n_sizes < 8 else 3


def largest_split(obs: pd.DataFrame, benchmark: str, metric: str) -> tuple[Filter, Filter] | None:
    """(fit, predict) filters: all but the largest sizes, and those (see :func:`held_out_sizes`)."""
    rows = obs[(obs["benchmark"] == benchmark) & (obs["metric"] == metric)]
    for col in ("n_params", "flops"):
        sizes = np.sort(pd.to_numeric(rows[col], errors="coerce").dropna().unique())
        k = held_out_sizes(len(sizes))
        if k:
            cut = float(sizes[-k])
            return parse_filter(f"{col} < {cut!r}"), parse_filter(f"{col} >= {cut!r}")
    return None


#: What a predictor raises for data it cannot fit: the query's or the data's fault, a 422.
#: Anything else from a fit is a bug in capcast: a 500 with an error id, never the user's error.
DATA_ERRORS: tuple[type[Exception], ...] = (ValueError, ArithmeticError, FitError)


class FitBug(Exception):
    """A fit failed in a way no data should cause; the message is the traceback, for the log."""


def make_estimator(query: ForecastQuery) -> Any:
    """The unfitted predictor ``query`` asks for; ValueError/TypeError/KeyError if it cannot be."""
    from predictors.registry import make_predictor

    params = {**query.params, "benchmark": query.benchmark, "metric": query.metric}
    params["alpha"] = query.alpha
    return make_predictor(query.method, **params)


def backtest_summary(query: ForecastQuery, obs: pd.DataFrame) -> dict[str, Any]:
    """The method's own backtest on ``obs`` (largest models held out), JSON-ready; never raises."""
    from predictors.backtest import backtest

    split = largest_split(obs, query.benchmark, query.metric)
    if split is None:
        return {"error": "needs at least two model sizes to hold out the largest"}
    fit, predict = split
    try:
        result = backtest(make_estimator(query), obs, fit=fit, predict=predict)
    except DATA_ERRORS as exc:  # a backtest the data cannot support is information, not an error
        return {"fit": str(fit), "predict": str(predict), "error": str(exc)}
    rows = result.rows
    return jsonable(
        {
            "fit": str(fit),
            "predict": str(predict),
            **dict(result.summary),
            "rows": rows.to_dict(orient="records") if rows is not None else [],
        }
    )


@dataclass
class FitOutcome:
    """What one fit sends back: the fitted predictor, its backtest, and the forecast of the
    query's own target, already in stored form, so the server stores it without predicting."""

    estimator: Any
    backtest: dict[str, Any]
    prediction: dict[str, Any]


def fit_and_backtest(query: ForecastQuery, obs: pd.DataFrame) -> FitOutcome:
    """What one fit computes, in a fit process or in-process: the fitted predictor, its backtest
    and the forecast of ``query.target``.

    Data errors pass through as they are; any other exception becomes :class:`FitBug` carrying
    its traceback, since only the text crosses back from a fit process.
    """
    try:
        estimator = make_estimator(query)
        estimator.fit(obs)
        return FitOutcome(
            estimator,
            backtest_summary(query, obs),
            predicted_fields(estimator, query.target, len(obs)),
        )
    except DATA_ERRORS:
        raise
    except Exception as exc:
        raise FitBug(traceback.format_exc()) from exc


def predicted_fields(estimator: Any, target: Target, n_observations: int) -> dict[str, Any]:
    """The columns of a forecast that depend on its target, as JSON values; ``{"error": text}``
    where the fitted law cannot say anything there (a 422 for whoever asked)."""
    try:
        result = estimator.predict(target_frame(target))[0]
    except Exception as exc:  # the target is outside what the fitted law can say
        return {"error": str(exc)}
    diagnostics = {
        **dict(result.diagnostics),
        "notes": list(result.notes),
        "n_observations": n_observations,
        "target": result.target,
    }
    return {
        "point": jsonable(float(result.point)),
        "lower": jsonable(float(result.lower)),
        "upper": jsonable(float(result.upper)),
        "alpha": float(result.alpha),
        "fitted_params": jsonable(dict(result.params)),
        "diagnostics": jsonable(diagnostics),
    }


def forecast_fields(query: ForecastQuery, entry: Fitted, where: str) -> dict[str, Any]:
    """The columns of a forecast of ``query.target`` by the fitted ``entry`` (stored or shown).

    The fit process predicted its own query's target already; another target (a cached fit asked
    about a new one) is predicted here. ``where`` names the target in a 422 when the fitted law
    cannot say anything there.
    """
    predicted = entry.predictions.get(target_key(query.target))
    if predicted is None:
        predicted = predicted_fields(entry.estimator, query.target, len(entry.observations))
    if "error" in predicted:
        raise ApiError(
            422, f"{query.method} could not predict the target: {predicted['error']}", where=where
        )
    return {
        "method": query.method,
        "benchmark": query.benchmark,
        "metric": query.metric,
        "query": jsonable(query.model_dump()),
        "data_fingerprint": entry.fingerprint,
        **predicted,
        "backtest": entry.backtest,
    }


def target_key(target: Target) -> str:
    return canonical_hash(target.model_dump())


@dataclass
class Fitted:
    """A fitted predictor with what it was fitted on and how it did in its own backtest."""

    estimator: Any
    fingerprint: str
    observations: pd.DataFrame
    backtest: dict[str, Any] = field(default_factory=dict)
    #: Forecasts already made by the fit process, by :func:`target_key`.
    predictions: dict[str, dict[str, Any]] = field(default_factory=dict)


class StoredForecast(ForecastPublic):
    """A forecast as :meth:`ForecastService.forecast` answers it: with the data version it was
    stored under, for the ETag (never in the JSON body)."""

    data_version: str = Field("", exclude=True)


def forecast_etag(forecast_id: int, data_version: str) -> str:
    """A strong ETag: the stored forecast and the data version it answers for."""
    return f'"{forecast_id}-{data_version}"'


def _unavailable(message: str, where: str, *, retry_after: int) -> ApiError:
    """A 503 with ``Retry-After``: the work was refused or stopped, not the request."""
    exc = ApiError(503, message, where=where)
    exc.headers = {"Retry-After": str(retry_after)}
    return exc


#: Observation reads kept per server process, by data version (:meth:`ForecastService._read`).
READS_KEPT = 16


def _import_predictors() -> None:
    import importlib

    for module in FIT_PRELOAD:
        importlib.import_module(module)


class ForecastService:
    """The composition behind POST /v1/forecasts and the dashboard's curves; one per app."""

    def __init__(
        self,
        *,
        metrics: Metrics,
        maxsize: int = 128,
        fit_timeout_s: float | None = None,
        max_concurrent_fits: int | None = None,
    ) -> None:
        """``fit_timeout_s`` and ``max_concurrent_fits`` default to the ``CAPCAST_*`` settings."""
        from db.config import get_settings

        settings = get_settings()
        self.metrics, self.maxsize = metrics, maxsize
        self.fit_timeout_s = fit_timeout_s or settings.fit_timeout_s
        self.pool = FitPool(
            max_concurrent=max_concurrent_fits or settings.max_concurrent_fits,
            preload=FIT_PRELOAD,
        )
        self._cache: OrderedDict[tuple[str, str, str], Fitted] = OrderedDict()
        self._reads: OrderedDict[tuple[Any, ...], tuple[pd.DataFrame, str]] = OrderedDict()
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()

    # -- data ------------------------------------------------------------------------------------
    def observations(self, session: Session, query: ForecastQuery) -> pd.DataFrame:
        from db.queries import fetch_observations

        self.metrics.observation_fetches.inc()
        estimator = self._make(query)
        benchmarks = needed_benchmarks(query, estimator)
        obs = fetch_observations(session, benchmark=benchmarks, family=query.family)
        if estimator.uses_item_rows:
            items = item_observations(session, benchmark=query.benchmark, family=query.family)
            obs = pd.concat([obs, items], ignore_index=True) if len(items) else obs

        def mine(frame: pd.DataFrame) -> pd.DataFrame:
            return frame[
                (frame["benchmark"] == query.benchmark) & (frame["metric"] == query.metric)
            ]

        scope = f" in family {query.family!r}" if query.family else ""
        if mine(obs).empty:
            raise ApiError(
                422,
                f"no observations of {query.benchmark}/{query.metric}{scope} to fit on",
                where="body.benchmark",
            )
        if query.fit is not None and query.fit.strip():
            try:
                obs = parse_filter(query.fit).apply(obs)
            except FilterError as exc:
                raise ApiError(422, f"fit filter {query.fit!r}: {exc}", where="body.fit") from None
            if mine(obs).empty:
                raise ApiError(
                    422,
                    f"the fit filter {query.fit!r} keeps none of the "
                    f"{query.benchmark}/{query.metric} observations{scope}",
                    where="body.fit",
                )
        return obs.reset_index(drop=True)

    # -- fitting ---------------------------------------------------------------------------------
    def _make(self, query: ForecastQuery) -> Any:
        from predictors.registry import METHODS

        try:
            return make_estimator(query)
        except (ValueError, TypeError, KeyError) as exc:
            where = "body.params" if query.method in METHODS else "body.method"
            raise ApiError(
                422, f"cannot make predictor {query.method!r}: {exc}", where=where
            ) from None

    def fitted(
        self,
        session: Session,
        query: ForecastQuery,
        *,
        cancelled: Callable[[], bool] | None = None,
    ) -> tuple[Fitted, bool]:
        """The fitted predictor for ``query`` on the current data, and whether it was cached."""
        obs = self.observations(session, query)
        return self._fitted(query, obs, fingerprint(obs), cancelled)

    def _fitted(
        self,
        query: ForecastQuery,
        obs: pd.DataFrame,
        fp: str,
        cancelled: Callable[[], bool] | None = None,
    ) -> tuple[Fitted, bool]:
        key = (query.method, canonical_hash(self._fit_identity(query)), fp)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
        if hit is not None:
            self.metrics.cache_hits.inc()
            return hit, True
        self.metrics.cache_misses.inc()
        self._make(query)  # a bad method or parameter is a 422 before any process starts
        outcome = self._run_fit(query, obs, cancelled)
        entry = Fitted(
            outcome.estimator,
            fp,
            obs,
            outcome.backtest,
            {target_key(query.target): outcome.prediction},
        )
        with self._lock:
            self._cache[key] = entry
            while len(self._cache) > self.maxsize:
                self._cache.popitem(last=False)
        return entry, False

    @staticmethod
    def _fit_identity(query: ForecastQuery) -> dict[str, Any]:
        return query.model_dump(exclude={"target"})

    def _run_fit(
        self, query: ForecastQuery, obs: pd.DataFrame, cancelled: Callable[[], bool] | None
    ) -> FitOutcome:
        """:func:`fit_and_backtest` in a fit process, its failures mapped to API errors."""
        budget = self.fit_timeout_s
        try:
            return self.pool.run(fit_and_backtest, query, obs, timeout=budget, cancelled=cancelled)
        except FitTimeout as exc:
            if exc.waited_for_slot:
                message = (
                    f"no fit slot became free within {budget:g} s (CAPCAST_FIT_TIMEOUT_S): "
                    f"{self.pool.max_concurrent} fits already run (CAPCAST_MAX_CONCURRENT_FITS); "
                    "retry later"
                )
                where = "server"
            else:
                message = (
                    f"the fit did not finish within {budget:g} s (CAPCAST_FIT_TIMEOUT_S); "
                    "it was stopped. Ask for less work (fewer resamples in params.n_bootstrap, "
                    "fewer rows through fit or family) or retry when the server is less busy"
                )
                where = "body.params"
            raise _unavailable(message, where, retry_after=max(1, round(budget / 2))) from None
        except FitCancelled as exc:
            raise _unavailable(f"the fit was stopped: {exc}", "server", retry_after=1) from None
        except FitFailed as exc:  # FitError, ValueError, numerical failures: the data's fault
            if exc.kind == PROCESS_DIED:  # killed from outside (out of memory?): not the query's
                raise _unavailable(f"{exc}; retry later", "server", retry_after=5) from None
            if exc.kind == FitBug.__name__:
                error_id = uuid.uuid4().hex[:12]
                log.error("fit of %s failed (error id %s):\n%s", query.method, error_id, exc)
                raise ApiError(
                    500,
                    f"internal error (error id {error_id}): the {query.method} fit hit a bug in "
                    "capcast; the server log has the details",
                ) from None
            # a filter parameter (gadre's loss_fit, ...) that parsed but does not apply to the rows
            where = "body.params" if exc.kind == "FilterError" else "body"
            raise ApiError(
                422,
                f"{query.method} could not fit {query.benchmark}/{query.metric}: {exc}",
                where=where,
            ) from None

    def start(self) -> None:
        """At server start: start the fit processes' forkserver; SIGTERM/SIGINT stop all fits.

        The predictors are imported here too, in a background thread: every forecast request
        validates its parameters with them, and the first would otherwise stall the server's
        other requests for the second their import takes (SciPy and friends).
        """
        self.pool.start()
        self.pool.close_on_signals()
        threading.Thread(target=_import_predictors, name="capcast-preload", daemon=True).start()

    def close(self) -> None:
        """Stop running fits (server shutdown); requests waiting on them get a 503."""
        self.pool.close()

    # -- forecasting ------------------------------------------------------------------------------
    def forecast(
        self,
        session: Session,
        query: ForecastQuery,
        *,
        commit: Callable[[], None] | None = None,
        cancelled: Callable[[], bool] | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> ForecastPublic:
        """The stored forecast for ``query`` on the current data (fitted and stored if new).

        ``progress`` (service/fit_requests.py) hears the stages ``"fitting"`` (a fit is needed:
        nothing stored matched; it may raise to refuse fitting here) and ``"storing"``.

        A request passes ``commit=session.commit``: it is called after reading, so the connection
        goes back to the pool for the seconds a fit takes and the write starts a fresh transaction
        (SQLite cannot turn a stale read snapshot into a write while others commit), and again
        right after the write, inside a process-wide lock, so writers queue here rather than
        time out on SQLite's lock. ``cancelled`` (polled while a fit runs) true stops the fit.
        """
        params_hash = canonical_hash(query.model_dump())
        version = self.data_version(session, query)
        stored = self._stored(session, query, params_hash, ForecastRow.data_version == version)
        if stored is None:  # only now read (and hash) the rows
            obs, fp, version = self._read(session, query, version)
            stored = self._stored(session, query, params_hash, ForecastRow.data_fingerprint == fp)
            if stored is not None and version and stored.data_version != version:
                # same rows under a newer version (a write the query does not see): next time
                # found by version
                with self._write_lock:
                    if commit is not None:
                        commit()
                    stored.data_version = version
                    session.flush()
                    if commit is not None:
                        commit()
        if stored is not None:
            self.metrics.cache_hits.inc()
            hit = True
        else:
            if progress is not None:
                progress("fitting")
            if commit is not None:
                commit()
            entry, hit = self._fitted(query, obs, fp, cancelled)
            if progress is not None:
                progress("storing")
            with self._write_lock:  # one writer at a time: SQLite would make the others time out
                stored = self._store(session, query, entry, params_hash, version)
                if commit is not None:
                    commit()
        self.metrics.forecasts.labels(query.method, "hit" if hit else "miss").inc()
        out = StoredForecast.model_validate(stored)
        out.cache_hit = hit
        return out

    def _read(
        self, session: Session, query: ForecastQuery, version: str
    ) -> tuple[pd.DataFrame, str, str]:
        """The rows ``query`` fits on, their fingerprint, and the version they are filed under.

        A data version names its rows exactly (every write bumps it), so rows read at a version
        are kept (:data:`READS_KEPT` of them) and reused by the next fit at that version: another
        method, target or seed on the same data costs no read, no DataFrame and no hashing in the
        server process. The version comes back "" when a write landed while reading: such rows
        are neither kept nor filed under a version.
        """
        estimator = self._make(query)
        key = (
            version,
            query.family,
            tuple(needed_benchmarks(query, estimator)),
            estimator.uses_item_rows,
            query.fit or "",
            query.benchmark,
            query.metric,
        )
        with self._lock:
            kept = self._reads.get(key)
            if kept is not None:
                self._reads.move_to_end(key)
        if kept is not None:
            return kept[0], kept[1], version
        obs = self.observations(session, query)
        if self.data_version(session, query) != version:
            return obs, fingerprint(obs), ""
        fp = fingerprint(obs)
        with self._lock:
            self._reads[key] = (obs, fp)
            while len(self._reads) > READS_KEPT:
                self._reads.popitem(last=False)
        return obs, fp, version

    def data_version(self, session: Session, query: ForecastQuery) -> str:
        """The version of the data ``query`` fits on (db/data_version.py): one small SELECT of
        the counters of its family (or all) and the benchmarks it needs; no observation rows."""
        from db.data_version import current

        return current(session, needed_benchmarks(query, self._make(query)), query.family)

    def answer_scope(self, query: ForecastQuery, data_version: str) -> AnswerScope:
        """What a stored answer to ``query`` depends on, for service/answer_cache.py."""
        benchmarks = tuple(needed_benchmarks(query, self._make(query)))
        return AnswerScope(query.method, benchmarks, query.family, data_version)

    @staticmethod
    def _stored(
        session: Session, query: ForecastQuery, params_hash: str, data: Any
    ) -> ForecastRow | None:
        """The newest stored forecast of this query whose data matches ``data`` (a condition)."""
        return session.scalars(
            select(ForecastRow)
            .where(ForecastRow.method == query.method, ForecastRow.params_hash == params_hash, data)
            .order_by(ForecastRow.id.desc())
            .limit(1)
        ).first()

    def _store(
        self,
        session: Session,
        query: ForecastQuery,
        entry: Fitted,
        params_hash: str,
        data_version: str = "",
    ) -> ForecastRow:
        fields = forecast_fields(query, entry, "body.target")
        row = ForecastRow(params_hash=params_hash, data_version=data_version, **fields)
        session.add(row)
        session.flush()
        return row
