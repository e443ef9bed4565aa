"""Forecasts: POST a query, get a stored forecast with its interval and its method's backtest."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import anyio.from_thread
from fastapi import APIRouter, Path, Query, Request
from sqlalchemy import select

from db.models import Forecast
from service.auth import ForecastKey, ReadKey
from service.deps import SessionDep
from service.errors import AUTH_ERROR_RESPONSES, ApiError
from service.paging import PageDep, paginate
from service.schemas import INT32_MAX, NO_NUL, ErrorOut, ForecastPublic, ForecastQuery, Page

router = APIRouter(prefix="/forecasts", tags=["forecasts"], responses=AUTH_ERROR_RESPONSES)


def client_gone(request: Request) -> Callable[[], bool]:
    """A check, callable from the route's worker thread, of whether the client disconnected."""

    def gone() -> bool:
        try:
            return anyio.from_thread.run(request.is_disconnected)
        except RuntimeError:  # not in an anyio worker thread (or the loop is closing)
            return False

    return gone


FIT_UNAVAILABLE = {
    503: {
        "model": ErrorOut,
        "description": "the fit did not finish within CAPCAST_FIT_TIMEOUT_S (it was stopped), "
        "no fit slot became free in that time, or the server is shutting down; see Retry-After",
    }
}


@router.post("", response_model=ForecastPublic, responses=FIT_UNAVAILABLE)
def create_forecast(
    body: ForecastQuery, request: Request, session: SessionDep, _: ForecastKey
) -> ForecastPublic:
    """Fit ``method`` on the current observations (or reuse the cached fit) and forecast the target.

    Needs the ``forecast`` scope (or write, admin): the answer is stored. Asking again with the
    same query on the same data returns the same stored forecast (``cache_hit: true``). New
    measurements change ``data_fingerprint`` and refit. A fit runs in a child process within
    ``CAPCAST_FIT_TIMEOUT_S``; past it, or when the client disconnects, the fit is killed (503
    with ``Retry-After``).
    """
    service = request.app.state.forecasts
    return service.forecast(session, body, commit=session.commit, cancelled=client_gone(request))


@router.get("", response_model=Page[ForecastPublic])
def list_forecasts(
    session: SessionDep,
    _: ReadKey,
    page: PageDep,
    method: Annotated[str | None, Query(max_length=60, pattern=NO_NUL)] = None,
    benchmark: Annotated[str | None, Query(max_length=300, pattern=NO_NUL)] = None,
) -> Page[ForecastPublic]:
    stmt = select(Forecast).order_by(Forecast.id.desc())
    if method is not None:
        stmt = stmt.where(Forecast.method == method)
    if benchmark is not None:
        stmt = stmt.where(Forecast.benchmark == benchmark)
    rows, count = paginate(session, stmt, page)
    return Page[ForecastPublic](data=[ForecastPublic.model_validate(r) for r in rows], count=count)


@router.get("/{forecast_id}", response_model=ForecastPublic)
def read_forecast(
    forecast_id: Annotated[int, Path(ge=1, le=INT32_MAX)], session: SessionDep, _: ReadKey
) -> ForecastPublic:
    row = session.get(Forecast, forecast_id)
    if row is None:
        raise ApiError(404, f"no forecast with id {forecast_id}", where="path.forecast_id")
    return ForecastPublic.model_validate(row)
