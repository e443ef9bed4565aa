"""Schedules: cron expressions and checkpoint watches that enqueue jobs (``capcast schedule``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response
from sqlalchemy import select

from db.config import Settings
from db.models import Schedule
from service.auth import ReadKey, WriteKey
from service.deps import SessionDep, SettingsDep
from service.errors import AUTH_ERROR_RESPONSES, ApiError
from service.jobs.paths import PathRefused, check_path, check_payload_paths, job_roots
from service.jobs.schemas import ScheduleCreate, SchedulePublic, ScheduleUpdate, check_payload
from service.paging import PageDep, paginate
from service.schemas import INT32_MAX, Page

router = APIRouter(prefix="/schedules", tags=["schedules"], responses=AUTH_ERROR_RESPONSES)
ScheduleId = Annotated[int, Path(ge=1, le=INT32_MAX)]


def _get(session: SessionDep, schedule_id: int) -> Schedule:
    schedule = session.get(Schedule, schedule_id)
    if schedule is None:
        raise ApiError(404, f"no schedule with id {schedule_id}", where="path.schedule_id")
    return schedule


def _check_paths(
    settings: Settings, job_kind: str, payload: dict | None, watch_path: str | None
) -> None:
    """422 for a watched directory or a payload path outside the job roots (CLI: any local path)."""
    roots = job_roots(settings)
    try:
        if watch_path is not None:
            check_path(watch_path, "body.watch_path", roots)
        if payload:
            check_payload_paths(job_kind, payload, roots, prefix="body.job_payload")
    except PathRefused as exc:
        raise ApiError(422, str(exc), where=exc.field) from None


@router.post("", status_code=201, response_model=SchedulePublic)
def create_schedule(
    body: ScheduleCreate, session: SessionDep, settings: SettingsDep, _: WriteKey
) -> SchedulePublic:
    """Create a schedule; its watched directory and payload paths must lie inside the job roots."""
    _check_paths(settings, body.job_kind, body.job_payload, body.watch_path)
    if session.scalar(select(Schedule.id).where(Schedule.name == body.name)):
        raise ApiError(409, f"schedule {body.name!r} already exists", where="body.name")
    schedule = Schedule(**body.model_dump())
    session.add(schedule)
    session.flush()
    return SchedulePublic.model_validate(schedule)


@router.get("", response_model=Page[SchedulePublic])
def list_schedules(session: SessionDep, _: ReadKey, page: PageDep) -> Page[SchedulePublic]:
    rows, count = paginate(session, select(Schedule).order_by(Schedule.id), page)
    return Page[SchedulePublic](data=[SchedulePublic.model_validate(r) for r in rows], count=count)


@router.get("/{schedule_id}", response_model=SchedulePublic)
def read_schedule(schedule_id: ScheduleId, session: SessionDep, _: ReadKey) -> SchedulePublic:
    return SchedulePublic.model_validate(_get(session, schedule_id))


@router.patch("/{schedule_id}", response_model=SchedulePublic)
def update_schedule(
    schedule_id: ScheduleId,
    body: ScheduleUpdate,
    session: SessionDep,
    settings: SettingsDep,
    _: WriteKey,
) -> SchedulePublic:
    schedule = _get(session, schedule_id)
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    if "job_payload" in changes:
        try:
            check_payload(
                schedule.job_kind, changes["job_payload"], needs_model=schedule.kind != "watch"
            )
        except ValueError as exc:
            raise ApiError(422, str(exc), where="body.job_payload") from None
    _check_paths(settings, schedule.job_kind, changes.get("job_payload"), changes.get("watch_path"))
    for field, value in changes.items():
        setattr(schedule, field, value)
    session.flush()
    return SchedulePublic.model_validate(schedule)


@router.delete("/{schedule_id}", status_code=204, response_class=Response)
def delete_schedule(schedule_id: ScheduleId, session: SessionDep, _: WriteKey) -> Response:
    """Delete a schedule; the jobs it enqueued stay (their schedule_id becomes null)."""
    session.delete(_get(session, schedule_id))
    return Response(status_code=204)
