"""Contention benchmark: do cheap requests keep answering while expensive fits run?

Starts ``uvicorn service.app:create_app`` on a temporary SQLite database (loopback only), posts a
synthetic ladder (10 models x 20 tasks) through the API, stores one forecast, then measures the
cheap requests twice, each phase bounded by ``--seconds``:

- ``unloaded``: ``--clients`` (50) clients loop over cheap requests: ``GET /healthz``, ``GET`` of
  the stored forecast, and ``POST`` of the same forecast query (answered from the stored row);
- ``loaded``: the same, while ``--fitters`` (5) clients ask for expensive uncached forecasts
  (every request a new ``random_state`` and ``n_bootstrap`` resamples, so every one is a new fit
  and backtest in a fit process).

Prints requests/s, p50 and p99 of each phase and kind, then the line
``cheap p99 loaded / unloaded: X.XXx (target <= 3x)``. When the loaded phase ends, the fitters'
requests still running are abandoned; the server kills their fits.

    .venv/bin/python bench/bench_contention.py [--seconds 20] [--clients 50] [--fitters 5]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

QUERY = {"method": "exponential", "benchmark": "task_03", "family": "bench",
         "target": {"n_params": 7e9, "n_tokens": 1.4e11}}  # fmt: skip


@dataclass
class Tally:
    """Latencies (seconds) of the requests that answered 200, and a count of the others."""

    latencies: list[float] = field(default_factory=list)
    errors: dict[int | str, int] = field(default_factory=dict)

    def add(self, status: int | str, seconds: float) -> None:
        if status == 200:
            self.latencies.append(seconds)
        else:
            self.errors[status] = self.errors.get(status, 0) + 1

    def pct(self, q: float) -> float:
        return float(np.percentile(self.latencies, q)) * 1000 if self.latencies else float("nan")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ladder() -> list[dict[str, Any]]:
    rng = np.random.default_rng(0)
    rows = []
    for n in np.geomspace(2e7, 1e9, 10):
        for j in range(20):
            c = 6 * n * 20 * n
            acc = 0.25 + 0.75 * np.exp(-(0.8 + 0.05 * j) * (c / 1e18) ** -0.3)
            rows.append({"model": f"m-{n:.3g}", "family": "bench", "n_params": n,
                         "n_tokens": 20 * n, "benchmark": f"task_{j:02d}", "metric": "acc",
                         "value": float(acc + rng.normal(0, 0.004))})  # fmt: skip
    return rows


async def _timed(client: httpx.AsyncClient, method: str, url: str, body: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    try:
        resp = await client.request(method, url, json=body)
        status: int | str = resp.status_code
    except httpx.HTTPError as exc:
        status = type(exc).__name__
    return status, time.perf_counter() - start


async def _cheap(client: httpx.AsyncClient, forecast_id: int, clients: int, seconds: float):
    """``clients`` loops of cheap requests for ``seconds``; a Tally per kind and the wall time."""
    kinds = {
        "healthz": ("GET", "/healthz", None),
        "forecast GET": ("GET", f"/v1/forecasts/{forecast_id}", None),
        "forecast POST (stored)": ("POST", "/v1/forecasts", QUERY),
    }
    tallies = {name: Tally() for name in kinds}
    deadline = time.perf_counter() + seconds

    async def loop(offset: int) -> None:
        for name in itertools.islice(itertools.cycle(kinds), offset, None):
            if time.perf_counter() > deadline:
                return
            status, took = await _timed(client, *kinds[name])
            tallies[name].add(status, took)

    start = time.perf_counter()
    await asyncio.gather(*(loop(i % len(kinds)) for i in range(clients)))
    return tallies, time.perf_counter() - start


async def _fitters(client: httpx.AsyncClient, n: int, n_bootstrap: int, tally: Tally) -> None:
    """``n`` loops of uncached forecasts (a new random_state each), until cancelled."""
    counter = itertools.count(1)

    async def loop() -> None:
        while True:
            i = next(counter)
            body = {**QUERY, "method": "sigmoid" if i % 2 else "exponential",
                    "params": {"n_bootstrap": n_bootstrap, "random_state": i}}  # fmt: skip
            status, took = await _timed(client, "POST", "/v1/forecasts", body)
            tally.add(status, took)

    await asyncio.gather(*(loop() for _ in range(n)))


async def _run(base: str, key: str, args: argparse.Namespace) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    total = args.clients + args.fitters
    limits = httpx.Limits(max_connections=total, max_keepalive_connections=total)
    timeout = httpx.Timeout(args.seconds + 30)
    async with httpx.AsyncClient(
        base_url=base, headers=headers, timeout=timeout, limits=limits
    ) as c:
        resp = await c.post("/v1/measurements", json={"source": "bench", "rows": _ladder()})
        resp.raise_for_status()
        stored = await c.post("/v1/forecasts", json=QUERY)  # the cheap POST's stored forecast
        stored.raise_for_status()
        forecast_id = stored.json()["id"]
        await _cheap(c, forecast_id, args.clients, min(2.0, args.seconds))  # warm up

        unloaded, unloaded_wall = await _cheap(c, forecast_id, args.clients, args.seconds)
        fits = Tally()
        fitters = asyncio.create_task(_fitters(c, args.fitters, args.n_bootstrap, fits))
        await asyncio.sleep(1.0)  # let the first fits start
        loaded, loaded_wall = await _cheap(c, forecast_id, args.clients, args.seconds)
        fitters.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await fitters
        metrics = (await c.get("/metrics")).text

    print(f"\n{args.clients} cheap clients, {args.fitters} fitting clients; loopback, one uvicorn "
          f"worker, SQLite, {os.cpu_count()} CPUs; {args.seconds:g} s per phase")  # fmt: skip
    print(f"{'phase':<10}{'requests':<24}{'ok':>7}{'errors':>8}{'req/s':>9}{'p50 ms':>9}"
          f"{'p99 ms':>9}")  # fmt: skip
    phases = (("unloaded", unloaded, unloaded_wall), ("loaded", loaded, loaded_wall))
    for phase, tallies, wall in phases:
        everything = Tally([t for tally in tallies.values() for t in tally.latencies])
        for tally in tallies.values():
            for status, count in tally.errors.items():
                everything.errors[status] = everything.errors.get(status, 0) + count
        for name, tally in [*tallies.items(), ("all cheap", everything)]:
            n_err = sum(tally.errors.values())
            print(f"{phase:<10}{name:<24}{len(tally.latencies):>7}{n_err:>8}"
                  f"{len(tally.latencies) / wall:>9.1f}{tally.pct(50):>9.1f}"
                  f"{tally.pct(99):>9.1f}")  # fmt: skip
        if phase == "unloaded":
            cheap_unloaded = everything
        else:
            cheap_loaded = everything
    fit_errors = ", ".join(f"{k}: {v}" for k, v in fits.errors.items()) or "none"
    print(f"{'loaded':<10}{'uncached fits':<24}{len(fits.latencies):>7}"
          f"{sum(fits.errors.values()):>8}{len(fits.latencies) / loaded_wall:>9.2f}"
          f"{fits.pct(50):>9.1f}{fits.pct(99):>9.1f}   (not 200: {fit_errors})")  # fmt: skip
    for phase, tally in (("unloaded", cheap_unloaded), ("loaded", cheap_loaded)):
        if tally.errors:
            print(f"cheap requests not 200 ({phase}): {tally.errors}")
    misses = [ln for ln in metrics.splitlines() if ln.startswith("capcast_forecast_cache_misses")]
    print("server counters: " + "; ".join(m for m in misses if "_created" not in m))
    ratio = cheap_loaded.pct(99) / cheap_unloaded.pct(99)
    print(f"\ncheap p99 loaded / unloaded: {ratio:.2f}x (target <= 3x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20, help="length of each phase")
    parser.add_argument("--clients", type=int, default=50, help="cheap clients")
    parser.add_argument("--fitters", type=int, default=5, help="clients asking for new fits")
    parser.add_argument("--n-bootstrap", type=int, default=1000, help="resamples per new fit")
    args = parser.parse_args()

    from db import migrate
    from db.session import make_engine, transaction
    from service.auth import create_key

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.sqlite'}"
        migrate.upgrade(url)
        engine = make_engine(url)
        with transaction(engine) as session:
            _, key = create_key(session=session, name="bench", scopes=["write"])
        engine.dispose()
        port = _free_port()
        # fits answer in the request (no 202 after CAPCAST_SYNC_FIT_WAIT_S): each fitting client
        # holds one fit at a time, which is the load this bench means
        env = {**os.environ, "CAPCAST_DATABASE_URL": url, "PYTHONPATH": str(ROOT),
               "CAPCAST_SYNC_FIT_WAIT_S": "600"}  # fmt: skip
        cmd = [sys.executable, "-m", "uvicorn", "service.app:create_app", "--factory",
               "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
               "--no-access-log", "--timeout-graceful-shutdown", "5", "--timeout-keep-alive", "60"]  # fmt: skip
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                if proc.poll() is not None:
                    raise SystemExit(f"the server exited with {proc.returncode}")
                try:
                    if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("the server did not start within 60 s")
                time.sleep(0.1)
            asyncio.run(_run(base, key, args))
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


if __name__ == "__main__":
    main()
