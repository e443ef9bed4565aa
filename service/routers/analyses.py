"""Analyses as resources: benchmark agreement (BAT), capacity density, per-choice metrics."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from service import analysis
from service.auth import ReadKey
from service.deps import SessionDep
from service.errors import AUTH_ERROR_RESPONSES
from service.forecasting import jsonable
from service.schemas import NO_NUL, AgreementQuery, AnalysisOut, DensingQuery

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
