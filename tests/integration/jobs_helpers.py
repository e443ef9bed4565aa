"""Helpers for the multi-process job tests: start `capcast` processes, wait on job rows."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine, func, select

from db.models import Job

ROOT = Path(__file__).resolve().parents[2]
CAPCAST = [sys.executable, "-c", "from service.cli import main; main()"]


def proc_env(db_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        CAPCAST_DATABASE_URL=db_url,
        VLLM_ENABLE_V1_MULTIPROCESSING="0",
        TORCHDYNAMO_DISABLE="1",
        PYTHONPATH=str(ROOT),
    )
    return env


def start(db_url: str, args: list[str], log: Path) -> subprocess.Popen:
    """Start ``capcast ARGS`` with stdout+stderr to ``log``."""
    out = log.open("wb")
    return subprocess.Popen(
        [*CAPCAST, *args], cwd=ROOT, env=proc_env(db_url), stdout=out, stderr=subprocess.STDOUT
    )


def start_worker(db_url: str, tmp: Path, name: str, *extra: str) -> subprocess.Popen:
    args = ["worker", "--name", name, "--poll-seconds", "0.05", "--backoff-seconds", "0", *extra]
    return start(db_url, args, tmp / f"{name}.log")


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, poll: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def count_status(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(select(Job.status, func.count()).group_by(Job.status)).all()
    return {status: n for status, n in rows}


def stop_all(procs: list[subprocess.Popen], timeout: float = 30) -> list[int]:
    """SIGTERM each process (graceful stop) and return their exit codes."""
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    codes = []
    for p in procs:
        try:
            codes.append(p.wait(timeout=timeout))
        except subprocess.TimeoutExpired:
            p.kill()
            codes.append(p.wait())
    return codes

