"""Dashboard routes. They need the read scope like the API (unless reads are public).

A browser signs in once: the form at ``/dashboard/login`` posts the key in the body, or a link
carries ``?key=...``, which is answered with a 303 to the same address without it (so the key
leaves the address bar and history). Either way the key is kept in an HttpOnly, SameSite=Strict
cookie (Secure over https) scoped to ``/dashboard``; ``POST /dashboard/logout`` clears it. A page
asked for without a working key answers the sign-in form with a 401, not a JSON error. Pages
only read: a forecast they draw is computed, never stored (POST /v1/forecasts stores).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request, Response
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from sqlalchemy import text

from db.models import ApiKey
from service import analysis
from service.auth import COOKIE_NAME, authenticate, token_from
from service.dashboard.content import agreement_view, densing_choices
from service.dashboard.plots import density_chart, density_svg, heatmap_chart, heatmap_svg
from service.dashboard.scaling import default_methods, default_target, final_rows, scaling_view
from service.deps import SessionDep, SettingsDep
from service.errors import ApiError
from service.forecasting import jsonable
from service.schemas import (
    NO_NUL,
    AgreementQuery,
    DensingQuery,
    ForecastQuery,
    Target,
    validation_summary,
)
from service.track_record import track_record

templates = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))
Text = Annotated[str | None, Query(max_length=300, pattern=NO_NUL)]
Number = Annotated[str | None, Query(max_length=40, pattern=NO_NUL)]
HOME = "/dashboard"


# -- signing in ----------------------------------------------------------------------------------


class _SignIn(Exception):
    """The page cannot be shown: answer the sign-in form (401), forgetting a stale cookie."""

    def __init__(self, error: str | None = None, *, forget: bool = False) -> None:
        super().__init__(error)
        self.error, self.forget = error, forget


class _SignedIn(Exception):
    """A ``?key=`` link worked: set the cookie and send the browser to the address without it."""

    def __init__(self, token: str, location: str) -> None:
        super().__init__(location)
        self.token, self.location = token, location


class DashboardRoute(APIRoute):
    """Turns the sign-in signals raised by :func:`dashboard_key` into HTML answers."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except _SignedIn as done:
                return _signed_in(request, done.token, done.location)
            except _SignIn as need:
                return _login_page(request, need.error, forget=need.forget)

        return route


router = APIRouter(prefix=HOME, include_in_schema=False, route_class=DashboardRoute)


def _here(request: Request) -> str:
    """This page's path and query without ``key``: relative, so no Host header is trusted."""
    url = request.url.remove_query_params("key")
    return url.path + (f"?{url.query}" if url.query else "")


def _safe_next(target: str | None) -> str:
    """A dashboard path to go to after signing in; anything else (another site) is home."""
    if not target or not target.startswith(HOME) or "\\" in target or "//" in target:
        return HOME
    if target.startswith(f"{HOME}/log"):  # the sign-in and sign-out pages themselves
        return HOME
    return target if target[len(HOME) : len(HOME) + 1] in ("", "/", "?") else HOME


def _set_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        COOKIE_NAME,
        token,
        path=HOME,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def _signed_in(request: Request, token: str, location: str) -> Response:
    response = RedirectResponse(_safe_next(location), status_code=303)
    _set_cookie(request, response, token)
    response.headers["Cache-Control"] = "no-store"
    return response


def _login_page(
    request: Request,
    error: str | None,
    *,
    forget: bool = False,
    status: int = 401,
    next_url: str | None = None,
) -> HTMLResponse:
    """The sign-in form; after signing in, the browser goes to ``next_url`` (default: here)."""
    context = {"error": error, "next": _safe_next(next_url or _here(request))}
    response = templates.TemplateResponse(request, "login.html", context, status_code=status)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="capcast dashboard"'
    if forget:
        _forget(response)
    response.headers["Cache-Control"] = "no-store"
    return response


def _forget(response: Response) -> None:
    response.delete_cookie(COOKIE_NAME, path=HOME, httponly=True, samesite="strict")


def _key_from_link(request: Request, session: SessionDep) -> None:
    """A ``?key=`` in the address: sign in with it and redirect to the address without it."""
    token = request.query_params.get("key")
    if token is None or request.method != "GET":
        return
    try:
        authenticate(request, session, token, "read")
    except HTTPException:
        raise _SignIn("that key is not valid: unknown, revoked or expired") from None
    raise _SignedIn(token, _here(request))


def dashboard_key(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
) -> ApiKey | None:
    """The read key of a dashboard request (header or cookie); the sign-in form otherwise."""
    _key_from_link(request, session)
    token = token_from(request)
    if token is None:
        if settings.public_reads:
            return None
        raise _SignIn()
    try:
        return authenticate(request, session, token, "read")
    except HTTPException:
        message = "your key no longer works (revoked or expired): sign in again"
        raise _SignIn(message, forget=True) from None


DashboardKey = Annotated[ApiKey | None, Depends(dashboard_key)]


def _same_origin(request: Request) -> bool:
    """A form post from this site (or from a client that sends no Origin, like curl)."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    host = request.headers.get("host", "")
    return origin.split("://", 1)[-1] == host


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, session: SessionDep) -> Response:
    """The sign-in form (a ``?key=`` link signs in and goes on to ``next``)."""
    token, target = request.query_params.get("key"), request.query_params.get("next")
    if token is not None:
        try:
            authenticate(request, session, token, "read")
        except HTTPException:
            message = "that key is not valid: unknown, revoked or expired"
            return _login_page(request, message, next_url=target or HOME)
        return _signed_in(request, token, target or HOME)
    return _login_page(request, None, status=200, next_url=target or HOME)


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    session: SessionDep,
    key: Annotated[str, Form(max_length=300)] = "",
    next: Annotated[str, Form(max_length=2000)] = HOME,
) -> Response:
    """Sign in with the key in the form body; the cookie then carries it to every page."""
    if not _same_origin(request):
        message = "sign-in refused: the form was posted from another site"
        return _login_page(request, message, status=403, next_url=next)
    try:
        authenticate(request, session, key.strip(), "read")
    except HTTPException:
        message = "that key is not valid: unknown, revoked or expired"
        return _login_page(request, message, next_url=next)
    return _signed_in(request, key.strip(), next)


@router.post("/logout")
def logout(request: Request) -> Response:
    """Forget the key: the cookie is cleared and the sign-in form shown."""
    response = RedirectResponse(f"{HOME}/login", status_code=303)
    if _same_origin(request):
        _forget(response)
    return response


# -- static files: the chart script and plotly.js, public (nothing secret), one fixed route each --

#: name under /dashboard/static/ -> (file, media type); plotly.min.js comes from the plotly package
STATIC_FILES: dict[str, tuple[str, str]] = {
    "charts.js": (str(Path(__file__).with_name("static") / "charts.js"), "text/javascript"),
    "charts.css": (str(Path(__file__).with_name("static") / "charts.css"), "text/css"),
    "vendor/plotly.min.js": ("plotly:package_data/plotly.min.js", "text/javascript"),
}


def _static_path(spec: str) -> str:
    if spec.startswith("plotly:"):
        from importlib.resources import files

        return str(files("plotly").joinpath(*spec.removeprefix("plotly:").split("/")))
    return spec


def _serve_static(name: str, spec: str, media_type: str) -> None:
    @router.get(f"/static/{name}", name=f"dashboard-static-{name}")
    def static_file() -> FileResponse:
        return FileResponse(
            _static_path(spec),
            media_type=f"{media_type}; charset=utf-8",
            headers={"Cache-Control": "public, max-age=3600"},
        )


for _name, (_spec, _media) in STATIC_FILES.items():
    _serve_static(_name, _spec, _media)


def _page(request: Request, name: str, context: dict, status: int = 200) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context, status_code=status)


@router.get("", response_class=HTMLResponse)
def index(request: Request, session: SessionDep, _: DashboardKey) -> HTMLResponse:
    rows = session.execute(
        text(
            "SELECT family, benchmark, metric, COUNT(DISTINCT model) AS n_models, COUNT(*) AS n_rows"
            " FROM observations GROUP BY family, benchmark, metric ORDER BY family, benchmark, metric"
        )
    ).mappings()
    families: dict[str, list] = {}
    for r in rows:
        families.setdefault(r["family"], []).append(r)
    return _page(request, "index.html", {"families": families})


def _float(value: str | None, name: str) -> float | None:
    if value is None or not value.strip():
        return None
    try:
        return float(value)
    except ValueError:
        raise ApiError(
            422, f"{name} must be a number, got {value!r}", where=f"query.{name}"
        ) from None


@router.get("/scaling", response_class=HTMLResponse)
def scaling(
    request: Request,
    session: SessionDep,
    _: DashboardKey,
    benchmark: Annotated[str, Query(min_length=1, max_length=300, pattern=NO_NUL)],
    family: Text = None,
    metric: Annotated[str, Query(min_length=1, max_length=40, pattern=NO_NUL)] = "acc",
    methods: Text = None,
    fit: Annotated[str | None, Query(max_length=2000, pattern=NO_NUL)] = None,
    n_params: Number = None,
    n_tokens: Number = None,
    flops: Number = None,
) -> HTMLResponse:
    service = request.app.state.forecasts
    chosen = [m.strip() for m in (methods or "").split(",") if m.strip()] or default_methods()
    context: dict = {"methods": chosen, "error": None, "target": Target(flops=1.0)}
    try:
        size = {"n_params": _float(n_params, "n_params"), "n_tokens": _float(n_tokens, "n_tokens"),
                "flops": _float(flops, "flops")}  # fmt: skip
        probe = ForecastQuery(method=chosen[0] if chosen else "exponential", benchmark=benchmark,
                              metric=metric, family=family or None, target=Target(flops=1.0))  # fmt: skip
        if any(v is not None for v in size.values()):
            target = Target(model="target", **size)
        else:
            target = default_target(
                final_rows(service.observations(session, probe), benchmark, metric)
            )
        # validated like a POST body: a fit filter outside the language is a 422 page
        base = ForecastQuery.model_validate(
            {**probe.model_dump(), "target": target.model_dump(), "fit": fit or None}
        )
        context.update(
            query=base,
            target=target,
            view=scaling_view(service, session, base=base, methods=chosen),
        )
    except ApiError as exc:
        context.update(query=_plain(benchmark, metric, family), error=str(exc.detail))
        return _page(request, "scaling.html", context, status=exc.status_code)
    except ValidationError as exc:
        context.update(query=_plain(benchmark, metric, family), error=validation_summary(exc))
        return _page(request, "scaling.html", context, status=422)
    return _page(request, "scaling.html", context)


def _plain(benchmark: str, metric: str, family: str | None) -> dict:
    return {"benchmark": benchmark, "metric": metric, "family": family, "fit": None, "alpha": 0.1}


@router.get("/agreement", response_class=HTMLResponse)
def agreement_page(
    request: Request,
    session: SessionDep,
    _: DashboardKey,
    metric: Annotated[str, Query(min_length=1, max_length=40, pattern=NO_NUL)] = "acc",
    family: Text = None,
    benchmarks: Annotated[str | None, Query(max_length=5000, pattern=NO_NUL)] = None,
    reference: Annotated[str | None, Query(max_length=5000, pattern=NO_NUL)] = None,
    sort: Annotated[Literal["tau", "z", "name"], Query()] = "tau",
    q: Annotated[str | None, Query(max_length=200, pattern=NO_NUL)] = None,
) -> HTMLResponse:
    """Agreement heatmap and table: NaN rows dropped (counted), sizes equal to "all" shown once,
    rows grouped by prefix or setting, sorted (``sort=tau|z|name``) and filtered (``q``)."""

    def names(text: str | None) -> list[str] | None:
        return [b.strip() for b in (text or "").split(",") if b.strip()] or None

    context: dict = {"error": None, "sort": sort, "q": q or ""}
    try:
        query = AgreementQuery(metric=metric, family=family or None, benchmarks=names(benchmarks),
                               reference_benchmarks=names(reference))  # fmt: skip
        context["query"] = query
        tester = analysis.agreement(session, query)
        result = analysis.agreement_dict(tester)
        shown = agreement_view(tester.table_, sort=sort, q=q)
        matrix, zs = shown.matrix, tester.table_["z"]
        svg = heatmap_svg(matrix, "agreement with the aggregate", zs) if len(matrix) else ""
        chart = heatmap_chart(matrix, "agreement with the aggregate", zs) if len(matrix) else None
        context.update(svg=svg, chart=chart, result=result, table=shown.rows, shown=shown)
    except ApiError as exc:
        context.setdefault("query", {"metric": metric, "family": family})
        context["error"] = str(exc.detail)
        return _page(request, "agreement.html", context, status=exc.status_code)
    except ValidationError as exc:
        context.setdefault("query", {"metric": metric, "family": family})
        context["error"] = str(exc)
        return _page(request, "agreement.html", context, status=422)
    return _page(request, "agreement.html", context)


@router.get("/densing", response_class=HTMLResponse)
def densing_page(
    request: Request,
    session: SessionDep,
    _: DashboardKey,
    reference_family: Text = None,
    benchmark: Text = None,
    metric: Annotated[str, Query(min_length=1, max_length=40, pattern=NO_NUL)] = "acc",
    loss_benchmark: Text = None,
    loss_metric: Annotated[str | None, Query(max_length=40, pattern=NO_NUL)] = None,
    size_column: Annotated[str | None, Query(max_length=40, pattern=NO_NUL)] = None,
    ceiling: Annotated[str | None, Query(max_length=40, pattern=NO_NUL)] = None,
) -> HTMLResponse:
    """Densities over release date; with no parameters, a default picked from the database.

    The default is the CLI's (``capcast densing --from-db`` with no names), and the law is shown
    beside Xiao et al.'s published slope.
    """
    from service.densing_defaults import PAPER_DOUBLING_DAYS, PAPER_SLOPE_PER_DAY

    form = {"reference_family": reference_family, "benchmark": benchmark, "metric": metric,
            "loss_benchmark": loss_benchmark, "loss_metric": loss_metric or None,
            "size_column": size_column or None, "ceiling": ceiling or "auto"}  # fmt: skip
    choices = densing_choices(session, metric, loss_metric or None)
    context: dict = {"error": None, "query": form, "result": None, "choices": choices,
                     "defaulted": False, "message": None,
                     "paper": {"slope": PAPER_SLOPE_PER_DAY, "doubling": PAPER_DOUBLING_DAYS}}  # fmt: skip
    given = [v for v in (reference_family, benchmark, loss_benchmark) if v]
    if not given and choices.default is not None:
        form.update(choices.default)  # the page's default: the database's best reference
        reference_family = form["reference_family"]
        context["defaulted"] = True
    elif len(given) < 3:
        needed = "choose a reference family, a task benchmark and a loss set (all three)"
        context["message"] = choices.message or needed
        return _page(request, "densing.html", context)
    try:
        query = DensingQuery(**{k: v for k, v in form.items() if v is not None})
        form.update(loss_metric=query.loss_metric, size_column=query.size_column)
        fitted = analysis.densing(session, query)
        result = jsonable(fitted.to_dict())
        points = fitted.points
        days = pd.to_datetime([points["release_date"].min(), points["release_date"].max()])
        t = np.asarray((days - pd.Timestamp("2020-01-01")).days, dtype=float)  # the law's origin
        law = {"x": days, "y": fitted.intercept + fitted.slope * t,
               "label": f"densing law (doubling time {fitted.doubling_days:.3g} days)"}  # fmt: skip
        svg = density_svg(points, law, f"density relative to {reference_family}")
        chart = density_chart(points, law, f"density relative to {reference_family}")
        context.update(result=result, svg=svg, chart=chart)
    except ApiError as exc:
        if context["defaulted"]:  # the default could not be fitted: say why, not an error page
            context["message"] = choices.message or f"the default could not be fitted: {exc.detail}"
            return _page(request, "densing.html", context)
        context["error"] = str(exc.detail)
        return _page(request, "densing.html", context, status=exc.status_code)
    except ValidationError as exc:
        context["error"] = validation_summary(exc)
        return _page(request, "densing.html", context, status=422)
    return _page(request, "densing.html", context)


@router.get("/observational", response_class=HTMLResponse)
def observational_page(
    request: Request,
    session: SessionDep,
    _: DashboardKey,
    base: Annotated[str | None, Query(max_length=4000, pattern=NO_NUL)] = None,
    n_components: Annotated[int, Query(ge=1, le=5)] = 2,
) -> HTMLResponse:
    """The capability space of the observational method, by family (service.dashboard.capability)."""
    from service.dashboard.capability import capability_view, parse_base

    context: dict = {"query": {"base": base or "", "n_components": n_components},
                     "view": None, "error": None}  # fmt: skip
    try:
        context["view"] = capability_view(session, parse_base(base), n_components)
    except ApiError as exc:
        context["error"] = str(exc.detail)
        return _page(request, "observational.html", context, status=exc.status_code)
    return _page(request, "observational.html", context)


@router.get("/track-record", response_class=HTMLResponse)
def track_record_page(
    request: Request,
    session: SessionDep,
    _: DashboardKey,
    method: Annotated[str | None, Query(max_length=60, pattern=NO_NUL)] = None,
    benchmark: Text = None,
    family: Annotated[str | None, Query(max_length=200, pattern=NO_NUL)] = None,
) -> HTMLResponse:
    """The stored forecasts scored against their targets' measurements, per method and each."""
    query = {"method": method or None, "benchmark": benchmark or None, "family": family or None}
    record = track_record(session, **query).to_dict()
    return _page(request, "track_record.html", {"query": query, "record": record})


@router.get("/leaderboard", response_class=HTMLResponse)
def leaderboard_page(
    request: Request,
    session: SessionDep,
    _: DashboardKey,
    methods: Annotated[str | None, Query(max_length=2000, pattern=NO_NUL)] = None,
    family: Annotated[str | None, Query(max_length=200, pattern=NO_NUL)] = None,
    benchmark: Text = None,
    metric: Annotated[str | None, Query(max_length=40, pattern=NO_NUL)] = None,
    max_cells: Annotated[int, Query(ge=1, le=500)] = 12,
    pooled: bool = False,
    pooled_split: Annotated[str, Query(max_length=10, pattern=NO_NUL)] = "cutoff",
) -> HTMLResponse:
    """Every method's backtests on the selected cells (GET /v1/leaderboard, same budget)."""
    from service.leaderboard import leaderboard as compute
    from service.schemas import LeaderboardQuery

    form = {"methods": methods or "", "family": family or "", "benchmark": benchmark or "",
            "metric": metric or "", "max_cells": max_cells, "pooled": pooled,
            "pooled_split": pooled_split}  # fmt: skip
    context: dict = {"query": form, "board": None, "error": None, "message": None}
    if not (family or benchmark):  # the whole database can take minutes: ask for a selection
        context["message"] = (
            "Choose a family or a benchmark to score (each cell refits every method three "
            "times); the whole database is `capcast leaderboard`'s job, which has no time limit."
        )
        return _page(request, "leaderboard.html", context)
    try:
        query = LeaderboardQuery(
            methods=[m.strip() for m in (methods or "").split(",") if m.strip()],
            family=family or None, benchmark=benchmark or None, metric=metric or None,
            max_cells=max_cells, pooled=pooled, pooled_split=pooled_split,
        )  # fmt: skip
        service = request.app.state.forecasts
        context["board"] = compute(
            session, query, pool=service.pool, timeout_s=service.fit_timeout_s
        )
    except ApiError as exc:
        context["error"] = str(exc.detail)
        return _page(request, "leaderboard.html", context, status=exc.status_code)
    except ValidationError as exc:
        context["error"] = validation_summary(exc)
        return _page(request, "leaderboard.html", context, status=422)
    return _page(request, "leaderboard.html", context)
