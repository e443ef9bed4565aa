"""API keys (admin scope): create one (the token is shown once, an expiry optional), list them
(with expiry and last use), revoke one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from sqlalchemy import select

from db.models import ApiKey
from service.auth import AdminKey, create_key, revoke_key
from service.deps import SessionDep
from service.errors import AUTH_ERROR_RESPONSES, ApiError
from service.paging import PageDep, paginate
from service.schemas import INT32_MAX, KeyCreate, KeyCreated, KeyPublic, Page

router = APIRouter(prefix="/keys", tags=["keys"], responses=AUTH_ERROR_RESPONSES)


@router.post("", status_code=201, response_model=KeyCreated)
def create(body: KeyCreate, session: SessionDep, _: AdminKey) -> KeyCreated:
    """Create a key; the token is in this answer only (stored hashed). ``expires_at`` is optional."""
    key, token = create_key(
        session=session, name=body.name, scopes=list(body.scopes), expires_at=body.expires_at
    )
    return KeyCreated(**KeyPublic.model_validate(key).model_dump(), token=token)


@router.get("", response_model=Page[KeyPublic])
def list_keys(session: SessionDep, _: AdminKey, page: PageDep) -> Page[KeyPublic]:
    rows, count = paginate(session, select(ApiKey).order_by(ApiKey.id), page)
    return Page[KeyPublic](data=[KeyPublic.model_validate(k) for k in rows], count=count)


@router.delete("/{key_id}", response_model=KeyPublic)
def revoke(
    key_id: Annotated[int, Path(ge=1, le=INT32_MAX)], session: SessionDep, _: AdminKey
) -> KeyPublic:
    key = session.get(ApiKey, key_id)
    if key is None:
        raise ApiError(404, f"no API key with id {key_id}", where="path.key_id")
    revoke_key(session=session, ident=key.prefix)
    return KeyPublic.model_validate(key)
