"""Dashboard routes. They need the read scope like the API (unless reads are public); a browser
passes the key once as ``?key=...`` and keeps it in an HTTP-only cookie for later pages."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from sqlalchemy import text

from service import analysis
from service.auth import COOKIE_NAME, ReadKey
from service.dashboard.plots import density_svg, heatmap_svg
from service.dashboard.scaling import default_methods, default_target, final_rows, scaling_view
from service.deps import SessionDep
from service.errors import ApiError
from service.forecasting import jsonable
from service.schemas import NO_NUL, AgreementQuery, DensingQuery, ForecastQuery, Target

router = APIRouter(prefix="/dashboard", include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))
Text = Annotated[str | None, Query(max_length=300, pattern=NO_NUL)]
Number = Annotated[str | None, Query(max_length=40, pattern=NO_NUL)]


def _page(request: Request, name: str, context: dict, status: int = 200) -> HTMLResponse:
    response = templates.TemplateResponse(request, name, context, status_code=status)
    key = request.query_params.get("key")
    if key:
        response.set_cookie(COOKIE_NAME, key, httponly=True, samesite="strict")
    return response


@router.get("", response_class=HTMLResponse)
def index(request: Request, session: SessionDep, _: ReadKey) -> HTMLResponse:
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
    _: ReadKey,
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
        base = probe.model_copy(update={"target": target, "fit": fit or None})
        context.update(
            query=base,
            target=target,
            view=scaling_view(service, session, base=base, methods=chosen),
        )
    except ApiError as exc:
        context.update(query=_plain(benchmark, metric, family), error=str(exc.detail))
        return _page(request, "scaling.html", context, status=exc.status_code)
    except ValidationError as exc:
        context.update(query=_plain(benchmark, metric, family), error=str(exc))
        return _page(request, "scaling.html", context, status=422)
    return _page(request, "scaling.html", context)


def _plain(benchmark: str, metric: str, family: str | None) -> dict:
    return {"benchmark": benchmark, "metric": metric, "family": family, "fit": None, "alpha": 0.1}


@router.get("/agreement", response_class=HTMLResponse)
def agreement_page(
    request: Request,
    session: SessionDep,
    _: ReadKey,
    metric: Annotated[str, Query(min_length=1, max_length=40, pattern=NO_NUL)] = "acc",
    family: Text = None,
    benchmarks: Annotated[str | None, Query(max_length=5000, pattern=NO_NUL)] = None,
    reference: Annotated[str | None, Query(max_length=5000, pattern=NO_NUL)] = None,
) -> HTMLResponse:
    def names(text: str | None) -> list[str] | None:
        return [b.strip() for b in (text or "").split(",") if b.strip()] or None

    context: dict = {"error": None}
    try:
        query = AgreementQuery(metric=metric, family=family or None, benchmarks=names(benchmarks),
                               reference_benchmarks=names(reference))  # fmt: skip
        context["query"] = query
        tester = analysis.agreement(session, query)
        result = analysis.agreement_dict(tester)
        table = tester.table_
        cols = [c for c in table.columns if c.startswith("random_") and c.endswith("_mean")]
        matrix = table[cols].rename(columns=lambda c: c.split("_")[1] + " models")
        matrix["all"] = table["agreement"]
        svg = heatmap_svg(matrix, "agreement with the aggregate", table["z"])
        context.update(svg=svg, result=result, table=result["benchmarks"])
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
    _: ReadKey,
    reference_family: Text = None,
    benchmark: Text = None,
    metric: Annotated[str, Query(min_length=1, max_length=40, pattern=NO_NUL)] = "acc",
    loss_benchmark: Text = None,
    loss_metric: Annotated[str, Query(min_length=1, max_length=40, pattern=NO_NUL)] = "loss",
) -> HTMLResponse:
    form = {"reference_family": reference_family, "benchmark": benchmark, "metric": metric,
            "loss_benchmark": loss_benchmark, "loss_metric": loss_metric}  # fmt: skip
    context: dict = {"error": None, "query": form, "result": None}
    if not (reference_family and benchmark and loss_benchmark):
        return _page(request, "densing.html", context)
    try:
        query = DensingQuery(**form)
        fitted = analysis.densing(session, query)
        result = jsonable(fitted.to_dict())
        points = fitted.points
        days = pd.to_datetime([points["release_date"].min(), points["release_date"].max()])
        t = np.asarray((days - pd.Timestamp("2020-01-01")).days, dtype=float)  # the law's origin
        law = {"x": days, "y": fitted.intercept + fitted.slope * t,
               "label": f"densing law (doubling time {fitted.doubling_days:.3g} days)"}  # fmt: skip
        svg = density_svg(points, law, f"density relative to {reference_family}")
        context.update(result=result, svg=svg)
    except ApiError as exc:
        context["error"] = str(exc.detail)
        return _page(request, "densing.html", context, status=exc.status_code)
    except ValidationError as exc:
        context["error"] = str(exc)
        return _page(request, "densing.html", context, status=422)
    return _page(request, "densing.html", context)
