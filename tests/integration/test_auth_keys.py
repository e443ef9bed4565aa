"""Keys, scopes and the dashboard's sign-in against a live server, the CLI and the demo set-up.

Issue 13: a read key stored forecasts; the dashboard took its key in the URL (kept in history and
printed in full by uvicorn's access log); ``last_used_at`` was never set; keys never expired;
each ``make run`` made one more read key.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, text, update

from db.models import ApiKey, Forecast
from db.session import make_engine, transaction
from service.auth import create_key, revoke_key
from service.cli.demo_cmd import DEMO_KEY_NAME, demo_key, demo_key_file
from service.cli.keys_cmd import parse_expiry
from tests.integration.live_server import ROOT, live_server, make_key, server_log_errors

SCOPES = ("read", "forecast", "write", "admin")
SIZES = (2e7, 4e7, 8e7, 1.6e8, 3.2e8, 6.4e8)


def _h(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _rows() -> list[dict]:
    """A small ladder on one task: accuracy rising with compute, three checkpoints a model."""
    rows = []
    for n in SIZES:
        for k in (1, 2, 3):
            tokens = 20 * n * k / 3
            acc = 0.25 + 0.75 * float(2.718 ** (-(0.9 * (6 * n * tokens / 1e18) ** -0.3)))
            rows.append({"model": f"m-{n:.3g}", "family": "auth-ladder", "n_params": n,
                         "n_tokens": tokens, "checkpoint_step": 100 * k, "benchmark": "task_a",
                         "metric": "acc", "value": acc})  # fmt: skip
    return rows


def _count(db_url: str, model: type) -> int:
    engine = make_engine(db_url)
    try:
        with transaction(engine) as session:
            return session.scalar(select(func.count()).select_from(model))
    finally:
        engine.dispose()


def _key_row(db_url: str, token_prefix: str) -> ApiKey:
    engine = make_engine(db_url)
    try:
        with transaction(engine) as session:
            return session.scalars(select(ApiKey).where(ApiKey.prefix == token_prefix)).one()
    finally:
        engine.dispose()


def _prefix(token: str) -> str:
    return token.split("_")[1]


def _sql(db_url: str, statement: str, **params: object) -> None:
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(text(statement), params)
    finally:
        engine.dispose()


@pytest.fixture
def api(db_url: str, tmp_path: Path) -> Iterator[tuple[str, dict[str, str], Path]]:
    keys = {s: make_key(db_url, s, name=f"{s} key") for s in SCOPES}
    log = tmp_path / "server.log"
    with live_server(db_url, log, log_level="info") as base:
        yield base, keys, log
    assert server_log_errors(log) == [], log.read_text()


# -- scopes ---------------------------------------------------------------------------------------


def test_only_forecast_scope_and_above_store_forecasts_and_pages_never_do(api, db_url: str) -> None:
    base, keys, _ = api
    query = {"method": "exponential", "benchmark": "task_a", "metric": "acc",
             "family": "auth-ladder", "target": {"n_params": 2e9, "n_tokens": 4e10}}  # fmt: skip
    with httpx.Client(base_url=base, timeout=300) as c:
        loaded = c.post("/v1/measurements", json={"rows": _rows()}, headers=_h(keys["write"]))
        assert loaded.status_code == 200, loaded.text

        denied = c.post("/v1/forecasts", json=query, headers=_h(keys["read"]))
        assert denied.status_code == 403, denied.text
        assert denied.json()["message"] == "this API key lacks the 'forecast' scope"
        assert _count(db_url, Forecast) == 0

        made = c.post("/v1/forecasts", json=query, headers=_h(keys["forecast"]))
        assert made.status_code == 200, made.text
        assert _count(db_url, Forecast) == 1
        # forecast is below write: it creates no other resource
        family = c.post("/v1/families", json={"name": "x"}, headers=_h(keys["forecast"]))
        assert family.status_code == 403
        assert family.json()["message"] == "this API key lacks the 'write' scope"
        for scope in ("write", "admin"):  # a scope grants those below it
            again = {**query, "target": {"n_params": 3e9 if scope == "write" else 4e9,
                                         "n_tokens": 6e10}}  # fmt: skip
            assert c.post("/v1/forecasts", json=again, headers=_h(keys[scope])).status_code == 200
        assert _count(db_url, Forecast) == 3
        # a read key still reads what was stored
        listed = c.get("/v1/forecasts", headers=_h(keys["read"]))
        assert listed.status_code == 200 and listed.json()["count"] == 3

        # the dashboard computes a forecast for a new target and stores nothing
        page = c.get(
            "/dashboard/scaling",
            params={"family": "auth-ladder", "benchmark": "task_a", "metric": "acc",
                    "methods": "exponential", "n_params": "5e9", "n_tokens": "1e11"},
            headers=_h(keys["read"]),
        )  # fmt: skip
        assert page.status_code == 200, page.text[:2000]
        assert 'data-method="exponential"' in page.text
        assert "not stored" in page.text
        assert _count(db_url, Forecast) == 3


def test_keys_rest_create_with_expiry_and_list_shows_expiry_and_last_use(api) -> None:
    base, keys, _ = api
    admin = _h(keys["admin"])
    soon = (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).replace(microsecond=0)
    with httpx.Client(base_url=base, timeout=30) as c:
        made = c.post(
            "/v1/keys",
            json={"name": "ci", "scopes": ["forecast"], "expires_at": soon.isoformat()},
            headers=admin,
        )
        assert made.status_code == 201, made.text
        body = made.json()
        assert body["scopes"] == ["forecast"]
        assert dt.datetime.fromisoformat(body["expires_at"]) == soon
        assert body["last_used_at"] is None
        assert c.get("/v1/families", headers=_h(body["token"])).status_code == 200

        past = c.post(
            "/v1/keys",
            json={"name": "old", "expires_at": "2020-01-01T00:00:00Z"},
            headers=admin,
        )
        assert past.status_code == 422
        assert past.json()["where"] == "body.expires_at"
        assert "not in the future" in past.json()["message"]

        listed = {k["id"]: k for k in c.get("/v1/keys", headers=admin).json()["data"]}
        mine = listed[body["id"]]
        assert dt.datetime.fromisoformat(mine["expires_at"]) == soon
        assert mine["last_used_at"] is not None  # the GET above used it
        unused = [k for k in listed.values() if k["name"] == "read key"]
        assert unused[0]["last_used_at"] is None and unused[0]["expires_at"] is None


# -- expiry and last use ----------------------------------------------------------------------------


def test_expired_key_is_refused_like_a_revoked_one(api, db_url: str) -> None:
    base, keys, _ = api
    engine = make_engine(db_url)
    try:
        with transaction(engine) as session:
            later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
            _, token = create_key(session=session, name="brief", scopes=["read"], expires_at=later)
            with pytest.raises(ValueError, match="not in the future"):
                create_key(session=session, name="late", scopes=["read"],
                           expires_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))  # fmt: skip
    finally:
        engine.dispose()
    with httpx.Client(base_url=base, timeout=30) as c:
        assert c.get("/v1/families", headers=_h(token)).status_code == 200
        past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
        _sql(db_url, "UPDATE api_key SET expires_at = :t WHERE prefix = :p", t=past,
             p=_prefix(token))  # fmt: skip
        refused = c.get("/v1/families", headers=_h(token))
        assert refused.status_code == 401
        assert refused.json()["message"] == "missing or invalid API key"
        # the same answer as a revoked key: nothing says which
        engine = make_engine(db_url)
        try:
            with transaction(engine) as session:
                revoke_key(session=session, ident=_prefix(keys["write"]))
        finally:
            engine.dispose()
        revoked = c.get("/v1/families", headers=_h(keys["write"]))
        assert revoked.status_code == 401 and revoked.json() == refused.json()
        # on the dashboard an expired cookie gets the sign-in form and is forgotten
        page = c.get("/dashboard", cookies={"capcast_key": token})
        assert page.status_code == 401 and 'id="login"' in page.text
        assert "no longer works" in page.text
        assert 'capcast_key=""' in page.headers["set-cookie"]


def test_last_used_at_is_recorded_at_most_once_a_minute(api, db_url: str) -> None:
    base, keys, _ = api
    token = keys["read"]
    assert _key_row(db_url, _prefix(token)).last_used_at is None
    with httpx.Client(base_url=base, headers=_h(token), timeout=30) as c:
        assert c.get("/v1/families").status_code == 200
        first = _key_row(db_url, _prefix(token)).last_used_at
        assert first is not None
        first = first.replace(tzinfo=dt.UTC) if first.tzinfo is None else first
        assert abs((dt.datetime.now(dt.UTC) - first).total_seconds()) < 60
        time.sleep(0.05)
        for _ in range(3):
            assert c.get("/v1/families").status_code == 200
        assert _key_row(db_url, _prefix(token)).last_used_at.replace(tzinfo=None) == (
            first.replace(tzinfo=None)
        )
        # a minute later (set back here) the next request records the use again
        old = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=2)
        _sql(db_url, "UPDATE api_key SET last_used_at = :t WHERE prefix = :p", t=old,
             p=_prefix(token))  # fmt: skip
        assert c.get("/v1/families").status_code == 200
        latest = _key_row(db_url, _prefix(token)).last_used_at.replace(tzinfo=None)
        assert latest > old.replace(tzinfo=None) + dt.timedelta(minutes=1)
        # a refused request records nothing
        forecast_key = keys["forecast"]
        refused = c.post("/v1/families", json={"name": "f"}, headers=_h(forecast_key))
        assert refused.status_code == 403
        assert _key_row(db_url, _prefix(forecast_key)).last_used_at is None


# -- the dashboard's sign-in ------------------------------------------------------------------------


def test_dashboard_signs_in_by_form_or_link_and_keeps_the_key_out_of_urls(api) -> None:
    base, keys, _ = api
    token = keys["read"]
    with httpx.Client(base_url=base, timeout=60) as c:
        anonymous = c.get("/dashboard/agreement", params={"metric": "acc"})
        assert anonymous.status_code == 401
        assert anonymous.headers["content-type"].startswith("text/html")
        assert 'id="login"' in anonymous.text and 'name="key"' in anonymous.text
        assert 'value="/dashboard/agreement?metric=acc"' in anonymous.text  # back after sign-in
        assert c.get("/v1/families").headers["content-type"] == "application/json"

        # a link with ?key=: 303 to the same address without it, other parameters kept
        link = c.get("/dashboard/agreement", params={"metric": "acc", "key": token, "x": "1"})
        assert link.status_code == 303
        assert link.headers["location"] == "/dashboard/agreement?metric=acc&x=1"
        cookie = link.headers["set-cookie"]
        assert cookie.startswith(f"capcast_key={token};")
        lowered = cookie.lower()
        assert (
            "httponly" in lowered and "samesite=strict" in lowered and "path=/dashboard" in lowered
        )
        assert "secure" not in lowered  # plain http here; https gets Secure
        assert c.cookies.get("capcast_key") == token
        assert c.get("/dashboard").status_code == 200
        assert c.get("/dashboard", params={"key": token}).headers["location"] == "/dashboard"

        # the cookie is for the dashboard only: the API still wants a header
        assert c.get("/v1/families", cookies={"capcast_key": token}).status_code == 401

        # sign out: the cookie is cleared, pages ask again
        out = c.post("/dashboard/logout")
        assert out.status_code == 303 and out.headers["location"] == "/dashboard/login"
        assert c.cookies.get("capcast_key") is None
        assert c.get("/dashboard").status_code == 401

        # a bad link key: the form with an error, no cookie
        bad = c.get("/dashboard", params={"key": token[:-4] + "AAAA"})
        assert bad.status_code == 401 and "that key is not valid" in bad.text
        assert "set-cookie" not in bad.headers

        # the form posts the key in the body and goes back where the reader was
        form = c.post("/dashboard/login", data={"key": token, "next": "/dashboard/densing"})
        assert form.status_code == 303 and form.headers["location"] == "/dashboard/densing"
        assert c.cookies.get("capcast_key") == token
        assert c.get("/dashboard/densing").status_code == 200
        c.cookies.clear()
        wrong = c.post("/dashboard/login", data={"key": "cc_nope", "next": "/dashboard/densing"})
        assert wrong.status_code == 401 and "that key is not valid" in wrong.text
        assert 'name="next" value="/dashboard/densing"' in wrong.text  # still going there
        # never redirected off the dashboard, and never from a form on another site
        away = c.post("/dashboard/login", data={"key": token, "next": "https://evil.test/x"})
        assert away.headers["location"] == "/dashboard"
        away = c.post("/dashboard/login", data={"key": token, "next": "//evil.test/dashboard"})
        assert away.headers["location"] == "/dashboard"
        c.cookies.clear()
        forged = c.post(
            "/dashboard/login",
            data={"key": token, "next": "/dashboard"},
            headers={"Origin": "https://evil.test"},
        )
        assert forged.status_code == 403 and "set-cookie" not in forged.headers
        # the sign-in page itself shows the form; signing in there never leads back to it
        form_page = c.get("/dashboard/login", params={"next": "/dashboard/login"})
        assert form_page.status_code == 200 and 'name="next" value="/dashboard"' in form_page.text

        # https (behind a TLS proxy) gets a Secure cookie
        secure = c.post(
            "/dashboard/login",
            data={"key": token},
            headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "127.0.0.1"},
        )
        assert secure.status_code == 303
        assert "secure" in secure.headers["set-cookie"].lower()


def test_keys_never_reach_the_server_log(api) -> None:
    base, keys, log = api
    token = keys["read"]
    with httpx.Client(base_url=base, timeout=60) as c:
        assert c.get("/dashboard", params={"key": token, "page": "2"}).status_code == 303
        c.cookies.clear()
        assert c.get(f"/dashboard/agreement?metric=acc&KEY={token}").status_code == 401
        assert c.get("/v1/families", params={"key": token}).status_code == 401
        assert c.get("/v1/families", headers=_h(token)).status_code == 200
        assert c.get("/dashboard/login", params={"key": token}).status_code == 303
    time.sleep(0.3)  # the access log is written after the response
    written = log.read_text()
    assert "GET /dashboard?key=[redacted]&page=2 HTTP/1.1" in written  # the line is still there
    assert "/v1/families?key=[redacted]" in written
    assert token not in written
    assert token.split("_", 2)[2] not in written  # not even its secret part


def test_redaction_filter_covers_uvicorn_loggers_and_headers() -> None:
    import logging

    from service.app import create_app
    from service.auth import RedactSecrets, redact

    create_app()
    for name in ("uvicorn.access", "uvicorn.error"):
        filters = logging.getLogger(name).filters
        assert sum(isinstance(f, RedactSecrets) for f in filters) == 1, name
    create_app()  # a second app adds no second filter
    assert (
        sum(isinstance(f, RedactSecrets) for f in logging.getLogger("uvicorn.access").filters) == 1
    )
    token = "cc_0123abcd_" + "s" * 43
    assert redact(f"Authorization: Bearer {token}") == "Authorization: Bearer [redacted]"
    assert redact(f"{{'x-api-key': '{token}'}}") == "{'x-api-key': '[redacted]'}"
    assert redact(f"saw {token} here") == "saw cc_[redacted] here"
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1,
                               '%s "%s %s" %d', ("1.2.3.4", "GET", f"/d?a=1&key={token}", 200),
                               None)  # fmt: skip
    assert RedactSecrets().filter(record)
    assert record.getMessage() == '1.2.3.4 "GET /d?a=1&key=[redacted]" 200'


# -- the CLI ---------------------------------------------------------------------------------------


def _capcast(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CAPCAST_DATABASE_URL": db_url, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    cmd = [sys.executable, "-c", "from service.cli import main; main()", *args]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_cli_keys_create_with_expiry_and_list(db_url: str) -> None:
    before = dt.datetime.now(dt.UTC)
    made = _capcast(db_url, "keys", "create", "--name", "ci", "--scopes", "forecast",
                    "--expires", "30d", "--json")  # fmt: skip
    assert made.returncode == 0, made.stderr
    record = json.loads(made.stdout)
    assert record["scopes"] == ["forecast"]
    expires = dt.datetime.fromisoformat(record["expires_at"])
    assert dt.timedelta(days=30) <= expires - before < dt.timedelta(days=30, minutes=1)
    dated = _capcast(db_url, "keys", "create", "--name", "d", "--expires", "2099-01-31", "--json")
    assert dated.returncode == 0, dated.stderr
    assert json.loads(dated.stdout)["expires_at"].startswith("2099-01-31T00:00:00")

    for bad, why in (("30x", "neither Nd, Nh, Nm"), ("0d", "not in the future"),
                     ("2020-01-01", "not in the future"), ("", "neither")):  # fmt: skip
        refused = _capcast(db_url, "keys", "create", "--name", "x", "--expires", bad)
        assert refused.returncode == 2, (bad, refused.stderr)
        assert "--expires" in refused.stderr and why in refused.stderr, refused.stderr
    scope = _capcast(db_url, "keys", "create", "--name", "x", "--scopes", "read,root")
    assert scope.returncode == 2 and "--scopes" in scope.stderr and "forecast" in scope.stderr

    listed = _capcast(db_url, "keys", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [r["name"] for r in rows] == ["ci", "d"]  # the refused ones were never stored
    assert rows[0]["expires_at"] is not None and rows[0]["last_used_at"] is None
    table = _capcast(db_url, "keys", "list")
    assert "expires" in table.stderr and "last used" in table.stderr


def test_parse_expiry_units_and_dates() -> None:
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert parse_expiry("30d", now) == now + dt.timedelta(days=30)
    assert parse_expiry("12h", now) == now + dt.timedelta(hours=12)
    assert parse_expiry("90m", now) == now + dt.timedelta(minutes=90)
    assert parse_expiry("2026-02-01", now) == dt.datetime(2026, 2, 1, tzinfo=dt.UTC)
    offset = parse_expiry("2026-02-01T10:00:00+02:00", now)
    assert offset == dt.datetime(2026, 2, 1, 8, tzinfo=dt.UTC)
    for bad in ("30", "d", "-3d", "1w", "3.5d", "1234567d", "tomorrow"):
        with pytest.raises(ValueError):
            parse_expiry(bad, now)


# -- the demo key ---------------------------------------------------------------------------------


def test_demo_set_up_reuses_its_key(db_url: str, tmp_path: Path) -> None:
    key_file = tmp_path / "keys" / "capcast.demo-key"
    first, reused = demo_key(db_url, key_file)
    assert not reused and key_file.read_text().strip() == first
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    second, reused = demo_key(db_url, key_file)
    assert reused and second == first

    engine = make_engine(db_url)
    try:
        with transaction(engine) as session:
            demo = select(func.count()).where(ApiKey.name == DEMO_KEY_NAME)
            assert session.scalar(demo) == 1
            # revoked (or expired): replaced, and the file rewritten
            revoke_key(session=session, ident=_prefix(first))
        third, reused = demo_key(db_url, key_file)
        assert not reused and third != first and key_file.read_text().strip() == third
        with transaction(engine) as session:
            session.execute(
                update(ApiKey)
                .where(ApiKey.prefix == _prefix(third))
                .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
            )
        fourth, reused = demo_key(db_url, key_file)
        assert not reused and fourth != third
        with transaction(engine) as session:
            active = select(func.count()).where(
                ApiKey.name == DEMO_KEY_NAME,
                ApiKey.revoked_at.is_(None),
                ApiKey.expires_at.is_(None),
            )
            assert session.scalar(active) == 1
    finally:
        engine.dispose()


def test_demo_key_file_is_per_database(tmp_path: Path) -> None:
    db = tmp_path / "a" / "capcast.sqlite"
    assert demo_key_file(f"sqlite:///{db}") == db.with_name("capcast.demo-key")
    pg_a = demo_key_file("postgresql+psycopg://u@h/a")
    assert pg_a != demo_key_file("postgresql+psycopg://u@h/b")
    assert pg_a.name.startswith("demo-key-")
