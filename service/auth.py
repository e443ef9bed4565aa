"""API keys: random tokens stored only as SHA-256 hashes, with scopes read < write < admin.

A token reads ``cc_<prefix>_<secret>``; the prefix is stored in clear so a person can recognise
a key in ``capcast keys list``, the whole token only as its hash. Failures say 401 (no key, or one
we do not know or that was revoked) or 403 (a valid key without the needed scope) and nothing
more: the body never says which part of a key was wrong.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import ApiKey
from service.deps import SessionDep, SettingsDep

SCOPES: tuple[str, ...] = ("read", "write", "admin")
#: A scope grants itself and every scope below it.
_RANK = {scope: i for i, scope in enumerate(SCOPES)}
TOKEN_PREFIX = "cc_"
#: Browsers cannot send headers from a link, so the dashboard also accepts this cookie (GET only).
COOKIE_NAME = "capcast_key"
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


def create_key(*, session: Session, name: str, scopes: list[str]) -> tuple[ApiKey, str]:
    """Store a new key (hashed) and return it with the token, which is never stored in clear."""
    token, prefix = new_token()
    key = ApiKey(name=name, prefix=prefix, key_hash=hash_token(token), scopes=parse_scopes(scopes))
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


def has_scope(granted: list[str], needed: str) -> bool:
    return any(_RANK.get(s, -1) >= _RANK[needed] for s in granted)


def _token_from(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    if request.headers.get("x-api-key"):
        return request.headers["x-api-key"].strip()
    if request.method == "GET" and request.url.path.startswith("/dashboard"):
        return request.query_params.get("key") or request.cookies.get(COOKIE_NAME)
    return None


def _unauthorized() -> HTTPException:
    return HTTPException(
        status_code=401,
        detail="missing or invalid API key",
        headers={"WWW-Authenticate": "Bearer"},
    )


def lookup(session: Session, token: str | None) -> ApiKey | None:
    if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    key = session.scalars(select(ApiKey).where(ApiKey.key_hash == hash_token(token))).first()
    return key if key is not None and key.revoked_at is None else None


def require(scope: str) -> Callable[..., ApiKey | None]:
    """A dependency that lets the request through only with a key holding ``scope``."""

    def dependency(
        request: Request,
        session: SessionDep,
        settings: SettingsDep,
        _bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)] = None,
        _header: Annotated[str | None, Security(_HEADER)] = None,
    ) -> ApiKey | None:
        token = _token_from(request)
        if scope == "read" and settings.public_reads and token is None:
            return None
        key = lookup(session, token)
        if key is None:
            raise _unauthorized()
        if not has_scope(list(key.scopes), scope):
            raise HTTPException(status_code=403, detail=f"this API key lacks the {scope!r} scope")
        return key

    return dependency


ReadKey = Annotated[ApiKey | None, Depends(require("read"))]
WriteKey = Annotated[ApiKey | None, Depends(require("write"))]
AdminKey = Annotated[ApiKey | None, Depends(require("admin"))]
