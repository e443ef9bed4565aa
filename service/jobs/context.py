"""What a handler gets while its job runs: the payload, progress reporting, cancellation checkpoints.

Kept apart from :mod:`service.jobs.worker` so handlers depend on this small module only and the
worker can import the handlers at module level (no import cycle).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from service.jobs import queue
from service.jobs.queue import ClaimedJob


class JobInterrupted(Exception):
    """Raised inside a job at a checkpoint when it must stop; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # "cancelled" | "stopping" | "lease_lost"


class JobContext:
    """The running job as its handler sees it; the worker passes in what it needs to know.

    ``stopping`` answers whether the worker is shutting down (graceful stop), so a checkpoint can
    hand the job back without the context knowing the worker.
    """

    def __init__(
        self,
        job: ClaimedJob,
        *,
        engine: Engine,
        sessions: sessionmaker[Session],
        worker_id: str,
        lease_seconds: float,
        stopping: Callable[[], bool],
    ) -> None:
        self.job = job
        self.payload = job.payload
        self.worker_id = worker_id
        self.engine = engine
        self.session_factory = sessions
        self.lease_seconds = lease_seconds
        self._stopping = stopping
        self.cancel_requested = threading.Event()
        self.lease_lost = threading.Event()

    @property
    def should_stop(self) -> bool:
        return self.cancel_requested.is_set() or self.lease_lost.is_set() or self._stopping()

    def checkpoint(self) -> None:
        """Raise :class:`JobInterrupted` if the job was cancelled, lost or the worker is stopping."""
        if self.lease_lost.is_set():
            raise JobInterrupted("lease_lost")
        if self.cancel_requested.is_set():
            raise JobInterrupted("cancelled")
        if self._stopping():
            raise JobInterrupted("stopping")

    def progress(self, fraction: float, **detail: Any) -> None:
        """Write progress (0..1 plus a detail dict) to the job row, then act as a checkpoint."""
        state = queue.renew(
            self.engine,
            self.job.id,
            self.worker_id,
            lease_seconds=self.lease_seconds,
            progress=fraction,
            progress_detail=detail or None,
        )
        self.note(state)
        self.checkpoint()

    def note(self, state: queue.LeaseState) -> None:
        """Record what a lease renewal said: lost to another worker, or asked to cancel."""
        if not state.held:
            self.lease_lost.set()
        elif state.cancel_requested:
            self.cancel_requested.set()


Handler = Callable[[JobContext], dict[str, Any] | None]
