"""Analyses as resources: benchmark agreement (BAT), capacity density, per-choice metrics, and
the forecast-quality leaderboard."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import ValidationError

from service import analysis
from service.auth import ReadKey
from service.deps import SessionDep
from service.errors import AUTH_ERROR_RESPONSES, ApiError
from service.forecasting import jsonable
from service.schemas import (
    NO_NUL,
    AgreementQuery,
    AnalysisOut,
    DensingQuery,
    LeaderboardOut,
    LeaderboardQuery,
    validation_summary,
)

router = APIRouter(tags=["analyses"], responses=AUTH_ERROR_RESPONSES)


@router.post("/agreement", response_model=AnalysisOut)
def agreement(body: AgreementQuery, session: SessionDep, _: ReadKey) -> AnalysisOut:
    """How well each benchmark ranks models like the aggregate reference, with z-scores."""
    return AnalysisOut(
        kind="agreement", result=analysis.agreement_dict(analysis.agreement(session, body))
    )


@router.post("/densing", response_model=AnalysisOut)
def densing(body: DensingQuery, session: SessionDep, _: ReadKey) -> AnalysisOut:
    """Density of every model relative to a reference family, and the densing law's fit."""
    return AnalysisOut(kind="densing", result=jsonable(analysis.densing(session, body).to_dict()))


@router.get("/perchoice", response_model=AnalysisOut)
def perchoice(
    session: SessionDep,
    _: ReadKey,
    family: Annotated[str, Query(min_length=1, max_length=200, pattern=NO_NUL)],
    benchmark: Annotated[str, Query(min_length=1, max_length=300, pattern=NO_NUL)],
) -> AnalysisOut:
    """How predictably each per-item metric scales with compute across a family (P6)."""
    return AnalysisOut(kind="perchoice", result=analysis.perchoice(session, family, benchmark))


@router.get("/leaderboard", response_model=LeaderboardOut)
def leaderboard(
    request: Request,
    session: SessionDep,
    _: ReadKey,
    methods: Annotated[str | None, Query(max_length=2000, pattern=NO_NUL)] = None,
    family: Annotated[str | None, Query(max_length=200, pattern=NO_NUL)] = None,
    benchmark: Annotated[str | None, Query(max_length=300, pattern=NO_NUL)] = None,
    metric: Annotated[str | None, Query(max_length=40, pattern=NO_NUL)] = None,
    max_cells: Annotated[int, Query(ge=1, le=500)] = 24,
    n_bootstrap: Annotated[int, Query(ge=0, le=1000)] = 100,
    alpha: Annotated[float, Query(gt=0, lt=1)] = 0.1,
    random_state: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    pooled: bool = False,
    pooled_split: Annotated[str, Query(max_length=10, pattern=NO_NUL)] = "cutoff",
) -> LeaderboardOut:
    """Every method backtested on every (family, benchmark, metric) the query selects: the
    largest model(s) held out, the two largest, and each final checkpoint from the first 60% of
    training; mean and max absolute error, interval coverage and refusals. ``pooled``: one cell
    per benchmark over every family, the models above the 75% quantile of training FLOPs held
    out (``pooled_split=lofo``: each family held out in turn instead). Runs within the fit
    budget (CAPCAST_FIT_TIMEOUT_S); ``methods`` is a comma-separated list."""
    from service.leaderboard import leaderboard as compute

    try:
        query = LeaderboardQuery(
            methods=[m.strip() for m in (methods or "").split(",") if m.strip()],
            family=family or None, benchmark=benchmark or None, metric=metric or None,
            max_cells=max_cells, n_bootstrap=n_bootstrap, alpha=alpha, random_state=random_state,
            pooled=pooled, pooled_split=pooled_split,
        )  # fmt: skip
    except ValidationError as exc:
        raise ApiError(422, validation_summary(exc), where="query") from None
    service = request.app.state.forecasts
    result = compute(session, query, pool=service.pool, timeout_s=service.fit_timeout_s)
    return LeaderboardOut.model_validate(result)
