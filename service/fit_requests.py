"""Fits that outlive their request: POST /v1/forecasts answers 202 and the fit carries on.

A fit the route cannot finish within ``CAPCAST_SYNC_FIT_WAIT_S`` (or at once, with ``Prefer:
respond-async``) keeps running in a background thread of the server process that started it, in
that process's fit pool. Its state lives in the ``job`` table, not in memory, so that any server
worker (several uvicorn workers on PostgreSQL) can answer the poll: a job of kind ``forecast``,
``running`` with a lease held by this process, ``progress_detail.stage`` one of ``fetching``,
``fitting``, ``storing``, and at the end ``succeeded`` with ``result.forecast_id`` or ``failed``
with the API error (status, body, headers) the synchronous request would have answered.

The job is never queued, so no ``capcast worker`` claims it; it has one attempt, so when its server
dies without saying so (SIGKILL) the lease runs out and it reads, and is swept, as failed.
A request that finishes within the wait never writes a job row at all.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, insert, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from db.models import Job
from service.errors import ApiError, error_body
from service.schemas import ForecastPublic, ForecastQuery

log = logging.getLogger("capcast.service")

#: The ``job.kind`` of a forecast request that went asynchronous.
KIND = "forecast"
#: Stages in order, with the progress fraction each stands for.
STAGES = {"fetching": 0.05, "fitting": 0.2, "storing": 0.9}
#: Seconds past the fit budget a request's lease lasts (fetching and storing are not budgeted).
LEASE_GRACE_S = 60.0
#: Seconds the route waits between checks of whether its client left.
POLL_S = 0.1


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def request_path(rid: int) -> str:
    """Where a request is polled (the ``Location`` of the 202)."""
    return f"/v1/forecasts/requests/{rid}"


class FitNeeded(Exception):
    """Raised by the route's progress hook when nothing stored matched: fit in the background."""


def refuse_fit(stage: str) -> None:
    """The progress hook of the route's own attempt: a cached answer only, never a fit."""
    if stage == "fitting":
        raise FitNeeded


@dataclass
class Accepted:
    """A request that outlived the wait: its id (the job's) and where to poll it."""

    id: int

    @property
    def location(self) -> str:
        return request_path(self.id)

    def body(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": "running",
            "location": self.location,
            "events": f"{self.location}/events",
        }


@dataclass(eq=False)  # hashable by identity: kept in a set while it runs
class _Request:
    """One background fit: its outcome once done, and the job row once it went asynchronous."""

    query: ForecastQuery
    stage: str = "fetching"
    job_id: int | None = None
    abandoned: bool = False  # the client left before a 202: stop the fit
    result: ForecastPublic | None = None
    error: ApiError | None = None
    done: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)


def error_record(exc: ApiError) -> dict[str, Any]:
    """What the poll answers for a failed fit: the status, JSON body and headers of the error."""
    return {
        "status_code": exc.status_code,
        "body": error_body(exc.status_code, str(exc.detail), exc.where),
        "headers": dict(exc.headers or {}),
    }


class FitRequests:
    """Runs fits in background threads and records those that went asynchronous in ``job``."""

    def __init__(
        self,
        *,
        service: Any,
        engine: Engine,
        sessionmaker: Callable[[], Session],
        wait_s: float,
    ) -> None:
        self.service, self.engine, self.sessionmaker = service, engine, sessionmaker
        self.wait_s = wait_s
        self.owner = f"server:{socket.gethostname()}:{os.getpid()}"
        self._live: set[_Request] = set()
        self._threads: set[threading.Thread] = set()
        self._lock = threading.Lock()

    # -- the route's side ----------------------------------------------------------------------
    def submit(
        self, query: ForecastQuery, *, wait_s: float, gone: Callable[[], bool]
    ) -> ForecastPublic | Accepted:
        """Fit in the background; the forecast if it ends within ``wait_s``, else a job to poll.

        Raises the fit's :class:`ApiError` when it fails within the wait. While waiting, a client
        that leaves stops the fit (nobody will ever ask for it).
        """
        req = _Request(query)
        thread = threading.Thread(target=self._run, args=(req,), name="fit-request", daemon=True)
        with self._lock:
            self._live.add(req)
            self._threads.add(thread)
        thread.start()
        deadline = time.monotonic() + wait_s
        while not req.done.wait(max(0.0, min(POLL_S, deadline - time.monotonic()))):
            if time.monotonic() >= deadline:
                break
            if gone():
                req.abandoned = True
        with req.lock:
            if not req.done.is_set():
                req.job_id = self._insert_job(req)
                return Accepted(req.job_id)
        if req.error is not None:
            raise req.error
        assert req.result is not None
        return req.result

    def _insert_job(self, req: _Request) -> int:
        now = utcnow()
        lease = self.service.fit_timeout_s + LEASE_GRACE_S
        values = {
            "kind": KIND,
            "payload": {"query": req.query.model_dump(mode="json")},
            "status": "running",
            "priority": 0,
            "attempts": 1,
            "max_attempts": 1,
            "progress": STAGES[req.stage],
            "progress_detail": {"stage": req.stage},
            "lease_owner": self.owner,
            "lease_expires_at": now + dt.timedelta(seconds=lease),
            "run_after": now,
            "cancel_requested": False,
            "created_at": now,
            "started_at": now,
        }
        with self.engine.begin() as conn:
            return conn.execute(insert(Job).values(**values).returning(Job.id)).scalar_one()

    # -- the background thread -----------------------------------------------------------------
    def _run(self, req: _Request) -> None:
        try:
            with self.sessionmaker() as session:
                out = self.service.forecast(
                    session,
                    req.query,
                    commit=session.commit,
                    cancelled=lambda: req.abandoned,
                    progress=lambda stage: self._stage(req, stage),
                )
                session.commit()
            self._finish(req, result=out)
        except ApiError as exc:
            self._finish(req, error=exc)
        except Exception:  # a bug: logged with its traceback, answered as a 500 like a route's
            log.exception("background fit of %s failed", req.query.method)
            message = "internal error: this is a bug in capcast; the server log has the details"
            self._finish(req, error=ApiError(500, message))
        finally:
            with self._lock:
                self._live.discard(req)
                self._threads.discard(threading.current_thread())

    def _stage(self, req: _Request, stage: str) -> None:
        with req.lock:
            req.stage = stage
            if req.job_id is not None:
                self._update(req.job_id, progress=STAGES[stage], progress_detail={"stage": stage})

    def _finish(
        self, req: _Request, *, result: ForecastPublic | None = None, error: ApiError | None = None
    ) -> None:
        with req.lock:
            req.result, req.error = result, error
            req.done.set()
            if req.job_id is None:
                return
            if result is not None:
                values: dict[str, Any] = {
                    "status": "succeeded",
                    "progress": 1.0,
                    "result": {"forecast_id": result.id, "location": f"/v1/forecasts/{result.id}"},
                }
            else:
                assert error is not None
                values = {"status": "failed", "result": error_record(error), "error": error.detail}
            try:
                self._update(req.job_id, finished_at=utcnow(), **values)
            except SQLAlchemyError:  # the database went away: the lease will run out instead
                log.exception("could not record the end of forecast request %s", req.job_id)

    def _update(self, job_id: int, **values: Any) -> None:
        owned = (Job.id == job_id) & (Job.lease_owner == self.owner) & (Job.status == "running")
        if values.get("status") in ("succeeded", "failed"):
            values = {"lease_owner": None, "lease_expires_at": None, **values}
        with self.engine.begin() as conn:
            conn.execute(update(Job).where(owned).values(**values))

    # -- shutdown --------------------------------------------------------------------------------
    def close(self, timeout: float = 3.0) -> None:
        """At server shutdown, after the fit pool closed: let the threads record their failure,
        and mark those that could not failed here, so no poll waits for a lease to run out."""
        deadline = time.monotonic() + timeout
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            left = list(self._live)
        for req in left:
            stopped = ApiError(503, "the fit was stopped: the server is shutting down")
            stopped.headers = {"Retry-After": "1"}
            self._finish(req, error=stopped)


# -- reading a request back (any worker) ---------------------------------------------------------
def read_state(session: Session, rid: int) -> dict[str, Any] | None:
    """The state of forecast request ``rid`` from its job row, or None if there is no such request.

    ``{"id", "status": running|succeeded|failed, "stage", "progress", "location", "events"}``
    plus ``forecast_id`` when succeeded, and ``error`` (status_code, body, headers) when failed.
    A running request whose lease ran out lost its server (killed without a shutdown): failed.
    """
    job = session.get(Job, rid)
    if job is None or job.kind != KIND:
        return None
    accepted = Accepted(job.id)
    state: dict[str, Any] = {
        **accepted.body(),
        "status": job.status,
        "stage": (job.progress_detail or {}).get("stage"),
        "progress": job.progress,
    }
    result = job.result or {}
    expires = job.lease_expires_at
    if expires is not None and expires.tzinfo is None:
        expires = expires.replace(tzinfo=dt.UTC)
    if job.status == "running" and expires is not None and expires < utcnow():
        stopped = ApiError(
            503,
            f"the server process that ran this fit ({job.lease_owner}) stopped before it "
            "finished; post the forecast again",
            where="server",
        )
        stopped.headers = {"Retry-After": "1"}
        state.update(status="failed", error=error_record(stopped))
    elif job.status == "succeeded":
        state["forecast_id"] = result.get("forecast_id")
    elif job.status != "running":
        state["status"] = "failed"
        state["error"] = (
            result
            if "status_code" in result
            else error_record(
                ApiError(503, job.error or f"the request ended {job.status}", where="server")
            )
        )
    return state
