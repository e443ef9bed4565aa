"""The FastAPI application: REST under /v1, the dashboard, /healthz and /metrics.

``create_app(settings)`` builds one app with its own engine, metrics registry and forecast cache,
so tests can run several side by side. Serve it with ``capcast serve`` or
``uvicorn service.app:create_app --factory``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version

from fastapi import APIRouter, FastAPI
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from db.config import Settings, get_settings
from db.session import make_engine, session_factory
from service import errors
from service.deps import SessionDep
from service.forecasting import ForecastService
from service.metrics import Metrics, MetricsMiddleware
from service.schemas import ErrorOut, Health

log = logging.getLogger("capcast.service")


def _version() -> str:
    try:
        return version("capcast")
    except PackageNotFoundError:
        return "0+unknown"


def _api_router() -> APIRouter:
    from service.routers import (
        analyses,
        benchmarks,
        families,
        forecasts,
        items,
        jobs,
        keys,
        measurements,
        models,
        runs,
        schedules,
    )

    api = APIRouter(prefix="/v1")
    # routers (one line per router; other helpers add theirs here)
    api.include_router(families.router)
    api.include_router(models.router)
    api.include_router(benchmarks.router)
    api.include_router(items.router)
    api.include_router(measurements.router)
    api.include_router(runs.router)
    api.include_router(forecasts.router)
    api.include_router(keys.router)
    api.include_router(analyses.router)
    api.include_router(jobs.router)
    api.include_router(schedules.router)
    return api


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app for ``settings`` (default: the ``CAPCAST_*`` environment)."""
    settings = settings or get_settings()
    # as many connections as the thread pool has threads (40), so no request waits for one
    pool = {} if ":memory:" in settings.database_url else {"pool_size": 10, "max_overflow": 30}
    engine = make_engine(settings.database_url, pool_pre_ping=True, **pool)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        engine.dispose()

    app = FastAPI(
        title="capcast",
        version=_version(),
        description="Forecast LLM benchmark scores from ladders of small models.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = session_factory(engine)
    app.state.metrics = Metrics()
    app.state.forecasts = ForecastService(metrics=app.state.metrics)
    errors.install(app)
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    app.include_router(_api_router())
    _add_operational_routes(app)
    from service.dashboard.pages import router as dashboard_router

    app.include_router(dashboard_router)
    return app


def _add_operational_routes(app: FastAPI) -> None:
    @app.get(
        "/healthz",
        response_model=Health,
        tags=["operations"],
        responses={503: {"model": ErrorOut, "description": "database unreachable"}},
    )
    def healthz(session: SessionDep) -> Health:
        """Liveness and database reachability (no key needed)."""
        try:
            session.execute(text("SELECT 1"))
        except SQLAlchemyError:
            log.exception("health check: database unreachable")
            raise errors.ApiError(503, "database unreachable", where="database") from None
        return Health(status="ok", database="ok", version=app.version)

    @app.get(
        "/metrics",
        response_class=Response,
        tags=["operations"],
        responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text"}},
    )
    def metrics() -> Response:
        """Prometheus metrics: request counts and latencies, forecasts served, cache hits."""
        body, content_type = app.state.metrics.render()
        return Response(body, media_type=content_type)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/dashboard")
