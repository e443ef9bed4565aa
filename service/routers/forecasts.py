"""Forecasts: POST a query, get a stored forecast with its interval and its method's backtest."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

import anyio.from_thread
import anyio.to_thread
from fastapi import APIRouter, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse, StreamingResponse
from pydantic import BaseModel
from sqlalchemy import select

from db.models import Forecast
from service.answer_cache import ANSWER_STATE_KEY, etag_matches
from service.auth import ForecastKey, ReadKey
from service.deps import SessionDep
from service.errors import AUTH_ERROR_RESPONSES, ApiError
from service.fit_requests import LEASE_GRACE_S, Accepted, FitNeeded, read_state, refuse_fit
from service.forecasting import forecast_etag
from service.paging import PageDep, paginate
from service.schemas import (
    INT32_MAX,
    NO_NUL,
    ErrorOut,
    ForecastPublic,
    ForecastQuery,
    Page,
    TrackRecordOut,
)
from service.track_record import track_record

router = APIRouter(prefix="/forecasts", tags=["forecasts"], responses=AUTH_ERROR_RESPONSES)


#: ``If-None-Match`` naming the current ETag (forecast id and data version): no body.
NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {"description": "If-None-Match names the current ETag: the answer is unchanged, no body"}
}
IfNoneMatch = Annotated[str | None, Header(max_length=2000)]


def etagged(out: Any, data_version: str, response: Response, if_none_match: str | None) -> Any:
    """``out`` with its strong ETag, or a 304 without a body when the client has it already."""
    tag = forecast_etag(out.id, data_version)
    if etag_matches(if_none_match, tag):
        return Response(status_code=304, headers={"ETag": tag})
    response.headers["ETag"] = tag
    return out


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


class ForecastAccepted(BaseModel):
    """A fit still running: poll ``location`` (303 to the forecast when done) or stream ``events``."""

    id: int
    status: str
    location: str
    events: str


class ForecastRequestState(ForecastAccepted):
    stage: str | None = None
    progress: float | None = None


def parse_prefer(header: str | None) -> dict[str, str]:
    """RFC 7240 ``Prefer`` preferences, lower-cased name -> value ("" when it has none)."""
    prefs: dict[str, str] = {}
    for item in (header or "").split(","):
        name, _, value = item.split(";", 1)[0].partition("=")
        name = name.strip().lower()
        if name and name not in prefs:
            prefs[name] = value.strip().strip('"')
    return prefs


def sync_wait_s(request: Request, prefer: dict[str, str]) -> float:
    """How long the route waits for a fit: the setting, less with ``wait=N``, 0 if respond-async."""
    wait = float(request.app.state.fit_requests.wait_s)
    if "respond-async" in prefer:
        return 0.0
    if prefer.get("wait", "").isdigit():
        wait = min(wait, float(prefer["wait"]))
    return wait


@router.post(
    "",
    response_model=ForecastPublic,
    status_code=200,
    responses={
        **FIT_UNAVAILABLE,
        **NOT_MODIFIED,
        202: {
            "model": ForecastAccepted,
            "description": "the fit runs on after CAPCAST_SYNC_FIT_WAIT_S (or at once with "
            "`Prefer: respond-async`): poll the Location header",
        },
    },
)
def create_forecast(
    body: ForecastQuery,
    request: Request,
    session: SessionDep,
    _: ForecastKey,
    response: Response,
    prefer: Annotated[str | None, Header(max_length=1000)] = None,
    if_none_match: IfNoneMatch = None,
) -> Any:
    """Fit ``method`` on the current observations (or reuse the cached fit) and forecast the target.

    Needs the ``forecast`` scope (or write, admin): the answer is stored. Asking again with the
    same query on the same data returns the same stored forecast (``cache_hit: true``). New
    measurements change ``data_fingerprint`` and refit. A fit runs in a child process within
    ``CAPCAST_FIT_TIMEOUT_S``; past it the fit is killed (503 with ``Retry-After``).

    A fit not done within ``CAPCAST_SYNC_FIT_WAIT_S`` (at once with ``Prefer: respond-async``;
    ``Prefer: wait=N`` shortens the wait) answers 202 with ``Location:
    /v1/forecasts/requests/{id}``; the fit carries on in the server. A client that leaves before
    then stops its fit.

    The answer has a strong ``ETag`` (the forecast and the data version it answers for): with
    ``If-None-Match`` naming it, an unchanged answer is a 304 without a body.
    """
    service = request.app.state.forecasts
    try:
        out = service.forecast(session, body, commit=session.commit, progress=refuse_fit)
        if out.cache_hit and out.data_version:  # repeats are answered before routing
            scope = service.answer_scope(body, out.data_version)
            setattr(request.state, ANSWER_STATE_KEY, scope)
        return etagged(out, out.data_version, response, if_none_match)
    except FitNeeded:
        session.commit()  # nothing written: give the connection back for the wait
    prefs = parse_prefer(prefer)
    wait = sync_wait_s(request, prefs)
    out = request.app.state.fit_requests.submit(body, wait_s=wait, gone=client_gone(request))
    if not isinstance(out, Accepted):
        version = getattr(out, "data_version", None)
        return out if version is None else etagged(out, version, response, if_none_match)
    headers = {"Location": out.location, "Retry-After": "1"}
    if "respond-async" in prefs:
        headers["Preference-Applied"] = "respond-async"
    return JSONResponse(out.body(), status_code=202, headers=headers)


REQUEST_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": ForecastRequestState, "description": "the fit is still running"},
    303: {"description": "the fit is done: Location is the stored forecast"},
    **FIT_UNAVAILABLE,
}


def _state_or_404(request: Request, rid: int) -> dict[str, Any]:
    with request.app.state.sessionmaker() as session:
        state = read_state(session, rid)
    if state is None:
        raise ApiError(404, f"no forecast request with id {rid}", where="path.rid")
    return state


@router.get(
    "/requests/{rid}",
    response_model=ForecastRequestState,
    responses=REQUEST_RESPONSES,
)
def read_forecast_request(
    rid: Annotated[int, Path(ge=1, le=INT32_MAX)], request: Request, _: ReadKey
) -> Any:
    """A forecast request that answered 202: its stage while it runs, then a 303 to the forecast
    (or the fit's error, with the status the POST would have answered). Any server worker can
    answer: the state is in the ``job`` table (kind ``forecast``)."""
    state = _state_or_404(request, rid)
    if state["status"] == "succeeded":
        return RedirectResponse(f"/v1/forecasts/{state['forecast_id']}", status_code=303)
    if state["status"] == "failed":
        error = state["error"]
        return JSONResponse(
            error["body"], status_code=error["status_code"], headers=error["headers"]
        )
    return JSONResponse(ForecastRequestState(**state).model_dump(), headers={"Retry-After": "1"})


#: Seconds between the event stream's looks at the request, and between keep-alive comments.
EVENTS_POLL_S = 0.5
EVENTS_KEEPALIVE_S = 15.0


def sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n"


@router.get(
    "/requests/{rid}/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "server-sent events"}},
)
def forecast_request_events(
    rid: Annotated[int, Path(ge=1, le=INT32_MAX)], request: Request, _: ReadKey
) -> StreamingResponse:
    """Server-sent events of a forecast request: ``progress`` (stage, progress) on each change,
    then ``done`` (forecast_id, location) or ``error`` (the error body and status_code), and the
    stream ends. It ends too once the fit's lease is over (budget plus a grace), whatever came."""
    _state_or_404(request, rid)
    bound = request.app.state.forecasts.fit_timeout_s + LEASE_GRACE_S + 5

    async def events() -> AsyncIterator[str]:
        deadline = time.monotonic() + bound
        last: tuple[Any, ...] | None = None
        sent = time.monotonic()
        while True:
            state = await anyio.to_thread.run_sync(_state_or_404, request, rid)
            if state["status"] == "succeeded":
                fid = state["forecast_id"]
                yield sse(
                    "done", {"id": rid, "forecast_id": fid, "location": f"/v1/forecasts/{fid}"}
                )
                return
            if state["status"] == "failed":
                error = state["error"]
                yield sse(
                    "error", {"id": rid, "status_code": error["status_code"], **error["body"]}
                )
                return
            now = time.monotonic()
            if now > deadline:
                body = {"error": "timeout", "message": f"still running after {bound:g} s"}
                yield sse("error", {"id": rid, "status_code": 504, **body})
                return
            key = (state["stage"], state["progress"])
            if key != last:
                last, sent = key, now
                yield sse("progress", ForecastRequestState(**state).model_dump())
            elif now - sent > EVENTS_KEEPALIVE_S:
                sent = now
                yield ": keep-alive\n\n"
            await anyio.sleep(EVENTS_POLL_S)

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)


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


@router.get("/track-record", response_model=TrackRecordOut)
def read_track_record(
    session: SessionDep,
    _: ReadKey,
    method: Annotated[str | None, Query(max_length=60, pattern=NO_NUL)] = None,
    benchmark: Annotated[str | None, Query(max_length=300, pattern=NO_NUL)] = None,
    family: Annotated[str | None, Query(max_length=200, pattern=NO_NUL)] = None,
) -> TrackRecordOut:
    """Every stored forecast whose target has since been measured (the same model, or the same
    size and tokens in the query's family; same benchmark and metric), with its actual value,
    absolute error and whether the interval held it; per method n, mean and max absolute error
    and coverage. Scored when read, so it fills itself as measurements arrive."""
    record = track_record(session, method=method, benchmark=benchmark, family=family)
    return TrackRecordOut.model_validate(record.to_dict())


@router.get("/{forecast_id}", response_model=ForecastPublic, responses=NOT_MODIFIED)
def read_forecast(
    forecast_id: Annotated[int, Path(ge=1, le=INT32_MAX)],
    session: SessionDep,
    _: ReadKey,
    response: Response,
    if_none_match: IfNoneMatch = None,
) -> Any:
    """A stored forecast, with the same strong ``ETag`` as the POST that answered it (304 for
    an ``If-None-Match`` naming it)."""
    row = session.get(Forecast, forecast_id)
    if row is None:
        raise ApiError(404, f"no forecast with id {forecast_id}", where="path.forecast_id")
    return etagged(ForecastPublic.model_validate(row), row.data_version, response, if_none_match)
