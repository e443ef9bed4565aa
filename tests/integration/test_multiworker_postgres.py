"""``capcast serve --workers 4`` on the real PostgreSQL: every worker gives the same answers.

A forecast request answered 202 by one worker is polled on fresh connections, which the kernel
hands to any of the four workers: every poll agrees (running, then a 303 to one forecast), and the
same query posted again gets that stored forecast from whichever worker answers. SIGTERM to the
supervisor stops all four workers within seconds, and the fit still running is recorded failed.
"""

from __future__ import annotations

import re
import signal
import time
from pathlib import Path

import httpx
import psutil
import pytest

from db import migrate
from db.session import make_engine, session_factory
from service.fit_requests import read_state
from tests.integration.live_server import live_process, make_key, server_log_errors
from tests.integration.test_fit_budget import SLOW
from tests.integration.test_forecast_async import MEDIUM, post_rows

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

WORKERS = 4
ASYNC = {"Prefer": "respond-async"}


def worker_pids(server: psutil.Process) -> list[int]:
    """uvicorn's worker processes: the supervisor's children started by multiprocessing spawn."""
    return [
        p.pid for p in server.children() if p.is_running() and "spawn_main" in " ".join(p.cmdline())
    ]


def worker_identity(base: str) -> str:
    """Which worker answered: its metrics registry's creation time, distinct per process."""
    text = httpx.get(f"{base}/metrics", timeout=10).text  # a fresh connection each time
    match = re.search(r"^capcast_forecast_cache_hits_created (\S+)$", text, re.M)
    assert match, text[:2000]
    return match.group(1)


@pytest.mark.parametrize("empty_db_url", ["postgres"], indirect=True)
def test_four_workers_agree_on_postgres_and_stop_on_sigterm(
    empty_db_url: str, tmp_path: Path
) -> None:
    url = empty_db_url
    migrate.upgrade(url)
    writer = {"Authorization": f"Bearer {make_key(url, 'write')}"}
    reader = {"Authorization": f"Bearer {make_key(url, 'read', name='reader')}"}
    log = tmp_path / "server.log"
    env = {"CAPCAST_FIT_TIMEOUT_S": "300", "CAPCAST_MAX_CONCURRENT_FITS": "1"}
    with live_process(url, log, capcast=True, workers=WORKERS, **env) as (base, proc):
        supervisor = psutil.Process(proc.pid)
        deadline = time.monotonic() + 60
        while len(worker_pids(supervisor)) < WORKERS:  # healthz answers once the first is up
            assert time.monotonic() < deadline, worker_pids(supervisor)
            time.sleep(0.2)
        workers = worker_pids(supervisor)
        assert len(workers) == WORKERS
        seen = {worker_identity(base) for _ in range(60)}
        assert len(seen) >= 2, "every request landed on one worker"

        post_rows(base, writer)
        resp = httpx.post(f"{base}/v1/forecasts", json=MEDIUM, headers={**writer, **ASYNC})
        assert resp.status_code == 202, resp.text
        location = resp.headers["Location"]

        # polls on fresh connections (any worker): running, running, ..., then 303 to one forecast
        answers: list[tuple[int, str | None]] = []
        deadline = time.monotonic() + 180
        while True:
            poll = httpx.get(f"{base}{location}", headers=reader, timeout=10)
            assert poll.status_code in (200, 303), poll.text
            if poll.status_code == 200:
                assert poll.json()["status"] == "running"
                assert poll.json()["stage"] in ("fetching", "fitting", "storing")
                assert not any(code == 303 for code, _ in answers), "done, then running again"
            answers.append((poll.status_code, poll.headers.get("Location")))
            if sum(code == 303 for code, _ in answers) >= 12:
                break
            assert time.monotonic() < deadline, answers
            time.sleep(0.1 if poll.status_code == 303 else 0.3)
        targets = {loc for code, loc in answers if code == 303}
        assert len(targets) == 1, targets
        [target] = targets
        forecast_id = int(target.rsplit("/", 1)[1])

        # the same query again, on fresh connections: the one stored forecast, from any worker
        for _ in range(12):
            again = httpx.post(f"{base}/v1/forecasts", json=MEDIUM, headers=writer, timeout=30)
            assert again.status_code == 200, again.text
            assert again.json()["id"] == forecast_id and again.json()["cache_hit"] is True
        listed = httpx.get(f"{base}/v1/forecasts", headers=reader, timeout=10).json()
        assert [f["id"] for f in listed["data"]] == [forecast_id]  # one fit, stored once

        # SIGTERM mid-fit: all four workers stop within seconds; the running request is failed
        resp = httpx.post(f"{base}/v1/forecasts", json=SLOW, headers={**writer, **ASYNC})
        assert resp.status_code == 202, resp.text
        slow_id = resp.json()["id"]
        deadline = time.monotonic() + 60
        while (
            httpx.get(f"{base}/v1/forecasts/requests/{slow_id}", headers=reader).json()["stage"]
            != "fitting"
        ):
            assert time.monotonic() < deadline
            time.sleep(0.2)
        family = [supervisor, *supervisor.children(recursive=True)]
        start = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
        assert time.monotonic() - start < 15
        _, alive = psutil.wait_procs(family[1:], timeout=5)
        assert alive == [], alive
    engine = make_engine(url)
    try:
        with session_factory(engine)() as session:
            state = read_state(session, slow_id)
    finally:
        engine.dispose()
    assert state is not None and state["status"] == "failed", state
    assert state["error"]["status_code"] == 503
    assert server_log_errors(log) == [], log.read_text()
