"""Evaluation runs and their per-item results: read, filter, export as CSV or Parquet."""

from __future__ import annotations

import io
import json
import math
from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from db.models import Benchmark, EvalRun, Item, ItemResult, Model
from service.auth import ReadKey
from service.deps import SessionDep
from service.errors import AUTH_ERROR_RESPONSES, ApiError
from service.paging import PageDep, paginate
from service.schemas import INT32_MAX, NO_NUL, ItemResultPublic, Page, RunPublic

router = APIRouter(prefix="/runs", tags=["runs"], responses=AUTH_ERROR_RESPONSES)
RunId = Annotated[int, Path(ge=1, le=INT32_MAX)]
Format = Annotated[Literal["csv", "parquet"], Query(description="csv or parquet")]
MEDIA = {"csv": "text/csv", "parquet": "application/vnd.apache.parquet"}
EXPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Per-item results as a file",
        "content": {m: {"schema": {"type": "string", "format": "binary"}} for m in MEDIA.values()},
    }
}
MAX_EXPORT_ROWS = 2_000_000


class RunFilters:
    def __init__(
        self,
        model: Annotated[str | None, Query(max_length=300, pattern=NO_NUL)] = None,
        benchmark: Annotated[str | None, Query(max_length=300, pattern=NO_NUL)] = None,
        status: Annotated[str | None, Query(max_length=20, pattern=NO_NUL)] = None,
        engine: Annotated[str | None, Query(max_length=40, pattern=NO_NUL)] = None,
        mode: Annotated[str | None, Query(max_length=40, pattern=NO_NUL)] = None,
    ) -> None:
        self.model, self.benchmark, self.status = model, benchmark, status
        self.engine, self.mode = engine, mode

    def apply(self, stmt: Select[Any]) -> Select[Any]:
        for column, value in (
            (Model.name, self.model),
            (Benchmark.name, self.benchmark),
            (EvalRun.status, self.status),
            (EvalRun.engine, self.engine),
            (EvalRun.mode, self.mode),
        ):
            if value is not None:
                stmt = stmt.where(column == value)
        return stmt


def _runs_stmt() -> Select[Any]:
    return (
        select(EvalRun, Model.name, Benchmark.name)
        .join(Model, Model.id == EvalRun.model_id)
        .join(Benchmark, Benchmark.id == EvalRun.benchmark_id)
        .order_by(EvalRun.id)
    )


def _run_public(run: EvalRun, model: str, benchmark: str) -> RunPublic:
    data = {c: getattr(run, c) for c in RunPublic.model_fields if c not in ("model", "benchmark")}
    return RunPublic(**data, model=model, benchmark=benchmark)


@router.get("", response_model=Page[RunPublic])
def list_runs(
    session: SessionDep, _: ReadKey, page: PageDep, filters: Annotated[RunFilters, Depends()]
) -> Page[RunPublic]:
    rows, count = paginate(session, filters.apply(_runs_stmt()), page)
    return Page[RunPublic](data=[_run_public(*r) for r in rows], count=count)


@router.get("/export", response_class=Response, responses=EXPORT_RESPONSES)
def export_runs(
    session: SessionDep,
    _: ReadKey,
    filters: Annotated[RunFilters, Depends()],
    format: Format = "csv",
) -> Response:
    """Per-item results of every run the filters select, one row per (run, item)."""
    run_ids = select(EvalRun.id).join(Model).join(Benchmark)
    return _export(session, filters.apply(run_ids), format, "runs")


@router.get("/{run_id}", response_model=RunPublic)
def read_run(run_id: RunId, session: SessionDep, _: ReadKey) -> RunPublic:
    row = session.execute(_runs_stmt().where(EvalRun.id == run_id)).first()
    if row is None:
        raise ApiError(404, f"no eval run with id {run_id}", where="path.run_id")
    return _run_public(*row)


def _results_stmt(run_ids: Select[Any]) -> Select[Any]:
    return (
        select(ItemResult, Item.key)
        .join(Item, Item.id == ItemResult.item_id)
        .where(ItemResult.run_id.in_(run_ids))
        .order_by(ItemResult.run_id, ItemResult.id)
    )


def _result_public(r: ItemResult, key: str) -> ItemResultPublic:
    rate = r.n_pass / r.n_samples if r.n_samples else None
    data = {
        c: getattr(r, c)
        for c in ItemResultPublic.model_fields
        if c not in ("item_key", "pass_rate")
    }
    return ItemResultPublic(**data, item_key=key, pass_rate=rate)


def _require_run(session: Session, run_id: int) -> None:
    if session.get(EvalRun, run_id) is None:
        raise ApiError(404, f"no eval run with id {run_id}", where="path.run_id")


@router.get("/{run_id}/results", response_model=Page[ItemResultPublic])
def list_results(
    run_id: RunId,
    session: SessionDep,
    _: ReadKey,
    page: PageDep,
    stop_reason: Annotated[str | None, Query(max_length=20, pattern=NO_NUL)] = None,
    greedy_correct: bool | None = None,
) -> Page[ItemResultPublic]:
    _require_run(session, run_id)
    stmt = _results_stmt(select(EvalRun.id).where(EvalRun.id == run_id))
    if stop_reason is not None:
        stmt = stmt.where(ItemResult.stop_reason == stop_reason)
    if greedy_correct is not None:
        stmt = stmt.where(ItemResult.greedy_correct == greedy_correct)
    rows, count = paginate(session, stmt, page)
    return Page[ItemResultPublic](data=[_result_public(*r) for r in rows], count=count)


@router.get("/{run_id}/export", response_class=Response, responses=EXPORT_RESPONSES)
def export_run(run_id: RunId, session: SessionDep, _: ReadKey, format: Format = "csv") -> Response:
    _require_run(session, run_id)
    return _export(session, select(EvalRun.id).where(EvalRun.id == run_id), format, f"run-{run_id}")


def _finite(value: Any) -> Any:
    """NaN and infinities become null at any depth (JSON has no spelling for them)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _estimates_json(value: dict[str, Any] | None) -> str | None:
    """One row's estimates as a JSON object, readable by any CSV consumer with a JSON parser."""
    if value is None:
        return None
    return json.dumps(_finite(value), sort_keys=True, allow_nan=False, default=str)


def _export(session: Session, run_ids: Select[Any], fmt: str, stem: str) -> Response:
    rows = session.execute(_results_stmt(run_ids).limit(MAX_EXPORT_ROWS)).all()
    frame = pd.DataFrame(
        [_result_public(*r).model_dump() for r in rows], columns=list(ItemResultPublic.model_fields)
    )
    # a JSON object per row (a Python repr would need Python to read back); NaN becomes null
    frame["estimates"] = frame["estimates"].map(_estimates_json)
    buffer = io.BytesIO()
    if fmt == "csv":
        frame.to_csv(buffer, index=False)
    else:
        frame.to_parquet(buffer, index=False)
    headers = {"Content-Disposition": f'attachment; filename="{stem}-results.{fmt}"'}
    return Response(buffer.getvalue(), media_type=MEDIA[fmt], headers=headers)
