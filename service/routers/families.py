"""Model families: ladders trained with one recipe, or released families."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from sqlalchemy import select

from db.models import ModelFamily
from service.auth import ReadKey, WriteKey
from service.deps import SessionDep
from service.errors import AUTH_ERROR_RESPONSES, ApiError
from service.paging import PageDep, paginate
from service.schemas import INT32_MAX, NO_NUL, FamilyCreate, FamilyPublic, Page

router = APIRouter(prefix="/families", tags=["families"], responses=AUTH_ERROR_RESPONSES)
FamilyId = Annotated[int, Path(ge=1, le=INT32_MAX)]


@router.post("", status_code=201, response_model=FamilyPublic)
def create_family(body: FamilyCreate, session: SessionDep, _: WriteKey) -> FamilyPublic:
    if session.scalar(select(ModelFamily.id).where(ModelFamily.name == body.name)):
        raise ApiError(409, f"family {body.name!r} already exists", where="body.name")
    family = ModelFamily(**body.model_dump())
    session.add(family)
    session.flush()
    return FamilyPublic.model_validate(family)


@router.get("", response_model=Page[FamilyPublic])
def list_families(
    session: SessionDep,
    _: ReadKey,
    page: PageDep,
    name: Annotated[
        str | None, Query(max_length=200, pattern=NO_NUL, description="Substring of the name")
    ] = None,
) -> Page[FamilyPublic]:
    stmt = select(ModelFamily).order_by(ModelFamily.id)
    if name:
        stmt = stmt.where(ModelFamily.name.contains(name, autoescape=True))
    rows, count = paginate(session, stmt, page)
    return Page[FamilyPublic](data=[FamilyPublic.model_validate(r) for r in rows], count=count)


@router.get("/{family_id}", response_model=FamilyPublic)
def read_family(family_id: FamilyId, session: SessionDep, _: ReadKey) -> FamilyPublic:
    family = session.get(ModelFamily, family_id)
    if family is None:
        raise ApiError(404, f"no family with id {family_id}", where="path.family_id")
    return FamilyPublic.model_validate(family)
