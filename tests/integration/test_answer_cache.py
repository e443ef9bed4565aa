"""A repeated forecast request is answered before routing (service/answer_cache.py), and only
when the route would give the same answer: over real HTTP against a live server, on SQLite and
PostgreSQL.

``capcast_forecast_cache_answers_repeated_total`` counts the shortcut's answers, so each test can
tell which path answered.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, update

from db.models import ApiKey
from db.session import make_engine, transaction
from service.answer_cache import Answer, AnswerCache, AnswerScope
from tests.integration.live_server import live_server, make_key, server_log_errors
from tests.integration.test_forecast_cache import QUERY, SIZES, post_rows, rows


def repeated(client: httpx.Client) -> float:
    body = client.get("/metrics").text
    found = re.search(r"^capcast_forecast_cache_answers_repeated_total ([0-9.e+]+)$", body, re.M)
    return float(found.group(1)) if found else 0.0


@pytest.fixture
def base(db_url: str, tmp_path: Path) -> Iterator[str]:
    log = tmp_path / "server.log"
    with live_server(db_url, log) as url:
        key = make_key(db_url, "write", name="loader")
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as client:
            for fam, bench, prefix in (("fa", "t1", "a"), ("fb", "t1", "b")):
                post_rows(client, rows(fam, bench, SIZES, prefix))
        yield url
    assert server_log_errors(log) == [], log.read_text()


def client_for(base: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=120)


def test_repeats_get_the_routes_bytes_and_etag(base: str, db_url: str) -> None:
    with client_for(base, make_key(db_url, "forecast")) as c:
        first = c.post("/v1/forecasts", json=QUERY)  # fitted and stored
        second = c.post("/v1/forecasts", json=QUERY)  # found stored, by the route: kept
        assert (first.json()["cache_hit"], second.json()["cache_hit"]) == (False, True)
        assert repeated(c) == 0
        third = c.post("/v1/forecasts", json=QUERY)
        assert repeated(c) == 1
        assert third.status_code == 200
        assert third.content == second.content
        assert third.headers["etag"] == second.headers["etag"]
        assert third.headers["content-type"] == "application/json"
        not_modified = c.post(
            "/v1/forecasts", json=QUERY, headers={"If-None-Match": third.headers["etag"]}
        )
        assert (not_modified.status_code, not_modified.content) == (304, b"")
        assert not_modified.headers["etag"] == third.headers["etag"]
        assert repeated(c) == 2
        # another body (same query, other spacing) is another entry: the route answers it
        spaced = c.post(
            "/v1/forecasts",
            content=httpx.Request("POST", "/", json=QUERY).content + b" ",
            headers={"Content-Type": "application/json"},
        )
        assert spaced.json()["id"] == third.json()["id"] and repeated(c) == 2
        metrics = c.get("/metrics").text
        assert 'route="/v1/forecasts",status="200"' in metrics  # labelled as the route


def test_new_data_goes_to_the_route_and_refits(base: str, db_url: str) -> None:
    with client_for(base, make_key(db_url, "write")) as c:
        for _ in range(3):
            before = c.post("/v1/forecasts", json=QUERY)
        assert repeated(c) == 1
        # a write to another family leaves the answer current
        post_rows(c, rows("fb", "t1", (1e9,), "b"))
        assert c.post("/v1/forecasts", json=QUERY).content == before.content
        assert repeated(c) == 2
        post_rows(c, rows("fa", "t1", (1e9,), "a"))  # the query's own data
        after = c.post("/v1/forecasts", json=QUERY)
        assert after.json()["cache_hit"] is False
        assert after.json()["id"] != before.json()["id"]
        assert after.json()["data_fingerprint"] != before.json()["data_fingerprint"]
        assert after.headers["etag"] != before.headers["etag"]
        assert repeated(c) == 2


def _set_key(db_url: str, token: str, **values: object) -> None:
    engine = make_engine(db_url)
    try:
        with transaction(engine) as session:
            prefix = token.split("_")[1]
            session.execute(update(ApiKey).where(ApiKey.prefix == prefix).values(**values))
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "change",
    [
        {"revoked_at": dt.datetime.now(dt.UTC)},
        {"expires_at": dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)},
    ],
    ids=["revoked", "expired"],
)
def test_a_key_that_stopped_working_is_refused_even_for_a_kept_answer(
    base: str, db_url: str, change: dict[str, object]
) -> None:
    token = make_key(db_url, "forecast")
    with client_for(base, token) as c:
        for _ in range(3):
            assert c.post("/v1/forecasts", json=QUERY).status_code == 200
        assert repeated(c) == 1
        _set_key(db_url, token, **change)
        refused = c.post("/v1/forecasts", json=QUERY)
        assert refused.status_code == 401, refused.text
        assert "invalid API key" in refused.json()["message"]


def test_scope_and_missing_keys_are_the_routes_to_refuse(base: str, db_url: str) -> None:
    with client_for(base, make_key(db_url, "forecast")) as c:
        for _ in range(3):
            c.post("/v1/forecasts", json=QUERY)
        assert repeated(c) == 1
    with client_for(base, make_key(db_url, "read")) as reader:
        resp = reader.post("/v1/forecasts", json=QUERY)
        assert resp.status_code == 403 and "'forecast' scope" in resp.json()["message"]
    with httpx.Client(base_url=base) as anonymous:
        assert anonymous.post("/v1/forecasts", json=QUERY).status_code == 401
        assert repeated(anonymous) == 1


def test_a_key_due_for_its_use_record_goes_through_the_route(base: str, db_url: str) -> None:
    token = make_key(db_url, "forecast")
    with client_for(base, token) as c:
        for _ in range(3):
            c.post("/v1/forecasts", json=QUERY)
        assert repeated(c) == 1
        long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
        _set_key(db_url, token, last_used_at=long_ago)
        assert c.post("/v1/forecasts", json=QUERY).status_code == 200
        assert repeated(c) == 1  # the route answered, and recorded the use
        engine = make_engine(db_url)
        try:
            with transaction(engine) as session:
                prefix = token.split("_")[1]
                last = session.scalars(
                    select(ApiKey.last_used_at).where(ApiKey.prefix == prefix)
                ).one()
        finally:
            engine.dispose()
        assert last is not None and last.replace(tzinfo=dt.UTC) > long_ago + dt.timedelta(
            minutes=59
        )
        c.post("/v1/forecasts", json=QUERY)
        assert repeated(c) == 2


def _answer(size: int, version: str = "v") -> Answer:
    return Answer(
        AnswerScope("m", ("b",), None, version), '"1-v"', b"application/json", b"x" * size
    )


def test_answer_cache_evicts_least_recently_used_past_its_bytes() -> None:
    cache = AnswerCache(max_bytes=100)
    cache.put("a", _answer(40))
    cache.put("b", _answer(40))
    assert cache.get("a") is not None  # a is now the most recent
    cache.put("c", _answer(40))  # 120 bytes: b, the least recent, goes
    assert (cache.get("a") is not None, cache.get("b"), cache.get("c") is not None) == (
        True,
        None,
        True,
    )
    cache.put("a", _answer(10, "w"))  # replacing an entry frees its old size
    cache.put("d", _answer(50))
    entry = cache.get("a")
    assert len(cache) == 3 and entry is not None and entry.scope.data_version == "w"
    cache.put("huge", _answer(101))  # larger than the whole cache: not kept, nothing evicted
    assert cache.get("huge") is None and len(cache) == 3
    off = AnswerCache(max_bytes=0)
    off.put("a", _answer(1))
    assert len(off) == 0


def test_the_check_is_one_statement_that_agrees_with_the_routes_version(db_url: str) -> None:
    """A kept answer's check reads the key and the counters in one statement (one round trip,
    as /healthz's SELECT 1), and its data version is the one the route computes."""
    from sqlalchemy import event
    from sqlalchemy.orm import sessionmaker

    from db import data_version
    from service.answer_cache import CachedAnswerMiddleware
    from service.metrics import Metrics

    token = make_key(db_url, "forecast")
    engine = make_engine(db_url)
    try:
        with transaction(engine) as session:
            data_version.bump(session, [("fa", "t1"), ("fa", "t2"), ("fb", "t1")])
            # a key never used is due for its use record, which only the route writes
            session.execute(update(ApiKey).values(last_used_at=dt.datetime.now(dt.UTC)))
        with transaction(engine) as session:
            version = data_version.current(session, ["t1", "t2"], "fa")
            everywhere = data_version.current(session, ["t1"], None)
        check = CachedAnswerMiddleware(
            app=None, cache=AnswerCache(0), sessionmaker=sessionmaker(engine), metrics=Metrics()
        )._still_current
        statements: list[str] = []
        event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
        assert check(token, AnswerScope("exponential", ("t1", "t2"), "fa", version))
        assert len(statements) == 1, statements
        assert check(token, AnswerScope("exponential", ("t1",), None, everywhere))
        # a version computed over other counters, a missing or malformed token: not current
        assert not check(token, AnswerScope("exponential", ("t1",), "fa", version))
        assert not check("cc_" + "0" * 40, AnswerScope("exponential", ("t1", "t2"), "fa", version))
        assert not check("not-a-token", AnswerScope("exponential", ("t1", "t2"), "fa", version))
        with transaction(engine) as session:
            data_version.bump(session, [("fa", "t2")])
        assert not check(token, AnswerScope("exponential", ("t1", "t2"), "fa", version))
        with transaction(engine) as session:  # an unseen benchmark has no counter yet
            empty = data_version.current(session, ["t9"], "fa")
        assert check(token, AnswerScope("exponential", ("t9",), "fa", empty))
    finally:
        engine.dispose()
