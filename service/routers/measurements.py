"""Measurements: bulk POST from training dashboards (all or nothing), and filtered reads.

A batch is validated row by row (a bad row is a 422 naming its index, e.g. ``body.rows[17].value``)
and loaded in the request's one transaction through ``db.loader.load_observations``: re-posting
the same rows changes nothing (identity: model, benchmark, metric, step, source), and a row that
contradicts a stored value is refused with its index, writing nothing.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Query, Request
from sqlalchemy import select

from db.errors import ImportValidationError
from db.models import Benchmark, Measurement, Model
from db.observations import OBSERVATION_COLUMNS
from service.auth import ReadKey, WriteKey
from service.deps import SessionDep
from service.errors import AUTH_ERROR_RESPONSES, ApiError
from service.paging import PageDep, paginate
from service.schemas import (
    NO_NUL,
    MeasurementBatch,
    MeasurementLoadOut,
    MeasurementPublic,
    Page,
)

router = APIRouter(prefix="/measurements", tags=["measurements"], responses=AUTH_ERROR_RESPONSES)

FRAME_COLUMNS = (*OBSERVATION_COLUMNS, "stderr", "source")


def batch_frame(batch: MeasurementBatch) -> pd.DataFrame:
    """The batch as an observations frame; row i of the batch is row i of the frame."""
    records = [
        {**row.model_dump(), "source": row.source or batch.source, "release_date": None}
        for row in batch.rows
    ]
    frame = pd.DataFrame.from_records(records, columns=list(FRAME_COLUMNS))
    for col in ("n_params", "n_params_nonembed", "n_tokens", "flops", "value", "stderr"):
        frame[col] = frame[col].astype(float)
    frame["checkpoint_step"] = frame["checkpoint_step"].astype("Int64")
    # compute at the row's checkpoint when the dashboard sent size and tokens but no FLOPs
    frame["flops"] = frame["flops"].fillna(6.0 * frame["n_params"] * frame["n_tokens"])
    return frame


def _row_index(exc: ImportValidationError) -> int | None:
    if exc.row is not None:
        return exc.row - 1
    return exc.line - 2 if exc.line is not None else None


def _report_dict(report: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(report) and not isinstance(report, type):
        data = dataclasses.asdict(report)
    elif hasattr(report, "to_dict"):
        data = report.to_dict()
    else:
        data = dict(vars(report))
    return {k: v for k, v in data.items() if isinstance(v, int | float | str | bool | type(None))}


@router.post("", response_model=MeasurementLoadOut)
def post_measurements(
    body: MeasurementBatch, request: Request, session: SessionDep, _: WriteKey
) -> MeasurementLoadOut:
    """Load up to 50,000 rows; models, families and benchmarks named for the first time are created."""
    from db.loader import load_observations

    frame = batch_frame(body)
    try:
        report = load_observations(session, frame, source=body.source)
    except ImportValidationError as exc:
        index = _row_index(exc)
        where = "body.rows" if index is None else f"body.rows[{index}]"
        if exc.column:
            where += f".{exc.column}"
        message = f"{where}: expected {exc.expected}"
        if exc.got is not None:
            got = exc.got.item() if hasattr(exc.got, "item") else exc.got
            message += f", got {got!r}"
        if exc.detail:
            message += f" ({exc.detail})"
        raise ApiError(422, message + "; nothing was written", where=where) from None
    request.app.state.metrics.measurements.inc(len(frame))
    data = _report_dict(report)
    inserted = int(data.get("measurements_inserted", 0) or 0)
    unchanged = int(data.get("measurements_unchanged", len(frame) - inserted) or 0)
    return MeasurementLoadOut(
        received=len(frame), inserted=inserted, unchanged=unchanged, report=data
    )


@router.get("", response_model=Page[MeasurementPublic])
def list_measurements(
    session: SessionDep,
    _: ReadKey,
    page: PageDep,
    model: Annotated[str | None, Query(max_length=300, pattern=NO_NUL)] = None,
    benchmark: Annotated[str | None, Query(max_length=300, pattern=NO_NUL)] = None,
    metric: Annotated[str | None, Query(max_length=40, pattern=NO_NUL)] = None,
    source: Annotated[str | None, Query(max_length=200, pattern=NO_NUL)] = None,
) -> Page[MeasurementPublic]:
    stmt = (
        select(Measurement, Model.name, Benchmark.name)
        .join(Model, Model.id == Measurement.model_id)
        .join(Benchmark, Benchmark.id == Measurement.benchmark_id)
        .order_by(Measurement.id)
    )
    for column, value in (
        (Model.name, model),
        (Benchmark.name, benchmark),
        (Measurement.metric, metric),
        (Measurement.source, source),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    rows, count = paginate(session, stmt, page)
    data = [
        MeasurementPublic(
            **{
                c: getattr(m, c)
                for c in MeasurementPublic.model_fields
                if c not in ("model", "benchmark")
            },
            model=model_name,
            benchmark=bench_name,
        )
        for m, model_name, bench_name in rows
    ]
    return Page[MeasurementPublic](data=data, count=count)
