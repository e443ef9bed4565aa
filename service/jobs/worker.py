"""``capcast worker``: claim jobs, hold their lease, run them, record the outcome on the job row.

A worker is one process with ``concurrency`` slots (threads); each slot claims one job at a time.
While a job runs, a heartbeat thread renews its lease and notices cancel requests; a job whose
worker dies simply stops being renewed and :func:`service.jobs.queue.reclaim_expired` re-queues it.

Graceful stop (SIGTERM): slots stop claiming; a job in hand either finishes, or, if it reaches a
checkpoint (``ctx.checkpoint()`` / ``ctx.progress()``) first, is released back to the queue without
counting an attempt.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from db.session import session_factory
from service.jobs import queue
from service.jobs.context import Handler, JobContext, JobInterrupted
from service.jobs.failures import JobInputError, describe
from service.jobs.handlers import HANDLERS
from service.jobs.paths import check_payload_paths, job_roots
from service.jobs.queue import ClaimedJob

__all__ = ["Handler", "JobContext", "JobInterrupted", "Worker", "WorkerConfig"]

log = logging.getLogger("capcast.worker")


@dataclass
class WorkerConfig:
    """How a worker behaves; the CLI fills this from its options."""

    lease_seconds: float = 30.0
    poll_seconds: float = 1.0
    concurrency: int = 1
    once: bool = False
    kinds: list[str] | None = None
    backoff_base: float = 10.0
    backoff_cap: float = 900.0
    name: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    #: PostgreSQL: wake on LISTEN/NOTIFY instead of waiting out the poll interval.
    listen: bool = True
    #: Directories payload paths must resolve inside; None: ``CAPCAST_JOB_PATHS`` (or its default).
    job_roots: tuple[Path, ...] | None = None


class _Heartbeat(threading.Thread):
    """Renews one job's lease every third of its length until stopped."""

    def __init__(self, ctx: JobContext, lease_seconds: float) -> None:
        super().__init__(name=f"lease-{ctx.job.id}", daemon=True)
        self.ctx, self.lease_seconds = ctx, lease_seconds
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(self.lease_seconds / 3):
            try:
                state = queue.renew(
                    self.ctx.engine,
                    self.ctx.job.id,
                    self.ctx.worker_id,
                    lease_seconds=self.lease_seconds,
                )
            except Exception:  # a database blip: try again next beat; the lease has slack
                log.exception("lease renewal of job %s failed", self.ctx.job.id)
                continue
            self.ctx.note(state)
            if not state.held:
                return


class _Listener(threading.Thread):
    """LISTENs on PostgreSQL and sets ``wake`` on each NOTIFY (sent by every enqueue).

    Polling stays the safety net: a lost connection or a missed notification only costs the
    poll interval, and jobs that become due later (retry backoff) are found by polling.
    """

    def __init__(self, engine: Engine, wake: threading.Event, stop: threading.Event) -> None:
        super().__init__(name="job-listener", daemon=True)
        self.url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self.wake, self.stop = wake, stop

    def run(self) -> None:
        import psycopg

        while not self.stop.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True) as conn:
                    conn.execute(f"LISTEN {queue.NOTIFY_CHANNEL}")
                    while not self.stop.is_set():
                        for _ in conn.notifies(timeout=1.0):
                            self.wake.set()
            except Exception:
                log.warning("job listener lost its connection; polling until it reconnects")
                self.stop.wait(5.0)


class Worker:
    """Claims and runs jobs until stopped (or, with ``once``, until nothing is ready)."""

    def __init__(
        self,
        engine: Engine,
        config: WorkerConfig | None = None,
        handlers: dict[str, Handler] | None = None,
    ) -> None:
        self.engine = engine
        self.sessions = session_factory(engine)
        self.config = config or WorkerConfig()
        if self.config.job_roots is None:
            from db.config import get_settings

            self.roots = job_roots(get_settings())
        else:
            self.roots = tuple(self.config.job_roots)
        self.handlers = dict(HANDLERS if handlers is None else handlers)
        if engine.dialect.name == "sqlite" and self.config.concurrency > 1:
            raise ValueError(
                "SQLite runs one worker slot (--concurrency 1); use PostgreSQL for more"
            )
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._last_sweep = 0.0
        self._sweep_lock = threading.Lock()
        self.processed = 0
        self._count_lock = threading.Lock()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def stop(self) -> None:
        """Stop claiming; jobs in hand finish or release at their next checkpoint."""
        self._stop.set()
        self._wake.set()

    def run(self) -> int:
        """Run all slots; returns how many jobs this process finished (any outcome)."""
        if self.config.listen and not self.config.once and self.engine.dialect.name == "postgresql":
            _Listener(self.engine, self._wake, self._stop).start()
        n = max(1, self.config.concurrency)
        if n == 1:
            self._slot_loop(f"{self.config.name}:0")
            return self.processed
        threads = [
            threading.Thread(target=self._slot_loop, args=(f"{self.config.name}:{i}",))
            for i in range(n)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return self.processed

    def _maybe_sweep(self) -> None:
        interval = min(5.0, self.config.lease_seconds / 2)
        with self._sweep_lock:
            if time.monotonic() - self._last_sweep < interval:
                return
            self._last_sweep = time.monotonic()
        n = queue.reclaim_expired(self.engine)
        if n:
            log.warning("re-queued %d job(s) whose lease expired", n)

    def _slot_loop(self, worker_id: str) -> None:
        while not self.stopping:
            self._wake.clear()  # a NOTIFY from here on wakes the idle wait below
            try:
                self._maybe_sweep()
                job = queue.claim(
                    self.engine,
                    worker_id=worker_id,
                    lease_seconds=self.config.lease_seconds,
                    kinds=self.config.kinds,
                )
            except Exception:
                log.exception("claim failed; retrying after %.1fs", self.config.poll_seconds)
                self._stop.wait(self.config.poll_seconds)
                continue
            if job is None:
                if self.config.once:
                    return
                self._wake.wait(self.config.poll_seconds)
                continue
            try:
                self.run_job(job, worker_id)
            except Exception:  # e.g. the database went away while recording the outcome
                log.exception("job %s: outcome not recorded; its lease will expire", job.id)
            with self._count_lock:
                self.processed += 1

    def run_job(self, job: ClaimedJob, worker_id: str) -> str:
        """Run one claimed job to an outcome written on its row; returns that outcome."""
        ctx = JobContext(
            job,
            engine=self.engine,
            sessions=self.sessions,
            worker_id=worker_id,
            lease_seconds=self.config.lease_seconds,
            stopping=lambda: self.stopping,
        )
        beat = _Heartbeat(ctx, self.config.lease_seconds)
        beat.start()
        log.info("job %s (%s) attempt %d on %s", job.id, job.kind, job.attempts, worker_id)
        try:
            handler = self.handlers.get(job.kind)
            if handler is None:
                known = ", ".join(sorted(self.handlers))
                raise JobInputError(f"unknown job kind {job.kind!r}; known: {known}")
            # the payload may have been written into the table directly: check its paths again
            check_payload_paths(job.kind, job.payload, self.roots)
            result = handler(ctx)
        except JobInterrupted as stop:
            outcome = self._interrupted(ctx, stop.reason)
        except Exception as exc:
            failure = describe(exc)
            # the traceback stays in this log; the row gets one line with the same error id
            log.error("job %s failed (%s): %s", job.id, failure.kind, failure.message, exc_info=exc)
            outcome = queue.fail(
                self.engine,
                job,
                worker_id,
                failure.message,
                retry=failure.retry,
                backoff_base=self.config.backoff_base,
                backoff_cap=self.config.backoff_cap,
            )
        else:
            ok = queue.complete(self.engine, job.id, worker_id, result)
            outcome = "succeeded" if ok else "lost"
        finally:
            beat.done.set()
            beat.join()
        log.info("job %s -> %s", job.id, outcome)
        return outcome

    def _interrupted(self, ctx: JobContext, reason: str) -> str:
        if reason == "cancelled":
            return (
                "cancelled"
                if queue.mark_cancelled(self.engine, ctx.job.id, ctx.worker_id)
                else "lost"
            )
        if reason == "stopping":
            return "released" if queue.release(self.engine, ctx.job.id, ctx.worker_id) else "lost"
        return "lost"
