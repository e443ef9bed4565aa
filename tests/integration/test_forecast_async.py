"""A long fit answers 202 with a Location; the poll and the event stream follow it to the end.

Real ``capcast serve`` over real HTTP on SQLite, with a real gadre fit (3,000 bootstrap resamples
on every checkpoint of 48 synthetic models: seconds of SciPy work). ``Prefer: respond-async``
makes the route answer 202 at once, so the test need not wait out ``CAPCAST_SYNC_FIT_WAIT_S``.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from db import migrate
from db.session import make_engine, session_factory
from service.fit_requests import read_state
from tests.integration.live_server import live_process, make_key, server_log_errors
from tests.integration.test_fit_budget import SLOW, gadre_rows

MEDIUM = {**SLOW, "params": {"n_bootstrap": 3000, "checkpoints": "all"}}
ASYNC = {"Prefer": "respond-async"}


def sse_events(lines: list[str]) -> list[tuple[str, dict[str, Any]]]:
    """(event, data) pairs of a text/event-stream body; comments and ids skipped."""
    events, name = [], None
    for line in lines:
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: "):
            events.append((name or "message", json.loads(line.removeprefix("data: "))))
            name = None
    return events


def post_rows(base: str, headers: dict[str, str]) -> None:
    rows = gadre_rows()
    for start in range(0, len(rows), 1000):
        batch = {"source": "slow", "rows": rows[start : start + 1000]}
        resp = httpx.post(f"{base}/v1/measurements", json=batch, headers=headers, timeout=60)
        assert resp.status_code == 200, resp.text


def test_async_fit_202_location_poll_events_303(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'capcast.sqlite'}"
    migrate.upgrade(url)
    writer = {"Authorization": f"Bearer {make_key(url, 'write')}"}
    reader = {"Authorization": f"Bearer {make_key(url, 'read', name='reader')}"}
    log = tmp_path / "server.log"
    env = {"CAPCAST_FIT_TIMEOUT_S": "300", "CAPCAST_SYNC_FIT_WAIT_S": "0.5"}
    with live_process(url, log, capcast=True, **env) as (base, _):
        post_rows(base, writer)
        # a reader may poll but not start a fit
        resp = httpx.post(f"{base}/v1/forecasts", json=MEDIUM, headers={**reader, **ASYNC})
        assert resp.status_code == 403, resp.text

        resp = httpx.post(
            f"{base}/v1/forecasts", json=MEDIUM, headers={**writer, **ASYNC}, timeout=30
        )
        assert resp.status_code == 202, resp.text
        body = resp.json()
        rid = body["id"]
        location = f"/v1/forecasts/requests/{rid}"
        assert resp.headers["Location"] == location
        assert resp.headers["Preference-Applied"] == "respond-async"
        assert body == {"id": rid, "status": "running", "location": location,
                        "events": f"{location}/events"}  # fmt: skip

        poll = httpx.get(f"{base}{location}", headers=reader, timeout=10)
        assert poll.status_code == 200, poll.text
        assert poll.json()["status"] == "running"
        assert poll.json()["stage"] in ("fetching", "fitting", "storing")

        # the event stream: progress while it runs, then done, then the stream ends
        started = time.monotonic()
        with httpx.stream("GET", f"{base}{location}/events", headers=reader, timeout=120) as s:
            assert s.status_code == 200
            assert s.headers["content-type"].startswith("text/event-stream")
            events = sse_events(list(s.iter_lines()))
        assert time.monotonic() - started < 120
        names = [name for name, _ in events]
        assert names[0] == "progress" and names[-1] == "done", events
        assert set(names[:-1]) == {"progress"}, events
        assert events[0][1]["stage"] in ("fetching", "fitting", "storing")
        done = events[-1][1]
        fid = done["forecast_id"]
        assert done["location"] == f"/v1/forecasts/{fid}"

        # done: the poll is a 303 See Other to the stored forecast
        poll = httpx.get(f"{base}{location}", headers=reader, timeout=10)
        assert poll.status_code == 303, poll.text
        assert poll.headers["Location"] == f"/v1/forecasts/{fid}"
        forecast = httpx.get(f"{base}/v1/forecasts/{fid}", headers=reader, timeout=10).json()
        assert forecast["method"] == "gadre"
        assert forecast["query"]["params"]["n_bootstrap"] == 3000
        assert forecast["point"] is not None

        # asked again, the stored forecast answers at once, respond-async or not
        again = httpx.post(
            f"{base}/v1/forecasts", json=MEDIUM, headers={**writer, **ASYNC}, timeout=30
        )
        assert again.status_code == 200, again.text
        assert again.json()["id"] == fid and again.json()["cache_hit"] is True

        # without Prefer, a fit longer than CAPCAST_SYNC_FIT_WAIT_S (0.5 s here) goes async too
        other = {**MEDIUM, "params": {"n_bootstrap": 3001, "checkpoints": "all"}}
        t0 = time.monotonic()
        resp = httpx.post(f"{base}/v1/forecasts", json=other, headers=writer, timeout=30)
        assert resp.status_code == 202, resp.text
        assert time.monotonic() - t0 < 10
        assert "Preference-Applied" not in resp.headers

        # a quick fit within the wait answers 200 with the forecast itself
        quick = {**MEDIUM, "params": {"n_bootstrap": 0, "checkpoints": "all"}}
        resp = httpx.post(f"{base}/v1/forecasts", json=quick, headers=writer, timeout=60)
        assert resp.status_code in (200, 202), resp.text  # 202 only on a very busy machine

        # a fit that fails after the 202: the poll answers the error the POST would have
        bad = {**MEDIUM, "params": {"n_bootstrap": 10, "loss_fit": "n_params > 1e12"}}
        resp = httpx.post(f"{base}/v1/forecasts", json=bad, headers={**writer, **ASYNC})
        assert resp.status_code == 202, resp.text
        bad_location = resp.headers["Location"]
        deadline = time.monotonic() + 60
        while (poll := httpx.get(f"{base}{bad_location}", headers=reader)).status_code == 200:
            assert time.monotonic() < deadline, poll.text
            time.sleep(0.2)
        assert poll.status_code == 422, poll.text
        assert poll.json()["error"] == "validation_error"
        assert poll.json()["message"].startswith("gadre could not fit avg17/err"), poll.text
        with httpx.stream("GET", f"{base}{bad_location}/events", headers=reader) as s:
            events = sse_events(list(s.iter_lines()))
        assert [name for name, _ in events] == ["error"]
        assert events[0][1]["status_code"] == 422

        missing = httpx.get(f"{base}/v1/forecasts/requests/999999", headers=reader)
        assert missing.status_code == 404
        assert httpx.get(f"{base}{location}").status_code == 401
    assert server_log_errors(log) == [], log.read_text()


@pytest.mark.slow
def test_sigterm_marks_a_running_async_fit_failed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'capcast.sqlite'}"
    migrate.upgrade(url)
    writer = {"Authorization": f"Bearer {make_key(url, 'write')}"}
    log = tmp_path / "server.log"
    with live_process(url, log, capcast=True, CAPCAST_FIT_TIMEOUT_S="300") as (base, proc):
        post_rows(base, writer)
        resp = httpx.post(f"{base}/v1/forecasts", json=SLOW, headers={**writer, **ASYNC})
        assert resp.status_code == 202, resp.text
        rid = resp.json()["id"]
        deadline = time.monotonic() + 30
        while (
            httpx.get(f"{base}{resp.headers['Location']}", headers=writer).json()["stage"]
            != "fitting"
        ):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        start = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
        assert time.monotonic() - start < 10
    engine = make_engine(url)
    try:
        with session_factory(engine)() as session:
            state = read_state(session, rid)
    finally:
        engine.dispose()
    assert state is not None and state["status"] == "failed", state
    assert state["error"]["status_code"] == 503
    assert state["error"]["body"]["message"] == "the fit was stopped: the server is shutting down"
    assert server_log_errors(log) == [], log.read_text()
