"""One JSON error shape for every failure: 4xx says what was wrong and where; a 5xx is a bug.

``{"error": "validation_error", "message": "body.rows[17].value: ...", "where": "body.rows[17]
.value", "errors": [...]}``. Unexpected exceptions are logged with their traceback and answered
with a 500 that leaks nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException

from service.schemas import ErrorOut

log = logging.getLogger("capcast.service")

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    503: "unavailable",
}


class ApiError(HTTPException):
    """A client error with the place it refers to (a field path, a row, a parameter)."""

    def __init__(self, status_code: int, message: str, *, where: str | None = None) -> None:
        super().__init__(status_code=status_code, detail=message)
        self.where = where


def _desc(code: int) -> str:
    return CODES[code].replace("_", " ")


#: Declared on every router so the OpenAPI document (and schemathesis) knows the error shape.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut, "description": _desc(code)} for code in (400, 404, 409, 422)
}
AUTH_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    401: {"model": ErrorOut, "description": "missing or invalid API key"},
    403: {"model": ErrorOut, "description": "the API key lacks the needed scope"},
}


def format_loc(loc: Sequence[Any]) -> str:
    """``("body", "rows", 17, "value")`` -> ``body.rows[17].value``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def error_body(status: int, message: str, where: str | None = None, errors: list | None = None):
    body = ErrorOut(
        error=CODES.get(status, "error" if status < 500 else "internal_error"),
        message=message,
        where=where,
        errors=errors or [],
    )
    return body.model_dump()


async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [
        {
            "where": format_loc(e.get("loc", ())),
            # our validators' messages stand alone: drop pydantic's "Value error, " prefix
            "message": str(e.get("msg", "invalid")).removeprefix("Value error, "),
        }
        for e in exc.errors()
    ]
    first = errors[0] if errors else {"where": None, "message": "invalid request"}
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    message = f"{first['where']}: {first['message']}{more}" if first["where"] else first["message"]
    return JSONResponse(error_body(422, message, first["where"], errors), status_code=422)


async def _http(_: Request, exc: HTTPException) -> JSONResponse:
    where = getattr(exc, "where", None)
    message = str(exc.detail)
    if exc.status_code == 400 and where is None and message.startswith("There was an error"):
        # FastAPI's words for a body it cannot decode (not UTF-8, not JSON, too deep)
        where, message = "body", "the request body is not valid JSON (UTF-8 text expected)"
    body = error_body(exc.status_code, message, where)
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


async def _integrity(request: Request, exc: IntegrityError) -> JSONResponse:
    log.info("integrity error on %s %s: %s", request.method, request.url.path, exc.orig)
    message = "the request conflicts with existing data (a unique name or key already exists)"
    return JSONResponse(error_body(409, message), status_code=409)


async def _busy(request: Request, exc: Exception) -> JSONResponse:
    """The database is saturated (SQLite write lock, pool exhausted): retry later, not a bug."""
    if isinstance(exc, OperationalError) and "locked" not in str(exc.orig):
        return await _unexpected(request, exc)
    log.warning("busy on %s %s: %s", request.method, request.url.path, exc)
    body = error_body(503, "the database is busy; retry in a few seconds", "database")
    return JSONResponse(body, status_code=503, headers={"Retry-After": "2"})


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    message = "internal error: this is a bug in capcast; the server log has the details"
    return JSONResponse(error_body(500, message), status_code=500)


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)  # type: ignore[arg-type]  # Starlette types handlers for Exception
    app.add_exception_handler(HTTPException, _http)  # type: ignore[arg-type]  # Starlette types handlers for Exception
    app.add_exception_handler(IntegrityError, _integrity)  # type: ignore[arg-type]  # Starlette types handlers for Exception
    app.add_exception_handler(OperationalError, _busy)
    app.add_exception_handler(PoolTimeout, _busy)
    app.add_exception_handler(Exception, _unexpected)
