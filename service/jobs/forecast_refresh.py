"""The ``forecast_refresh`` job: recompute a stored forecast on the current data.

Payload: ``{"query": <a ForecastQuery as POST /v1/forecasts takes>}``. The forecasting service
stores a forecast per (query, data fingerprint), so a refresh after new measurements stores a new
row, and a refresh on unchanged data returns the stored one (``cache_hit``).
"""

from __future__ import annotations

from typing import Any

from db.session import transaction
from service.jobs.worker import JobContext


def refresh(ctx: JobContext) -> dict[str, Any]:
    from service.errors import ApiError
    from service.forecasting import ForecastService
    from service.metrics import Metrics
    from service.schemas import ForecastQuery

    query = ForecastQuery.model_validate(ctx.payload.get("query") or {})
    service = ForecastService(metrics=Metrics())
    try:
        with transaction(ctx.engine) as session:
            out = service.forecast(session, query)
    except ApiError as exc:  # bad data or query: a job error with the API's message
        raise ValueError(str(exc.detail)) from None
    return {
        "forecast_id": out.id,
        "point": out.point,
        "lower": out.lower,
        "upper": out.upper,
        "data_fingerprint": out.data_fingerprint,
        "cache_hit": out.cache_hit,
    }
