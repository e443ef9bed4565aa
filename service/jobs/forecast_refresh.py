"""The ``forecast_refresh`` job: recompute a stored forecast on the current data.

Payload: ``{"query": <a ForecastQuery as POST /v1/forecasts takes>}``. The forecasting service
stores a forecast per (query, data fingerprint), so a refresh after new measurements stores a new
row, and a refresh on unchanged data returns the stored one (``cache_hit``).
"""

from __future__ import annotations

import threading
from typing import Any

from db.session import transaction
from service.jobs.context import JobContext
from service.jobs.failures import JobInputError, TransientJobError

_lock = threading.Lock()
_services: list[Any] = []


def _service() -> Any:
    """One ForecastService per worker process, as the API keeps one per app (fit pool, cache).

    Its fit budget and fits at once come from ``CAPCAST_FIT_TIMEOUT_S`` and
    ``CAPCAST_MAX_CONCURRENT_FITS``, as the server's do.
    """
    with _lock:
        if not _services:
            from service.forecasting import ForecastService
            from service.metrics import Metrics

            _services.append(ForecastService(metrics=Metrics()))
        return _services[0]


def refresh(ctx: JobContext) -> dict[str, Any]:
    """Validate the query as ``POST /v1/forecasts`` does, then forecast through the same service.

    The same :class:`~service.schemas.ForecastQuery` and :class:`ForecastService` as REST, so the
    job gets the same filter language, parameter caps and errors; a refused query fails the job at
    once with the API's message and where it points (``payload.query.…``).
    """
    from pydantic import ValidationError

    from service.errors import ApiError
    from service.schemas import ForecastQuery

    raw = ctx.payload.get("query")
    if not isinstance(raw, dict) or not raw:
        raise JobInputError("a forecast_refresh needs payload.query (a POST /v1/forecasts body)")
    try:
        query = ForecastQuery.model_validate(raw)
    except ValidationError as exc:
        raise JobInputError(query_error(exc)) from None
    try:
        with transaction(ctx.engine) as session:
            out = _service().forecast(session, query, cancelled=lambda: ctx.should_stop)
    except ApiError as exc:  # bad data or query: the API's message, pointed into the payload
        ctx.checkpoint()  # stopped because the job was cancelled or the worker is stopping
        where = f" (at {_in_payload(exc.where)})" if exc.where else ""
        if exc.status_code == 503:  # the fit budget ran out or no fit slot: worth another try
            raise TransientJobError(f"{exc.detail}{where}") from None
        if exc.status_code >= 500:
            raise RuntimeError(f"forecast failed with {exc.status_code}: {exc.detail}") from None
        raise JobInputError(f"{exc.detail}{where}") from None
    return {
        "forecast_id": out.id,
        "point": out.point,
        "lower": out.lower,
        "upper": out.upper,
        "data_fingerprint": out.data_fingerprint,
        "cache_hit": out.cache_hit,
    }


def _in_payload(where: str) -> str:
    """``body.params.loss_fit`` (REST) -> ``payload.query.params.loss_fit`` (this job)."""
    return "payload.query" + where.removeprefix("body") if where.startswith("body") else where


def query_error(exc: Any) -> str:
    """A ForecastQuery ValidationError as ``payload.query.<field>: <message>``, first three."""
    from service.schemas import validation_summary

    return validation_summary(exc, prefix="payload.query")
