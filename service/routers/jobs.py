"""Jobs: queue an evaluation (or another kind), follow its status and progress, cancel it.

The job row is the queue itself (see ``service/jobs/queue.py``), so what this returns is exactly
what workers see.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from sqlalchemy import select

from db.models import Job
from service.auth import ReadKey, WriteKey
from service.deps import SessionDep, SettingsDep
from service.errors import AUTH_ERROR_RESPONSES, ApiError
from service.jobs import queue
from service.jobs.paths import PathRefused, check_payload_paths, job_roots
from service.jobs.schemas import JobCreate, JobKind, JobProgress, JobPublic, JobStatus
from service.paging import PageDep, paginate
from service.schemas import INT32_MAX, Page

router = APIRouter(prefix="/jobs", tags=["jobs"], responses=AUTH_ERROR_RESPONSES)
JobId = Annotated[int, Path(ge=1, le=INT32_MAX)]


def _get(session: SessionDep, job_id: int) -> Job:
    job = session.get(Job, job_id)
    if job is None:
        raise ApiError(404, f"no job with id {job_id}", where="path.job_id")
    return job


@router.post("", status_code=201, response_model=JobPublic)
def create_job(
    body: JobCreate, session: SessionDep, settings: SettingsDep, _: WriteKey
) -> JobPublic:
    """Queue a job; every path in its payload must resolve inside the job roots."""
    try:
        check_payload_paths(body.kind, body.payload, job_roots(settings), prefix="body.payload")
    except PathRefused as exc:
        raise ApiError(422, str(exc), where=exc.field) from None
    job_id = queue.enqueue(
        session,
        kind=body.kind,
        payload=body.payload,
        priority=body.priority,
        max_attempts=body.max_attempts,
    )
    return JobPublic.model_validate(_get(session, int(job_id or 0)))


@router.get("", response_model=Page[JobPublic])
def list_jobs(
    session: SessionDep,
    _: ReadKey,
    page: PageDep,
    status: Annotated[JobStatus | None, Query(description="Only jobs in this status")] = None,
    kind: Annotated[JobKind | None, Query(description="Only jobs of this kind")] = None,
    schedule_id: Annotated[int | None, Query(ge=1, le=INT32_MAX)] = None,
) -> Page[JobPublic]:
    stmt = select(Job).order_by(Job.id.desc())
    if status:
        stmt = stmt.where(Job.status == status)
    if kind:
        stmt = stmt.where(Job.kind == kind)
    if schedule_id:
        stmt = stmt.where(Job.schedule_id == schedule_id)
    rows, count = paginate(session, stmt, page)
    return Page[JobPublic](data=[JobPublic.model_validate(r) for r in rows], count=count)


@router.get("/{job_id}", response_model=JobPublic)
def read_job(job_id: JobId, session: SessionDep, _: ReadKey) -> JobPublic:
    return JobPublic.model_validate(_get(session, job_id))


@router.get("/{job_id}/progress", response_model=JobProgress)
def read_progress(job_id: JobId, session: SessionDep, _: ReadKey) -> JobProgress:
    return JobProgress.model_validate(_get(session, job_id))


@router.post("/{job_id}/cancel", response_model=JobPublic)
def cancel_job(job_id: JobId, session: SessionDep, _: WriteKey) -> JobPublic:
    """Cancel a queued job now; ask a running one to stop at its next checkpoint."""
    if queue.request_cancel(session, job_id) is None:
        raise ApiError(404, f"no job with id {job_id}", where="path.job_id")
    return JobPublic.model_validate(_get(session, job_id))
