"""A real ``uvicorn`` process serving ``create_app`` on a free loopback port, for HTTP tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from db.session import make_engine, transaction
from service.auth import create_key

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_key(db_url: str, *scopes: str, name: str = "test") -> str:
    engine = make_engine(db_url)
    try:
        with transaction(engine) as session:
            _, token = create_key(session=session, name=name, scopes=list(scopes))
    finally:
        engine.dispose()
    return token


@contextmanager
def live_process(
    db_url: str,
    log: Path,
    *,
    log_level: str = "warning",
    capcast: bool = False,
    workers: int = 1,
    **env: str,
) -> Iterator[tuple[str, subprocess.Popen]]:
    """Serve the app on ``db_url``; yield its base URL and the server process; stop it (SIGTERM).

    ``capcast=True`` runs ``capcast serve`` (its graceful-shutdown settings, ``workers`` worker
    processes) instead of plain uvicorn. ``log_level="info"`` also writes uvicorn's access log.
    """
    port = free_port()
    # a fit answers in the request (never a 202) unless a test asks for the async path: on a
    # loaded CI machine a test's fit can outlast the 5 s default wait
    environ = {**os.environ, "CAPCAST_DATABASE_URL": db_url, "PYTHONPATH": str(ROOT),
               "CAPCAST_SYNC_FIT_WAIT_S": "600", **env}  # fmt: skip
    if capcast:
        cmd = [str(Path(sys.executable).with_name("capcast")), "serve", "--port", str(port),
               "--workers", str(workers), "--log-level", log_level]  # fmt: skip
    else:
        cmd = [sys.executable, "-m", "uvicorn", "service.app:create_app", "--factory",
               "--host", "127.0.0.1", "--port", str(port), "--log-level", log_level]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=environ, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60 * workers
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"server exited with {proc.returncode}:\n{log.read_text()}")
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"server did not start in time:\n{log.read_text()}")
            time.sleep(0.1)
        yield base, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15 * workers)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def live_server(db_url: str, log: Path, *, log_level: str = "warning", **env: str) -> Iterator[str]:
    """:func:`live_process` yielding only the base URL."""
    with live_process(db_url, log, log_level=log_level, **env) as (base, _):
        yield base


def server_log_errors(log: Path) -> list[str]:
    """Tracebacks the server logged (a 5xx is a bug: tests assert there are none)."""
    text = log.read_text(errors="replace") if log.exists() else ""
    return [line for line in text.splitlines() if "Traceback" in line]
