"""Models: a checkpoint or a released model, with its size and compute."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Model, ModelFamily
from service.auth import ReadKey, WriteKey
from service.deps import SessionDep
from service.errors import AUTH_ERROR_RESPONSES, ApiError
from service.paging import PageDep, paginate
from service.schemas import INT32_MAX, NO_NUL, ModelCreate, ModelPublic, Page

router = APIRouter(prefix="/models", tags=["models"], responses=AUTH_ERROR_RESPONSES)
ModelId = Annotated[int, Path(ge=1, le=INT32_MAX)]


def family_id_for(session: Session, name: str | None) -> int | None:
    """The family's id, creating the family when it is new (dashboards name, never pre-create)."""
    if name is None:
        return None
    found = session.scalar(select(ModelFamily.id).where(ModelFamily.name == name))
    if found is not None:
        return found
    family = ModelFamily(name=name)
    session.add(family)
    session.flush()
    return family.id


def to_public(model: Model, family: str | None) -> ModelPublic:
    data = {c: getattr(model, c) for c in ModelPublic.model_fields if c != "family"}
    return ModelPublic(**data, family=family)


@router.post("", status_code=201, response_model=ModelPublic)
def create_model(body: ModelCreate, session: SessionDep, _: WriteKey) -> ModelPublic:
    if session.scalar(select(Model.id).where(Model.name == body.name)):
        raise ApiError(409, f"model {body.name!r} already exists", where="body.name")
    fields = body.model_dump(exclude={"family"})
    if fields["flops"] is None and body.n_params is not None and body.n_tokens is not None:
        fields["flops"] = 6.0 * body.n_params * body.n_tokens
    model = Model(**fields, family_id=family_id_for(session, body.family))
    session.add(model)
    session.flush()
    return to_public(model, body.family)


@router.get("", response_model=Page[ModelPublic])
def list_models(
    session: SessionDep,
    _: ReadKey,
    page: PageDep,
    family: Annotated[
        str | None, Query(max_length=200, pattern=NO_NUL, description="Family name")
    ] = None,
    name: Annotated[
        str | None, Query(max_length=300, pattern=NO_NUL, description="Substring of the name")
    ] = None,
    min_params: Annotated[float | None, Query(ge=0, description="n_params >= this")] = None,
    max_params: Annotated[float | None, Query(ge=0, description="n_params <= this")] = None,
) -> Page[ModelPublic]:
    stmt = (
        select(Model, ModelFamily.name)
        .outerjoin(ModelFamily, Model.family_id == ModelFamily.id)
        .order_by(Model.id)
    )
    if family is not None:
        stmt = stmt.where(ModelFamily.name == family)
    if name:
        stmt = stmt.where(Model.name.contains(name, autoescape=True))
    if min_params is not None:
        stmt = stmt.where(Model.n_params >= min_params)
    if max_params is not None:
        stmt = stmt.where(Model.n_params <= max_params)
    rows, count = paginate(session, stmt, page)
    return Page[ModelPublic](data=[to_public(m, f) for m, f in rows], count=count)


@router.get("/{model_id}", response_model=ModelPublic)
def read_model(model_id: ModelId, session: SessionDep, _: ReadKey) -> ModelPublic:
    model = session.get(Model, model_id)
    if model is None:
        raise ApiError(404, f"no model with id {model_id}", where="path.model_id")
    family = session.get(ModelFamily, model.family_id) if model.family_id else None
    return to_public(model, family.name if family else None)
