"""Benchmark items: one question each, keyed by a stable content hash."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from sqlalchemy import select

from db.models import Benchmark, Item
from service.auth import ReadKey, WriteKey
from service.deps import SessionDep
from service.errors import AUTH_ERROR_RESPONSES, ApiError
from service.paging import PageDep, paginate
from service.schemas import INT32_MAX, NO_NUL, ItemCreate, ItemPublic, Page

router = APIRouter(prefix="/items", tags=["items"], responses=AUTH_ERROR_RESPONSES)
ItemId = Annotated[int, Path(ge=1, le=INT32_MAX)]


@router.post("", status_code=201, response_model=ItemPublic)
def create_item(body: ItemCreate, session: SessionDep, _: WriteKey) -> ItemPublic:
    if session.get(Benchmark, body.benchmark_id) is None:
        raise ApiError(422, f"no benchmark with id {body.benchmark_id}", where="body.benchmark_id")
    clash = select(Item.id).where(Item.benchmark_id == body.benchmark_id, Item.key == body.key)
    if session.scalar(clash):
        raise ApiError(409, f"item {body.key!r} already exists in that benchmark", where="body.key")
    item = Item(**body.model_dump())
    session.add(item)
    session.flush()
    return ItemPublic.model_validate(item)


@router.get("", response_model=Page[ItemPublic])
def list_items(
    session: SessionDep,
    _: ReadKey,
    page: PageDep,
    benchmark_id: Annotated[int | None, Query(ge=1, le=INT32_MAX)] = None,
    benchmark: Annotated[
        str | None, Query(max_length=300, pattern=NO_NUL, description="Benchmark name")
    ] = None,
    key: Annotated[str | None, Query(max_length=128, pattern=NO_NUL)] = None,
) -> Page[ItemPublic]:
    stmt = select(Item).order_by(Item.id)
    if benchmark_id is not None:
        stmt = stmt.where(Item.benchmark_id == benchmark_id)
    if benchmark is not None:
        stmt = stmt.join(Benchmark, Benchmark.id == Item.benchmark_id).where(
            Benchmark.name == benchmark
        )
    if key is not None:
        stmt = stmt.where(Item.key == key)
    rows, count = paginate(session, stmt, page)
    return Page[ItemPublic](data=[ItemPublic.model_validate(r) for r in rows], count=count)


@router.get("/{item_id}", response_model=ItemPublic)
def read_item(item_id: ItemId, session: SessionDep, _: ReadKey) -> ItemPublic:
    item = session.get(Item, item_id)
    if item is None:
        raise ApiError(404, f"no item with id {item_id}", where="path.item_id")
    return ItemPublic.model_validate(item)
