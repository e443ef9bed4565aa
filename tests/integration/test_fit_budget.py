"""Bounded fits: a budget, a limit on fits at once, killed on disconnect and on SIGTERM.

The slow fit is a real one: gadre with ``n_bootstrap`` at its cap (10,000) on every checkpoint of
48 synthetic models, about a minute of SciPy work on a quiet core. Processes are looked up with
psutil: a fit is a grandchild of the server (forked by the forkserver its first fit starts), so a
test can name the fit's pid and check that it no longer exists afterwards.
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import psutil
import pytest

from db import migrate
from predictors.loss_accuracy import gadre_error, gadre_loss
from service.fit_pool import PROCESS_DIED, FitCancelled, FitFailed, FitPool, FitTimeout
from service.forecasting import FIT_PRELOAD, fit_and_backtest, target_frame
from service.schemas import ForecastQuery
from tests.integration.live_server import live_process, make_key, server_log_errors

TARGET = {"n_params": 7e9, "n_tokens": 1.4e11}
SLOW = {"method": "gadre", "benchmark": "avg17", "metric": "err", "family": "slow",
        "params": {"n_bootstrap": 10_000, "checkpoints": "all"}, "target": TARGET}  # fmt: skip


def gadre_rows(n_checkpoints: int = 20, seed: int = 0) -> list[dict[str, Any]]:
    """Loss and error rows of 12 sizes x 4 token multipliers, each at ``n_checkpoints`` steps."""
    rng = np.random.default_rng(seed)
    rows = []
    for i, n in enumerate(np.geomspace(1e7, 1e9, 12)):
        for mult in (10.0, 20.0, 40.0, 80.0):
            for k in range(1, n_checkpoints + 1):
                tokens = n * mult * k / n_checkpoints
                loss = float(gadre_loss((n, tokens / n), 50.0, 80.0, -0.2, 1.8))
                loss *= 1 + rng.normal(0, 0.002)
                err = float(gadre_error(loss, 1.5, 0.5, 0.9)) + rng.normal(0, 0.003)
                common = {"model": f"g{i}-{mult:g}", "family": "slow", "n_params": float(n),
                          "n_tokens": float(tokens), "checkpoint_step": 100 * k}  # fmt: skip
                rows.append({**common, "benchmark": "c4_val", "metric": "loss", "value": loss})
                rows.append({**common, "benchmark": "avg17", "metric": "err", "value": err})
    return rows


def fit_pids(server: psutil.Process) -> list[int]:
    """Running fits: the server's grandchildren (children of its forkserver)."""
    try:
        return [p.pid for p in server.children(recursive=True) if p.ppid() != server.pid]
    except psutil.NoSuchProcess:
        return []


def wait_for(check: Any, seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"{what} within {seconds} s")


def gone(pid: int) -> bool:
    return not psutil.pid_exists(pid)


# -- the pool itself -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def slow_obs() -> pd.DataFrame:
    return pd.DataFrame(gadre_rows())


def _pids_while(pool: FitPool, seconds: float = 30) -> list[int]:
    return wait_for(lambda: pool.running_pids, seconds, "a fit process started")


SAME_NUMBERS = {
    "exponential": {"method": "exponential", "benchmark": "avg17", "metric": "err",
                    "target": TARGET},
    "gadre-with-filter": {"method": "gadre", "benchmark": "avg17", "metric": "err",
                          "target": TARGET, "params": {"n_bootstrap": 50, "checkpoints": "all",
                                                       "loss_fit": "n_params < 5e8"}},
    "sigmoid": {"method": "sigmoid", "benchmark": "avg17", "metric": "err", "alpha": 0.2,
                "target": TARGET, "params": {"random_state": 3}},
}  # fmt: skip


@pytest.mark.parametrize("query", list(SAME_NUMBERS.values()), ids=list(SAME_NUMBERS))
def test_fit_in_a_child_gives_exactly_the_in_process_numbers(query: dict) -> None:
    obs = pd.DataFrame(gadre_rows(n_checkpoints=3))
    q = ForecastQuery.model_validate(query)
    pool = FitPool(max_concurrent=1, preload=FIT_PRELOAD)
    here_fit = fit_and_backtest(q, obs)
    there_fit = pool.run(fit_and_backtest, q, obs, timeout=120)
    here_est, here_bt = here_fit.estimator, here_fit.backtest
    there_est, there_bt = there_fit.estimator, there_fit.backtest
    assert there_bt == here_bt
    # the target's forecast, made in the child, is the in-process one and the estimator's own
    assert there_fit.prediction == here_fit.prediction
    assert here_fit.prediction["point"] == here_est.predict(target_frame(q.target))[0].point
    assert here_bt["n"] >= 1 and "error" not in here_bt, here_bt
    targets = pd.concat([target_frame(q.target), target_frame(q.target.model_copy(
        update={"n_params": 1e8, "n_tokens": 2e9}))], ignore_index=True)  # fmt: skip
    here, there = here_est.predict(targets), there_est.predict(targets)
    for a, b in zip(here, there, strict=True):
        assert (a.point, a.lower, a.upper, a.params) == (b.point, b.lower, b.upper, b.params)
        assert np.isfinite(a.point)
    assert pool.running_pids == []


def test_pool_kills_a_fit_past_its_budget(slow_obs: pd.DataFrame) -> None:
    pool = FitPool(max_concurrent=1, preload=FIT_PRELOAD)
    q = ForecastQuery.model_validate(SLOW)
    seen: list[int] = []
    watcher = threading.Thread(target=lambda: seen.extend(_pids_while(pool)), daemon=True)
    watcher.start()
    start = time.monotonic()
    with pytest.raises(FitTimeout) as caught:
        pool.run(fit_and_backtest, q, slow_obs, timeout=3)
    assert 3 <= time.monotonic() - start < 6
    assert caught.value.waited_for_slot is False
    watcher.join(5)
    assert len(seen) == 1 and gone(seen[0]), seen  # killed and reaped, not left running
    assert pool.running_pids == []


def test_pool_slot_wait_cancel_and_close(slow_obs: pd.DataFrame) -> None:
    pool = FitPool(max_concurrent=1, preload=FIT_PRELOAD)
    q = ForecastQuery.model_validate(SLOW)
    outcome: list[BaseException] = []

    def long_fit() -> None:
        try:
            pool.run(fit_and_backtest, q, slow_obs, timeout=120)
        except BaseException as exc:  # recorded for the assertions below
            outcome.append(exc)

    runner = threading.Thread(target=long_fit, daemon=True)
    runner.start()
    [pid] = _pids_while(pool)
    # the only slot is taken: a second fit waits for it, then runs out of budget waiting
    start = time.monotonic()
    with pytest.raises(FitTimeout) as caught:
        pool.run(fit_and_backtest, q, slow_obs, timeout=1)
    assert caught.value.waited_for_slot is True
    assert time.monotonic() - start < 3
    # a caller that goes away stops waiting at once
    with pytest.raises(FitCancelled):
        pool.run(fit_and_backtest, q, slow_obs, timeout=60, cancelled=lambda: True)
    assert psutil.Process(pid).is_running()
    # closing (server shutdown) kills the running fit; its caller gets FitCancelled
    pool.close()
    runner.join(5)
    assert not runner.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], FitCancelled), outcome
    wait_for(lambda: gone(pid), 3, f"fit process {pid} gone")
    with pytest.raises(FitCancelled):
        pool.run(fit_and_backtest, q, slow_obs, timeout=60)


def test_a_cancelled_fit_is_killed(slow_obs: pd.DataFrame) -> None:
    pool = FitPool(max_concurrent=2, preload=FIT_PRELOAD)
    q = ForecastQuery.model_validate(SLOW)
    stop = threading.Event()
    seen: list[int] = []

    def watch() -> None:
        seen.extend(_pids_while(pool))
        stop.set()

    threading.Thread(target=watch, daemon=True).start()
    start = time.monotonic()
    with pytest.raises(FitCancelled):
        pool.run(fit_and_backtest, q, slow_obs, timeout=120, cancelled=stop.is_set)
    assert time.monotonic() - start < 30
    assert len(seen) == 1 and gone(seen[0])


def test_a_fit_killed_from_outside_is_a_failure_not_a_hang(slow_obs: pd.DataFrame) -> None:
    pool = FitPool(max_concurrent=1, preload=FIT_PRELOAD)
    q = ForecastQuery.model_validate(SLOW)

    def kill_it() -> None:
        [pid] = _pids_while(pool)
        psutil.Process(pid).kill()  # as the kernel's OOM killer would

    threading.Thread(target=kill_it, daemon=True).start()
    with pytest.raises(FitFailed) as caught:
        pool.run(fit_and_backtest, q, slow_obs, timeout=120)
    assert caught.value.kind == PROCESS_DIED
    assert "the fit process died (exit code -9)" in str(caught.value)
    assert pool.running_pids == []


# -- a live ``capcast serve`` --------------------------------------------------------------------


@contextmanager
def capcast_serve(tmp_path: Path, **env: str) -> Iterator[tuple[str, str, subprocess.Popen]]:
    """``capcast serve`` on a new SQLite file with the slow data; yields (base, key, process)."""
    url = f"sqlite:///{tmp_path / 'capcast.sqlite'}"
    migrate.upgrade(url)
    key = make_key(url, "write")
    log = tmp_path / "server.log"
    with live_process(url, log, capcast=True, **env) as (base, proc):
        headers = {"Authorization": f"Bearer {key}"}
        rows = gadre_rows()
        for start in range(0, len(rows), 1000):
            batch = {"source": "slow", "rows": rows[start : start + 1000]}
            resp = httpx.post(f"{base}/v1/measurements", json=batch, headers=headers, timeout=60)
            assert resp.status_code == 200, resp.text
        yield base, key, proc
    assert server_log_errors(log) == [], log.read_text()


def _post_in_thread(
    base: str, key: str, body: dict, timeout: float
) -> tuple[threading.Thread, list]:
    out: list[Any] = []

    def post() -> None:
        headers = {"Authorization": f"Bearer {key}"}
        try:
            out.append(httpx.post(f"{base}/v1/forecasts", json=body, headers=headers,
                                  timeout=timeout))  # fmt: skip
        except httpx.HTTPError as exc:
            out.append(exc)

    thread = threading.Thread(target=post, daemon=True)
    thread.start()
    return thread, out


def test_fit_past_budget_is_a_503_its_process_is_killed_and_cheap_requests_answer(
    tmp_path: Path,
) -> None:
    with capcast_serve(tmp_path, CAPCAST_FIT_TIMEOUT_S="4") as (base, key, proc):
        server = psutil.Process(proc.pid)
        headers = {"Authorization": f"Bearer {key}"}
        # a fit filter that keeps nothing points at the filter, not at the benchmark
        empty = {**SLOW, "params": {"n_bootstrap": 10}, "fit": "n_params > 1e12"}
        resp = httpx.post(f"{base}/v1/forecasts", json=empty, headers=headers, timeout=60)
        assert resp.status_code == 422, resp.text
        assert resp.json()["where"] == "body.fit"
        assert "keeps none of the avg17/err observations" in resp.json()["message"]

        start = time.monotonic()
        thread, out = _post_in_thread(base, key, SLOW, timeout=60)
        [pid] = wait_for(lambda: fit_pids(server), 20, "a fit process started")
        while thread.is_alive():  # the server answers cheap requests while the fit runs
            t0 = time.monotonic()
            assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200
            assert time.monotonic() - t0 < 1.0
            time.sleep(0.2)
        elapsed = time.monotonic() - start
        [resp] = out
        assert isinstance(resp, httpx.Response), resp
        assert resp.status_code == 503, resp.text
        body = resp.json()
        assert body["error"] == "unavailable" and body["where"] == "body.params"
        assert body["message"].startswith(
            "the fit did not finish within 4 s (CAPCAST_FIT_TIMEOUT_S); it was stopped"
        ), body
        assert int(resp.headers["Retry-After"]) >= 1
        assert 4 <= elapsed < 12, elapsed
        wait_for(lambda: gone(pid), 2, f"fit process {pid} gone")
        assert fit_pids(server) == []


def test_a_client_that_disconnects_ends_its_fit(tmp_path: Path) -> None:
    with capcast_serve(tmp_path, CAPCAST_FIT_TIMEOUT_S="120") as (base, key, proc):
        server = psutil.Process(proc.pid)
        thread, out = _post_in_thread(base, key, SLOW, timeout=4)
        [pid] = wait_for(lambda: fit_pids(server), 20, "a fit process started")
        thread.join(30)
        assert isinstance(out[0], httpx.TimeoutException), out  # the client gave up and left
        left = time.monotonic()
        wait_for(lambda: gone(pid), 5, f"fit process {pid} gone after the client left")
        assert time.monotonic() - left < 5
        assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200


def test_sigterm_stops_capcast_serve_within_seconds_mid_fit(tmp_path: Path) -> None:
    with capcast_serve(tmp_path, CAPCAST_FIT_TIMEOUT_S="120") as (base, key, proc):
        server = psutil.Process(proc.pid)
        thread, out = _post_in_thread(base, key, SLOW, timeout=120)
        wait_for(lambda: fit_pids(server), 20, "a fit process started")
        time.sleep(1)
        family = [server, *server.children(recursive=True)]
        assert len(family) >= 3  # server, its forkserver, the fit (and a resource tracker)
        start = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
        assert time.monotonic() - start < 10
        # the forkserver and resource tracker leave when their parent does; the fit is killed
        _, alive = psutil.wait_procs(family[1:], timeout=5)
        assert alive == [], alive
        thread.join(10)
        [resp] = out  # the request was answered, not cut off: the fit stopped, not the server
        assert isinstance(resp, httpx.Response), resp
        assert resp.status_code == 503, resp.text
        assert resp.json()["message"] == "the fit was stopped: the server is shutting down"


def _niceness() -> int:
    import os

    return os.nice(0)


def test_fits_run_at_the_lowest_cpu_priority() -> None:
    """A fit runs at nice 19 whatever the server's own niceness (capped by the kernel at 19)."""
    import os

    pool = FitPool(max_concurrent=1, preload=FIT_PRELOAD)
    assert pool.run(_niceness, timeout=60) == min(19, os.nice(0) + 19)


def _policy() -> int:
    import os

    return os.sched_getscheduler(0)


def test_fits_run_under_the_idle_scheduling_policy() -> None:
    """Weight alone let a fit finish its slice before a woken request ran; SCHED_IDLE does not."""
    import os

    pool = FitPool(max_concurrent=1, preload=FIT_PRELOAD)
    assert pool.run(_policy, timeout=60) == os.SCHED_IDLE
    assert os.sched_getscheduler(0) != os.SCHED_IDLE  # the caller keeps its own policy


def test_the_forkserver_runs_at_the_fits_priority() -> None:
    """Every fit is a fork of the forkserver: its copying is charged there, so it is niced too."""
    import os

    from service.fit_pool import _forkserver_pid

    pool = FitPool(max_concurrent=1, preload=FIT_PRELOAD)
    pool.start()
    pid = _forkserver_pid()
    assert pid is not None and pid != os.getpid()
    assert os.getpriority(os.PRIO_PROCESS, pid) == min(19, os.nice(0) + 19)
    assert os.sched_getscheduler(pid) == os.SCHED_IDLE
