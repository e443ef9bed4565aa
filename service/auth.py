"""API keys: random tokens stored only as SHA-256 hashes, with scopes read < forecast < write < admin.

A token reads ``cc_<prefix>_<secret>``; the prefix is stored in clear so a person can recognise
a key in ``capcast keys list``, the whole token only as its hash. Failures say 401 (no key, or one
we do not know, that was revoked or that expired) or 403 (a valid key without the needed scope)
and nothing more: the body never says which part of a key was wrong.

Scopes: ``read`` reads (GET, the analyses that store nothing, the dashboard); ``forecast`` also
computes and stores forecasts (``POST /v1/forecasts``); ``write`` also creates and changes
resources (families, models, measurements, jobs, schedules); ``admin`` also manages keys.

Keys travel in headers (``Authorization: Bearer``, ``X-API-Key``) or, for the dashboard only, in
an HttpOnly SameSite=Strict cookie set by its sign-in (service/dashboard/pages.py); never in a
URL that is kept. :class:`RedactSecrets` keeps tokens out of uvicorn's logs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import secrets
from collections.abc import Callable
from typing import Annotated, Any, Protocol

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from db.models import ApiKey
from service.deps import SessionDep, SettingsDep

log = logging.getLogger("capcast.auth")

SCOPES: tuple[str, ...] = ("read", "forecast", "write", "admin")
#: A scope grants itself and every scope below it.
_RANK = {scope: i for i, scope in enumerate(SCOPES)}
TOKEN_PREFIX = "cc_"
#: The dashboard's sign-in cookie (HttpOnly, SameSite=Strict, path /dashboard).
COOKIE_NAME = "capcast_key"
#: ``last_used_at`` is written at most this often per key, so polling costs no writes.
TOUCH_INTERVAL = dt.timedelta(minutes=1)
_BEARER = HTTPBearer(auto_error=False, description="Authorization: Bearer cc_...")
_HEADER = APIKeyHeader(name="X-API-Key", auto_error=False, description="or X-API-Key: cc_...")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> tuple[str, str]:
    """A fresh token and its public prefix."""
    prefix = secrets.token_hex(4)
    return f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}", prefix


def parse_scopes(scopes: str | list[str]) -> list[str]:
    items = scopes.split(",") if isinstance(scopes, str) else scopes
    cleaned = [s.strip() for s in items if s.strip()]
    unknown = [s for s in cleaned if s not in _RANK]
    if unknown or not cleaned:
        raise ValueError(f"unknown scope(s) {unknown or cleaned}; known: {', '.join(SCOPES)}")
    return sorted(set(cleaned), key=_RANK.__getitem__)


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)


def create_key(
    *,
    session: Session,
    name: str,
    scopes: list[str],
    expires_at: dt.datetime | None = None,
) -> tuple[ApiKey, str]:
    """Store a new key (hashed) and return it with the token, which is never stored in clear."""
    expires = _aware(expires_at)
    if expires is not None and expires <= dt.datetime.now(dt.UTC):
        raise ValueError(f"expiry {expires.isoformat()} is not in the future")
    token, prefix = new_token()
    key = ApiKey(
        name=name,
        prefix=prefix,
        key_hash=hash_token(token),
        scopes=parse_scopes(scopes),
        expires_at=expires,
    )
    session.add(key)
    session.flush()
    return key, token


def revoke_key(*, session: Session, ident: str) -> ApiKey | None:
    """Revoke by id or prefix; returns the key, or None when no such key exists."""
    key = session.scalars(select(ApiKey).where(ApiKey.prefix == ident)).first()
    if key is None and ident.isdigit() and int(ident) < 2**31:
        key = session.get(ApiKey, int(ident))
    if key is not None and key.revoked_at is None:
        key.revoked_at = dt.datetime.now(dt.UTC)
    return key


class KeyTimes(Protocol):
    """What :func:`is_active` and :func:`touch_due` read: an ``ApiKey`` or a row of its columns."""

    @property
    def revoked_at(self) -> dt.datetime | None: ...
    @property
    def expires_at(self) -> dt.datetime | None: ...
    @property
    def last_used_at(self) -> dt.datetime | None: ...


def lookup_hash(token: str | None) -> str | None:
    """The stored hash a well-formed token would have, or None for a token no key can have."""
    if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    return hash_token(token)


def has_scope(granted: list[str], needed: str) -> bool:
    return any(_RANK.get(s, -1) >= _RANK[needed] for s in granted)


def is_active(key: KeyTimes, now: dt.datetime | None = None) -> bool:
    """Neither revoked nor past its expiry."""
    now = now or dt.datetime.now(dt.UTC)
    expires = _aware(key.expires_at)
    return key.revoked_at is None and (expires is None or expires > now)


def token_from(request: Request) -> str | None:
    """The key a request carries: a header, or the dashboard's cookie on a dashboard GET."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    if request.headers.get("x-api-key"):
        return request.headers["x-api-key"].strip()
    if request.method == "GET" and request.url.path.startswith("/dashboard"):
        return request.cookies.get(COOKIE_NAME)
    return None


def unauthorized() -> HTTPException:
    return HTTPException(
        status_code=401,
        detail="missing or invalid API key",
        headers={"WWW-Authenticate": "Bearer"},
    )


def lookup(session: Session, token: str | None) -> ApiKey | None:
    """The active key with this token, or None (unknown, revoked or expired alike)."""
    key_hash = lookup_hash(token)
    if key_hash is None:
        return None
    key = session.scalars(select(ApiKey).where(ApiKey.key_hash == key_hash)).first()
    return key if key is not None and is_active(key) else None


def touch_due(key: KeyTimes, now: dt.datetime | None = None) -> bool:
    """Whether the key's ``last_used_at`` is older than :data:`TOUCH_INTERVAL` (or unset)."""
    last = _aware(key.last_used_at)
    return last is None or (now or dt.datetime.now(dt.UTC)) - last >= TOUCH_INTERVAL


def touch(request: Request, key: ApiKey) -> None:
    """Record the key's use, at most once per :data:`TOUCH_INTERVAL`.

    A separate short transaction: the request's own may be a long read (a fit), and holding
    SQLite's write lock or turning a stale read snapshot into a write there would make writers
    wait. The conditional UPDATE makes concurrent requests write once; a busy database skips it.
    """
    if not touch_due(key):
        return
    now = dt.datetime.now(dt.UTC)
    cutoff = now - TOUCH_INTERVAL
    stmt = (
        update(ApiKey)
        .where(ApiKey.id == key.id)
        .where(or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < cutoff))
        .values(last_used_at=now)
    )
    try:
        with request.app.state.sessionmaker() as session, session.begin():
            session.execute(stmt, execution_options={"synchronize_session": False})
    except SQLAlchemyError as exc:  # bookkeeping must never fail a request
        log.warning("could not record the use of API key %s: %s", key.prefix, exc)


def authenticate(request: Request, session: Session, token: str | None, scope: str) -> ApiKey:
    """The active key for ``token`` holding ``scope``; 401 or 403 otherwise. Records the use."""
    key = lookup(session, token)
    if key is None:
        raise unauthorized()
    if not has_scope(list(key.scopes), scope):
        raise HTTPException(status_code=403, detail=f"this API key lacks the {scope!r} scope")
    touch(request, key)
    return key


def require(scope: str) -> Callable[..., ApiKey | None]:
    """A dependency that lets the request through only with a key holding ``scope``."""

    def dependency(
        request: Request,
        session: SessionDep,
        settings: SettingsDep,
        _bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)] = None,
        _header: Annotated[str | None, Security(_HEADER)] = None,
    ) -> ApiKey | None:
        token = token_from(request)
        if scope == "read" and settings.public_reads and token is None:
            return None
        return authenticate(request, session, token, scope)

    return dependency


ReadKey = Annotated[ApiKey | None, Depends(require("read"))]
ForecastKey = Annotated[ApiKey | None, Depends(require("forecast"))]
WriteKey = Annotated[ApiKey | None, Depends(require("write"))]
AdminKey = Annotated[ApiKey | None, Depends(require("admin"))]


# -- keeping keys out of logs --------------------------------------------------------------------

_SECRET_PATTERNS = (
    # a key in a query string: ?key=... or &key=... (any case, until the next & or space or quote)
    (re.compile(r"(?i)([?&](?:key|api_key|token)=)[^&\s\"']*"), r"\1[redacted]"),
    # an Authorization or X-API-Key header value, should one ever be logged
    (
        re.compile(r"(?i)(authorization[\"']?\s*[:=,]\s*[\"']?(?:bearer|basic)\s+)[^\s\"',]+"),
        r"\1[redacted]",
    ),
    (re.compile(r"(?i)(x-api-key[\"']?\s*[:=,]\s*[\"']?)[^\s\"',]+"), r"\1[redacted]"),
    # a capcast token anywhere else
    (re.compile(r"cc_[0-9a-f]{8}_[A-Za-z0-9_\-]{20,}"), "cc_[redacted]"),
)


def redact(text: str) -> str:
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactSecrets(logging.Filter):
    """Rewrites a record's message and arguments so no API key reaches a log handler.

    uvicorn's access log formats ``%s "%s %s HTTP/%s" %d`` with the full path and query string
    as an argument: the arguments are redacted one by one, so the format keeps working.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redact_arg(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _redact_arg(v) for k, v in record.args.items()}
        return True


def _redact_arg(value: Any) -> Any:
    return redact(value) if isinstance(value, str) else value


#: Loggers that may print request lines or headers.
REDACTED_LOGGERS = ("uvicorn.access", "uvicorn.error")


def install_log_redaction() -> None:
    """Attach :class:`RedactSecrets` to uvicorn's loggers, once (``create_app`` calls this).

    A filter on the logger itself survives uvicorn's ``dictConfig``, which replaces handlers.
    """
    for name in REDACTED_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())
