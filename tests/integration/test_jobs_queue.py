"""The job queue's state machine on SQLite and PostgreSQL: claim, lease, retry, cancel, reclaim."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from db.models import Job
from db.session import transaction
from service.jobs import queue
from service.jobs.worker import Worker, WorkerConfig


def _enqueue(engine, **kw) -> int:
    with transaction(engine) as s:
        return queue.enqueue(s, kind=kw.pop("kind", "sleep"), payload=kw.pop("payload", {}), **kw)


def _job(engine, job_id: int) -> Job:
    with transaction(engine) as s:
        return s.get(Job, job_id)


def test_claim_order_and_exclusivity(db_engine) -> None:
    low = _enqueue(db_engine, priority=0)
    high = _enqueue(db_engine, priority=5)
    later = _enqueue(db_engine, run_after=queue.utcnow() + dt.timedelta(hours=1))
    first = queue.claim(db_engine, worker_id="a", lease_seconds=30)
    second = queue.claim(db_engine, worker_id="b", lease_seconds=30)
    assert (first.id, second.id) == (high, low)
    assert queue.claim(db_engine, worker_id="c", lease_seconds=30) is None  # `later` not due
    row = _job(db_engine, high)
    assert (row.status, row.attempts, row.lease_owner) == ("running", 1, "a")
    assert _job(db_engine, later).status == "queued"
    # only the lease holder may finish it
    assert not queue.complete(db_engine, high, "b", {"x": 1})
    assert queue.complete(db_engine, high, "a", {"x": 1, "nan": float("nan"), "t": (1, 2)})
    row = _job(db_engine, high)
    assert (row.status, row.result, row.progress, row.lease_owner) == (
        "succeeded",
        {"x": 1, "nan": None, "t": [1, 2]},
        1.0,
        None,
    )


def test_retry_with_backoff_then_failed_keeps_error(db_engine) -> None:
    job_id = _enqueue(db_engine, max_attempts=3)
    delays = []
    for attempt in (1, 2, 3):
        now = queue.utcnow() + dt.timedelta(hours=attempt)  # far enough past any backoff
        job = queue.claim(db_engine, worker_id="w", lease_seconds=30, now=now)
        assert job is not None and job.id == job_id and job.attempts == attempt
        before = queue.utcnow()
        status = queue.fail(db_engine, job, "w", f"boom {attempt}", backoff_base=2, backoff_cap=5)
        after = queue.utcnow()
        row = _job(db_engine, job_id)
        if attempt < 3:
            assert status == "queued"
            run_after = queue.as_utc(row.run_after)
            delays.append(
                ((run_after - before).total_seconds(), (run_after - after).total_seconds())
            )
        else:
            assert status == "failed"
    row = _job(db_engine, job_id)
    assert (row.status, row.attempts, row.error) == ("failed", 3, "boom 3")
    assert row.finished_at is not None
    # run_after = time of the failure + 2s, then + 4s
    assert delays[0][1] <= 2.0 <= delays[0][0] and delays[1][1] <= 4.0 <= delays[1][0]
    assert queue.backoff_seconds(10, base=2, cap=5) == 5


def test_lease_renewal_expiry_and_reclaim(db_engine) -> None:
    job_id = _enqueue(db_engine, max_attempts=2)
    t0 = queue.utcnow()
    job = queue.claim(db_engine, worker_id="dead", lease_seconds=10, now=t0)
    # renewed at t0+8: still held at t0+15
    assert queue.renew(
        db_engine, job_id, "dead", lease_seconds=10, now=t0 + dt.timedelta(seconds=8)
    ).held
    assert queue.reclaim_expired(db_engine, now=t0 + dt.timedelta(seconds=15)) == 0
    # no renewal after that: expired at t0+19
    assert queue.reclaim_expired(db_engine, now=t0 + dt.timedelta(seconds=19)) == 1
    row = _job(db_engine, job_id)
    assert row.status == "queued" and "dead" in row.error and row.lease_owner is None
    # the dead worker's late writes are refused
    assert not queue.renew(db_engine, job_id, "dead", lease_seconds=10).held
    assert not queue.complete(db_engine, job_id, "dead")
    again = queue.claim(
        db_engine, worker_id="alive", lease_seconds=10, now=t0 + dt.timedelta(seconds=20)
    )
    assert again.id == job.id and again.attempts == 2
    # out of attempts: an expired lease now fails the job, error kept
    assert queue.reclaim_expired(db_engine, now=t0 + dt.timedelta(seconds=40)) == 1
    row = _job(db_engine, job_id)
    assert row.status == "failed" and "alive" in row.error


def test_cancel_queued_and_running(db_engine) -> None:
    queued = _enqueue(db_engine)
    with transaction(db_engine) as s:
        assert queue.request_cancel(s, queued) == "cancelled"
        assert queue.request_cancel(s, 10_000) is None
    running = _enqueue(db_engine, payload={"seconds": 30, "steps": 300})
    job = queue.claim(db_engine, worker_id="w", lease_seconds=30)
    assert job.id == running
    with transaction(db_engine) as s:
        assert queue.request_cancel(s, running) == "running"
    worker = Worker(db_engine, WorkerConfig(lease_seconds=30))
    assert worker.run_job(job, "w") == "cancelled"  # the sleep job saw it at its first step
    row = _job(db_engine, running)
    assert row.status == "cancelled" and row.finished_at is not None


def test_dedupe_key_enqueues_once(db_engine) -> None:
    with transaction(db_engine) as s:
        a = queue.enqueue(s, kind="sleep", payload={}, dedupe_key="k1")
        b = queue.enqueue(s, kind="sleep", payload={}, dedupe_key="k1")
    assert a is not None and b is None
    with transaction(db_engine) as s:
        assert s.scalars(select(Job.id)).all() == [a]


def test_worker_runs_retries_and_releases_on_stop(db_engine) -> None:
    ok = _enqueue(db_engine, payload={"fail_attempts": 1}, max_attempts=2)
    bad = _enqueue(db_engine, kind="no_such_kind", max_attempts=1)
    worker = Worker(db_engine, WorkerConfig(once=True, backoff_base=0.0, poll_seconds=0.01))
    worker.run()
    assert _job(db_engine, ok).status == "succeeded" and _job(db_engine, ok).attempts == 2
    row = _job(db_engine, bad)
    assert row.status == "failed" and "unknown job kind 'no_such_kind'" in row.error
    # graceful stop: a job at a checkpoint is released, its attempt not counted
    slow = _enqueue(db_engine, payload={"seconds": 1, "steps": 10})
    job = queue.claim(db_engine, worker_id="w", lease_seconds=30)
    worker.stop()
    assert worker.run_job(job, "w") == "released"
    row = _job(db_engine, slow)
    assert (row.status, row.attempts, row.lease_owner) == ("queued", 0, None)


def test_sqlite_refuses_concurrency(db_engine) -> None:
    if db_engine.dialect.name != "sqlite":
        Worker(db_engine, WorkerConfig(concurrency=4))  # fine on PostgreSQL
        return
    with pytest.raises(ValueError, match="SQLite runs one worker slot"):
        Worker(db_engine, WorkerConfig(concurrency=4))
