"""How a failed job is reported and whether it is tried again.

``job.error`` is readable by anyone who can list jobs, so it holds one line and an error id, never
a traceback: the traceback goes to the worker's log under the same id. Three kinds of failure:

- **input** (the payload, its files or its query are wrong): a clear message, failed at once,
  because running it again gives the same answer;
- **transient** (the database or a connection went away, a timeout): retried with backoff;
- anything else is a bug: ``internal error (error id X)``, failed at once, details in the log.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

MESSAGE_MAX_CHARS = 1000


class JobInputError(ValueError):
    """The job's payload or input is wrong; the message says what and where."""


class TransientJobError(Exception):
    """A failure worth retrying (a handler raises it for an outage it recognises)."""


@dataclass(frozen=True)
class Failure:
    """What goes on the job row (``message``), whether to retry, and the id the log carries."""

    message: str
    retry: bool
    error_id: str
    kind: str  # "input" | "transient" | "run" | "internal"


def new_error_id() -> str:
    return uuid.uuid4().hex[:12]


def one_line(text: str, limit: int = MESSAGE_MAX_CHARS) -> str:
    """Collapse whitespace (no multi-line dumps on the row) and cap the length."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _is_transient(exc: BaseException) -> bool:
    from sqlalchemy.exc import DisconnectionError, OperationalError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    transient = (
        TransientJobError,
        OperationalError,
        DisconnectionError,
        PoolTimeout,
        ConnectionError,
        TimeoutError,
    )
    return isinstance(exc, transient)


def _validation_message(exc: BaseException) -> str:
    from service.schemas import validation_summary

    return validation_summary(exc)


def _fit_error_types() -> tuple[type[BaseException], ...]:
    try:
        from predictors.base import FitError
    except ImportError:  # predictors unavailable: nothing to recognise
        return ()
    return (FitError,)


def input_message(exc: BaseException) -> str | None:
    """The message of an input failure, or None if ``exc`` is not one."""
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        return _validation_message(exc)
    if isinstance(exc, FileNotFoundError):
        return f"file not found: {exc.filename or exc}"
    if isinstance(exc, IsADirectoryError):
        return f"expected a file, got a directory: {exc.filename or exc}"
    if isinstance(exc, NotADirectoryError):
        return f"not a directory: {exc.filename or exc}"
    if isinstance(exc, PermissionError):
        return f"permission denied: {exc.filename or exc}"
    if isinstance(exc, (ValueError, *_fit_error_types())):
        return str(exc) or type(exc).__name__
    return None


def describe(exc: BaseException, error_id: str | None = None) -> Failure:
    """Classify ``exc`` and write the one line that goes on the job row."""
    eid = error_id or new_error_id()
    if _is_transient(exc):
        # a handler's own message is safe; a driver's may carry SQL, hosts or credentials
        said = f": {one_line(str(exc))}" if type(exc) is TransientJobError and str(exc) else ""
        text = f"temporary failure ({type(exc).__name__}){said}; retried (error id {eid})"
        return Failure(text, True, eid, "transient")
    message = input_message(exc)
    if message is not None:
        return Failure(f"{one_line(message)} (error id {eid})", False, eid, "input")
    from evals.run_checks import CheckerErrorRateExceeded

    if isinstance(exc, CheckerErrorRateExceeded):  # the run's own verdict: say it, never retry
        return Failure(f"{one_line(str(exc))} (error id {eid})", False, eid, "run")
    return Failure(f"internal error (error id {eid})", False, eid, "internal")
