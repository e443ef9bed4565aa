"""Benchmarks: tasks, leaderboard columns and loss sets."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from sqlalchemy import select

from db.models import Benchmark
from service.auth import ReadKey, WriteKey
from service.deps import SessionDep
from service.errors import AUTH_ERROR_RESPONSES, ApiError
from service.paging import PageDep, paginate
from service.schemas import INT32_MAX, NO_NUL, BenchmarkCreate, BenchmarkPublic, Page

router = APIRouter(prefix="/benchmarks", tags=["benchmarks"], responses=AUTH_ERROR_RESPONSES)
BenchmarkId = Annotated[int, Path(ge=1, le=INT32_MAX)]


@router.post("", status_code=201, response_model=BenchmarkPublic)
def create_benchmark(body: BenchmarkCreate, session: SessionDep, _: WriteKey) -> BenchmarkPublic:
    if session.scalar(select(Benchmark.id).where(Benchmark.name == body.name)):
        raise ApiError(409, f"benchmark {body.name!r} already exists", where="body.name")
    benchmark = Benchmark(**body.model_dump())
    session.add(benchmark)
    session.flush()
    return BenchmarkPublic.model_validate(benchmark)


@router.get("", response_model=Page[BenchmarkPublic])
def list_benchmarks(
    session: SessionDep,
    _: ReadKey,
    page: PageDep,
    name: Annotated[
        str | None, Query(max_length=300, pattern=NO_NUL, description="Substring of the name")
    ] = None,
    kind: Annotated[
        str | None, Query(max_length=40, pattern=NO_NUL, description="Exact kind")
    ] = None,
) -> Page[BenchmarkPublic]:
    stmt = select(Benchmark).order_by(Benchmark.id)
    if name:
        stmt = stmt.where(Benchmark.name.contains(name, autoescape=True))
    if kind is not None:
        stmt = stmt.where(Benchmark.kind == kind)
    rows, count = paginate(session, stmt, page)
    return Page[BenchmarkPublic](
        data=[BenchmarkPublic.model_validate(r) for r in rows], count=count
    )


@router.get("/{benchmark_id}", response_model=BenchmarkPublic)
def read_benchmark(benchmark_id: BenchmarkId, session: SessionDep, _: ReadKey) -> BenchmarkPublic:
    benchmark = session.get(Benchmark, benchmark_id)
    if benchmark is None:
        raise ApiError(404, f"no benchmark with id {benchmark_id}", where="path.benchmark_id")
    return BenchmarkPublic.model_validate(benchmark)
