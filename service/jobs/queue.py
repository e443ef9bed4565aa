"""The job queue: our own ``job`` table, claimed with one atomic UPDATE.

Why hand-written rather than procrastinate: the ``job`` row must stay the source of truth that
analysts query with SQL and the REST API serves (status, attempts, progress, error, lease), and the
same code must run on SQLite. A queue library keeps its own tables, so every status would live
twice. The mechanics needed are small: one ``UPDATE ... WHERE id = (SELECT ... FOR UPDATE SKIP
LOCKED LIMIT 1) RETURNING`` claim (PostgreSQL's documented queue pattern), a lease renewed by the
worker, and a sweep that re-queues jobs whose lease expired.

On SQLite the same single statement is atomic because SQLite takes its write lock before the
statement reads (one writer at a time); the worker runs one job at a time there.

All times are UTC from the caller's clock (``now=``), so tests can inject one and the lease logic
is the same on both databases.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from db.models import Job

STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")
TERMINAL = frozenset({"succeeded", "failed", "cancelled"})
ERROR_MAX_CHARS = 20_000


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def as_utc(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite hands back naive datetimes (stored as UTC); make them aware."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class ClaimedJob:
    """What a worker holds after a claim: enough to run the job without re-reading the row."""

    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int
    max_attempts: int


@dataclass(frozen=True)
class LeaseState:
    """Answer to a lease renewal: ``held`` is False once another worker owns the job."""

    held: bool
    cancel_requested: bool = False


def _is_postgres(bind: Engine | Connection | Session) -> bool:
    engine = bind.get_bind() if isinstance(bind, Session) else bind
    return engine.dialect.name == "postgresql"


def enqueue(
    session: Session,
    *,
    kind: str,
    payload: dict[str, Any],
    priority: int = 0,
    max_attempts: int = 3,
    run_after: dt.datetime | None = None,
    dedupe_key: str | None = None,
    schedule_id: int | None = None,
) -> int | None:
    """Queue a job in the caller's transaction; returns its id.

    With ``dedupe_key``, a second enqueue of the same key inserts nothing and returns None
    (``INSERT ... ON CONFLICT DO NOTHING``): this is what makes a schedule tick enqueue exactly once
    even when several schedulers race on it.
    """
    if max_attempts < 1:
        raise ValueError(f"max_attempts must be >= 1, got {max_attempts}")
    now = utcnow()
    values = {
        "kind": kind,
        "payload": payload,
        "status": "queued",
        "priority": priority,
        "attempts": 0,
        "max_attempts": max_attempts,
        "run_after": run_after or now,
        "dedupe_key": dedupe_key,
        "schedule_id": schedule_id,
        "cancel_requested": False,
        "created_at": now,
    }
    if dedupe_key is None:
        job_id = session.execute(insert(Job).values(**values).returning(Job.id)).scalar_one()
    else:
        dialect_insert = postgresql.insert if _is_postgres(session) else sqlite.insert
        stmt = (
            dialect_insert(Job)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["dedupe_key"])
            .returning(Job.id)
        )
        job_id = session.execute(stmt).scalar_one_or_none()
    if job_id is not None and _is_postgres(session):
        notify(session)
    return job_id


NOTIFY_CHANNEL = "capcast_jobs"


def notify(bind: Session | Connection) -> None:
    """Wake idle workers (PostgreSQL NOTIFY, delivered when the caller's transaction commits)."""
    bind.execute(text(f"NOTIFY {NOTIFY_CHANNEL}"))


def claim(
    engine: Engine,
    *,
    worker_id: str,
    lease_seconds: float,
    kinds: list[str] | None = None,
    now: dt.datetime | None = None,
) -> ClaimedJob | None:
    """Atomically take the most urgent ready job, or None when nothing is ready."""
    now = now or utcnow()
    pick = (
        select(Job.id)
        .where(Job.status == "queued", Job.run_after <= now, Job.cancel_requested.is_(False))
        .order_by(Job.priority.desc(), Job.run_after, Job.id)
        .limit(1)
    )
    if kinds:
        pick = pick.where(Job.kind.in_(kinds))
    if _is_postgres(engine):
        pick = pick.with_for_update(skip_locked=True)
    stmt = (
        update(Job)
        .where(Job.id == pick.scalar_subquery())
        .values(
            status="running",
            attempts=Job.attempts + 1,
            lease_owner=worker_id,
            lease_expires_at=now + dt.timedelta(seconds=lease_seconds),
            started_at=func.coalesce(Job.started_at, now),
        )
        .returning(Job.id, Job.kind, Job.payload, Job.attempts, Job.max_attempts)
    )
    with engine.begin() as conn:
        row = conn.execute(stmt).first()
    if row is None:
        return None
    return ClaimedJob(
        id=row.id,
        kind=row.kind,
        payload=dict(row.payload or {}),
        attempts=row.attempts,
        max_attempts=row.max_attempts,
    )


def _owned(job_id: int, worker_id: str) -> Any:
    return (Job.id == job_id) & (Job.lease_owner == worker_id) & (Job.status == "running")


def renew(
    engine: Engine,
    job_id: int,
    worker_id: str,
    *,
    lease_seconds: float,
    progress: float | None = None,
    progress_detail: dict[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> LeaseState:
    """Extend the lease (and optionally record progress); also reports a cancel request."""
    now = now or utcnow()
    values: dict[str, Any] = {"lease_expires_at": now + dt.timedelta(seconds=lease_seconds)}
    if progress is not None:
        values["progress"] = max(0.0, min(1.0, float(progress)))
    if progress_detail is not None:
        values["progress_detail"] = progress_detail
    stmt = update(Job).where(_owned(job_id, worker_id)).values(**values)
    with engine.begin() as conn:
        row = conn.execute(stmt.returning(Job.cancel_requested)).first()
    if row is None:
        return LeaseState(held=False)
    return LeaseState(held=True, cancel_requested=bool(row.cancel_requested))


def _finish(engine: Engine, job_id: int, worker_id: str, values: dict[str, Any]) -> bool:
    values = {"lease_owner": None, "lease_expires_at": None, **values}
    with engine.begin() as conn:
        result = conn.execute(update(Job).where(_owned(job_id, worker_id)).values(**values))
    return result.rowcount == 1


def json_safe(obj: Any) -> Any:
    """A JSON document PostgreSQL's JSONB accepts: NaN/inf become null, numpy scalars plain."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, str | bytes):  # numpy scalar
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if obj is None or isinstance(obj, str | int | float | bool):
        return obj
    return str(obj)


def complete(
    engine: Engine, job_id: int, worker_id: str, result: dict[str, Any] | None = None
) -> bool:
    """Mark succeeded; False if this worker no longer holds the job (its result is dropped)."""
    values = {
        "status": "succeeded",
        "progress": 1.0,
        "result": json_safe(result),
        "finished_at": utcnow(),
    }
    return _finish(engine, job_id, worker_id, {**values, "error": None})


def backoff_seconds(attempts: int, *, base: float, cap: float) -> float:
    """Exponential backoff: base, 2·base, 4·base, ... capped at ``cap``."""
    return float(min(cap, base * 2 ** max(0, attempts - 1)))


def fail(
    engine: Engine,
    job: ClaimedJob,
    worker_id: str,
    error: str,
    *,
    retry: bool = True,
    backoff_base: float = 10.0,
    backoff_cap: float = 900.0,
) -> str:
    """Record a failed attempt: re-queue with backoff, or ``failed`` once attempts are spent.

    ``retry=False`` fails it at once (bad input gives the same answer on every attempt).
    Returns the new status (or ``"lost"`` if the lease had already passed to another worker).
    """
    error = error[-ERROR_MAX_CHARS:]
    now = utcnow()
    if retry and job.attempts < job.max_attempts:
        delay = backoff_seconds(job.attempts, base=backoff_base, cap=backoff_cap)
        values = {
            "status": "queued",
            "error": error,
            "run_after": now + dt.timedelta(seconds=delay),
        }
    else:
        values = {"status": "failed", "error": error, "finished_at": now}
    return values["status"] if _finish(engine, job.id, worker_id, values) else "lost"


def release(engine: Engine, job_id: int, worker_id: str) -> bool:
    """Give a job back untouched (graceful shutdown): queued again, this attempt not counted."""
    values = {"status": "queued", "attempts": Job.attempts - 1, "run_after": utcnow()}
    released = _finish(engine, job_id, worker_id, values)
    if released and _is_postgres(engine):
        with engine.begin() as conn:
            notify(conn)
    return released


def mark_cancelled(engine: Engine, job_id: int, worker_id: str) -> bool:
    values = {"status": "cancelled", "finished_at": utcnow(), "error": "cancelled on request"}
    return _finish(engine, job_id, worker_id, values)


def request_cancel(session: Session, job_id: int) -> str | None:
    """Cancel a queued job at once; ask a running one to stop. Returns the status, None if absent."""
    job = session.get(Job, job_id, with_for_update=_is_postgres(session))
    if job is None:
        return None
    if job.status == "queued":
        job.status = "cancelled"
        job.finished_at = utcnow()
        job.error = "cancelled on request"
    elif job.status == "running":
        job.cancel_requested = True
    session.flush()
    return job.status


def reclaim_expired(engine: Engine, *, now: dt.datetime | None = None) -> int:
    """Re-queue running jobs whose lease expired (their worker died); fail those out of attempts.

    The lease holder may have been killed mid-job; the next claim counts a new attempt, and an
    evaluation resumes from the per-item rows already written.
    """
    now = now or utcnow()
    expired = select(Job.id).where(Job.status == "running", Job.lease_expires_at < now)
    if _is_postgres(engine):
        expired = expired.with_for_update(skip_locked=True)
    note = "lease expired (worker " + func.coalesce(Job.lease_owner, "?") + " stopped renewing)"
    with engine.begin() as conn:
        failed = conn.execute(
            update(Job)
            .where(Job.id.in_(expired), Job.attempts >= Job.max_attempts)
            .values(
                status="failed",
                error=note,
                finished_at=now,
                lease_owner=None,
                lease_expires_at=None,
            )
        ).rowcount
        requeued = conn.execute(
            update(Job)
            .where(Job.id.in_(expired))
            .values(
                status="queued", error=note, run_after=now, lease_owner=None, lease_expires_at=None
            )
        ).rowcount
        if requeued and _is_postgres(engine):
            notify(conn)
    return int(failed + requeued)
