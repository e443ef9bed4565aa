"""Offset/limit pagination shared by every list route: ``{data, count}`` with the total count."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

MAX_LIMIT = 1000


class PageParams:
    def __init__(
        self,
        offset: Annotated[int, Query(ge=0, le=2**31 - 1, description="Rows to skip")] = 0,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Rows to return")] = 100,
    ) -> None:
        self.offset, self.limit = offset, limit


PageDep = Annotated[PageParams, Depends()]


def paginate(session: Session, stmt: Select[Any], page: PageParams) -> tuple[list[Any], int]:
    """The page of rows ``stmt`` selects and the number of rows it selects in all."""
    count = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    rows = session.execute(stmt.offset(page.offset).limit(page.limit)).all()
    return [r[0] if len(r) == 1 else r for r in rows], count
