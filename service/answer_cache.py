"""Repeated forecast requests answered before routing.

Training dashboards poll the same ``POST /v1/forecasts`` body every few seconds. Once the route
has served that body from a stored forecast, the exact bytes it sent are kept here, keyed by the
request body. The next identical request is answered by :class:`CachedAnswerMiddleware` after one
small read (the key's row joined with the data-version counters of the query: one round trip to
the database, as a health check's ``SELECT 1``), and none of the routing, validation, ORM loading
and serialization the route does. It answers only when the route would give the same answer:

- the key is looked up on every request (revoked or expired keys, and keys without the
  ``forecast`` scope, go to the route, which refuses them with its own message);
- the data version of the query's benchmarks and family is read on every request (any write to
  them goes to the route, which refits or finds the forecast stored for the new data);
- a key whose ``last_used_at`` is due for an update goes to the route, which records it.

Every other request passes through untouched. The cache holds at most
``CAPCAST_ANSWER_CACHE_BYTES`` of answers per server process, least recently used out first.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from db.data_version import counters_of, version_of
from db.models import ApiKey, DataVersion
from service.auth import has_scope, is_active, lookup_hash, token_from, touch_due
from service.metrics import Metrics

#: The route puts an :class:`AnswerScope` under this key of the request's state when it served a
#: stored forecast: the middleware then keeps the response.
ANSWER_STATE_KEY = "capcast_answer_scope"
PATH = "/v1/forecasts"


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 If-None-Match: a list of entity tags (weak comparison) or ``*``."""
    tags = [t.strip() for t in (if_none_match or "").split(",")]
    return any(t == "*" or t.removeprefix("W/") == etag for t in tags if t)


@dataclass(frozen=True)
class AnswerScope:
    """What an answer depends on besides the key: the data version of these benchmarks."""

    method: str
    benchmarks: tuple[str, ...]
    family: str | None
    data_version: str


@dataclass(frozen=True)
class Answer:
    scope: AnswerScope
    etag: str
    content_type: bytes
    body: bytes


class AnswerCache:
    """Answers by request body, least recently used evicted past ``max_bytes``; thread-safe."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._answers: OrderedDict[str, Answer] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    @staticmethod
    def key(body: bytes) -> str:
        return hashlib.sha256(body).hexdigest()

    def get(self, key: str) -> Answer | None:
        with self._lock:
            answer = self._answers.get(key)
            if answer is not None:
                self._answers.move_to_end(key)
            return answer

    def put(self, key: str, answer: Answer) -> None:
        if len(answer.body) > self.max_bytes:
            return
        with self._lock:
            old = self._answers.pop(key, None)
            self._size -= len(old.body) if old is not None else 0
            self._answers[key] = answer
            self._size += len(answer.body)
            while self._size > self.max_bytes:
                _, dropped = self._answers.popitem(last=False)
                self._size -= len(dropped.body)

    def __len__(self) -> int:
        return len(self._answers)


class CachedAnswerMiddleware:
    """Serve a repeated ``POST /v1/forecasts`` from :class:`AnswerCache`; keep the route's
    answers that came from a stored forecast."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        cache: AnswerCache,
        sessionmaker: Callable[[], Session],
        metrics: Metrics,
    ) -> None:
        self.app, self.cache, self.sessionmaker = app, cache, sessionmaker
        self.metrics = metrics
        self._route: Any = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != PATH:
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        key = self.cache.key(body)
        answer = self.cache.get(key)
        if answer is not None:
            request = Request(scope)
            token = token_from(request)
            if await run_in_threadpool(self._still_current, token, answer.scope):
                await self._serve(scope, send, answer, request.headers.get("if-none-match"))
                return
        await self._route_and_keep(scope, receive, send, body, key)

    def _still_current(self, token: str | None, answer: AnswerScope) -> bool:
        """The key may forecast and needs no use recorded, and the data is what it was."""
        key_hash = lookup_hash(token)
        if key_hash is None:
            return False
        with self.sessionmaker() as session:
            rows = session.connection().execute(_key_and_counters(key_hash, answer)).all()
        if not rows:
            return False  # no such key
        key = rows[0]
        if not is_active(key) or not has_scope(list(key.scopes), "forecast") or touch_due(key):
            return False
        counters = [(r.family, r.benchmark, r.n) for r in rows if r.n is not None]
        return version_of(counters, answer.benchmarks, answer.family) == answer.data_version

    async def _serve(
        self, scope: Scope, send: Send, answer: Answer, if_none_match: str | None
    ) -> None:
        scope["route"] = self._route  # the metrics label the request by its route, as routed
        self.metrics.answers_repeated.inc()
        self.metrics.cache_hits.inc()
        self.metrics.forecasts.labels(answer.scope.method, "hit").inc()
        etag = answer.etag.encode()
        if etag_matches(if_none_match, answer.etag):
            await send({"type": "http.response.start", "status": 304, "headers": [(b"etag", etag)]})
            await send({"type": "http.response.body", "body": b""})
            return
        headers = [
            (b"content-length", str(len(answer.body)).encode()),
            (b"content-type", answer.content_type),
            (b"etag", etag),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": answer.body})

    async def _route_and_keep(
        self, scope: Scope, receive: Receive, send: Send, body: bytes, key: str
    ) -> None:
        """Pass the request to the route (the body replayed); keep a stored forecast's answer."""
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:  # the body is read: what follows is the client leaving (fits watch it)
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        start: Message = {}
        chunks: list[bytes] = []

        async def keep(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        scope.setdefault("state", {})
        await self.app(scope, replay, keep)
        answer_scope = scope["state"].get(ANSWER_STATE_KEY)
        if self._route is None and scope.get("route") is not None:
            self._route = scope["route"]
        if not isinstance(answer_scope, AnswerScope) or start.get("status") != 200:
            return
        headers = dict(start.get("headers", []))
        etag = headers.get(b"etag")
        if etag is None:
            return
        self.cache.put(
            key,
            Answer(
                scope=answer_scope,
                etag=etag.decode(),
                content_type=headers.get(b"content-type", b"application/json"),
                body=b"".join(chunks),
            ),
        )


def _key_and_counters(key_hash: str, answer: AnswerScope) -> Select[Any]:
    """The key's row, once per counter of the answer's data (NULL counter columns when there is
    none): the key check and the data version in one statement, one round trip."""
    key = (ApiKey.scopes, ApiKey.revoked_at, ApiKey.expires_at, ApiKey.last_used_at)
    counter = (DataVersion.family, DataVersion.benchmark, DataVersion.n)
    return (
        select(*key, *counter)
        .select_from(ApiKey)
        .outerjoin(DataVersion, counters_of(answer.benchmarks, answer.family))
        .where(ApiKey.key_hash == key_hash)
    )


async def _read_body(receive: Receive) -> bytes:
    """The whole request body (its size is capped by the body-limit middleware outside)."""
    parts: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(parts)
