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

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from db.config import Settings, get_settings
from db.session import make_engine, session_factory
from service import errors, openapi_links
from service.answer_cache import AnswerCache, CachedAnswerMiddleware
from service.auth import install_log_redaction
from service.deps import SessionDep
from service.fit_requests import FitRequests
from service.forecasting import ForecastService
from service.limits import BodyLimitMiddleware
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
    async def lifespan(app_: FastAPI) -> AsyncIterator[None]:
        app_.state.forecasts.start()  # fit processes' forkserver; a SIGTERM kills running fits
        yield
        app_.state.forecasts.close()  # kill running fits: a shutdown must not wait for them
        app_.state.fit_requests.close()  # record the 202'd fits as failed, not leave them running
        engine.dispose()

    app = FastAPI(
        title="capcast",
        version=_version(),
        description="Forecast LLM benchmark scores from ladders of small models.",
        lifespan=lifespan,
        docs_url=None,  # /docs and /redoc are served by _add_docs_routes, without a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = session_factory(engine)
    app.state.metrics = Metrics()
    app.state.forecasts = ForecastService(
        metrics=app.state.metrics,
        fit_timeout_s=settings.fit_timeout_s,
        max_concurrent_fits=settings.max_concurrent_fits,
    )
    app.state.fit_requests = FitRequests(
        service=app.state.forecasts,
        engine=engine,
        sessionmaker=app.state.sessionmaker,
        wait_s=settings.sync_fit_wait_s,
    )
    errors.install(app)
    install_log_redaction()  # no API key in uvicorn's access or error log
    app.state.answers = AnswerCache(settings.answer_cache_bytes)
    app.add_middleware(
        CachedAnswerMiddleware,
        cache=app.state.answers,
        sessionmaker=app.state.sessionmaker,
        metrics=app.state.metrics,
    )
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    # outermost: an oversized or over-nested body is refused before anything reads it
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes)
    app.include_router(_api_router())
    _add_operational_routes(app)
    _add_docs_routes(app)
    from service.dashboard.pages import router as dashboard_router

    app.include_router(dashboard_router)
    openapi_links.install(app)
    return app


#: Swagger UI and ReDoc files shipped by the fastapi-offline package, by the name they are served
#: under at /docs/assets/NAME; FastAPI's own pages load them from a CDN, blank when offline.
DOCS_ASSETS: dict[str, str] = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "redoc.standalone.js": "text/javascript; charset=utf-8",
    "favicon.png": "image/png",
}
DOCS_ASSETS_URL = "/docs/assets"


def _add_docs_routes(app: FastAPI) -> None:
    """/docs (Swagger UI) and /redoc whose scripts, styles and icon come from this server."""
    from importlib.resources import files

    from fastapi.openapi.docs import (
        get_redoc_html,
        get_swagger_ui_html,
        get_swagger_ui_oauth2_redirect_html,
    )

    static = files("fastapi_offline") / "static"
    oauth2_url = app.swagger_ui_oauth2_redirect_url or "/docs/oauth2-redirect"

    def asset(request: Request, name: str) -> str:
        return f"{request.scope.get('root_path', '')}{DOCS_ASSETS_URL}/{name}"

    @app.get("/docs", include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=f"{root}{oauth2_url}",
            swagger_js_url=asset(request, "swagger-ui-bundle.js"),
            swagger_css_url=asset(request, "swagger-ui.css"),
            swagger_favicon_url=asset(request, "favicon.png"),
            swagger_ui_parameters=app.swagger_ui_parameters,
        )

    @app.get(oauth2_url, include_in_schema=False)
    def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        page = get_redoc_html(
            openapi_url=f"{request.scope.get('root_path', '')}{app.openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=asset(request, "redoc.standalone.js"),
            redoc_favicon_url=asset(request, "favicon.png"),
            with_google_fonts=False,
        )
        # ReDoc's bundle draws its attribution logo from cdn.redoc.ly: images stay on this server
        page.headers["Content-Security-Policy"] = "img-src 'self' data:"
        return page

    def serve(name: str, media_type: str) -> None:
        path = str(static / name)

        @app.get(f"{DOCS_ASSETS_URL}/{name}", include_in_schema=False, name=f"docs-{name}")
        def docs_asset() -> FileResponse:
            return FileResponse(
                path, media_type=media_type, headers={"Cache-Control": "public, max-age=86400"}
            )

    for name, media_type in DOCS_ASSETS.items():  # one fixed route per file: no path from input
        serve(name, media_type)


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
